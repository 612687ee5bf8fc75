"""Trägerbudgets: shares from agreements or the share table, exact to the cent,
recomputed when the adoption, the shares or the agreements change; providers
see their own rows and spending."""

import datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budgets.choices import ShareSource
from budgets.models import Allocation, Expenditure, ProviderAllocation, ProviderShare
from budgets.providers import WHOLE, compute, recompute, split_cents, totals_for_organizations
from budgets.services import adopt, run_allocation
from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from tests.factories import AgreementFactory, AgreementPartyFactory, FieldOfActionFactory, OrganizationFactory


def _agreement(tree, field, parties, *, regions=("D1",), status=AgreementStatus.ACTIVE, **kwargs):
    agreement = AgreementFactory(regions=[tree[c] for c in regions], fields=[field], **kwargs)
    Agreement.objects.filter(pk=agreement.pk).update(status=status)
    for org, share, modes in parties:
        AgreementPartyFactory(agreement=agreement, organization=org, budget_share=share, work_modes=modes)
    return agreement


def _rows(budget):
    return {(pa.region.code, pa.part, pa.organization.name if pa.organization else None): pa.amount
            for pa in ProviderAllocation.objects.filter(budget=budget).select_related("region", "organization")}


@pytest.fixture
def adopted(budget, planner, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        adopt(run_allocation(budget.pk), planner)
    return budget


class TestSplit:
    @settings(max_examples=300, deadline=None)
    @given(cents=st.integers(0, 10**12), shares=st.lists(st.integers(0, WHOLE), min_size=0, max_size=12))
    def test_adds_up_exactly_and_each_within_a_cent(self, cents, shares):
        total = sum(shares)
        if total > WHOLE:
            shares = [s * WHOLE // total for s in shares]
        got = split_cents(cents, shares)
        assert sum(got) == cents
        for g, s in zip(got, [*shares, WHOLE - sum(shares)], strict=True):
            assert abs(g * WHOLE - cents * s) < WHOLE  # less than one cent from the exact share

    def test_ties_go_in_order(self):
        # 2 cents, 25 % + 25 % (+ 50 % retained): half a cent each — the first in order gets it
        assert split_cents(2, [WHOLE // 4, WHOLE // 4]) == [1, 0, 1]


@pytest.mark.django_db
class TestFromAgreements:
    def test_shares_of_an_active_agreement_for_the_field_and_region(self, tree, field, org_a, org_b, adopted):
        third = D("33.3333")
        _agreement(tree, field, [(org_a, third, []), (org_b, third, ["case_specific"])])
        recompute(adopted.pk)
        rows = _rows(adopted)
        # P11 case-specific: 175.00 € (1000 € · 70 % · ¼); exact shares 58.332775 / 58.332775 / 58.33445
        assert rows["P11", "case_specific", org_a.name] == D("58.33")
        assert rows["P11", "case_specific", org_b.name] == D("58.33")
        assert rows["P11", "case_specific", None] == D("58.34")
        # org B's share is for case-specific work only
        assert ("P11", "preventive", org_b.name) not in rows
        assert rows["P11", "preventive", org_a.name] == D("16.67")  # 50.00 € · 33.3333 %
        # P21 lies in D2: not covered
        assert not any(code == "P21" for code, _p, _o in rows)

    def test_every_region_and_part_adds_up_to_its_allocation(self, tree, field, org_a, org_b, adopted):
        _agreement(tree, field, [(org_a, D("12.5"), []), (org_b, D("80"), [])], regions=("CITY",))
        recompute(adopted.pk)
        run = adopted.adopted_run
        for allocation in Allocation.objects.filter(run=run):
            passed = ProviderAllocation.objects.filter(budget=adopted, region=allocation.region, part=allocation.part)
            assert sum(p.amount for p in passed) == allocation.amount
        assert sum(p.amount for p in ProviderAllocation.objects.filter(budget=adopted)) == adopted.total

    def test_not_counted_inactive_other_field_or_outside(self, tree, field, org_a, adopted):
        other = FieldOfActionFactory(key="pflege", name="Pflege")
        _agreement(tree, field, [(org_a, D(10), [])], status=AgreementStatus.NEGOTIATION)
        _agreement(tree, other, [(org_a, D(10), [])])
        _agreement(tree, field, [(org_a, D(10), [])], regions=("D2",), valid_until=datetime.date(2026, 6, 30))
        rows, problems = compute(adopted)
        assert rows == [] and problems == []

    def test_a_sub_field_counts_and_two_agreements_add_up(self, tree, field, org_a, adopted):
        sub = FieldOfActionFactory(key="hze", name="Hilfen zur Erziehung", parent=field)
        first = _agreement(tree, field, [(org_a, D(10), [])])
        second = _agreement(tree, sub, [(org_a, D(15), [])], regions=("P11",))
        rows, _ = compute(adopted)
        p11 = [r for r in rows if r.region_id == tree["P11"].pk and r.part == "case_specific" and r.organization_id]
        assert len(p11) == 1 and p11[0].share == D(25) and p11[0].agreement_ids == tuple(sorted([first.pk, second.pk]))
        assert p11[0].amount == D("43.75")  # 175.00 € · 25 %

    def test_more_than_100_percent_is_reported_and_not_passed_on(self, tree, field, org_a, org_b, adopted):
        _agreement(tree, field, [(org_a, D(60), [])])
        _agreement(tree, field, [(org_b, D(50), [])], regions=("P11",))
        result = recompute(adopted.pk)
        assert any("P11" in p and "110 %" in p for p in result["problems"])
        rows = _rows(adopted)
        assert not any(code == "P11" for code, _p, _o in rows)
        assert rows["P12", "case_specific", org_a.name] == D("105.00")


@pytest.mark.django_db
class TestShareTable:
    def test_explicit_shares_replace_the_agreements_for_that_region_and_part(self, tree, field, org_a, org_b, adopted):
        _agreement(tree, field, [(org_a, D(50), [])])
        ProviderShare.objects.create(budget=adopted, region=tree["P11"], part="preventive", organization=org_b,
                                     share=D(100))
        recompute(adopted.pk)
        rows = _rows(adopted)
        assert rows["P11", "preventive", org_b.name] == D("50.00")
        assert ("P11", "preventive", org_a.name) not in rows and ("P11", "preventive", None) not in rows
        assert rows["P11", "case_specific", org_a.name] == D("87.50")
        table = ProviderAllocation.objects.get(budget=adopted, region=tree["P11"], part="preventive")
        assert table.source == ShareSource.TABLE


@pytest.mark.django_db(transaction=False)
class TestRecomputeMachinery:
    def test_adoption_share_and_agreement_changes_recompute(self, tree, field, org_a, budget, planner, eager_celery,
                                                            django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            agreement = _agreement(tree, field, [(org_a, D(10), [])])
        assert not ProviderAllocation.objects.exists()  # nothing adopted yet
        with django_capture_on_commit_callbacks(execute=True):
            adopt(run_allocation(budget.pk), planner)
        assert _rows(budget)["P11", "case_specific", org_a.name] == D("17.50")
        party = agreement.parties.get()
        with django_capture_on_commit_callbacks(execute=True):
            party.budget_share = D(20)
            party.save()
        assert _rows(budget)["P11", "case_specific", org_a.name] == D("35.00")
        with django_capture_on_commit_callbacks(execute=True):
            agreement.regions.set([tree["P11"]])
        assert ("P12", "case_specific", org_a.name) not in _rows(budget)
        with django_capture_on_commit_callbacks(execute=True):
            ProviderShare.objects.create(budget=budget, region=tree["P11"], part="case_specific", organization=org_a,
                                         share=D(1))
        assert _rows(budget)["P11", "case_specific", org_a.name] == D("1.75")

    def test_idempotent(self, tree, field, org_a, adopted):
        _agreement(tree, field, [(org_a, D(10), [])])
        first = recompute(adopted.pk)
        ids = set(ProviderAllocation.objects.values_list("pk", flat=True))
        again = recompute(adopted.pk)
        assert first["written"] > 0 and again.get("unchanged") and again["written"] == 0
        assert set(ProviderAllocation.objects.values_list("pk", flat=True)) == ids


@pytest.mark.django_db
class TestProviderSees:
    def test_own_rows_and_spending_only(self, tree, field, org_a, org_b, adopted, provider_editor_a, provider_editor_b):
        _agreement(tree, field, [(org_a, D(10), []), (org_b, D(10), [])])
        recompute(adopted.pk)
        Expenditure.objects.create(budget=adopted, region=tree["P11"], part="case_specific", category="Personal",
                                   booking_date=datetime.date(2027, 3, 1), amount=D("5.25"),
                                   organization=org_a)
        mine = ProviderAllocation.objects.for_user(provider_editor_a)
        assert mine.exists() and set(mine.values_list("organization_id", flat=True)) == {org_a.pk}
        assert list(Expenditure.objects.for_user(provider_editor_a).values_list("amount", flat=True)) == [D("5.25")]
        assert not Expenditure.objects.for_user(provider_editor_b).exists()
        totals = totals_for_organizations([org_a.pk])
        row = totals[adopted.pk, tree["P11"].pk, "case_specific", org_a.pk]
        assert row == {"allocated": D("17.50"), "spent": D("5.25"), "remaining": D("12.25")}

    def test_viewer_of_budget_sees_all_and_outsider_nothing(self, tree, field, org_a, adopted, viewer):
        from tests.factories import MembershipFactory, UserFactory

        _agreement(tree, field, [(org_a, D(10), [])])
        recompute(adopted.pk)
        outsider = UserFactory(username="outsider")
        MembershipFactory(user=outsider, organization=OrganizationFactory())
        assert ProviderAllocation.objects.for_user(viewer).count() == ProviderAllocation.objects.count()
        assert not ProviderAllocation.objects.for_user(outsider).exists()
