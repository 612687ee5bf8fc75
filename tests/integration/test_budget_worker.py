"""Budgets are recomputed by a real Celery worker when their inputs change:
one change gives one run; a burst of changes is coalesced (same inputs → no
new run), never one run per change; a worker killed with SIGKILL mid-run is
replaced and the run completes exactly once. Needs REDIS_URL (CI sets it)."""

import os
import time
from decimal import Decimal as D

import pytest

from budgets.choices import RunStatus, Trigger
from budgets.models import AllocationRun
from budgets.services import input_series
from core.imports.base import import_now
from tests.integration.conftest import kill_worker, start_worker, stop_worker

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="REDIS_URL not set: no Redis broker for a real Celery worker"),
]
SETTLE_SECONDS = 6  # longer than the recompute delay (2 s) plus a run
VISIBILITY_TIMEOUT = 5  # seconds, for the SIGKILL test's workers



def set_value(value):
    run = import_now("indicator_values", [{"region_code": "P21", "indicator": "kinder", "period": "2022",
                                           "value": str(value)}])
    assert run.status == "succeeded", run.errors


def wait_until_settled(worker, log, deadline_seconds=60):
    """Wait until at least one run exists and no new run appeared for SETTLE_SECONDS."""
    deadline = time.monotonic() + deadline_seconds
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        count = AllocationRun.objects.count()
        if AllocationRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            count = -2  # not settled while a run waits or runs
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count > 0 and time.monotonic() - last_change > SETTLE_SECONDS:
            return count
        time.sleep(0.25)
    pytest.fail(f"runs did not settle within {deadline_seconds} s; worker log:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.django_db(transaction=True)
class TestRecomputeByWorker:
    def test_one_import_one_run(self, budget, task_queue, tmp_path):
        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        try:
            set_value(5)
            assert wait_until_settled(worker, log) == 1
        finally:
            stop_worker(worker)
        run = AllocationRun.objects.get()
        assert run.trigger == Trigger.INDICATOR_CHANGE and run.status == "succeeded"
        assert input_series(run.snapshot["inputs"], "kinder")["P21"] == "5.000000"
        assert sum(a.amount for a in run.allocations.all()) == D("1000.00")

    def test_ten_rapid_changes_are_coalesced(self, budget, task_queue, tmp_path):
        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        try:
            for value in range(10, 20):
                set_value(value)
            runs = wait_until_settled(worker, log)
        finally:
            stop_worker(worker)
        assert 1 <= runs <= 2, f"{runs} runs for 10 changes"
        latest = AllocationRun.objects.order_by("-created_at", "-pk").first()
        assert input_series(latest.snapshot["inputs"], "kinder")["P21"] == "19.000000"


def wait_for(condition, worker, log, seconds=60, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.django_db(transaction=True)
class TestWorkerKilledMidRun:
    def test_run_completes_exactly_once_after_sigkill(self, budget, task_queue, tmp_path):
        """The worker is stopped inside the run — after it marked the run "running",
        while it waits to write the allocations (this test holds a lock on the
        allocations table) — and killed with SIGKILL. A new worker gets the
        unacknowledged message again (visibility timeout 5 s), takes the
        interrupted record over and completes it: one run, each allocation once."""
        from django.db import connection, connections, transaction

        from budgets.services import request_recompute

        log = tmp_path / "worker.log"
        env = {"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
        blocker = connections.create_connection("default")
        worker = start_worker(task_queue, log, env)
        try:
            blocker.ensure_connection()
            raw = blocker.connection.cursor()
            raw.execute("BEGIN; LOCK TABLE budgets_allocation IN SHARE MODE")
            with transaction.atomic():
                request_recompute([budget.pk], Trigger.MANUAL)

            def blocked_in_copy():
                # asked on the test's own connection: inside the blocker's transaction
                # pg_stat_activity would stay at its first snapshot
                with connection.cursor() as cur:
                    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                "AND query LIKE 'COPY budgets_allocation%%'")
                    return cur.fetchone()[0] == 1

            wait_for(blocked_in_copy, worker, log, what="the worker to wait for the allocations table")
            run = AllocationRun.objects.get()
            assert run.status == RunStatus.RUNNING and run.attempts == 1 and not run.allocations.exists()

            kill_worker(worker)
            raw.execute("ROLLBACK")  # the orphaned server session fails (its client is gone) and ends
            # A worker that starts gives back unacknowledged messages older than the
            # visibility timeout (kombu's Redis transport scans at start-up, then rarely).
            time.sleep(VISIBILITY_TIMEOUT + 1)
            worker = start_worker(task_queue, log, env)
            wait_for(lambda: AllocationRun.objects.filter(status=RunStatus.SUCCEEDED).exists(), worker, log,
                     seconds=90, what="the run to complete after the restart")
            time.sleep(SETTLE_SECONDS)  # nothing else may follow
        finally:
            stop_worker(worker)
            blocker.close()
        run = AllocationRun.objects.get()  # exactly one record
        assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
        assert run.allocations.count() == 9  # 3 regions × 3 parts, none twice
        assert sum(a.amount for a in run.allocations.all()) == D("1000.00")
        # the first worker never finished the task; the second one did, once
        assert log.read_text(errors="replace").count("succeeded in") == 1
