"""Import of indicator values: the real importer against plain COPY.

(a) ``import_now("indicator_values", file)`` of the generated file into an
    empty values table: wall time, values/s, time per phase (read + parse,
    COPY into the temp table, duplicate check, upsert, roll-up, commit), peak
    memory (``ru_maxrss`` growth of a fresh process, tracemalloc peak of the
    Python allocations);
(b) the same file again: idempotent (created = updated = 0), wall time;
(c) baseline: the same file by ``COPY … FROM STDIN (FORMAT csv, DELIMITER ';')``
    into an unlogged text staging table (psycopg2 ``copy_expert``).
A scale check imports the first 10 % of the file the same way first, so the
peak memory at two sizes can be compared (bounded memory: it must not grow
with the file).

Every import runs in a fresh child process (``--worker``), so that its peak
RSS is its own. tracemalloc slows allocation-heavy code down, so by default
the timed runs go without it and one extra run (after emptying the values)
measures the tracemalloc peak; ``--tracemalloc inline`` measures it in the
timed runs instead (fewer runs, slower figures).

Run alone (after ``bench/gen.py``): ``.venv/bin/python bench/import_values.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import gen  # noqa: E402

# --- child process ----------------------------------------------------------------


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _proc_status_kib(field: str) -> int | None:
    """VmRSS / VmHWM from /proc/self/status (Linux), in KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Linux: reset this process's peak RSS to its current RSS (clear_refs 5),
    so that ru_maxrss afterwards is the peak of the import alone, not of the
    start-up before it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def worker(path: str, out: str, use_tracemalloc: bool) -> None:
    common.configure()
    common.setup_django()
    import tracemalloc

    from core.imports.base import import_now
    from regions import importers, rollup

    phases: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    ivi = importers.IndicatorValueImporter
    ivi.run = timed("importer_run", ivi.run)
    ivi._open = timed("open_file", ivi._open)  # includes the encoding check (reads the file once)
    ivi._stream = timed("stream", ivi._stream)
    ivi._flush = staticmethod(timed("copy_to_temp", ivi._flush))
    ivi._check_duplicates = timed("duplicate_check", ivi._check_duplicates)
    ivi._upsert = timed("upsert", ivi._upsert)
    rollup.recompute = timed("rollup", rollup.recompute)

    from django.db import connection

    connection.ensure_connection()
    hwm_reset = _reset_peak_rss()
    rss_before = _maxrss_kib()
    vmrss_before = _proc_status_kib("VmRSS")
    if use_tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    run = import_now("indicator_values", path, original_name=Path(path).name)
    total = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
    if use_tracemalloc:
        tracemalloc.stop()
    rss_after = _maxrss_kib()
    vmhwm_after = _proc_status_kib("VmHWM")

    stream = phases.pop("stream", 0.0)
    copy = phases.get("copy_to_temp", 0.0)
    phases["read_parse"] = stream - copy
    phases["commit_and_bookkeeping"] = total - phases.get("importer_run", 0.0)
    phases["other_in_run"] = phases.get("importer_run", 0.0) - sum(
        phases.get(k, 0.0) for k in ("open_file", "read_parse", "copy_to_temp", "duplicate_check", "upsert", "rollup")
    )
    result = {
        "status": run.status,
        "summary": run.summary,
        "errors": (run.errors or [])[:5],
        "error_count": run.error_count,
        "seconds": total,
        "phases": phases,
        "maxrss_before_kib": rss_before,
        "maxrss_after_kib": rss_after,
        "maxrss_delta_kib": rss_after - rss_before,
        "vmrss_before_kib": vmrss_before,
        "vmhwm_after_kib": vmhwm_after,
        "tracemalloc_peak_bytes": traced_peak,
        "tracemalloc": use_tracemalloc,
        "peak_rss_reset_before_import": hwm_reset,
    }
    Path(out).write_text(json.dumps(result, default=str), encoding="utf-8")


# --- parent -----------------------------------------------------------------------


def spawn_import(path: Path, use_tracemalloc: bool) -> dict:
    with tempfile.NamedTemporaryFile(prefix="bench-import-", suffix=".json", dir=common.OUT, delete=False) as tmp:
        out = tmp.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(path), "--out", out]
    if use_tracemalloc:
        cmd.append("--with-tracemalloc")
    if Path("/bin/sh").exists():
        # Linux carries the peak RSS of the image a process replaces across
        # exec (ru_maxrss of a child forked from this ~100 MiB process starts
        # at ~100 MiB). A shell in between forks the worker from a small
        # process, so the worker's ru_maxrss is its own.
        cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    try:
        proc = subprocess.run(cmd, cwd=common.ROOT, env=os.environ.copy(), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise SystemExit(f"import worker failed (exit {proc.returncode})")
        result = json.loads(Path(out).read_text(encoding="utf-8"))
    finally:
        Path(out).unlink(missing_ok=True)
    if result["status"] != "succeeded":
        raise SystemExit(f"import failed: {result['status']} {result['errors']}")
    return result


def empty_values() -> None:
    """Remove every value (and its history), so the next import starts empty."""
    from django.apps import apps
    from django.db import connection

    from regions.models import IndicatorValue

    tables = [IndicatorValue._meta.db_table] + [
        m._meta.db_table for m in apps.get_models() if getattr(m, "pgh_tracked_model", None) is IndicatorValue
    ]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    analyze_values()


def analyze_values() -> None:
    """Fresh planner statistics for the values table: the state autovacuum
    reaches a minute after a large write. Without it, the figures would depend
    on whether autovacuum happened to run between two imports (see README)."""
    from django.db import connection

    from regions.models import IndicatorValue

    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {IndicatorValue._meta.db_table}")


@contextmanager
def autovacuum_paused(pause: bool = True):
    """Keep autovacuum off the values table while imports are measured.

    An autovacuum ANALYZE that happens to run while an import's transaction is
    open records the table as empty (its rows are not committed yet) while it
    already has thousands of pages; the roll-up queries of that import and of
    the next one are then planned for an empty table and take several times
    longer (measured: roll-up 3.3 s → 16.8 s; see README). Whether that happens
    depends on timing, so the benchmark pauses autovacuum on this table and
    analyzes at the points where autovacuum would have (after the values were
    committed), and reports the race separately."""
    from django.db import connection

    from regions.models import IndicatorValue

    table = IndicatorValue._meta.db_table
    if pause:
        with connection.cursor() as cur:
            cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    try:
        yield
    finally:
        if pause:
            with connection.cursor() as cur:
                cur.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def baseline_copy(path: Path, runs: int = 3) -> dict:
    """Plain COPY of the same file into an unlogged staging table of text
    columns (no parsing, no lookups, no constraints): the floor for loading."""
    from django.db import connection

    times = []
    rows = None
    with connection.cursor() as cur:
        for _ in range(runs):
            cur.execute("DROP TABLE IF EXISTS bench_copy_staging")
            cur.execute("CREATE UNLOGGED TABLE bench_copy_staging (region_code text, indicator text, period text, value text)")
            with open(path, encoding="utf-8", newline="") as f:
                t0 = time.perf_counter()
                cur.copy_expert("COPY bench_copy_staging FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true)", f, size=1 << 20)
                times.append(time.perf_counter() - t0)
            cur.execute("SELECT count(*) FROM bench_copy_staging")
            rows = cur.fetchone()[0]
        cur.execute("DROP TABLE bench_copy_staging")
    times.sort()
    return {"seconds": times[len(times) // 2], "all_seconds": times, "rows": rows}


def _mem(r: dict) -> tuple[str, str]:
    rss = common.fmt_mib(r["maxrss_delta_kib"], "KiB") + f" (peak {common.fmt_mib(r['maxrss_after_kib'], 'KiB')})"
    traced = common.fmt_mib(r["tracemalloc_peak_bytes"]) if r.get("tracemalloc_peak_bytes") is not None else "–"
    return rss, traced


def run(size: gen.Size, *, tracemalloc_mode: str = "separate", scale_check: bool = True, keep_autovacuum: bool = False) -> dict:
    from regions.models import IndicatorValue

    path = gen.paths(size)["values"]
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run bench/gen.py first")
    n = size.values
    inline = tracemalloc_mode == "inline"
    res: dict = {
        "file": str(path.relative_to(common.ROOT)),
        "file_bytes": path.stat().st_size,
        "values": n,
        "tracemalloc_mode": tracemalloc_mode,
        "autovacuum_paused_on_values_table": not keep_autovacuum,
    }

    with autovacuum_paused(not keep_autovacuum):
        empty_values()
        if scale_check:
            part = common.OUT / f"indicator_values_{n}_first10pct.csv"
            rows = gen.write_prefix(path, part, n // 10)
            print(f"scale check: importing the first {rows:,} values …", flush=True)
            small = spawn_import(part, use_tracemalloc=inline)
            res["scale_check"] = {"values": rows, **small}
            if tracemalloc_mode == "separate":
                empty_values()
                small_t = spawn_import(part, use_tracemalloc=True)
                res["scale_check"]["tracemalloc_peak_bytes"] = small_t["tracemalloc_peak_bytes"]
                res["scale_check"]["tracemalloc_run_seconds"] = small_t["seconds"]
            part.unlink(missing_ok=True)
            empty_values()

        print(f"(a) importing {n:,} values …", flush=True)
        first = spawn_import(path, use_tracemalloc=inline)
        s = first["summary"]
        first["values_per_second"] = n / first["seconds"]
        first["ok"] = s["created"] == n and s["values_read"] == n
        res["import"] = first
        stored = IndicatorValue.objects.count()
        res["rows_after_import"] = stored

        analyze_values()
        print("(b) re-importing the same file …", flush=True)
        again = spawn_import(path, use_tracemalloc=inline)
        s2 = again["summary"]
        again["values_per_second"] = n / again["seconds"]
        again["idempotent"] = (
            s2["created"] == 0
            and s2["updated"] == 0
            and s2["rollups_written"] == 0
            and s2["rollups_removed"] == 0
            and IndicatorValue.objects.count() == stored
        )
        res["reimport"] = again

        if tracemalloc_mode == "separate":
            print("tracemalloc run: importing again into an empty values table …", flush=True)
            empty_values()
            traced = spawn_import(path, use_tracemalloc=True)
            res["import"]["tracemalloc_peak_bytes"] = traced["tracemalloc_peak_bytes"]
            res["import"]["tracemalloc_run_seconds"] = traced["seconds"]
            res["import"]["tracemalloc_run_maxrss_delta_kib"] = traced["maxrss_delta_kib"]

        print("(c) baseline: plain COPY into an unlogged staging table …", flush=True)
        res["baseline_copy"] = base = baseline_copy(path)
        base["values_per_second"] = n / base["seconds"]
        res["import_vs_copy"] = first["seconds"] / base["seconds"]

    report(res)
    common.save_results("import_values", res)
    return res


def report(res: dict) -> None:
    first, again, base = res["import"], res["reimport"], res["baseline_copy"]
    n = res["values"]
    s = first["summary"]
    rows = []
    if "scale_check" in res:
        sc = res["scale_check"]
        rss, traced = _mem(sc)
        rows.append(
            (
                f"scale check: import {sc['values']:,} values",
                common.fmt_s(sc["seconds"]),
                f"{sc['values'] / sc['seconds']:,.0f}",
                rss,
                traced,
            )
        )
    rss, traced = _mem(first)
    rows.append((f"(a) import {n:,} values", common.fmt_s(first["seconds"]), f"{first['values_per_second']:,.0f}", rss, traced))
    rss, traced = _mem(again)
    rows.append(("(b) re-import (no changes)", common.fmt_s(again["seconds"]), f"{again['values_per_second']:,.0f}", rss, traced))
    rows.append(("(c) plain COPY (baseline)", common.fmt_s(base["seconds"]), f"{base['values_per_second']:,.0f}", "–", "–"))
    common.print_table(
        "Indicator value import",
        rows,
        ("run", "wall time", "values/s", "RSS growth (ru_maxrss)", "tracemalloc peak"),
    )
    ph = first["phases"]
    order = [
        "open_file",
        "read_parse",
        "copy_to_temp",
        "duplicate_check",
        "upsert",
        "rollup",
        "other_in_run",
        "commit_and_bookkeeping",
    ]
    common.print_table(
        "(a) phases",
        [(k, common.fmt_s(ph.get(k, 0.0)), f"{100 * ph.get(k, 0.0) / first['seconds']:.0f} %") for k in order],
        ("phase", "time", "share"),
    )
    common.print_table(
        "checks",
        [
            ("(a) created / values read", f"{s['created']:,} / {s['values_read']:,}"),
            ("(a) roll-ups written", f"{s['rollups_written']:,}"),
            ("(a) rows in the values table", f"{res['rows_after_import']:,}"),
            (
                "(b) created / updated / unchanged",
                f"{again['summary']['created']} / {again['summary']['updated']} / {again['summary']['unchanged']:,}",
            ),
            ("(b) idempotent", again["idempotent"]),
            ("import / plain COPY", f"{res['import_vs_copy']:.1f}×"),
        ],
    )
    if not (first["ok"] and again["idempotent"]):
        print("WARNING: a check failed", file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tracemalloc", choices=["separate", "inline", "off"], default="separate")
    ap.add_argument("--no-scale-check", action="store_true")
    ap.add_argument("--keep-autovacuum", action="store_true", help="do not pause autovacuum on the values table")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--with-tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.out, args.with_tracemalloc)
        return
    common.configure()
    common.setup_django()
    run(
        gen.QUICK if args.quick else gen.FULL,
        tracemalloc_mode=args.tracemalloc,
        scale_check=not args.no_scale_check,
        keep_autovacuum=args.keep_autovacuum,
    )


if __name__ == "__main__":
    main()
