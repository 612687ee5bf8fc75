"""Allocation runs: stored with their inputs, idempotent by input hash, triggered
by changes of budget, rule and indicator values."""

from decimal import Decimal as D

import pytest

from budgets.choices import RunStatus, TermKind, Trigger
from budgets.models import Allocation, AllocationRun
from budgets.services import adopt, input_series, run_allocation
from core.imports.base import import_now
from tests.conftest import client_for
from tests.factories import IndicatorFactory

pytestmark = pytest.mark.django_db
API = "/api/v1"



class TestRunAllocation:
    def test_run_stores_allocations_and_inputs(self, budget):
        run = run_allocation(budget.pk)
        assert run.status == RunStatus.SUCCEEDED and run.input_hash
        allocations = Allocation.objects.filter(run=run)
        assert allocations.count() == 9  # 3 regions × 3 parts
        assert sum(a.amount for a in allocations) == D("1000.00")
        assert input_series(run.snapshot["inputs"], "kinder") == {"P11": "1.000000", "P12": "1.000000",
                                                                  "P21": "2.000000"}
        assert run.snapshot["budget"]["total"] == "1000.00"

    def test_same_inputs_no_new_run(self, budget):
        first = run_allocation(budget.pk)
        assert run_allocation(budget.pk, Trigger.MANUAL).pk == first.pk
        assert AllocationRun.objects.count() == 1

    def test_changed_input_new_run_and_adopted_run_untouched(self, budget, tree, planner):
        first = run_allocation(budget.pk)
        adopt(first, planner)
        budget.total = D("2000.00")
        budget.save()
        second = run_allocation(budget.pk, Trigger.BUDGET_CHANGE)
        assert second.pk != first.pk
        assert budget.adopted_run == first
        assert sum(a.amount for a in second.allocations.all()) == D("2000.00")
        assert sum(a.amount for a in first.allocations.all()) == D("1000.00")  # done runs are immutable

    def test_failure_is_recorded_once_and_keeps_the_adopted_run(self, budget, planner):
        good = run_allocation(budget.pk)
        adopt(good, planner)
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)
        assert failed.status == RunStatus.FAILED and "Verteilungsschlüssel" in failed.error
        assert run_allocation(budget.pk).pk == failed.pk  # the same failure is not recorded twice
        assert budget.adopted_run == good

    def test_adoptions_are_kept_as_a_record(self, budget, planner):
        first = run_allocation(budget.pk)
        adopt(first, planner)
        budget.total = D("900.00")
        budget.save()
        second = run_allocation(budget.pk)
        adopt(second, planner)
        assert budget.adopted_run == second
        assert [(a.run, a.adopted_by) for a in budget.adoptions.all()] == [(second, planner), (first, planner)]

    def test_only_finished_runs_can_be_adopted(self, budget, planner):
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)
        with pytest.raises(Exception, match="fertige"):
            adopt(failed, planner)


class TestTriggers:
    def test_indicator_import_triggers_one_run(self, budget, tree, eager_celery, django_capture_on_commit_callbacks):
        run_allocation(budget.pk)
        records = [{"region_code": "P21", "indicator": "kinder", "period": "2022", "value": "5"}]
        with django_capture_on_commit_callbacks(execute=True):
            assert import_now("indicator_values", records).status == "succeeded"
        runs = list(AllocationRun.objects.order_by("pk"))
        assert len(runs) == 2 and runs[-1].trigger == Trigger.INDICATOR_CHANGE
        assert input_series(runs[-1].snapshot["inputs"], "kinder")["P21"] == "5.000000"

    def test_unrelated_indicator_triggers_nothing(self, budget, tree, eager_celery, django_capture_on_commit_callbacks):
        IndicatorFactory(key="anderes")
        with django_capture_on_commit_callbacks(execute=True):
            import_now("indicator_values", [{"region_code": "P21", "indicator": "anderes", "period": "2022",
                                             "value": "5"}])
        assert AllocationRun.objects.count() == 0

    def test_rule_change_through_the_api_triggers_a_run(self, budget, planner, eager_celery,
                                                        django_capture_on_commit_callbacks):
        rule = budget.rules.get()
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(planner).patch(f"{API}/allocation-rules/{rule.pk}/", {"base_amount": "10.00"},
                                                 format="json")
        assert response.status_code == 200, response.json()
        run = AllocationRun.objects.get()
        assert run.trigger == Trigger.RULE_CHANGE and run.triggered_by == planner


class TestRunApi:
    def test_recompute_runs_and_adopt(self, budget, planner, viewer, eager_celery,
                                      django_capture_on_commit_callbacks):
        api = client_for(planner)
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post(f"{API}/budgets/{budget.pk}/recompute/").status_code == 202
        run = AllocationRun.objects.get()
        listing = api.get(f"{API}/allocation-runs/", {"budget": budget.pk}).json()
        assert listing["count"] == 1 and listing["results"][0]["allocations"] == []
        detail = api.get(f"{API}/allocation-runs/{run.pk}/").json()
        assert len(detail["allocations"]) == 9
        assert sum(D(a["amount"]) for a in detail["allocations"]) == D("1000.00")
        assert client_for(viewer).post(f"{API}/budgets/{budget.pk}/adopt/", {"run": run.pk}).status_code == 403
        response = api.post(f"{API}/budgets/{budget.pk}/adopt/", {"run": run.pk}, format="json")
        assert response.status_code == 200
        assert budget.adopted_run == run
        assert response.json()["adopted_run"] == run.pk

    def test_runs_are_read_only_and_hidden_from_anonymous(self, budget, planner):
        run = run_allocation(budget.pk)
        assert client_for(planner).delete(f"{API}/allocation-runs/{run.pk}/").status_code == 405
        assert client_for(None).get(f"{API}/allocation-runs/").status_code in (401, 403)


class TestCompareAndWhatIf:
    def test_compare_two_runs(self, budget, planner, viewer):
        first = run_allocation(budget.pk)
        budget.total = D("2000.00")
        budget.save()
        second = run_allocation(budget.pk)
        body = client_for(viewer).get(f"{API}/allocation-runs/compare/", {"a": first.pk, "b": second.pk}).json()
        rows = {r["region"]: r for r in body["regions"]}
        assert rows["P21"]["a"] == "500.00" and rows["P21"]["b"] == "1000.00"
        assert rows["P21"]["delta"] == "500.00" and rows["P21"]["delta_percent"] == "100.0"
        assert sum(D(r["delta"]) for r in body["regions"]) == D("1000.00")

    def test_compare_refuses_runs_of_different_budgets_and_unknown_runs(self, budget, planner, tree, levels):
        run = run_allocation(budget.pk)
        api = client_for(planner)
        assert api.get(f"{API}/allocation-runs/compare/", {"a": run.pk, "b": 999999}).status_code == 404
        assert api.get(f"{API}/allocation-runs/compare/", {"a": run.pk}).status_code == 400

    def test_what_if_changes_nothing_stored(self, budget, planner):
        adopted = run_allocation(budget.pk)
        adopt(adopted, planner)
        variant = {"rules": [{"part": "all", "terms": [{"kind": "equal", "weight": "1"}]}]}
        response = client_for(planner).post(f"{API}/budgets/{budget.pk}/what-if/", variant, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["base_run"] == adopted.pk
        rows = {r["region"]: r for r in body["regions"]}
        # equal shares in each part (700 / 100 / 200 €; leftover cents go to P11, P12 first)
        assert rows["P21"]["b"] == "333.32" and rows["P21"]["a"] == "500.00"
        assert sum(D(r["b"]) for r in body["regions"]) == D("1000.00")
        assert AllocationRun.objects.count() == 1 and budget.adopted_run == adopted
        assert budget.rules.get().terms.get().kind == TermKind.INDICATOR

    def test_what_if_with_bad_weights_is_a_400(self, budget, planner):
        variant = {"rules": [{"part": "all", "terms": [{"kind": "equal", "weight": "0.5"}]}]}
        response = client_for(planner).post(f"{API}/budgets/{budget.pk}/what-if/", variant, format="json")
        assert response.status_code == 400 and "rules" in response.json()
