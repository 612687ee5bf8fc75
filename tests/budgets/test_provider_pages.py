"""The Trägerbudget pages: a budget's Trägerbudgets and share table (staff;
planners edit shares), "Mein Trägerbudget" for provider staff."""

import datetime
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from budgets.models import Expenditure, ProviderShare
from budgets.providers import recompute
from budgets.services import adopt, run_allocation
from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from tests.factories import AgreementFactory, AgreementPartyFactory


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def setup(tree, field, org_a, org_b, budget, planner, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        adopt(run_allocation(budget.pk), planner)
    agreement = AgreementFactory(regions=[tree["D1"]], fields=[field], title="Jugendarbeit Nord")
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
    AgreementPartyFactory(agreement=agreement, organization=org_a, budget_share=D(40))
    recompute(budget.pk)
    Expenditure.objects.create(budget=budget, region=tree["P11"], part="case_specific", category="Personal",
                               booking_date=datetime.date(2027, 2, 1), amount=D("12.34"), organization=org_a)
    return budget


@pytest.mark.django_db
class TestBudgetProvidersPage:
    def test_staff_see_rows_totals_and_spending(self, setup, viewer, org_a):
        response = client_for(viewer).get(reverse("budget-providers", args=[setup.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert org_a.name in html and "Jugendarbeit Nord" in html
        # P11 case-specific: 175,00 € · 40 % = 70,00 €; spent 12,34 € → 57,66 € left
        assert "70,00\u00a0€" in html and "57,66\u00a0€" in html
        # passed on: 40 % of the P11 and P12 amounts (1000 € · ½ · 40 % = 200 €)
        assert 'data-testid="passed-on">200,00\u00a0€' in html
        assert "share_form" not in html and "Anteil speichern" not in html  # viewers do not edit

    def test_providers_and_anonymous_are_refused(self, setup, provider_editor_a, client):
        assert client_for(provider_editor_a).get(reverse("budget-providers", args=[setup.pk])).status_code == 404
        response = client.get(reverse("budget-providers", args=[setup.pk]))
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_planner_sets_and_removes_an_explicit_share(self, setup, planner, tree, org_b, django_capture_on_commit_callbacks):
        c = client_for(planner)
        url = reverse("budget-provider-share-create", args=[setup.pk])
        with django_capture_on_commit_callbacks(execute=True):
            response = c.post(url, {"region": tree["P11"].pk, "part": "preventive", "organization": org_b.pk,
                                    "share": "25,5"})
        assert response.status_code == 302
        share = ProviderShare.objects.get()
        assert share.share == D("25.5")
        html = c.get(reverse("budget-providers", args=[setup.pk])).content.decode()
        assert "12,75\u00a0€" in html  # 50,00 € · 25,5 %
        with django_capture_on_commit_callbacks(execute=True):
            c.post(reverse("budget-provider-share-delete", args=[setup.pk, share.pk]))
        assert not ProviderShare.objects.exists()

    def test_shares_over_100_percent_are_refused_with_the_field_named(self, setup, planner, tree, org_a, org_b):
        c = client_for(planner)
        url = reverse("budget-provider-share-create", args=[setup.pk])
        c.post(url, {"region": tree["P11"].pk, "part": "preventive", "organization": org_a.pk, "share": "80"})
        response = c.post(url, {"region": tree["P11"].pk, "part": "preventive", "organization": org_b.pk, "share": "30"})
        assert response.status_code == 400
        assert "höchstens 100" in response.content.decode() and 'href="#id_share"' in response.content.decode()
        assert ProviderShare.objects.count() == 1

    def test_viewer_and_provider_cannot_post_shares(self, setup, viewer, provider_editor_a, tree, org_a):
        data = {"region": tree["P11"].pk, "part": "preventive", "organization": org_a.pk, "share": "10"}
        url = reverse("budget-provider-share-create", args=[setup.pk])
        assert client_for(viewer).post(url, data).status_code == 403
        assert client_for(provider_editor_a).post(url, data).status_code == 403
        assert not ProviderShare.objects.exists()

    def test_query_count(self, setup, planner, django_assert_max_num_queries):
        c = client_for(planner)
        c.get(reverse("budget-providers", args=[setup.pk]))
        with django_assert_max_num_queries(20):
            assert c.get(reverse("budget-providers", args=[setup.pk])).status_code == 200


@pytest.mark.django_db
class TestMyProviderBudget:
    def test_provider_sees_own_budget_and_spending(self, setup, provider_editor_a, org_a):
        html = client_for(provider_editor_a).get(reverse("my-provider-budget")).content.decode()
        assert '<a href="/budgets/traegerbudget/" aria-current="page">Mein Trägerbudget</a>' in html  # in the navigation
        assert "Jugendhilfe 2027" in html and "70,00\u00a0€" in html and "12,34\u00a0€" in html
        assert "200,00\u00a0€" in html  # the total over P11 and P12

    def test_other_provider_sees_none_of_it(self, setup, provider_editor_b):
        html = client_for(provider_editor_b).get(reverse("my-provider-budget")).content.decode()
        assert "noch kein Trägerbudget" in html and "70,00" not in html

    def test_staff_without_membership_are_refused(self, setup, viewer):
        assert client_for(viewer).get(reverse("my-provider-budget")).status_code == 403
