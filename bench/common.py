"""Shared set-up for the benchmarks: a dedicated database, Django, output files.

The benchmarks never touch the development data. They run against a database
named ``sozialraum_bench``:

* ``BENCH_DATABASE_URL`` set → that database is used as given (its name must
  contain ``bench``, because every run empties it);
* else ``DATABASE_URL`` set → a database ``sozialraum_bench`` on the same server
  (created when missing; the URL's own database is never written to);
* else → the embedded PostgreSQL server of the project, database
  ``sozialraum_bench`` (``EMBEDDED_DATABASE_NAME``; created by the settings).

``configure()`` must run before Django's settings are imported; child
processes inherit the resulting environment.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT = BENCH_DIR / "out"
RESULTS = OUT / "results.json"
BENCH_DB = "sozialraum_bench"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def configure() -> str:
    """Point this process (and its children) at the bench database. Returns a
    short description of where it is."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sozialraum.settings.dev")
    # Measure without DEBUG's per-query bookkeeping (production-like); the
    # query counts use CaptureQueriesContext, which works either way.
    os.environ.setdefault("DJANGO_DEBUG", "false")
    # The settings read an optional .env; read it here first so that a
    # DATABASE_URL in it is seen (and redirected) too.
    env_file = ROOT / ".env"
    if env_file.is_file():
        import environ

        environ.Env.read_env(env_file, overwrite=False)
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        return "BENCH_DATABASE_URL"
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
        if urlsplit(url).path.lstrip("/") != BENCH_DB:
            from sozialraum.settings.embedded import ensure_database

            ensure_database(url, BENCH_DB)
            os.environ["DATABASE_URL"] = _with_database(url, BENCH_DB)
        return f"DATABASE_URL server, database {BENCH_DB}"
    os.environ["EMBEDDED_DATABASE_NAME"] = BENCH_DB
    return f"embedded PostgreSQL (.pgdata), database {BENCH_DB}"


def setup_django(allow_any_database: bool = False):
    import django

    django.setup()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if "bench" not in name and not allow_any_database:
        raise SystemExit(
            f"refusing to run: the database {name!r} is not a bench database (its name must contain 'bench'; "
            "every run empties it). Set BENCH_DATABASE_URL, or pass --allow-any-database."
        )
    return connection


def migrate_and_flush():
    """Bring the bench database to the current schema and empty it, so that
    runs are repeatable."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def drop_bench_database():
    """Drop the bench database (``--drop``)."""
    import psycopg2
    from django.db import connection
    from psycopg2 import sql

    s = connection.settings_dict
    name = s["NAME"]
    connection.close()
    kwargs = {
        "dbname": "postgres",
        "user": s.get("USER") or None,
        "password": s.get("PASSWORD") or None,
        "host": s.get("HOST") or None,
        "port": s.get("PORT") or None,
    }
    conn = psycopg2.connect(**{k: v for k, v in kwargs.items() if v})
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


# --- measuring -----------------------------------------------------------------


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


# --- output ---------------------------------------------------------------------


def load_results() -> dict:
    if RESULTS.is_file():
        try:
            return json.loads(RESULTS.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}
    return {}


def save_results(section: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = load_results()
    results[section] = data
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def print_table(title: str, rows: list[tuple], headers: tuple = ("measure", "value")) -> None:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    sys.stdout.flush()


def fmt_s(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_mib(kib_or_bytes: float, unit: str = "B") -> str:
    b = kib_or_bytes * (1024 if unit == "KiB" else 1)
    return f"{b / 1024 / 1024:.1f} MiB"
