"""Load test: gunicorn + PostgreSQL + Redis + a Celery worker on loopback, driven
by locust (bench/load/locustfile.py) with many concurrent users.

What it does, in order (every step in this one command):

1. the bench database (bench/common.py: ``sozialraum_bench`` on ``DATABASE_URL``'s
   server, or ``BENCH_DATABASE_URL``, or the embedded server) is migrated, emptied
   and filled with the demo city (``manage.py load_demo``, as bench/dashboards.py
   does) — or, with ``--keep-data``, the demo city already in it is used;
2. the load test's accounts are made: per virtual user one login (planners,
   region leads of the 12 Bezirke, provider editors of different demo
   organisations) and, for planners and provider editors, an integration
   token; two indicators of its own for the imports;
3. ``collectstatic`` into bench/out/load/static (the pages link the hashed
   names of production's manifest; skipped when the sources did not change);
4. gunicorn (``sozialraum.wsgi``, production settings) and a Celery worker are
   started on loopback; Redis is a database of its own (emptied before and after);
5. once ``/health/?worker=1`` answers 200, locust runs headless: ``--users``
   users (spawned within ~8 s) for ``--seconds`` seconds, then stops by itself;
6. everything started is stopped again (also on an error or Ctrl-C), the
   results are printed and written to bench/out/load/ (and to the ``load``
   section of bench/out/results.json).

The exit code is 1 when any request failed (a status other than the expected
one, a form that did not save, an import that was rejected) or when a process
did not come up. Options: ``--quick`` (10 users, 15 s), ``--users``,
``--seconds``, ``--keep-data``, ``--web-workers``/``--web-threads``,
``--worker-concurrency``; see ``--help`` and bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

LOAD_DIR = Path(__file__).resolve().parent
BENCH_DIR = LOAD_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
import common  # noqa: E402

ROOT = common.ROOT
OUT = common.OUT / "load"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"

USERNAME_PREFIX = "last-"
PASSWORD = "last-" + "x" * 12  # only on the bench database; one hash for all accounts
# Share of the virtual users per persona (locustfile.py's user classes); the
# rest of the rounding goes to the provider editors.
SHARES = {"planner": 0.3, "region_lead": 0.2, "provider_editor": 0.5}
# Indicators of the load test's own: the imports write these (not the demo's, so
# the dashboards measured meanwhile keep showing the same data).
INDICATORS = [
    {"key": "last_zaehlung", "name": "Lasttest: Zählung (Summe)", "rollup": "sum"},
    {"key": "last_anzahl", "name": "Lasttest: Anzahl aus Datei (Summe)", "rollup": "sum"},
]
SEARCH_TERMS = [
    "Beratung", "Kita", "Jugend", "Familie", "Schule", "Sprache", "Senioren", "Pflege", "Gesundheit",
    "Arbeit", "Wohnen", "Migration", "Sucht", "Sport", "Erziehung", "Hilfe", "Treff", "Schuldner",
    "Eltern", "Kinder", "Nachbarschaft", "Integration", "Ausbildung", "Frauen",
]
# gunicorn's default access log line, then the time the worker took (µs) and the request type
# the load test client names in X-Load-Name
ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s "%({x-load-name}i)s"'
STOP_TIMEOUT = 15  # seconds a process is given to stop after SIGTERM (then SIGKILL)
SKIPPED = 3  # exit code of --skip-without-redis when there is no Redis


def counts_for(users: int) -> dict[str, int]:
    """Virtual users per persona for ``users`` users (each at least 1 when
    ``users`` ≥ 3)."""
    planners = max(1, round(users * SHARES["planner"])) if users >= 3 else 1
    leads = max(1, round(users * SHARES["region_lead"])) if users >= 3 else 0
    return {"planner": planners, "region_lead": leads, "provider_editor": max(0, users - planners - leads)}


# --- environment ------------------------------------------------------------------


def _database_url_from_settings(s: dict) -> str:
    auth = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or ""
    if host.startswith("/"):
        # a Unix socket directory (the embedded server): django-environ reads
        # postgres://user@/<quoted /socket/dir/name> as HOST /socket/dir, NAME name
        return f"postgres://{auth}@/{quote(host.rstrip('/') + '/' + s['NAME'], safe='')}"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(s['NAME'], safe='')}"


def redis_url() -> str:
    """The load test's Redis database: ``BENCH_REDIS_URL`` as given, else database
    14 on ``REDIS_URL``'s server (else 127.0.0.1:6379). Every run empties it."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(base)._replace(path="/14"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_env(database_url: str, redis: str, static_root: Path, media_root: Path) -> dict:
    """The environment of gunicorn and the worker: the production settings as
    deployed (docker-compose.yml), on loopback. Nothing is relaxed: the load test
    client sends ``X-Forwarded-Proto: https`` as the TLS proxy in front of gunicorn
    does, so HTTPS redirect, secure cookies and the CSRF origin check stay on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "API_THROTTLE"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "sozialraum.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters, new each run
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DJANGO_MEDIA_ROOT": str(media_root),
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",  # as in docker-compose.yml
        "REDIS_URL": redis,
        "EMAIL_URL": "consolemail://",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("EMBEDDED_DATABASE_NAME", None)
    return env


# --- data -------------------------------------------------------------------------


def prepare_data(keep_data: bool) -> dict:
    """The demo city (loaded, or checked with ``--keep-data``); returns its sizes."""
    import dashboards

    from regions.models import Region

    if keep_data:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        if not Region.objects.filter(code="BE").exists():
            raise SystemExit("--keep-data: the database holds no demo city (run without --keep-data)")
        return {"reused": True, **dashboards._sizes()}
    print("loading the demo city (manage.py load_demo) …", flush=True)
    return dashboards.load_demo()


def make_accounts(counts: dict[str, int]) -> dict:
    """One login per virtual user, tokens, the load test's indicators and what
    the users pick their requests from. Accounts of an earlier run are replaced."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.db.models import Count, Q

    from budgets.models import Budget
    from cooperation.models import IntegrationToken, Membership, Organization, Service
    from cooperation.models.organizations import TargetGroup
    from core.access import Role
    from core.models import FieldOfAction
    from regions.models import Indicator, Region, RoleAssignment
    from regions.services import upsert_indicators

    User = get_user_model()
    with transaction.atomic():
        User.objects.filter(username__startswith=USERNAME_PREFIX).delete()
        upsert_indicators(INDICATORS)
        password_hash = make_password(PASSWORD)  # one PBKDF2 run, shared by all accounts
        bezirke = list(Region.objects.filter(level__key="bezirk").order_by("code").values_list("code", flat=True))
        # provider organisations with at least two active offerings, one of them with places
        orgs = list(
            Organization.objects.annotate(
                n=Count("services", filter=Q(services__status="active")),
                places=Count("services", filter=Q(services__status="active", services__capacity__isnull=False)),
            ).filter(n__gte=2, places__gte=1).order_by("-n", "pk")[: max(counts["provider_editor"], 1)]
        )
        if len(orgs) < counts["provider_editor"]:
            raise SystemExit(f"the demo has only {len(orgs)} organisations with offerings to edit; "
                             f"{counts['provider_editor']} provider editors asked for")

        def user(name, label):
            return User.objects.create(username=f"{USERNAME_PREFIX}{name}", password=password_hash,
                                       first_name=label[:150])

        out = {"password": PASSWORD, "planner": [], "region_lead": [], "provider_editor": []}
        for i in range(counts["planner"]):
            u = user(f"planung-{i + 1:02d}", f"Lasttest Planung {i + 1}")
            RoleAssignment.objects.create(user=u, role=Role.PLANNER, region=None)
            _token, secret = IntegrationToken.issue(owner=u, name="Lasttest Statistik-Import", scope="write")
            out["planner"].append({
                "username": u.username, "token": secret,
                # each planner writes its own periods: two imports never wait for each other's rows
                "bulk_period": f"{2040 + i}-06-30", "file_period": f"{2040 + i}-12-31",
            })
        for i in range(counts["region_lead"]):
            code = bezirke[i % len(bezirke)]
            u = user(f"sozialraumleitung-{i + 1:02d}", f"Lasttest Sozialraumleitung {code}")
            RoleAssignment.objects.create(user=u, role=Role.REGION_LEAD, region=Region.objects.get(code=code))
            out["region_lead"].append({"username": u.username, "bezirk": code})
        for i in range(counts["provider_editor"]):
            org = orgs[i]
            u = user(f"traeger-{i + 1:02d}", f"Lasttest Träger {org.name}")
            Membership.objects.create(user=u, organization=org, role="editor")
            _token, secret = IntegrationToken.issue(owner=u, name="Lasttest Fachsoftware", scope="write",
                                                    organization=org)
            services = Service.objects.filter(organization=org, status="active").order_by("pk")
            out["provider_editor"].append({
                "username": u.username, "token": secret, "organization": str(org.uuid),
                "services": [str(s) for s in services.values_list("uuid", flat=True)[:10]],
                "services_with_places": [
                    {"uuid": str(uuid), "capacity": capacity}
                    for uuid, capacity in services.filter(capacity__isnull=False).values_list("uuid", "capacity")[:10]
                ],
            })

    planungsraeume = list(Region.objects.filter(level__key="planungsraum").order_by("code")
                          .values_list("code", flat=True))
    prognoseraeume = list(Region.objects.filter(level__key="prognoseraum").order_by("code")
                          .values_list("code", flat=True))
    budgets = list(Budget.objects.order_by("pk").values_list("pk", "fiscal_year"))
    from regions.models import CompositeIndex

    out["data"] = {
        "bezirke": bezirke, "prognoseraeume": prognoseraeume, "planungsraeume": planungsraeume,
        "indicators": sorted(Indicator.objects.filter(key__in=["k01", "k02", "k03", "ew_gesamt", "ew_unter18"])
                             .values_list("key", flat=True)),
        "indices": list(CompositeIndex.objects.order_by("key").values_list("key", flat=True)),
        "budgets": [pk for pk, _year in budgets],
        "fiscal_years": sorted({year for _pk, year in budgets}),
        "fields": list(FieldOfAction.objects.filter(active=True, parent__isnull=True).order_by("key")
                       .values_list("key", flat=True)),
        "target_groups": list(TargetGroup.objects.order_by("key").values_list("key", flat=True)[:20]),
        "search_terms": SEARCH_TERMS,
        "bulk_indicator": INDICATORS[0]["key"], "file_indicator": INDICATORS[1]["key"],
    }
    return out


def collect_static(static_root: Path) -> str:
    """``collectstatic`` into ``static_root`` unless the files there were collected
    from the same sources (a stamp of their paths, sizes and times).

    The hashed names and the manifest are those of production (the pages link
    ``app.3f2a….css``); the compressed copies (.gz, .br) that production's
    WhiteNoise storage writes at image build time are left out — the load test
    fetches no static files, and compressing the API docs' bundles takes minutes
    on a busy 2-core machine."""
    import hashlib

    from django.contrib.staticfiles.finders import get_finders
    from django.core.management import call_command
    from django.test.utils import override_settings

    sources = hashlib.sha256()
    for finder in get_finders():
        for path, storage in sorted(finder.list(["CVS", ".*", "*~"]), key=lambda item: item[0]):
            st = os.stat(storage.path(path))
            sources.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    stamp_file = static_root / ".load-test-sources"
    if stamp_file.is_file() and (static_root / "staticfiles.json").is_file() \
            and stamp_file.read_text() == sources.hexdigest():
        return "unchanged, not collected again"
    shutil.rmtree(static_root, ignore_errors=True)
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    with override_settings(STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    stamp_file.write_text(sources.hexdigest())
    return "collected (hashed names, no compressed copies)"


# --- processes --------------------------------------------------------------------


def start(name: str, cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = log.open("wb")
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        handle.close()
    proc.name = name  # type: ignore[attr-defined]
    print(f"  started {name} (pid {proc.pid}), log {log.relative_to(ROOT)}", flush=True)
    return proc


def stop(proc: subprocess.Popen | None, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to the process group (gunicorn's and the worker's children too),
    SIGKILL after ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"  {proc.name} did not stop in {timeout:.0f} s: killing it", flush=True)  # type: ignore[attr-defined]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def wait_healthy(port: int, procs: list[subprocess.Popen], timeout: float = 90) -> dict:
    """Wait until ``/health/?worker=1`` answers 200 (database, Redis and a worker)."""
    url = f"http://{HOST}:{port}/health/?worker=1"
    request = urllib.request.Request(url, headers={"Host": f"{HOST}:{port}", "X-Forwarded-Proto": "https"})
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.name} exited with {p.returncode} during start-up")  # type: ignore[attr-defined]
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            last = f"{e.code} {e.read()[:200]!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.5)
    raise RuntimeError(f"/health/?worker=1 did not answer 200 within {timeout:.0f} s: {last}")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's reaped children and theirs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (/proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return (0, 0)
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle, sum(fields))


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> dict:
    total = after[1] - before[1]
    return {"busy_percent": round(100 * (after[0] - before[0]) / total, 1) if total > 0 else None,
            "cpus": len(os.sched_getaffinity(0)), "load_average_1min": round(os.getloadavg()[0], 2)}


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).flushdb()


# --- results ----------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def _row(name: str, kind: str, samples: list, seconds: float) -> dict:
    times = sorted(s[3] for s in samples)
    return {
        "name": name, "type": kind, "count": len(samples), "failures": sum(1 for s in samples if s[5]),
        "rps": round(len(samples) / seconds, 2) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
        "p99_ms": round(percentile(times, 99), 1), "max_ms": round(times[-1], 1) if times else 0.0,
        "mean_ms": round(sum(times) / len(times), 1) if times else 0.0,
        "kb_mean": round(sum(s[4] for s in samples) / len(samples) / 1024, 1) if samples else 0.0,
    }


def analyse(run: dict) -> dict:
    """Per request type (locust name): count, failures, req/s over the whole run,
    exact p50/p95/p99/max; the total (HTTP requests only: the ``IMPORT``
    end-to-end times are made of requests already counted) and the total after
    the ramp-up (requests started once every user was logged in)."""
    samples = run["samples"]
    start = run.get("test_start") or min((s[2] for s in samples), default=0)
    stop = run.get("test_stop") or max((s[2] + s[3] / 1000 for s in samples), default=start)
    seconds = max(stop - start, 1e-9)
    by_name: dict[tuple[str, str], list] = {}
    for s in samples:
        by_name.setdefault((s[1], s[0]), []).append(s)
    rows = [_row(name, kind, group, seconds) for (name, kind), group in sorted(by_name.items())]
    http = [s for s in samples if s[0] not in ("IMPORT", "CHECK")]
    total = _row("total (HTTP requests)", "", http, seconds)
    logins = [s for s in samples if s[1].startswith("login:")]
    ramp_end = max((s[2] + s[3] / 1000 for s in logins), default=start)
    steady = [s for s in http if s[2] >= ramp_end and not s[1].startswith("login:")]
    steady_row = _row(f"total after ramp-up ({ramp_end - start:.0f}–{seconds:.0f} s)", "", steady,
                      max(stop - ramp_end, 1e-9))
    groups = {}
    for s in http:
        groups[s[1].split(":")[0]] = groups.get(s[1].split(":")[0], 0) + 1
    failures: dict[tuple[str, str], int] = {}
    for s in samples:
        if s[5]:
            failures[(s[1], s[5])] = failures.get((s[1], s[5]), 0) + 1
    return {
        "seconds": round(seconds, 1), "ramp_up_seconds": round(ramp_end - start, 1), "requests": rows,
        "total": total, "steady": steady_row,
        "mix": {g: {"count": n, "share": round(n / len(http), 3)} for g, n in sorted(groups.items())} if http else {},
        "failures": [{"name": name, "error": error, "count": n} for (name, error), n in sorted(failures.items())],
    }


def log_problems(paths: list[Path]) -> list[str]:
    """Errors the servers logged (a traceback, an ERROR line, a 5xx in the access
    log) — a failure even if every response had the expected status (e.g. a task
    that failed in the worker)."""
    problems = []
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if ("Traceback" in line or " ERROR" in line or "ERROR/" in line or '"ERROR"' in line
                    or re.search(r'" 5\d\d ', line)):
                problems.append(f"{path.name}: {line.strip()[:300]}")
    return problems


def read_access_log(path: Path) -> tuple[dict[str, int], dict[str, list[float]]]:
    """The statuses gunicorn answered, and the time its worker took per request
    type (ms; without the time a request waited for a free worker)."""
    statuses: dict[str, int] = {}
    server_ms: dict[str, list[float]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.search(r'" (\d{3}) \S+ ".*" (\d+) "([^"]*)"$', line)
            if not m:
                continue
            statuses[m.group(1)] = statuses.get(m.group(1), 0) + 1
            if m.group(3) not in ("", "-"):
                server_ms.setdefault(unquote(m.group(3)), []).append(int(m.group(2)) / 1000)
    return dict(sorted(statuses.items())), server_ms


def add_server_times(result: dict, server_ms: dict[str, list[float]]) -> None:
    everything = []
    for row in result["requests"]:
        times = sorted(server_ms.get(row["name"], []))
        everything += times
        row["server_p50_ms"] = round(percentile(times, 50), 1) if times else None
        row["server_p95_ms"] = round(percentile(times, 95), 1) if times else None
    everything.sort()
    result["total"]["server_p50_ms"] = round(percentile(everything, 50), 1) if everything else None
    result["total"]["server_p95_ms"] = round(percentile(everything, 95), 1) if everything else None


def print_results(result: dict, meta: dict) -> None:
    def ms(v):
        return "–" if v is None else f"{v:,.0f}"

    def line(r):
        return (r["name"], r["type"], f"{r['count']:,}", f"{r['failures']:,}", f"{r['rps']:.2f}", ms(r["p50_ms"]),
                ms(r["p95_ms"]), ms(r["max_ms"]), ms(r.get("server_p50_ms")), ms(r.get("server_p95_ms")))

    rows = [line(r) for r in result["requests"]] + [line(result["total"]), line(result["steady"])]
    common.print_table(
        f"Load test: {meta['users']} users for {meta['seconds']} s ({meta['personas']}), gunicorn "
        f"{meta['gunicorn']}, Celery worker concurrency {meta['worker_concurrency']}; times in ms "
        "(server: in the gunicorn worker, without waiting for one)",
        rows, headers=("request", "type", "count", "failures", "req/s", "p50", "p95", "max", "server p50",
                       "server p95"))
    mix = ", ".join(f"{g} {m['share'] * 100:.0f} %" for g, m in result["mix"].items())
    print(f"mix of the HTTP requests: {mix}")
    print(f"HTTP statuses (gunicorn access log): {meta['statuses']}")
    if result["failures"]:
        print("\nfailures:")
        for f in result["failures"][:30]:
            print(f"  {f['count']}× {f['name']}: {f['error'][:300]}")
    if meta["log_problems"]:
        print("\nerrors in the server logs:")
        for p in meta["log_problems"][:30]:
            print(f"  {p}")


# --- main -------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, help="concurrent users (default 50; --quick: 10)")
    ap.add_argument("--seconds", type=int, help="duration of the measured run (default 60; --quick: 15)")
    ap.add_argument("--quick", action="store_true", help="smoke size: 10 users for 15 s")
    ap.add_argument("--keep-data", action="store_true",
                    help="use the demo city already in the bench database (e.g. after bench/dashboards.py)")
    ap.add_argument("--web-workers", type=int, default=3,
                    help="gunicorn worker processes (default 3, as docker-compose.yml's WEB_CONCURRENCY)")
    ap.add_argument("--web-threads", type=int, default=1,
                    help="threads per gunicorn worker (default 1: sync workers, as deployed)")
    ap.add_argument("--worker-concurrency", type=int, default=2,
                    help="Celery worker processes (default 2, as docker-compose.yml)")
    ap.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--allow-any-database", action="store_true",
                    help="run even if the database name does not contain 'bench' (it is emptied!)")
    ap.add_argument("--skip-without-redis", action="store_true",
                    help=f"exit with {SKIPPED} instead of failing when neither BENCH_REDIS_URL nor REDIS_URL is set "
                         "and no Redis answers on 127.0.0.1:6379 (bench/run_all.py)")
    args = ap.parse_args(argv)
    users = args.users or (10 if args.quick else 50)
    seconds = args.seconds or (15 if args.quick else 60)
    if users < 1 or seconds < 1:
        ap.error("--users and --seconds must be at least 1")
    spawn_rate = max(1, math.ceil(users / 8))  # all users up within ~8 s

    # The set-up runs in this process with the production settings (as gunicorn will), without
    # Redis: the demo load's background tasks then run at once instead of waiting for the worker.
    os.environ["DJANGO_SETTINGS_MODULE"] = "sozialraum.settings.production"
    # a fresh key and our hosts (set before configure() reads .env, which then cannot override them)
    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["DJANGO_ALLOWED_HOSTS"] = f"{HOST},localhost"
    where = common.configure()
    redis = redis_url()
    if args.skip_without_redis and not (os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL")):
        import redis as redis_client

        try:
            redis_client.Redis.from_url(redis, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis_client.RedisError:
            print(f"load test skipped: no Redis answers at {redis} (set REDIS_URL or BENCH_REDIS_URL)")
            return SKIPPED
    os.environ.pop("REDIS_URL", None)
    if not os.environ.get("DATABASE_URL"):  # the embedded server: give the production settings its URL
        from sozialraum.settings.embedded import embedded_database

        os.environ["DATABASE_URL"] = _database_url_from_settings(embedded_database(os.environ["EMBEDDED_DATABASE_NAME"]))
    static_root = OUT / "static"
    os.environ["DJANGO_STATIC_ROOT"] = str(static_root)
    common.setup_django(allow_any_database=args.allow_any_database)
    from django.db import connection

    database_url = _database_url_from_settings(connection.settings_dict)
    counts = counts_for(users)
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"database: {where} ({connection.settings_dict['NAME']}); Redis: {redis} (emptied)", flush=True)

    OUT.mkdir(parents=True, exist_ok=True)
    data = prepare_data(args.keep_data)
    t0 = time.perf_counter()
    accounts = make_accounts(counts)
    accounts_seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
        cur.execute("SHOW server_version")
        server_version = cur.fetchone()[0]
    connection.close()  # gunicorn and the worker bring their own connections

    t0 = time.perf_counter()
    static_note = collect_static(static_root)
    static_seconds = time.perf_counter() - t0
    print(f"  accounts: {counts} in {common.fmt_s(accounts_seconds)}; static files: {static_note} "
          f"({common.fmt_s(static_seconds)})", flush=True)

    port = args.port or free_port()
    worker_class = "gthread" if args.web_threads > 1 else "sync"
    gunicorn_desc = f"{args.web_workers} {worker_class} workers" + (
        f" × {args.web_threads} threads" if args.web_threads > 1 else "")
    prefix = OUT / "locust"
    for old in [*OUT.glob("locust_*.csv"), *OUT.glob("*.log")]:
        old.unlink()

    web = worker = locust = None
    locust_rc = run = None
    health, cpu, cpu_seconds = {}, {}, {}
    failed_start = None
    interrupted = False
    # a SIGTERM (e.g. CI's time limit) stops the processes like Ctrl-C does
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="sozialraum-load-"))
    try:
        media_root = work / "media"
        media_root.mkdir()
        accounts_file = work / "accounts.json"  # passwords and token secrets: deleted at the end
        accounts_file.touch(0o600)
        accounts_file.write_text(json.dumps(accounts), encoding="utf-8")
        samples_file = work / "samples.json"
        env = server_env(database_url, redis, static_root, media_root)
        flush_redis(redis)
        print(f"starting gunicorn ({gunicorn_desc}) on {HOST}:{port} and a Celery worker …", flush=True)
        children_before = _children_cpu()
        web = start("gunicorn", [
            str(VENV_BIN / "gunicorn"), "sozialraum.wsgi:application", f"--bind={HOST}:{port}",
            f"--workers={args.web_workers}", f"--threads={args.web_threads}", f"--worker-class={worker_class}",
            "--timeout=120", f"--access-logfile={OUT / 'gunicorn-access.log'}", f"--access-logformat={ACCESS_FORMAT}",
            "--no-control-socket",  # gunicorn 27's control socket is one per home directory: not ours to take
        ], env, OUT / "gunicorn.log")
        worker = start("celery worker", [
            str(VENV_BIN / "celery"), "-A", "sozialraum", "worker", "--loglevel=INFO",
            f"--concurrency={args.worker_concurrency}", "--hostname=load@%h", "--without-gossip", "--without-mingle",
        ], env, OUT / "worker.log")
        t0 = time.perf_counter()
        health = wait_healthy(port, [web, worker])
        print(f"  /health/?worker=1: 200 after {common.fmt_s(time.perf_counter() - t0)} ({health.get('worker')})",
              flush=True)

        print(f"running locust: {users} users (spawn rate {spawn_rate}/s) for {seconds} s …", flush=True)
        locust_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
        locust_env.update({"LOAD_ACCOUNTS": str(accounts_file), "LOAD_SAMPLES": str(samples_file),
                           "PYTHONUNBUFFERED": "1"})
        cpu_before = cpu_times()
        locust = start("locust", [
            str(VENV_BIN / "locust"), "-f", str(LOAD_DIR / "locustfile.py"), "--headless",
            "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--stop-timeout", "20",
            "--host", f"http://{HOST}:{port}", "--csv", str(prefix), "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "1",
        ], locust_env, OUT / "locust.log")
        try:
            locust_rc = locust.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            print("  locust did not end in time: stopping it", flush=True)
        cpu = cpu_busy(cpu_before, cpu_times())
        # CPU time of each (reaped) process tree: locust now, the servers as they are stopped below
        after_locust = _children_cpu()
        cpu_seconds["locust"] = round(after_locust - children_before, 1)
    except RuntimeError as e:  # a process did not come up
        failed_start = str(e)
        print(f"  {e}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping everything …", flush=True)
    finally:
        stop(locust, timeout=30)
        mark = _children_cpu()
        stop(web)
        cpu_seconds["gunicorn"] = round(_children_cpu() - mark, 1)
        mark = _children_cpu()
        stop(worker, timeout=30)
        cpu_seconds["celery worker"] = round(_children_cpu() - mark, 1)
        try:
            flush_redis(redis)
        except Exception as e:  # noqa: BLE001 — report, the processes are stopped already
            print(f"  could not empty Redis {redis}: {e}", flush=True)
        samples_path = work / "samples.json"
        run = json.loads(samples_path.read_text(encoding="utf-8")) if samples_path.is_file() else None
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_sigterm)

    if failed_start:
        for log in ("gunicorn.log", "worker.log"):
            path = OUT / log
            if path.is_file():
                print(f"\nlast lines of {path.relative_to(ROOT)}:")
                print("\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]))
        return 1
    if interrupted:
        return 130
    result = analyse(run) if run else None
    statuses, server_ms = read_access_log(OUT / "gunicorn-access.log")
    if result:
        add_server_times(result, server_ms)
    meta = {
        "started_at": started_at, "users": users, "seconds": seconds,
        "spawn_rate": spawn_rate, "personas": counts, "gunicorn": gunicorn_desc,
        "worker_concurrency": args.worker_concurrency, "database": where, "postgres": server_version,
        "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}",
        "cpu_during_run": cpu, "cpu_seconds": cpu_seconds, "data": data, "health": health, "locust_exit_code": locust_rc,
        "statuses": statuses,
        "log_problems": log_problems([OUT / "gunicorn.log", OUT / "gunicorn-access.log", OUT / "worker.log"]),
        "setup_seconds": {"accounts": round(accounts_seconds, 2), "collectstatic": round(static_seconds, 2)},
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    if result is None:
        print("no results: locust wrote no samples (see bench/out/load/locust.log)")
        ok = False
        result = {}
    else:
        print_results(result, meta)
        total = result["total"]
        ok = (total["count"] > 0 and not result["failures"] and not meta["log_problems"] and locust_rc == 0
              and total["failures"] == 0)
        print(f"\nthroughput: {total['rps']:.1f} requests/s ({total['count']:,} requests in {result['seconds']:.0f} s, "
              f"{total['failures']} failed); p50 {total['p50_ms']:.0f} ms, p95 {total['p95_ms']:.0f} ms; after the "
              f"ramp-up {result['steady']['rps']:.1f} requests/s, p50 {result['steady']['p50_ms']:.0f} ms, "
              f"p95 {result['steady']['p95_ms']:.0f} ms. Machine CPU busy during the run: "
              f"{cpu.get('busy_percent', '?')} % of {cpu.get('cpus', '?')} CPUs (all processes on the machine); CPU "
              f"seconds used by {', '.join(f'{k} {v:.0f} s' for k, v in cpu_seconds.items())} (PostgreSQL and "
              "Redis not counted).")
    saved = {"meta": meta, **result, "ok": ok}
    (OUT / "results.json").write_text(json.dumps(saved, indent=2, ensure_ascii=False, default=str) + "\n",
                                      encoding="utf-8")
    common.save_results("load", saved)
    print(f"load test {'passed' if ok else 'FAILED'} (locust exit code {locust_rc}); "
          f"total {common.fmt_s(time.perf_counter() - started)}; results in {(OUT / 'results.json').relative_to(ROOT)}, "
          f"locust's CSV in {OUT.relative_to(ROOT)}/locust_*.csv, server logs in {OUT.relative_to(ROOT)}/*.log")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
