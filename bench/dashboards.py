"""Dashboard pages at Berlin demo scale: server time and SQL queries per page.

Target (issue): at Berlin demo scale each dashboard page is served in
≤ 200 ms server time with ≤ 20 queries.

* data: the demo city as shipped — ``manage.py load_demo`` (Berlin's LOR tree
  of 756 regions, residents and MSS 2021 values, boundaries, three indices,
  the youth-welfare budgets over the 12 Bezirke (2027 planned; 2026 running, with 720 monthly
  bookings — the one measured) with their Trägerbudgets, 455
  fictional organisations with 2,974 offerings, agreements, networks, …) into
  the emptied bench database, then the daily reminder job once (the demo has
  no notifications otherwise), then ``ANALYZE``;
* pages: ``PAGES`` below — (name, persona, URL), the URL either a path or a
  callable taking the ``Demo`` objects (``d.bezirk``, ``d.planungsraum``,
  ``d.budget``, ``d.search``, ``d.first("app.Model", **filters)``) and
  returning the path. Adding a page is one line;
* per page, with Django's test client logged in (``force_login``) as the demo
  user of the persona: the cache is emptied, a first request (cold cache) and
  a second one (warm) are counted with ``CaptureQueriesContext``, then
  ``runs`` timed requests (time around ``client.get``); median and max in ms.
  Every response must be 200.

Checks: queries ≤ 20 (the larger of the cold and the warm count) and every
status 200; in full mode also median ≤ 200 ms. ``--quick`` skips the time
check (CI machines are noisy) and times fewer runs; the data is the same.

Run alone: ``.venv/bin/python bench/dashboards.py [--quick] [--runs N] [--keep-data]``
(``--keep-data``: measure the demo already in the bench database instead of
emptying it and loading it again).
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

MAX_MS = 200
MAX_QUERIES = 20
RUNS_QUICK = 3

# persona → demo login (manage.py load_demo, DEMO_USERS)
PERSONAS = {
    "planner": "planung",
    "viewer": "lesezugriff",
    "region lead": "sozialraumleitung",  # Neukölln (08)
    "provider editor": "traeger-a",
}


def _url(name, *args):
    from django.urls import reverse

    return reverse(name, args=args)


# (page, persona, path or callable(demo) → path). One line per page.
PAGES = [
    ("home", "planner", "/"),
    ("home", "viewer", "/"),
    ("home", "region lead", "/"),
    ("home", "provider editor", "/"),
    ("region detail: Bezirk", "planner", lambda d: _url("region-detail", d.bezirk.code)),
    ("region detail: Bezirk", "region lead", lambda d: _url("region-detail", d.bezirk.code)),
    ("region detail: Planungsraum", "planner", lambda d: _url("region-detail", d.planungsraum.code)),
    ("region cooperation: Bezirk", "planner", lambda d: _url("region-cooperation", d.bezirk.code)),
    ("budget detail", "planner", lambda d: _url("budget-detail", d.budget.pk)),
    ("budget utilisation", "planner", lambda d: _url("budget-utilisation", d.budget.pk)),
    ("Trägerbudgets", "planner", lambda d: _url("budget-providers", d.budget.pk)),
    ("Mein Träger", "provider editor", lambda d: _url("my-provider")),
    ("directory", "planner", lambda d: _url("directory")),
    ("agreements list", "planner", lambda d: _url("agreement-list")),
    ("search", "planner", lambda d: f"{_url('search')}?q={d.search}"),
    ("notifications", "planner", lambda d: _url("notification-list")),
    ("overview: map (default)", "planner", lambda d: _url("overview-map")),
    ("overview: map, Prognoseräume × K01", "viewer",
     lambda d: f"{_url('overview-map')}?ebene=prognoseraum&kennzahl=indicator:k01"),
    ("overview: map, allocation per resident", "planner",
     lambda d: f"{_url('overview-map')}?ebene=bezirk&kennzahl=budget:{d.budget.pk}"),
    ("overview: budget", "planner", lambda d: _url("overview-budget")),
    ("overview: coverage (Planungsräume)", "planner", lambda d: f"{_url('overview-coverage')}?ebene=planungsraum"),
    ("overview: coverage (Bezirke)", "region lead", lambda d: f"{_url('overview-coverage')}?ebene=bezirk"),
    ("API map-data: Planungsräume × K01", "planner",
     lambda d: "/api/v1/map-data/?level=planungsraum&metric=indicator:k01"),
    ("region profile: Berlin", "planner", lambda d: _url("region-profile", "BE")),
    ("region profile: Bezirk", "planner", lambda d: _url("region-profile", d.bezirk.code)),
    ("region profile: Bezirk", "provider editor", lambda d: _url("region-profile", d.bezirk.code)),
    ("region profile: Planungsraum", "region lead", lambda d: _url("region-profile", d.planungsraum.code)),
]

BEZIRK = "08"  # Neukölln: the region lead's Bezirk
SEARCH = "Beratung"


@dataclass
class Demo:
    """What the pages' URLs are built from. For a page about another object:
    ``d.first("cooperation.Network")`` (the first by primary key, with optional
    filters), e.g. ``lambda d: _url("network-detail", d.first("cooperation.Network").uuid)``."""

    bezirk: object
    planungsraum: object
    budget: object
    search: str

    def first(self, model: str, **filters):
        from django.apps import apps

        obj = apps.get_model(model).objects.filter(**filters).order_by("pk").first()
        if obj is None:
            raise LookupError(f"the demo has no {model} {filters or ''}")
        return obj


def demo_objects() -> Demo:
    from django.db.models import Count

    from budgets.models import Budget
    from regions.models import Region

    bezirk = Region.objects.get(code=BEZIRK)
    # the Planungsraum of that Bezirk with the most offerings serving it (a busy page)
    planungsraum = (Region.objects.filter(path__startswith=bezirk.path, children__isnull=True)
                    .annotate(n=Count("services_served")).order_by("-n", "code").first())
    # the running budget of the demo (2026, with its monthly spending), else the first
    budget = Budget.objects.filter(expenditures__isnull=False).order_by("pk").first() or \
        Budget.objects.order_by("pk").first()
    return Demo(bezirk=bezirk, planungsraum=planungsraum, budget=budget, search=SEARCH)


# --- data ----------------------------------------------------------------------


def _restore_seed_data():
    """``flush`` also empties what the data migrations seeded (the fields of
    action, the target groups), which a fresh installation has and the demo
    needs: put them back the way a fresh installation gets them."""
    import importlib

    from django.apps import apps
    from django.core.management import call_command

    call_command("load_fields_of_action", stdout=io.StringIO())
    importlib.import_module("cooperation.migrations.0002_default_target_groups").load(apps, None)


def load_demo() -> dict:
    """Empty the bench database and load the demo city; returns timings and sizes."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from cooperation.reminders import send_reminders
    from core.models import Notification

    info = {}
    with common.Timer() as t:
        common.migrate_and_flush()
        _restore_seed_data()
    info["flush_seconds"] = round(t.seconds, 2)
    out = io.StringIO()
    # the eager Celery tasks of the load log one INFO line each
    quiet = logging.getLogger("celery")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with common.Timer() as t:
            call_command("load_demo", "--force", stdout=out)
    finally:
        quiet.setLevel(level)
    info["load_demo_seconds"] = round(t.seconds, 2)
    with common.Timer() as t, override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        send_reminders()
    info["reminders_seconds"] = round(t.seconds, 2)
    info["notifications"] = Notification.objects.count()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    info.update(_sizes())
    return info


def _sizes() -> dict:
    from budgets.models import ProviderAllocation
    from cooperation.models import Agreement, Network, Organization, Service
    from regions.models import IndicatorValue, Region

    return {"regions": Region.objects.count(), "indicator_values": IndicatorValue.objects.count(),
            "organizations": Organization.objects.count(), "services": Service.objects.count(),
            "agreements": Agreement.objects.count(), "networks": Network.objects.count(),
            "provider_allocations": ProviderAllocation.objects.count()}


# --- measuring -----------------------------------------------------------------


def _shape(sql: str) -> str:
    """A query with its literals replaced and its column list elided, to group
    repeated queries."""
    sql = re.sub(r"^SELECT (DISTINCT )?.*? FROM ", r"SELECT \1… FROM ", sql, count=1, flags=re.S)
    sql = re.sub(r"'[^']*'|%s", "?", sql)
    sql = re.sub(r"\b\d+\b", "?", sql)
    sql = re.sub(r"\(\s*\?(\s*,\s*\?)*\s*\)", "(…)", sql)
    return sql[:200]


def _counted(client, url):
    """One request, its queries captured; (response, seconds, [(sql, seconds)])."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    executed = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            executed.append((sql, time.perf_counter() - t0))

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timed):
        t0 = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - t0
    # the test client empties the query log when a request starts; a capture that
    # lost queries would report too few, so cross-check with the execute wrapper
    assert len(ctx.captured_queries) == len(executed), (url, len(ctx.captured_queries), len(executed))
    return response, seconds, executed


def measure(client, url: str, runs: int) -> dict:
    from django.core.cache import cache

    cache.clear()
    statuses = []
    first, first_s, cold = _counted(client, url)
    statuses.append(first.status_code)
    warm_response, _, warm = _counted(client, url)
    statuses.append(warm_response.status_code)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        statuses.append(response.status_code)
    bad = [s for s in statuses if s != 200]
    return {
        "url": url, "status": bad[0] if bad else 200, "statuses_ok": not bad,
        "median_ms": round(statistics.median(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1),
        "cold_ms": round(first_s * 1000, 1), "queries_cold": len(cold), "queries_warm": len(warm),
        "sql_ms_warm": round(sum(t for _sql, t in warm) * 1000, 1),
        "kb": round(len(warm_response.content) / 1024, 1),
        "_queries": warm if len(warm) >= len(cold) else cold,
        "_redirect": first.get("Location", "") if first.status_code in (301, 302) else "",
    }


def _top_queries(captured, n=5):
    """The query shapes of a request that took longest, and those repeated:
    [count, ms, shape]."""
    groups = defaultdict(lambda: [0, 0.0])
    for sql, seconds in captured:
        g = groups[_shape(sql)]
        g[0] += 1
        g[1] += seconds
    rows = [[count, round(seconds * 1000, 2), shape] for shape, (count, seconds) in groups.items()]
    slow = sorted(rows, key=lambda r: -r[1])[:n]
    return slow + [r for r in rows if r[0] > 1 and r not in slow]


def _profile(client, url, n=8, requests=3):
    """The project's own functions (not Django's, not the libraries') with the
    most cumulative time over a few requests: [(function, ms per request)]."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        client.get(url)
    profile.disable()
    stats = pstats.Stats(profile).stats
    root, venv = str(common.ROOT), str(common.ROOT / ".venv")
    own = [(f"{Path(file).relative_to(root)}:{line} {func}", cumulative / requests * 1000)
           for (file, line, func), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
           if file.startswith(root) and not file.startswith(venv) and "/bench/" not in file]
    return [(name, round(ms, 1)) for name, ms in sorted(own, key=lambda r: -r[1])[:n]]


def run(quick: bool = False, runs: int = 15, keep_data: bool = False) -> dict:
    import warnings

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic for the bench
    runs = min(runs, RUNS_QUICK) if quick else runs
    if keep_data:
        data = {"reused": True, **_sizes()}
    else:
        print("loading the demo city (manage.py load_demo) …", flush=True)
        data = load_demo()
    common.print_table("Demo city (manage.py load_demo)", [
        ("data", f"{data['regions']:,} regions, {data['indicator_values']:,} indicator values, "
                 f"{data['organizations']:,} organisations, {data['services']:,} offerings, "
                 f"{data['agreements']:,} agreements, {data['networks']:,} networks"),
        *([] if keep_data else [
            ("migrate + flush + seed data", common.fmt_s(data["flush_seconds"])),
            ("load_demo", common.fmt_s(data["load_demo_seconds"])),
            (f"daily reminders ({data['notifications']} notifications)", common.fmt_s(data["reminders_seconds"])),
        ]),
    ])
    demo = demo_objects()
    # one connection across the requests (the test client keeps it open anyway)
    connection.settings_dict["CONN_MAX_AGE"] = None
    users = get_user_model().objects.in_bulk(PERSONAS.values(), field_name="username")
    clients = {}
    for persona, username in PERSONAS.items():
        clients[persona] = Client(HTTP_HOST="localhost")
        clients[persona].force_login(users[username])

    pages, rows, misses = [], [], []
    for name, persona, url in PAGES:
        try:
            path = url(demo) if callable(url) else url
            m = measure(clients[persona], path, runs)
        except Exception as e:  # a view that raises fails its page, not the whole run
            error = f"{type(e).__name__}: {e}"[:300]
            pages.append({"page": name, "persona": persona, "error": error, "ok": False, "missed": ["error"]})
            rows.append((name, persona, "–", "–", "–", "–", "–", "–", "error", "error"))
            print(f"\n{name} ({persona}): {error}", file=sys.stderr, flush=True)
            continue
        queries = max(m["queries_cold"], m["queries_warm"])
        m.update(page=name, persona=persona, queries_ok=queries <= MAX_QUERIES, time_ok=m["median_ms"] <= MAX_MS)
        m["ok"] = m["statuses_ok"] and m["queries_ok"] and (quick or m["time_ok"])
        missed = [w for w, bad in (("status", not m["statuses_ok"]), ("queries", not m["queries_ok"]),
                                   ("time", not m["time_ok"] and not quick)) if bad]
        if missed:
            m["top_queries"] = _top_queries(m["_queries"])
            m["profile"] = _profile(clients[persona], path)  # cProfile: slower than the timed runs
            misses.append(m)
        m["missed"] = missed
        pages.append(m)
        note = ", ".join(missed) or ("ok, slow (time not checked)" if not m["time_ok"] else "ok")
        rows.append((name, persona, f"{m['median_ms']:.1f}", f"{m['max_ms']:.1f}", f"{m['cold_ms']:.1f}",
                     f"{m['queries_cold']}/{m['queries_warm']}", f"{m['sql_ms_warm']:.1f}", f"{m['kb']:.0f}",
                     str(m["status"]), note))
    common.print_table(
        f"Dashboard pages (median of {runs} after a cold and a warm request; "
        f"target ≤ {MAX_MS} ms{' — not checked in --quick' if quick else ''}, ≤ {MAX_QUERIES} queries)",
        rows, headers=("page", "persona", "median ms", "max ms", "cold ms", "queries cold/warm", "SQL ms", "KB",
                       "status", "check"))
    for m in misses:
        print(f"\n{m['page']} ({m['persona']}, {m['url']}) missed: {', '.join(m['missed'])}"
              + (f" → {m['_redirect']}" if m["_redirect"] else ""))
        print(f"  {max(m['queries_cold'], m['queries_warm'])} queries, {m['sql_ms_warm']} ms in SQL of "
              f"{m['median_ms']} ms; slowest and repeated queries:")
        for count, ms, shape in m["top_queries"]:
            print(f"  {count:>4}× {ms:>7.2f} ms  {shape}")
        print("  own functions, cumulative time per request under cProfile:")
        for name, ms in m["profile"]:
            print(f"  {ms:>9.1f} ms  {name}")
    for m in pages:
        m.pop("_queries", None)
        m.pop("_redirect", None)
    ok = all(m["ok"] for m in pages)
    result = {"data": data, "runs": runs, "quick": quick, "max_ms": MAX_MS, "max_queries": MAX_QUERIES,
              "time_checked": not quick, "pages": pages, "ok": ok}
    common.save_results("dashboards", result)
    print(f"\ndashboards: {sum(m['ok'] for m in pages)}/{len(pages)} pages pass"
          f"{' (queries and status only: --quick)' if quick else ''}", flush=True)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{RUNS_QUICK} runs, no time check")
    ap.add_argument("--runs", type=int, default=15, help="timed requests per page (default 15)")
    ap.add_argument("--keep-data", action="store_true", help="measure the demo already loaded; do not empty the database")
    ap.add_argument("--allow-any-database", action="store_true",
                    help="run even if the database name does not contain 'bench' (it is emptied!)")
    args = ap.parse_args()
    common.configure()
    common.setup_django(allow_any_database=args.allow_any_database)
    sys.exit(0 if run(quick=args.quick, runs=args.runs, keep_data=args.keep_data)["ok"] else 1)
