"""Budgets, rules and the computation that feeds the engine from the database."""

from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from budgets.choices import MissingPolicy, RulePart, SplitMode, TermKind
from budgets.engine import AllocationError
from budgets.models import AllocationRule, Budget, RegionBound, RuleTerm
from budgets.services import compute
from core.access import Action
from core.models import FieldOfAction
from tests.factories import IndicatorFactory, IndicatorValueFactory


def make_field():
    field, _ = FieldOfAction.objects.get_or_create(key="test-feld", defaults={"name": "Testfeld"})
    return field


def make_budget(tree, levels, **kwargs):
    values = dict(name="Jugendhilfe", fiscal_year=2027, field=make_field(), scope_region=tree["CITY"],
                  target_level=levels["planungsraum"], total=D("1000.00"), split_mode=SplitMode.PERCENT,
                  case_specific=D("50"), case_overarching=D("30"), preventive=D("20"))
    values.update(kwargs)
    return Budget.objects.create(**values)


class TestPartAmounts:
    @settings(max_examples=200, deadline=None)
    @given(
        total=st.integers(min_value=0, max_value=10**12).map(lambda c: D(c).scaleb(-2)),
        a=st.integers(min_value=0, max_value=10000), b=st.integers(min_value=0, max_value=10000),
    )
    def test_percent_split_adds_up_to_the_cent(self, total, a, b):
        if a + b > 10000:
            a, b = a // 2, b // 2
        budget = Budget(total=total, split_mode=SplitMode.PERCENT, case_specific=D(a).scaleb(-2),
                        case_overarching=D(b).scaleb(-2), preventive=D(10000 - a - b).scaleb(-2))
        parts = budget.part_amounts()
        assert sum(parts.values()) == total
        assert all(v == v.quantize(D("0.01")) and v >= 0 for v in parts.values())

    def test_amount_split_is_taken_as_is(self):
        budget = Budget(total=D("10.00"), split_mode=SplitMode.AMOUNT, case_specific=D("5.00"),
                        case_overarching=D("3.00"), preventive=D("2.00"))
        assert budget.part_amounts() == {"case_specific": D("5.00"), "case_overarching": D("3.00"),
                                         "preventive": D("2.00")}


@pytest.mark.django_db
class TestConstraints:
    def test_split_must_add_up_in_the_database(self, tree, levels):
        with pytest.raises(IntegrityError, match="budget_split_adds_up"), transaction.atomic():
            make_budget(tree, levels, preventive=D("25"))
        with pytest.raises(IntegrityError, match="budget_split_adds_up"), transaction.atomic():
            make_budget(tree, levels, split_mode=SplitMode.AMOUNT, case_specific=D("1.00"),
                        case_overarching=D("1.00"), preventive=D("1.00"))

    def test_clean_names_the_problem(self, tree, levels):
        budget = make_budget(tree, levels)
        budget.preventive = D("10")
        with pytest.raises(Exception, match="90"):
            budget.full_clean()


@pytest.mark.django_db
class TestCompute:
    @pytest.fixture
    def need(self, tree):
        ind = IndicatorFactory(key="kinder", name="Kinder", rollup="none")
        for code, value in (("P11", 10), ("P12", 30), ("P21", 60)):
            IndicatorValueFactory(indicator=ind, region=tree[code], period="2022", value=value)
        IndicatorValueFactory(indicator=ind, region=tree["P11"], period="2021", value=999)
        return ind

    def test_parts_follow_their_rules_and_add_up(self, tree, levels, need):
        budget = make_budget(tree, levels, total=D("1000.00"))
        general = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
        RuleTerm.objects.create(rule=general, kind=TermKind.INDICATOR, weight=D(1), indicator=need)
        preventive = AllocationRule.objects.create(budget=budget, part=RulePart.PREVENTIVE)
        RuleTerm.objects.create(rule=preventive, kind=TermKind.EQUAL, weight=D(1))
        result = compute(budget)
        totals = result.totals()
        assert sum(totals.values()) == D("1000.00")
        # 800 € by need 10:30:60 (newest period 2022), 200 € equally
        assert result.parts["case_specific"].by_code()["P21"].amount == D("300.00")
        assert result.parts["preventive"].by_code()["P11"].amount == D("66.67")
        assert totals == {"P11": D("146.67"), "P12": D("306.67"), "P21": D("546.66")}
        assert result.inputs["periods"] == {"kinder": "2022"}
        assert result.inputs["regions"] == ["P11", "P12", "P21"]
        assert result.inputs["values"]["kinder"] == ["10.000000", "30.000000", "60.000000"]

    def test_period_can_be_fixed(self, tree, levels, need):
        budget = make_budget(tree, levels, split_mode=SplitMode.AMOUNT, total=D("100.00"),
                             case_specific=D("100.00"), case_overarching=D("0"), preventive=D("0"))
        rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL, missing=MissingPolicy.EXCLUDE)
        RuleTerm.objects.create(rule=rule, kind=TermKind.INDICATOR, weight=D(1), indicator=need, period="2021")
        result = compute(budget)
        assert {a.code: a.amount for a in result.parts["case_specific"].amounts} == {"P11": D("100.00")}
        assert set(result.parts["case_specific"].excluded) == {"P12", "P21"}

    def test_missing_rule_or_values_are_refused_with_a_message(self, tree, levels, need):
        budget = make_budget(tree, levels)
        with pytest.raises(AllocationError, match="keinen Verteilungsschlüssel"):
            compute(budget)
        rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
        empty = IndicatorFactory(key="leer", name="Leer")
        RuleTerm.objects.create(rule=rule, kind=TermKind.INDICATOR, weight=D(1), indicator=empty)
        with pytest.raises(AllocationError, match="keine Werte"):
            compute(budget)

    def test_bounds_are_applied(self, tree, levels, need):
        budget = make_budget(tree, levels, split_mode=SplitMode.AMOUNT, total=D("100.00"),
                             case_specific=D("100.00"), case_overarching=D("0"), preventive=D("0"))
        rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
        RuleTerm.objects.create(rule=rule, kind=TermKind.INDICATOR, weight=D(1), indicator=need)
        RegionBound.objects.create(rule=rule, region=tree["P21"], cap=D("40.00"))
        amounts = {a.code: a.amount for a in compute(budget).parts["case_specific"].amounts}
        assert amounts == {"P11": D("15.00"), "P12": D("45.00"), "P21": D("40.00")}


@pytest.mark.django_db
class TestAccess:
    def test_scoped_by_the_budget_region(self, tree, levels, planner, scoped_planner, viewer, provider_editor_a):
        city = make_budget(tree, levels)
        south = make_budget(tree, levels, name="Süd", scope_region=tree["D2"])
        assert set(Budget.objects.for_user(planner, Action.CHANGE)) == {city, south}
        assert set(Budget.objects.for_user(scoped_planner, Action.CHANGE)) == {south}
        assert set(Budget.objects.for_user(viewer, Action.VIEW)) == {city, south}
        assert not Budget.objects.for_user(viewer, Action.CHANGE).exists()
        assert Budget.objects.for_user(None, Action.VIEW).count() == 0
        assert Budget.objects.can_add(planner) and not Budget.objects.can_add(viewer)
        assert not Budget.objects.can_add(provider_editor_a)
