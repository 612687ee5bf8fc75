"""Issue 5's background work in a real Celery worker on Redis: the Trägerbudget
recompute that an adoption enqueues, and the daily reminder job sent twice
(as two beats started by mistake would) — one notification, one e-mail.

Needs REDIS_URL (CI sets it); the worker consumes a queue of its own."""

import datetime
import os
import time
from decimal import Decimal as D

import pytest

from budgets.models import Allocation, ProviderAllocation
from budgets.services import adopt, run_allocation
from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from core.models import Notification
from tests.factories import AgreementFactory, AgreementPartyFactory, MeetingTaskFactory, NetworkFactory
from tests.integration.conftest import start_worker, stop_worker

WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="REDIS_URL not set: no Redis broker for a real Celery worker"),
]


def _wait(condition, worker, log, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not done after {WAIT_SECONDS} s; worker log:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.25)


@pytest.mark.django_db(transaction=True)
class TestCooperationByWorker:
    def test_adoption_enqueues_the_traegerbudget_recompute(self, budget, tree, field, org_a, org_b, planner,
                                                            task_queue, tmp_path):
        agreement = AgreementFactory(regions=[tree["D1"]], fields=[field])
        Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
        AgreementPartyFactory(agreement=agreement, organization=org_a, budget_share=D("33.3333"))
        AgreementPartyFactory(agreement=agreement, organization=org_b, budget_share=D("12.5"), work_modes=["case_specific"])
        run = run_allocation(budget.pk)
        adopt(run, planner)  # commits; on commit the recompute goes to Redis
        time.sleep(0.5)
        assert not ProviderAllocation.objects.exists()  # nothing ran in this process

        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        try:
            _wait(lambda: ProviderAllocation.objects.filter(budget=budget).exists(), worker, log, "Trägerbudgets")
            time.sleep(1)  # further recompute messages (the agreement's signals) find nothing to change
        finally:
            stop_worker(worker)
        assert "budgets.recompute_providers" in log.read_text(errors="replace")
        for allocation in Allocation.objects.filter(run=run, region__code__in=["P11", "P12"]):
            rows = ProviderAllocation.objects.filter(budget=budget, region=allocation.region, part=allocation.part)
            assert sum(r.amount for r in rows) == allocation.amount
        # P11 case-specific 175,00 €: 33,3333 % → 58,33 €, 12,5 % → 21,88 €
        assert ProviderAllocation.objects.get(budget=budget, region=tree["P11"], part="case_specific",
                                              organization=org_a).amount == D("58.33")
        assert ProviderAllocation.objects.get(budget=budget, region=tree["P11"], part="case_specific",
                                              organization=org_b).amount == D("21.88")

    def test_reminder_job_twice_sends_once(self, org_a, provider_editor_a, task_queue, tmp_path):
        from cooperation.tasks import send_reminders

        network = NetworkFactory(coordinator=org_a)
        MeetingTaskFactory(meeting__network=network, responsible=org_a,
                           due=datetime.date.today() - datetime.timedelta(days=3))
        # two beats by mistake: the same job twice in the queue
        send_reminders.apply_async(queue=task_queue)
        send_reminders.apply_async(queue=task_queue)
        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        try:
            def both_done():
                lines = log.read_text(errors="replace").splitlines()
                return sum("cooperation.send_reminders" in line and "succeeded" in line for line in lines) >= 2

            _wait(both_done, worker, log, "both reminder runs")
        finally:
            stop_worker(worker)
        mine = Notification.objects.filter(user=provider_editor_a)
        assert mine.count() == 1, list(mine.values("kind", "event_key"))
        assert mine.get().emailed_at is not None and mine.get().kind == "meeting_task_overdue"
