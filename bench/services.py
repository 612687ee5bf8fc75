"""Service offerings: the services list API and the directory search with
10,000 offerings of 2,000 organisations (quick: 500 / 100).

* data: organisations, offerings (each with 1–2 fields of action, 1–3 target
  groups, 1–2 served regions of the leaf level, one location with a point),
  written with bulk_create on the generated region tree;
* per page size (10, 50, 100): the number of SQL queries of
  ``GET /api/v1/services/?page_size=N`` (must not grow with N) and its median
  wall time through Django's test client (in-process: URL routing, session
  auth, access scoping, filters, serializer, JSON renderer), against a bare
  Django view in the same run that returns the same rows with ``values()``
  (own columns, the organisation's name and the related keys aggregated with
  ``ArrayAgg``) as JSON — target ≤ 1.5×;
* the same for a full-text search (``?q=Beratung``) and for the directory page
  (``/angebotsfinder/?q=Beratung``, HTML, 20 per page).

Run alone (after ``bench/gen.py``): ``.venv/bin/python bench/services.py [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

FULL = {"organizations": 2_000, "services": 10_000}
QUICK = {"organizations": 100, "services": 500}
PAGE_SIZES = (10, 50, 100)
WORDS = ["Beratung", "Begleitung", "Treffpunkt", "Hilfe", "Kurs", "Gruppe", "Sprechstunde", "Förderung", "Café",
         "Werkstatt", "Sport", "Lernhilfe", "Elterncafé", "Familienbildung", "Schuldnerberatung", "Suchtberatung"]


def generate(n_orgs: int, n_services: int, seed: int = 7) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from cooperation.models import Location, Organization, Service, TargetGroup
    from core.access import Role
    from core.models import FieldOfAction
    from regions.models import Region, RoleAssignment

    rng = random.Random(seed)
    t0 = time.perf_counter()
    with transaction.atomic():
        Service.objects.all().delete()
        Location.objects.all().delete()
        Organization.objects.all().delete()
        fields = []
        for i in range(12):
            fields.append(FieldOfAction.objects.get_or_create(key=f"bench-feld-{i}",
                                                              defaults={"name": f"Handlungsfeld {i}"})[0])
        groups = [TargetGroup.objects.get_or_create(key=f"bench-gruppe-{i}", defaults={"name": f"Zielgruppe {i}"})[0]
                  for i in range(20)]
        leaf_rank = Region.objects.order_by("-depth").values_list("level__rank", flat=True).first()
        leaves = list(Region.objects.filter(level__rank=leaf_rank).values_list("pk", flat=True))
        orgs = Organization.objects.bulk_create(
            [Organization(name=f"Bench-Träger {i:05d} e. V.", kind="provider", umbrella="paritaetischer")
             for i in range(n_orgs)], batch_size=2000,
        )
        locations = Location.objects.bulk_create(
            [Location(organization=orgs[i % n_orgs], street=f"Benchstraße {i}", postal_code="10115", city="Berlin",
                      latitude=round(52.35 + rng.random() * 0.3, 6), longitude=round(13.1 + rng.random() * 0.6, 6),
                      region_id=rng.choice(leaves))
             for i in range(n_services)], batch_size=5000,
        )
        services = Service.objects.bulk_create(
            [Service(organization=orgs[i % n_orgs], name=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i:05d}",
                     description=" ".join(rng.choice(WORDS) for _ in range(20)),
                     setting=rng.choice(["ambulant", "open", "semi_residential"]),
                     work_mode=rng.choice(["case_specific", "case_overarching", "case_unspecific"]),
                     age_min=rng.choice([None, 0, 6, 14]), age_max=rng.choice([None, 27, 99]) ,
                     languages=["de", rng.choice(["en", "tr", "ar"])], status="active")
             for i in range(n_services)], batch_size=5000,
        )
        through = Service.fields.through
        through.objects.bulk_create(
            [through(service_id=s.pk, fieldofaction_id=f.pk) for s in services for f in rng.sample(fields, 2)],
            batch_size=10000)
        through = Service.target_groups.through
        through.objects.bulk_create(
            [through(service_id=s.pk, targetgroup_id=g.pk) for s in services for g in rng.sample(groups, 2)],
            batch_size=10000)
        through = Service.regions.through
        through.objects.bulk_create(
            [through(service_id=s.pk, region_id=r) for s in services for r in rng.sample(leaves, 2)], batch_size=10000)
        through = Service.locations.through
        through.objects.bulk_create(
            [through(service_id=s.pk, location_id=loc.pk) for s, loc in zip(services, locations, strict=True)],
            batch_size=10000)
        user, _ = get_user_model().objects.get_or_create(username="bench-planner")
        RoleAssignment.objects.get_or_create(user=user, role=Role.PLANNER, region=None)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"organizations": n_orgs, "services": n_services, "generate_seconds": round(time.perf_counter() - t0, 2)}


def bare_page(offset: int, size: int, q: str | None = None):
    """The baseline: the same rows with values() — the page of offerings with
    their own columns and the organisation, then the related keys of those
    offerings with one values_list() per relation — as JSON."""
    from django.contrib.postgres.search import SearchQuery, SearchRank
    from django.db.models import F
    from django.http import JsonResponse

    from cooperation.models import Service

    qs = Service.objects.all()
    if q:
        query = SearchQuery(q, config="german", search_type="websearch")
        qs = qs.filter(search=query).annotate(rank=SearchRank(F("search"), query)).order_by("-rank", "name", "pk")
    else:
        qs = qs.order_by("name", "pk")
    total = qs.count()
    rows = list(qs.values(
        "pk", "uuid", "name", "description", "keywords", "setting", "work_mode", "age_min", "age_max", "legal_bases",
        "languages", "accessibility", "cost", "cost_note", "access_modes", "city_wide", "opening_hours", "email",
        "phone", "url", "capacity", "free_places", "free_places_reported_at", "status", "last_confirmed_at",
        "created_at", "updated_at", "organization__uuid", "organization__name",
    )[offset:offset + size])
    by_pk = {row["pk"]: row for row in rows}
    for key, relation, column in (("fields", Service.fields.through, "fieldofaction__key"),
                                  ("target_groups", Service.target_groups.through, "targetgroup__key"),
                                  ("regions", Service.regions.through, "region__code"),
                                  ("locations", Service.locations.through, "location__uuid")):
        for row in rows:
            row[key] = []
        for service_id, value in relation.objects.filter(service_id__in=list(by_pk)).values_list("service_id", column):
            by_pk[service_id][key].append(value)
    return JsonResponse({"count": total, "results": rows})


def timed(fn, runs: int) -> tuple[float, int]:
    """Median wall time of ``fn`` and the number of SQL statements one call
    runs (counted with an execute wrapper: the test client's request_started
    signal empties Django's query log, so CaptureQueriesContext sees nothing)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count


def run(quick: bool = False, runs: int = 7) -> dict:
    import warnings

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    # WhiteNoise warns once that collectstatic has not run; the bench serves no static files
    warnings.filterwarnings("ignore", message="No directory at")
    size = QUICK if quick else FULL
    info = generate(size["organizations"], size["services"])
    # keep the one connection across the test client's requests (it closes
    # connections at the end of each request otherwise, losing the query log)
    connection.settings_dict["CONN_MAX_AGE"] = None
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username="bench-planner"))

    def api(url):
        def call():
            response = client.get(url, HTTP_ACCEPT="application/json")
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
            return response
        return call

    rows, results = [], {"data": info, "pages": []}
    for label, query in (("list", ""), ("search q=Beratung", "&q=Beratung")):
        for n in PAGE_SIZES:
            t_api, q_api = timed(api(f"/api/v1/services/?page_size={n}&page=2{query}"), runs)
            t_bare, q_bare = timed(lambda n=n, query=query: bare_page(n, n, "Beratung" if query else None), runs)
            results["pages"].append({"what": label, "page_size": n, "api_seconds": round(t_api, 4), "api_queries": q_api,
                                     "bare_seconds": round(t_bare, 4), "bare_queries": q_bare,
                                     "ratio": round(t_api / t_bare, 2)})
            rows.append((f"API {label}, page of {n}", f"{q_api}", common.fmt_s(t_api), common.fmt_s(t_bare),
                         f"{t_api / t_bare:.2f}×"))
    t_dir, q_dir = timed(api("/angebotsfinder/?q=Beratung&page=2"), runs)
    t_bare, _ = timed(lambda: bare_page(20, 20, "Beratung"), runs)
    results["directory"] = {"seconds": round(t_dir, 4), "queries": q_dir, "bare_seconds": round(t_bare, 4),
                            "ratio": round(t_dir / t_bare, 2)}
    rows.append(("directory page q=Beratung (20, HTML)", f"{q_dir}", common.fmt_s(t_dir), common.fmt_s(t_bare),
                 f"{t_dir / t_bare:.2f}×"))
    counts = {}
    for p in results["pages"]:
        counts.setdefault(p["what"], set()).add(p["api_queries"])
    results["constant_queries"] = all(len(v) == 1 for v in counts.values())
    common.print_table(
        f"Service offerings ({info['services']:,} offerings, {info['organizations']:,} organisations; median of {runs})",
        rows, headers=("request", "queries", "time", "bare values() view", "ratio"),
    )
    common.save_results("services", results)
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    common.configure()
    common.setup_django()
    run(quick=args.quick, runs=args.runs)
