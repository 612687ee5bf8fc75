"""Helpers for integration tests with a real Celery worker on Redis."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_env() -> dict:
    """Environment that points a subprocess at the test database pytest-django made."""
    db = connection.settings_dict
    host = db.get("HOST") or ""
    if host.startswith("/"):
        # the embedded server's Unix socket: let the subprocess attach to it by name
        return {"DATABASE_URL": "", "EMBEDDED_DATABASE_NAME": db["NAME"]}
    from urllib.parse import quote

    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    netloc = f"{auth}@" if auth else ""
    netloc += f"[{host}]" if ":" in host else (host or "localhost")
    if db.get("PORT"):
        netloc += f":{db['PORT']}"
    return {"DATABASE_URL": f"postgres://{netloc}/{quote(db['NAME'], safe='')}"}


def _process_env(queue: str, extra_env: dict | None) -> dict:
    """Environment of a Celery subprocess: the test database, Redis (REDIS_URL, or
    extra_env's), tasks it sends routed to the test's queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(_database_env())
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    env["TEST_CELERY_QUEUE"] = queue
    env.update(extra_env or {})
    env["DJANGO_SETTINGS_MODULE"] = "sozialraum.settings.test"
    return env


def start_worker(queue: str, log_path: Path, extra_env: dict | None = None, name: str | None = None) -> subprocess.Popen:
    env = _process_env(queue, extra_env)
    cmd = [
        sys.executable, "-m", "celery", "-A", "sozialraum", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue, "-n", f"{name or queue}@%h",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_beat(queue: str, log_path: Path, schedule: dict[str, float], extra_env: dict | None = None) -> subprocess.Popen:
    """A `celery beat` process with only the given entries of CELERY_BEAT_SCHEDULE,
    each firing every so many seconds (TEST_BEAT_SCHEDULE), sending to ``queue``;
    its schedule file lives beside the log. Stop it with stop_worker."""
    env = _process_env(queue, extra_env)
    env["TEST_BEAT_SCHEDULE"] = ",".join(f"{name}={seconds}" for name, seconds in schedule.items())
    cmd = [
        sys.executable, "-m", "celery", "-A", "sozialraum", "beat", "--loglevel=INFO", "--max-interval=1",
        "--schedule", str(log_path.with_suffix(".schedule")),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and everything it started (no warm shutdown, no ack)."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


@pytest.fixture
def task_queue():
    """Route this test's tasks to a queue of its own (producer side)."""
    from sozialraum.celery import app

    queue = f"sozialraum-test-{uuid.uuid4().hex[:12]}"
    before = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = before


