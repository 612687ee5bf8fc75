"""Run every benchmark: ``python3 dev.py bench`` or ``.venv/bin/python bench/run_all.py``.

1. prepares the bench database ``sozialraum_bench`` (never the development
   data; see bench/common.py): migrate, then empty it;
2. bench/gen.py: writes the region tree and the indicator values file to
   bench/out/ and imports the regions through the real importer;
3. bench/import_values.py: import of the values file, re-import, plain COPY;
4. bench/subtree.py: tree queries and a subtree move;
5. bench/recompute.py: budget recompute per budget vs a numpy/COPY baseline;
6. bench/services.py: the services list API and the directory page with
   10,000 offerings vs a bare values() view;
7. bench/providers.py: Trägerbudgets of one budget from 60 agreements;
8. bench/dashboards.py: empties the database again, loads the demo city
   (manage.py load_demo) and times every dashboard page per persona
   (≤ 200 ms, ≤ 20 queries; --quick checks the queries only);
9. bench/load/run.py --keep-data: a load test of that demo city — gunicorn,
   a Celery worker, Redis, locust with 50 users for 60 s (--quick: 10 users
   for 15 s); no failed request allowed. Skipped when no Redis is found.

Results: printed tables and bench/out/results.json.

Options: ``--quick`` (small smoke size, seconds), ``--runs N`` (repetitions for
medians), ``--drop`` (drop the bench database afterwards).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke size (400 regions, 7,000 values)")
    ap.add_argument("--runs", type=int, default=15,
                    help="repetitions for the query medians and the dashboard pages (default 15; dashboards: 3 in --quick)")
    ap.add_argument(
        "--tracemalloc",
        choices=["separate", "inline", "off"],
        default="separate",
        help="measure the tracemalloc peak in an extra run (default), in the timed runs, or not at all",
    )
    ap.add_argument("--no-scale-check", action="store_true", help="skip the 10 %% import used to compare memory")
    ap.add_argument(
        "--keep-autovacuum",
        action="store_true",
        help="leave autovacuum on for the values table during the imports (timing-dependent figures)",
    )
    ap.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    ap.add_argument(
        "--allow-any-database",
        action="store_true",
        help="run even if the database name does not contain 'bench' (it is emptied!)",
    )
    args = ap.parse_args(argv)

    where = common.configure()
    common.setup_django(allow_any_database=args.allow_any_database)
    import dashboards
    import gen
    import import_values
    import providers
    import recompute
    import services
    import subtree
    from django.db import connection

    size = gen.QUICK if args.quick else gen.FULL
    started = time.perf_counter()
    print(f"database: {where}", flush=True)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        server_version = cur.fetchone()[0]

    # fresh results file for this run
    common.OUT.mkdir(parents=True, exist_ok=True)
    common.RESULTS.unlink(missing_ok=True)
    common.save_results(
        "meta",
        {
            "size": size.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": where,
            "postgres": server_version,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, {_cpus()} CPUs",
        },
    )

    print("migrating and emptying the bench database …", flush=True)
    with common.Timer() as t:
        common.migrate_and_flush()
    print(f"  {common.fmt_s(t.seconds)}", flush=True)

    print(f"generating {size.regions:,} regions and {size.values:,} values …", flush=True)
    info = gen.write_files(size)
    info.update(gen.load_database(size))
    common.save_results("data", info)
    common.print_table(
        "Data",
        [
            ("regions (per level)", f"{info['regions']:,} ({' → '.join(f'{c:,}' for c in info['level_counts'])})"),
            ("region import (RegionImporter)", common.fmt_s(info["region_import_seconds"])),
            ("values file", f"{info['values']:,} values, {info['values_csv_bytes'] / 1e6:.1f} MB"),
            ("values file written in", common.fmt_s(info["write_values_seconds"])),
        ],
    )

    imp = import_values.run(
        size,
        tracemalloc_mode=args.tracemalloc,
        scale_check=not args.no_scale_check,
        keep_autovacuum=args.keep_autovacuum,
    )
    tree = subtree.run(size, runs=args.runs)
    recompute.run(size, runs=5)
    passed_on = providers.run(runs=5)
    offerings = services.run(quick=args.quick, runs=7)
    boards = dashboards.run(quick=args.quick, runs=args.runs)  # replaces the data with the demo city
    load = _load_test(args)  # on that demo city: gunicorn + worker + locust (None: skipped, no Redis)

    elapsed = time.perf_counter() - started
    checks = {
        "import count": imp["import"]["ok"], "idempotent re-import": imp["reimport"]["idempotent"],
        "one query per tree query": tree["one_query_each"], "tree consistent after a move": tree["move"]["consistent"],
        "constant services queries": offerings["constant_queries"], "Trägerbudgets exact": passed_on["exact"],
        "dashboard pages": boards["ok"],
    }
    if load is not None:
        checks["load test without errors"] = load
    ok = all(checks.values())
    if not ok:
        print(f"\nfailed checks: {', '.join(name for name, passed in checks.items() if not passed)}")
    results = common.load_results()
    results["meta"]["elapsed_seconds"] = round(elapsed, 1)
    results["meta"]["checks_passed"] = ok
    results["meta"]["checks"] = checks
    common.save_results("meta", results["meta"])
    print(f"\nall checks passed: {ok}; total {common.fmt_s(elapsed)}; results in {common.RESULTS.relative_to(common.ROOT)}")
    if args.drop:
        common.drop_bench_database()
        print(f"dropped the database {common.BENCH_DB}")
    return 0 if ok else 1


def _load_test(args) -> bool | None:
    """bench/load/run.py --keep-data (--quick: 10 users for 15 s, else 50 for 60 s) in a
    child process (production settings). None when it was skipped for want of Redis."""
    import subprocess

    from django.db import connection

    connection.close()
    cmd = [sys.executable, str(common.BENCH_DIR / "load" / "run.py"), "--keep-data", "--skip-without-redis"]
    cmd += ["--quick"] * args.quick + ["--allow-any-database"] * args.allow_any_database
    print("\nload test (bench/load/run.py) …", flush=True)
    # no timeout here: run.py bounds its own steps and stops its servers itself (a kill from here could not)
    rc = subprocess.run(cmd, cwd=common.ROOT).returncode
    return None if rc == 3 else rc == 0


def _cpus() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
