"""Faults, with real services (issue 7): Redis stopped, a worker's PostgreSQL
connection dropped or the worker killed in the middle of a budget run, two
beat processes started by mistake.

Redis is stopped only as a private ``redis-server`` this module starts on a
free port (the machine's Redis is shared); the Celery worker and beat are real
subprocesses on the test database, each test on a queue of its own. Needs
REDIS_URL (CI sets it) for the tests that use the shared Redis, and the
``redis-server`` program for the Redis-stopped tests."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
import redis
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction

from budgets.choices import RunStatus, Trigger
from budgets.models import Allocation, AllocationRun
from budgets.services import request_recompute, verify
from core.models import ImportRun
from regions.models import Region
from tests.conftest import client_for
from tests.factories import MeetingTaskFactory, NeedReportFactory, NetworkFactory
from tests.integration.conftest import kill_worker, start_beat, start_worker, stop_worker

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="REDIS_URL not set: no Redis broker for a real Celery worker"),
]
WAIT_SECONDS = 60
REDIS_SERVER = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(not REDIS_SERVER and not os.environ.get("CI"),
                                        reason="no redis-server program to start a private Redis")


def _tail(*logs: Path) -> str:
    return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())


def wait_for(condition, what: str, procs=(), logs=(), seconds: float = WAIT_SECONDS):
    """Poll ``condition`` until true; fail (with the logs) on timeout or when a process exits."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"a Celery process exited with {proc.returncode} while waiting for {what}\n{_tail(*logs)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}\n{_tail(*logs)}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own (no persistence: a restart loses what it held)."""

    def __init__(self, directory: Path):
        self.port = _free_port()
        self.directory = directory
        self.log = directory / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        try:
            wait_for(answers, "the private Redis to answer", procs=[self.proc], logs=[self.log], seconds=15)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _tolerant_cache(url: str, retry_after: float = 5) -> dict:
    return {"default": {"BACKEND": "core.cache.TolerantRedisCache", "LOCATION": url,
                        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2, "RETRY_AFTER": retry_after}}}


@pytest.fixture
def web_on(settings):
    """Point this process (the web side: Django's test client) at a given Redis:
    the cache, the health check and the Celery producer; restored afterwards."""
    from sozialraum.celery import app

    before = app.conf.broker_url

    def reset_producer():
        app._pool = None
        app.amqp._producer_pool = None

    def point(url: str):
        # the cache as the settings configure it for a REDIS_URL, at this Redis
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        settings.REDIS_URL = url
        app.conf.broker_url = url
        reset_producer()
        with app.connection_for_write() as conn:
            assert (conn.hostname, conn.port) == ("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0]))

    yield point
    app.conf.broker_url = before
    reset_producer()


# --- Redis stopped ---------------------------------------------------------------------------


@needs_redis_server
class TestTolerantCache:
    """core.cache.TolerantRedisCache against a real Redis that is stopped and started again."""

    def test_degrades_to_misses_and_recovers(self, private_redis, settings, caplog):
        settings.CACHES = _tolerant_cache(private_redis.url, retry_after=1)
        cache = caches["default"]
        cache.set("k", {"a": 1})
        assert cache.get("k") == {"a": 1}
        assert cache.add("counter", 0) is True and cache.incr("counter", 2) == 2
        with pytest.raises(ValueError):
            cache.incr("no-such-key")  # Django's contract is kept while Redis is up

        private_redis.kill()
        start = time.monotonic()
        with caplog.at_level("WARNING", logger="core.cache"):
            assert cache.get("k") is None
            assert cache.get("k", "default") == "default"
            assert cache.get_many(["k", "counter"]) == {}
            cache.set("k", 2)
            assert cache.add("new", 1) is False and cache.get("k") is None
            assert cache.set_many({"x": 1, "y": 2}) == ["x", "y"]
            assert cache.incr("counter", 3) == 3  # counts from nothing: throttles fail open
            assert cache.has_key("k") is False and cache.delete("k") is False and cache.touch("k") is False
            assert cache.get_or_set("computed", lambda: "fresh") == "fresh"
        assert time.monotonic() - start < 3, "a stopped Redis must not make cache calls slow"
        warnings = [r for r in caplog.records if r.name == "core.cache"]
        assert len(warnings) == 1 and "cache unavailable" in warnings[0].getMessage()  # logged once per outage

        private_redis.start()  # empty: a restart without persistence
        time.sleep(1.1)  # RETRY_AFTER
        cache.set("k", "again")
        assert cache.get("k") == "again"
        assert cache.get("counter") is None  # what the cache held is gone, nothing else


@needs_redis_server
@pytest.mark.django_db(transaction=True)
class TestRedisStopped:
    def test_pages_answer_and_the_recompute_runs_once_when_redis_is_back(
            self, budget, tree, planner, private_redis, web_on, task_queue, tmp_path):
        """While Redis is stopped, pages and API answer; a budget change is saved,
        its run recorded as queued (the task could not be sent). When Redis is back
        (empty: it lost everything), beat's sweeper sends the run and the worker
        computes it — one run, each allocation once, adding up to the new total."""
        web_on(private_redis.url)
        env = {"REDIS_URL": private_redis.url, "TASK_RESEND_AFTER": "2"}
        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
        web, api = _logged_in(planner), client_for(planner)
        pages = ["/", "/raeume/", "/raeume/P11/", f"/budgets/{budget.pk}/", "/angebotsfinder/"]
        apis = ["/api/v1/budgets/", "/api/v1/regions/", "/api/v1/allocation-runs/", "/api/v1/notifications/"]
        procs, logs = [], [worker_log, beat_log]
        try:
            procs.append(start_worker(task_queue, worker_log, env))
            procs.append(start_beat(task_queue, beat_log, {"stranded-work-resend": 1}, env))
            wait_for(lambda: " ready." in worker_log.read_text(errors="replace"), "the worker to connect",
                     procs, logs)
            for url in pages:  # with Redis: fills the cache
                assert web.get(url).status_code == 200, url

            private_redis.kill()
            for url in pages:
                response, seconds = _timed(web.get, url)
                assert response.status_code == 200, (url, response.status_code)
                assert seconds < 3, f"{url} took {seconds:.1f} s with Redis stopped"
            for url in apis:
                response, seconds = _timed(api.get, url)
                assert response.status_code == 200, (url, response.status_code)
                assert seconds < 3, f"{url} took {seconds:.1f} s with Redis stopped"
            health = web.get("/health/")
            assert health.status_code == 503 and health.json()["redis"]["ok"] is False  # monitoring sees it

            # a change that asks for a recompute: saved for the user, the run recorded
            response, seconds = _timed(api.patch, f"/api/v1/budgets/{budget.pk}/", {"total": "1234.56"},
                                       format="json")
            assert response.status_code == 200, response.content
            assert seconds < 5, f"saving took {seconds:.1f} s with Redis stopped"
            response = web.post(f"/budgets/{budget.pk}/neu-berechnen/")  # "Neu berechnen" joins the queued run
            assert response.status_code == 302
            assert web.get(response.url).status_code == 200
            budget.refresh_from_db()
            assert budget.total == D("1234.56")
            queued = AllocationRun.objects.get()
            assert queued.status == RunStatus.QUEUED and queued.trigger == Trigger.BUDGET_CHANGE
            time.sleep(2)  # nothing can run meanwhile
            assert AllocationRun.objects.get().status == RunStatus.QUEUED

            private_redis.start()  # empty: the task was never there
            wait_for(lambda: AllocationRun.objects.filter(status=RunStatus.SUCCEEDED).exists(),
                     "the run after Redis came back", procs, logs)
            time.sleep(4)  # more sweeps (every second) and any extra message find nothing to do
            for url in pages[:2]:
                assert web.get(url).status_code == 200
        finally:
            for proc in reversed(procs):
                stop_worker(proc)
        run = AllocationRun.objects.get()  # exactly one record
        assert run.pk == queued.pk and run.status == RunStatus.SUCCEEDED and run.attempts == 1
        _assert_complete(run, D("1234.56"))
        log = worker_log.read_text(errors="replace")
        # every execution of the task that got through returned this run (a doubled message adds none)
        results = re.findall(r"budgets\.recompute_budget\[[^\]]+\] succeeded in [^:]+: (\S+)", log)
        assert results and set(results) == {str(run.pk)}, results
        # beat met the outage (a failed send, or its reconnection attempts) and went on afterwards
        beat_text = beat_log.read_text(errors="replace")
        outage = max(beat_text.rfind("Message Error"), beat_text.rfind("beat: Connection error"))
        assert 0 <= outage < beat_text.rfind("Sending due task stranded-work-resend"), _tail(beat_log)

    def test_an_import_sent_while_redis_is_down_runs_once_when_it_is_back(
            self, tree, planner, private_redis, web_on, task_queue, tmp_path):
        """An import uploaded through the API while Redis is stopped is accepted
        (202, not 500) and stays pending: its task could not be sent. When Redis is
        back (empty), beat's sweeper sends it and the worker runs it — once, with
        its rows; a duplicate message finds the run claimed and does nothing."""
        from core.queueing import send
        from core.tasks import run_import

        web_on(private_redis.url)
        env = {"REDIS_URL": private_redis.url, "TASK_RESEND_AFTER": "2"}
        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
        procs, logs = [], [worker_log, beat_log]
        csv = "code,name,parent_code,level\r\nWK-N,Weltkreis Nord,CITY,bezirk\r\nWK-S,Weltkreis Süd,CITY,bezirk\r\n"
        try:
            procs.append(start_worker(task_queue, worker_log, env))
            procs.append(start_beat(task_queue, beat_log, {"stranded-work-resend": 1}, env))
            wait_for(lambda: " ready." in worker_log.read_text(errors="replace"), "the worker to connect",
                     procs, logs)

            private_redis.kill()
            response, seconds = _timed(
                client_for(planner).post, "/api/v1/imports/",
                {"kind": "regions", "file": SimpleUploadedFile("raeume.csv", csv.encode(), content_type="text/csv")},
                format="multipart")
            assert response.status_code == 202, response.content
            assert seconds < 5, f"the upload took {seconds:.1f} s with Redis stopped"
            assert response.data["status"] == "pending"
            run_id = response.data["id"]
            time.sleep(3)  # longer than TASK_RESEND_AFTER: still nothing can run
            assert ImportRun.objects.get(pk=run_id).status == ImportRun.Status.PENDING

            private_redis.start()  # empty: the task was never there
            wait_for(lambda: ImportRun.objects.get(pk=run_id).status == ImportRun.Status.SUCCEEDED,
                     "the import after Redis came back", procs, logs)
            # a late duplicate (as if Redis had kept the first message): once the web side publishes again
            wait_for(lambda: send(run_import, run_id), "the web side to reach Redis again", procs, logs)
            wait_for(lambda: "'skipped'" in worker_log.read_text(errors="replace"), "the duplicate to be skipped",
                     procs, logs)
            time.sleep(3)  # more sweeps (every second) find nothing to send
        finally:
            for proc in reversed(procs):
                stop_worker(proc)
        run = ImportRun.objects.get(pk=run_id)
        assert run.status == ImportRun.Status.SUCCEEDED and run.summary, run.errors
        regions = Region.objects.filter(code__in=["WK-N", "WK-S"]).select_related("parent", "level")
        assert sorted((r.code, r.parent.code, r.level.key, r.created_by_id) for r in regions) == [
            ("WK-N", "CITY", "bezirk", planner.pk), ("WK-S", "CITY", "bezirk", planner.pk)]
        log = worker_log.read_text(errors="replace")
        results = re.findall(r"core\.run_import\[[^\]]+\] succeeded in [^:]+: '(\w+)'", log)
        assert results.count("succeeded") == 1 and set(results) == {"succeeded", "skipped"}, results
        assert "Task core.resend_stranded_work[" in log  # the sweeper: the only sender before the duplicate
        beat_text = beat_log.read_text(errors="replace")
        outage = max(beat_text.rfind("Message Error"), beat_text.rfind("beat: Connection error"))
        assert 0 <= outage < beat_text.rfind("Sending due task stranded-work-resend"), _tail(beat_log)


def _logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _timed(method, *args, **kwargs):
    start = time.monotonic()
    response = method(*args, **kwargs)
    return response, time.monotonic() - start


def _assert_complete(run: AllocationRun, total: D) -> None:
    """Each region and part once, the cents adding up to the budget, as the snapshot gives them."""
    rows = list(run.allocations.values_list("region__code", "part", "amount"))
    assert len(rows) == 9 and len({(code, part) for code, part, _ in rows}) == 9  # 3 regions × 3 parts, none twice
    assert sum(amount for *_, amount in rows) == total
    assert Allocation.objects.count() == 9  # nothing left of an interrupted attempt
    assert verify(run) == []


# --- PostgreSQL connection dropped / worker killed mid-run ----------------------------------------


def _blocker():
    """A connection of its own that holds locks for the test (raw cursor, explicit transactions)."""
    conn = connections.create_connection("default")
    conn.ensure_connection()
    return conn, conn.connection.cursor()


def _waiting_backend(query_prefix: str) -> int | None:
    """The pid of the backend of this database that waits for a lock in a statement starting so."""
    with connection.cursor() as cur:  # the test's own connection: outside the blockers' snapshots
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    " AND query LIKE %s", [query_prefix + "%"])
        rows = cur.fetchall()
    return rows[0][0] if len(rows) == 1 else None


def _backend_gone(pid: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cur.fetchone()[0] == 0


def _stop_between_writing_and_commit(budget, procs, logs):
    """Ask for a run and hold the worker after it wrote the allocations (COPY) and
    before its transaction commits: first the allocations table is locked (the
    worker waits in COPY, its claim committed), then the run's row is locked
    FOR SHARE and the table released — the COPY goes through, the final UPDATE
    of the run waits. Returns (pid of the worker's backend, run, row blocker)."""
    table_conn, table_lock = _blocker()
    row_conn, row_lock = _blocker()
    try:
        table_lock.execute("BEGIN; LOCK TABLE budgets_allocation IN SHARE MODE")
        with transaction.atomic():
            request_recompute([budget.pk], Trigger.MANUAL)
        wait_for(lambda: _waiting_backend("COPY budgets_allocation"), "the worker to wait in COPY", procs, logs)
        run = AllocationRun.objects.get()
        assert run.status == RunStatus.RUNNING and run.attempts == 1
        row_lock.execute("BEGIN; SELECT 1 FROM budgets_allocationrun WHERE id = %s FOR SHARE", [run.pk])
        table_lock.execute("ROLLBACK")
        pid = wait_for(lambda: _waiting_backend('UPDATE "budgets_allocationrun"'),
                       "the worker to wait for the run's row after writing", procs, logs)
        assert not Allocation.objects.exists()  # written, not committed
        return pid, run, (row_conn, row_lock)
    except BaseException:
        row_conn.close()
        raise
    finally:
        table_conn.close()


@pytest.mark.django_db(transaction=True)
class TestDatabaseConnectionDropped:
    def test_run_finishes_once_after_the_workers_connection_is_terminated(self, budget, task_queue, tmp_path):
        """The worker's PostgreSQL backend is terminated (pg_terminate_backend) after
        it wrote the allocations and before it committed: the transaction is gone,
        the task retries on a new connection, takes the interrupted record over and
        completes it — one run, each allocation once."""
        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        row_blocker = None
        try:
            pid, run, row_blocker = _stop_between_writing_and_commit(budget, [worker], [log])
            with connection.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", [pid])
                assert cur.fetchone()[0] is True
            row_blocker[1].execute("ROLLBACK")
            wait_for(lambda: AllocationRun.objects.filter(status=RunStatus.SUCCEEDED).exists(),
                     "the run to complete after the connection was dropped", [worker], [log])
            time.sleep(3)  # nothing else may follow
        finally:
            stop_worker(worker)
            if row_blocker is not None:
                row_blocker[0].close()
        run = AllocationRun.objects.get()  # exactly one record
        assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
        _assert_complete(run, D("1000.00"))
        text = log.read_text(errors="replace")
        assert text.count(" retry: Retry in ") == 1, _tail(log)  # the dropped connection, retried once
        assert len(re.findall(r"budgets\.recompute_budget\[[^\]]+\] succeeded in", text)) == 1


@pytest.mark.django_db(transaction=True)
class TestWorkerKilledAfterWriting:
    def test_sigkill_before_commit_then_the_next_worker_sends_the_run_again(self, budget, task_queue, tmp_path):
        """SIGKILL after the allocations were written, before the commit. The
        message stays unacknowledged in Redis (until the visibility timeout, half
        an hour by default); the next worker finds the "running" run that nobody
        holds at start-up, sends it again, and completes it — one run, each
        allocation once, nothing of the killed attempt."""
        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)  # sends again only what waited 5 minutes (the default)
        row_blocker = None
        try:
            wait_for(lambda: " ready." in log.read_text(errors="replace"), "the worker to start", [worker], [log])
            pid, run, row_blocker = _stop_between_writing_and_commit(budget, [worker], [log])
            kill_worker(worker)
            row_blocker[1].execute("ROLLBACK")  # the orphaned session writes on, then finds its client gone
            wait_for(lambda: _backend_gone(pid), "the killed worker's database session to end")
            assert not Allocation.objects.exists()  # its transaction was never committed
            assert AllocationRun.objects.get().status == RunStatus.RUNNING
            time.sleep(1)  # older than TASK_RESEND_AFTER below
            worker = start_worker(task_queue, log, {"TASK_RESEND_AFTER": "1"})
            wait_for(lambda: AllocationRun.objects.filter(status=RunStatus.SUCCEEDED).exists(),
                     "the run to complete in the next worker", [worker], [log])
            time.sleep(2)  # nothing else may follow
        finally:
            stop_worker(worker)
            if row_blocker is not None:
                row_blocker[0].close()
        run = AllocationRun.objects.get()
        assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
        _assert_complete(run, D("1000.00"))
        text = log.read_text(errors="replace")
        assert text.count(f"sent again at worker start by budgets.services.resend_stranded_runs: [{budget.pk}]") == 1, \
            _tail(log)
        assert len(re.findall(r"budgets\.recompute_budget\[[^\]]+\] succeeded in", text)) == 1


# --- two beats ---------------------------------------------------------------------------------


TASKS = 60  # overdue meeting tasks: a first reminder run takes long enough to overlap with the next


def _mails(directory: Path) -> list[tuple[str, str]]:
    """(recipient, subject) of every e-mail the file backend wrote (one file per connection,
    messages separated by a line of 79 dashes)."""
    from email import message_from_string
    from email.header import decode_header, make_header

    out = []
    for path in directory.iterdir():
        for chunk in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                message = message_from_string(chunk.lstrip("\n"))
                out.append((message["To"], str(make_header(decode_header(message["Subject"])))))
    return out


def _job_intervals(log: Path) -> list[tuple[str, str]]:
    """(received, finished) timestamps of each reminder job in a worker log."""
    started, out = {}, []
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"\[([\d:, -]+): .*cooperation\.send_reminders\[([^\]]+)\] (received|succeeded)", line)
        if match:
            stamp, task_id, what = match.groups()
            if what == "received":
                started[task_id] = stamp
            elif task_id in started:
                out.append((started.pop(task_id), stamp))
    return out


@pytest.mark.django_db(transaction=True)
class TestTwoBeats:
    def test_two_beat_processes_send_each_reminder_once(self, tree, org_a, org_b, provider_editor_a,
                                                        provider_editor_b, planner, task_queue, tmp_path):
        """Two `celery beat` processes (started by mistake), each sending the reminder
        job every second, and two workers running the jobs at the same time: every
        reminder is created once and e-mailed once."""
        import datetime

        from django.utils import timezone

        from cooperation.models import NeedReport
        from core.models import Notification
        from tests.factories import MeetingFactory

        today = timezone.localdate()
        meeting = MeetingFactory(network=NetworkFactory(coordinator=org_a))
        for i in range(TASKS):  # org A coordinates: its editor is reminded of all, org B's of its own
            MeetingTaskFactory(meeting=meeting, responsible=org_b if i % 2 else org_a,
                               due=today - datetime.timedelta(days=1 + i % 5))
        report = NeedReportFactory(reporter=org_b, region=tree["P11"])
        NeedReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - datetime.timedelta(days=20))
        mail_dir = tmp_path / "mail"
        mail_dir.mkdir()
        env = {"TEST_EMAIL_DIR": str(mail_dir)}
        logs = [tmp_path / name for name in ("beat-1.log", "beat-2.log", "worker-1.log", "worker-2.log")]
        procs = []
        try:
            procs.append(start_worker(task_queue, logs[2], env, name=f"{task_queue}-1"))
            procs.append(start_worker(task_queue, logs[3], env, name=f"{task_queue}-2"))
            procs.append(start_beat(task_queue, logs[0], {"daily-reminders": 1}, env))
            procs.append(start_beat(task_queue, logs[1], {"daily-reminders": 1}, env))

            def runs_done():
                sent = [log.read_text(errors="replace").count("Sending due task daily-reminders") for log in logs[:2]]
                done = [len(_job_intervals(log)) for log in logs[2:]]
                return min(sent) >= 3 and min(done) >= 2  # both beats sent, both workers ran jobs

            wait_for(runs_done, "both beats' reminder jobs to run in both workers", procs, logs)
        finally:
            for proc in reversed(procs):  # beats first
                stop_worker(proc)
        for log in logs[2:]:
            assert "ERROR" not in log.read_text(errors="replace"), _tail(log)
        # the two workers ran reminder jobs at the same time (what two beats cause)
        first, second = (_job_intervals(log) for log in logs[2:])
        assert any(a0 < b1 and b0 < a1 for a0, a1 in first for b0, b1 in second), (first, second)

        expected = {  # (user, kind) → count
            (provider_editor_a.pk, "meeting_task_overdue"): TASKS,
            (provider_editor_b.pk, "meeting_task_overdue"): TASKS // 2,
            (planner.pk, "need_report_untriaged"): 1,
        }
        found: dict = {}
        for user_id, kind in Notification.objects.values_list("user_id", "kind"):
            found[(user_id, kind)] = found.get((user_id, kind), 0) + 1
        assert found == expected
        assert not Notification.objects.filter(emailed_at__isnull=True).exists()
        mails = _mails(mail_dir)
        wanted = [(email, f"[Sozialraum] {title}")
                  for email, title in Notification.objects.values_list("user__email", "title")]
        assert len(mails) == len(wanted) == TASKS + TASKS // 2 + 1
        assert sorted(mails) == sorted(wanted)  # each notification e-mailed once, none twice
