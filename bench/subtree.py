"""Tree queries on the materialised path, at the generated size (11,000 regions).

* descendants of the root, of a district, of regions at every depth
  (``Region.objects.subtree(r)`` evaluated to model instances), ancestors of a
  leaf (``leaf.ancestors()``): median wall time of N runs and the number of
  SQL queries each takes (``CaptureQueriesContext``) — one, at any depth;
* a move: a level-2 subtree (Prognoseraum with its Bezirksregionen and
  Planungsräume) to another district with ``Region.save()``, which rewrites
  the paths of the whole subtree in one UPDATE; timed back and forth, queries
  counted, and the tree checked after the moves (paths and depths of the
  moved subtree, subtree sizes, and ``rebuild_paths()`` finding nothing to
  correct).

Run alone (after ``bench/gen.py``): ``.venv/bin/python bench/subtree.py [--quick] [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import gen  # noqa: E402


def measure(label: str, fn, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        rows = fn()
    queries = len(ctx.captured_queries)
    median, times = common.median_time(fn, runs)
    return {"label": label, "rows": rows, "queries": queries, "median_seconds": median, "min_seconds": min(times), "runs": runs}


def run(size: gen.Size, runs: int = 15) -> dict:
    from regions.models import Region

    total = Region.objects.count()
    if total != size.regions:
        raise SystemExit(f"expected {size.regions} regions in the bench database, found {total}: run bench/gen.py")
    root = Region.objects.get(parent=None)
    district = Region.objects.filter(depth=1).order_by("code").first()
    leaf = Region.objects.filter(depth=Region.objects.order_by("-depth").values("depth")[:1]).order_by("code").last()

    res: dict = {"regions": total, "runs": runs, "queries": []}
    q = res["queries"]
    q.append(measure("descendants of the root (subtree, all fields)", lambda: len(list(Region.objects.subtree(root))), runs))
    q.append(
        measure(
            "descendants of the root (ids only)",
            lambda: len(list(Region.objects.subtree(root).values_list("pk", flat=True))),
            runs,
        )
    )
    q.append(measure(f"descendants of a district ({district.code})", lambda: len(list(Region.objects.subtree(district))), runs))
    q.append(measure(f"ancestors of a leaf ({leaf.code}, depth {leaf.depth})", lambda: len(list(leaf.ancestors())), runs))
    # one query at any depth: one region per depth, first code of that depth
    per_depth = []
    for depth in range(0, leaf.depth + 1):
        r = Region.objects.filter(depth=depth).order_by("code").first()
        sub = measure(f"subtree at depth {depth} ({r.code})", lambda r=r: len(list(Region.objects.subtree(r))), runs)
        anc = measure(f"ancestors at depth {depth} ({r.code})", lambda r=r: len(list(r.ancestors(include_self=True))), runs)
        per_depth.append({"depth": depth, "code": r.code, "subtree": sub, "ancestors": anc})
    res["per_depth"] = per_depth
    counts = [m["queries"] for m in q] + [d[k]["queries"] for d in per_depth for k in ("subtree", "ancestors")]
    res["one_query_each"] = all(c == 1 for c in counts)

    res["move"] = move(runs=max(3, min(runs, 11)))
    report(res)
    common.save_results("subtree", res)
    return res


def move(runs: int) -> dict:
    """Move a level-2 subtree to another district and back, ``runs`` saves in all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from regions.models import Region, rebuild_paths

    districts = list(Region.objects.filter(depth=1).order_by("code")[:2])
    home, other = districts
    # the biggest level-2 subtree of the first district
    candidates = Region.objects.filter(depth=2, parent=home)
    node = max(candidates, key=lambda r: Region.objects.subtree(r).count())
    ids_before = set(Region.objects.subtree(node).values_list("pk", flat=True))
    depths_before = dict(Region.objects.subtree(node).values_list("pk", "depth"))
    home_size = Region.objects.subtree(home).count()
    other_size = Region.objects.subtree(other).count()

    times, queries, checks = [], [], []
    target = other
    for _ in range(runs):
        node = Region.objects.select_related("level", "parent__level").get(pk=node.pk)
        node.parent = Region.objects.select_related("level").get(pk=target.pk)
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            node.save()
            times.append(time.perf_counter() - t0)
        queries.append(len(ctx.captured_queries))
        updates = [c["sql"] for c in ctx.captured_queries if "SET path" in c["sql"]]
        # verify
        target_path = Region.objects.get(pk=target.pk).path
        prefix = f"{target_path}{node.pk}/"
        moved = dict(Region.objects.filter(pk__in=ids_before).values_list("pk", "path"))
        ok = (
            set(Region.objects.subtree(node).values_list("pk", flat=True)) == ids_before
            and all(p.startswith(prefix) for p in moved.values())
            and dict(Region.objects.filter(pk__in=ids_before).values_list("pk", "depth")) == depths_before
            and all(p.count("/") - 1 == depths_before[pk] for pk, p in moved.items())
        )
        checks.append({"ok": ok, "update_statements": len(updates)})
        target = home if target == other else other
    # after an odd number of moves the subtree sits in the other district
    in_other = runs % 2 == 1
    n = len(ids_before)
    sizes_ok = Region.objects.subtree(home).count() == home_size - (n if in_other else 0) and Region.objects.subtree(
        other
    ).count() == other_size + (n if in_other else 0)
    corrected = rebuild_paths()  # 0 = every stored path agrees with the parent links
    return {
        "subtree_size": n,
        "from": home.code,
        "to": other.code,
        "runs": runs,
        "median_seconds": statistics.median(times),
        "min_seconds": min(times),
        "queries": max(queries),
        "path_update_statements": max(c["update_statements"] for c in checks),
        "consistent": all(c["ok"] for c in checks) and sizes_ok and corrected == 0,
        "rebuild_paths_corrected": corrected,
    }


def report(res: dict) -> None:
    rows = [(m["label"], f"{m['rows']:,}", m["queries"], common.fmt_s(m["median_seconds"])) for m in res["queries"]]
    for d in res["per_depth"]:
        for k in ("subtree", "ancestors"):
            m = d[k]
            rows.append((m["label"], f"{m['rows']:,}", m["queries"], common.fmt_s(m["median_seconds"])))
    common.print_table(
        f"Tree queries at {res['regions']:,} regions (median of {res['runs']})", rows, ("query", "rows", "SQL queries", "median")
    )
    mv = res["move"]
    common.print_table(
        "Move",
        [
            (
                f"move a level-2 subtree ({mv['subtree_size']} regions) {mv['from']} ↔ {mv['to']}",
                common.fmt_s(mv["median_seconds"]),
            ),
            ("SQL queries per save() / UPDATE statements", f"{mv['queries']} / {mv['path_update_statements']}"),
            ("tree consistent after the moves", mv["consistent"]),
            ("one query per subtree/ancestors at every depth", res["one_query_each"]),
        ],
    )
    if not (mv["consistent"] and res["one_query_each"]):
        print("WARNING: a check failed", file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    common.configure()
    common.setup_django()
    run(gen.QUICK if args.quick else gen.FULL, runs=args.runs)


if __name__ == "__main__":
    main()
