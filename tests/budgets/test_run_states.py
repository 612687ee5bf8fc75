"""The life of a run record: queued on a trigger (one per budget), running
while a worker computes it (committed, so pages can show it), taken over after
the worker died, given up after MAX_ATTEMPTS interrupted starts; one execution
per budget at a time (a session advisory lock)."""

import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection, connections

from budgets.choices import RunStatus, Trigger
from budgets.models import Allocation, AllocationRun, Budget
from budgets.services import LOCK_NAMESPACE, MAX_ATTEMPTS, enqueue, replay, request_recompute, run_allocation

pytestmark = pytest.mark.django_db


def interrupted_run(budget, attempts=1):
    """What a worker killed mid-run leaves behind: a "running" record, no allocations."""
    return AllocationRun.objects.create(budget=budget, status=RunStatus.RUNNING, trigger=Trigger.INDICATOR_CHANGE,
                                        attempts=attempts)


class TestQueue:
    def test_a_trigger_queues_one_record_and_the_task_fills_it(self, budget, eager_celery,
                                                               django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            request_recompute([budget.pk], Trigger.MANUAL)
        assert AllocationRun.objects.count() == 0  # nothing before the commit
        for callback in callbacks:
            callback()  # the commit: queue the record and run the (eager) task
        run = AllocationRun.objects.get()
        assert run.status == RunStatus.SUCCEEDED and run.trigger == Trigger.MANUAL and run.attempts == 1
        assert run.allocations.count() == 9

    def test_a_second_trigger_joins_the_waiting_record(self, budget, planner):
        waiting = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.RULE_CHANGE)
        # no task is sent: the waiting record's own task reads this change too
        assert enqueue(budget.pk, Trigger.INDICATOR_CHANGE, planner.pk) is None
        assert list(AllocationRun.objects.values_list("pk", "status")) == [(waiting.pk, RunStatus.QUEUED)]

    def test_the_run_fills_the_queued_record(self, budget, planner):
        waiting = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.RULE_CHANGE,
                                               triggered_by=planner)
        run = run_allocation(budget.pk, Trigger.MANUAL)
        assert run.pk == waiting.pk and run.status == RunStatus.SUCCEEDED
        assert run.trigger == Trigger.RULE_CHANGE and run.triggered_by == planner  # who queued it
        assert run.started_at and run.finished_at and run.finished_at >= run.started_at

    def test_unchanged_inputs_drop_the_queued_record(self, budget):
        first = run_allocation(budget.pk)
        AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.MANUAL)
        assert run_allocation(budget.pk).pk == first.pk
        assert list(AllocationRun.objects.values_list("pk", flat=True)) == [first.pk]

    def test_one_queued_record_per_budget_in_the_database(self, budget):
        from django.db import IntegrityError, transaction

        AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED)
        with pytest.raises(IntegrityError), transaction.atomic():
            AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED)


class TestInterruptedRuns:
    def test_an_interrupted_run_is_taken_over_and_completed_once(self, budget):
        left = interrupted_run(budget)
        run = run_allocation(budget.pk)
        assert run.pk == left.pk and run.status == RunStatus.SUCCEEDED and run.attempts == 2
        assert Allocation.objects.filter(run=run).count() == 9  # 3 regions × 3 parts, once
        assert sum(a.amount for a in run.allocations.all()) == D("1000.00")
        assert AllocationRun.objects.count() == 1
        # and running it again changes nothing
        assert run_allocation(budget.pk).pk == run.pk and Allocation.objects.count() == 9

    def test_a_run_interrupted_too_often_is_given_up(self, budget, planner):
        adopted = run_allocation(budget.pk)
        from budgets.services import adopt

        adopt(adopted, planner)
        Budget.objects.filter(pk=budget.pk).update(total=D("2000.00"))
        left = interrupted_run(budget, attempts=MAX_ATTEMPTS)
        run = run_allocation(budget.pk)
        assert run.pk == left.pk and run.status == RunStatus.FAILED
        assert f"{MAX_ATTEMPTS}-mal begonnen und jedes Mal unterbrochen" in run.error
        assert not run.allocations.exists()
        assert Budget.objects.with_adopted_run().get(pk=budget.pk).adopted_run_id == adopted.pk
        # the next trigger computes normally
        assert run_allocation(budget.pk).status == RunStatus.SUCCEEDED

    def test_a_technical_error_is_recorded_on_the_last_attempt_and_requeued_before(self, budget, monkeypatch):
        from budgets import services

        def broken(*args, **kwargs):
            raise services.DatabaseError("connection reset")

        monkeypatch.setattr(services, "read_inputs", broken)
        with pytest.raises(services.DatabaseError):
            run_allocation(budget.pk, last_attempt=False)
        assert AllocationRun.objects.get().status == RunStatus.QUEUED  # the retry picks it up
        with pytest.raises(services.DatabaseError):
            run_allocation(budget.pk, last_attempt=True)
        run = AllocationRun.objects.get()
        assert run.status == RunStatus.FAILED and "connection reset" in run.error and run.attempts == 2


class TestImmutable:
    def test_finished_runs_and_allocations_cannot_be_changed(self, budget):
        from django.db import InternalError, transaction

        run = run_allocation(budget.pk)
        with pytest.raises(InternalError, match="finished_run_immutable"), transaction.atomic():
            AllocationRun.objects.filter(pk=run.pk).update(error="changed")
        with pytest.raises(InternalError, match="allocation_immutable"), transaction.atomic():
            run.allocations.update(amount=D("1.00"))
        # deleting the budget still deletes its runs
        Budget.objects.filter(pk=budget.pk).delete()
        assert not AllocationRun.objects.exists() and not Allocation.objects.exists()


@pytest.mark.django_db(transaction=True)
class TestOneExecutionAtATime:
    def test_a_second_execution_waits_for_the_lock(self, budget):
        """Another session holds the budget's lock (a run in progress): run_allocation
        waits, and the record shows "running" only once it has the lock."""
        other = connections.create_connection("default")
        try:
            with other.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, budget.pk])
            done = {}

            def work():
                try:
                    done["run"] = run_allocation(budget.pk)
                finally:
                    connection.close()

            thread = threading.Thread(target=work)
            thread.start()
            time.sleep(1.0)
            assert thread.is_alive() and AllocationRun.objects.count() == 0  # waiting for the lock
            with other.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, budget.pk])
            thread.join(timeout=30)
            assert not thread.is_alive() and done["run"].status == RunStatus.SUCCEEDED
        finally:
            other.close()

    def test_replay_gives_the_stored_cents(self, budget):
        run = run_allocation(budget.pk)
        stored = {(a.part, a.region.code): a.amount for a in run.allocations.select_related("region")}
        replayed = {(part, a.code): a.amount for part, r in replay(run).items() for a in r.amounts}
        assert stored == replayed and len(stored) == 9
