"""Budgets are recomputed by a real Celery worker when their inputs change:
one change gives one run; a burst of changes is coalesced (same inputs → no
new run), never one run per change. Needs REDIS_URL (CI sets it)."""

import os
import time
from decimal import Decimal as D

import pytest

from budgets.choices import Trigger
from budgets.models import AllocationRun
from budgets.services import input_series
from core.imports.base import import_now
from tests.integration.conftest import start_worker, stop_worker

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="REDIS_URL not set: no Redis broker for a real Celery worker"),
]
SETTLE_SECONDS = 6  # longer than the recompute delay (2 s) plus a run



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
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count and time.monotonic() - last_change > SETTLE_SECONDS:
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
