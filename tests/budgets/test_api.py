"""Budget and rule endpoints per persona, and the allocation preview."""

from decimal import Decimal as D

import pytest

from budgets.models import AllocationRule, Budget
from tests.conftest import client_for
from tests.factories import IndicatorFactory, IndicatorValueFactory

API = "/api/v1"
pytestmark = pytest.mark.django_db



@pytest.fixture
def need(tree):
    ind = IndicatorFactory(key="kinder", name="Kinder", rollup="none")
    for code, value in (("P11", 1), ("P12", 1), ("P21", 2)):
        IndicatorValueFactory(indicator=ind, region=tree[code], period="2022", value=value)
    return ind


def budget_payload(field, **kw):
    data = {"name": "Jugendhilfe", "fiscal_year": 2027, "field": field.key, "scope_region": "CITY",
            "target_level": "planungsraum", "total": "1000.00", "split_mode": "percent", "case_specific": "60",
            "case_overarching": "20", "preventive": "20"}
    data.update(kw)
    return data


class TestBudgets:
    def test_planner_creates_budget_rule_and_previews(self, planner, tree, levels, field, need):
        api = client_for(planner)
        response = api.post(f"{API}/budgets/", budget_payload(field), format="json")
        assert response.status_code == 201, response.json()
        budget_id = response.json()["id"]
        assert response.json()["part_amounts"] == {"case_specific": "600.00", "case_overarching": "200.00",
                                                   "preventive": "200.00"}
        rule = {"budget": budget_id, "part": "all", "base_amount": "10.00", "missing": "refuse",
                "terms": [{"kind": "indicator", "weight": "0.5", "indicator": "kinder"},
                          {"kind": "equal", "weight": "0.5"}],
                "bounds": [{"region": "P21", "cap": "500.00"}]}
        response = api.post(f"{API}/allocation-rules/", rule, format="json")
        assert response.status_code == 201, response.json()
        preview = api.get(f"{API}/budgets/{budget_id}/preview/").json()
        assert preview["total"] == "1000.00"
        assert sum(D(r["amount"]) for r in preview["regions"]) == D("1000.00")
        p21 = next(r for r in preview["regions"] if r["region"] == "P21")
        assert set(p21["parts"]) == {"case_specific", "case_overarching", "preventive"}
        assert "Kinder" in p21["parts"]["preventive"]["breakdown"]
        assert preview["inputs"]["periods"] == {"kinder": "2022"}

    def test_split_that_does_not_add_up_names_the_field(self, planner, tree, levels, field):
        response = client_for(planner).post(f"{API}/budgets/", budget_payload(field, preventive="30"), format="json")
        assert response.status_code == 400 and "preventive" in response.json()

    def test_weights_must_add_up(self, planner, tree, levels, field, need):
        budget = Budget.objects.create(name="B", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                       target_level=levels["planungsraum"], total=D("10.00"),
                                       case_specific=D(100), case_overarching=D(0), preventive=D(0))
        response = client_for(planner).post(f"{API}/allocation-rules/", {
            "budget": budget.pk, "part": "all", "terms": [{"kind": "equal", "weight": "0.7"}]}, format="json")
        assert response.status_code == 400 and "terms" in response.json()
        assert not AllocationRule.objects.exists()

    def test_preview_without_rule_is_a_clear_400(self, planner, tree, levels, field):
        budget = Budget.objects.create(name="B", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                       target_level=levels["planungsraum"], total=D("10.00"),
                                       case_specific=D(100), case_overarching=D(0), preventive=D(0))
        response = client_for(planner).get(f"{API}/budgets/{budget.pk}/preview/")
        assert response.status_code == 400 and "Verteilungsschlüssel" in response.json()["detail"]

    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "provider_editor_a"])
    def test_only_planners_write(self, persona, personas, tree, levels, field):
        api = client_for(personas[persona])
        assert api.post(f"{API}/budgets/", budget_payload(field), format="json").status_code == 403
        assert api.get(f"{API}/budgets/").status_code == 200

    def test_anonymous_refused(self, tree, levels, field):
        assert client_for(None).get(f"{API}/budgets/").status_code in (401, 403)

    def test_scoped_planner_only_in_own_area(self, scoped_planner, tree, levels, field):
        api = client_for(scoped_planner)
        response = api.post(f"{API}/budgets/", budget_payload(field, scope_region="D1", target_level="planungsraum"),
                            format="json")
        assert response.status_code == 400 and "scope_region" in response.json()
        response = api.post(f"{API}/budgets/", budget_payload(field, scope_region="D2"), format="json")
        assert response.status_code == 201

    def test_list_query_count(self, planner, tree, levels, field, django_assert_max_num_queries):
        for i in range(30):
            Budget.objects.create(name=f"B{i}", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                  target_level=levels["planungsraum"], total=D("10.00"),
                                  case_specific=D(100), case_overarching=D(0), preventive=D(0))
        api = client_for(planner)
        with django_assert_max_num_queries(5):
            assert api.get(f"{API}/budgets/").json()["count"] == 30
