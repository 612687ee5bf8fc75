""""Mein Träger": the provider staff's page with their offerings (stale ones,
free places), agreements and pending confirmations, networks and open tasks,
and Trägerbudget — only their own organisation's; query count pinned."""

import datetime
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from cooperation.choices import AgreementStatus
from cooperation.models import Agreement, Service
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    MeetingTaskFactory,
    NetworkFactory,
    NetworkMemberFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db
URL = "/mein-traeger/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mine(org_a, org_b):
    stale = ServiceFactory(name="Jugendtreff Nord", organization=org_a, capacity=20, free_places=3,
                           free_places_reported_at=datetime.date(2026, 1, 5))
    Service.objects.filter(pk=stale.pk).update(last_confirmed_at=timezone.now() - datetime.timedelta(days=800),
                                                created_at=timezone.now() - datetime.timedelta(days=800))
    ServiceFactory(name="Elterncafé", organization=org_a, last_confirmed_at=timezone.now())
    ServiceFactory(name="Schuldnerberatung B", organization=org_b)
    pending = AgreementFactory(title="Trägerverbund Prävention")
    Agreement.objects.filter(pk=pending.pk).update(status=AgreementStatus.NEGOTIATION)
    AgreementPartyFactory(agreement=pending, organization=org_a, role="lead")
    others = AgreementFactory(title="Vereinbarung nur B")
    AgreementPartyFactory(agreement=others, organization=org_b)
    network = NetworkFactory(name="Sozialraumteam Nord", coordinator=org_b)
    NetworkMemberFactory(network=network, organization=org_a)
    MeetingTaskFactory(meeting__network=network, responsible=org_a, title="Ferienangebote sammeln",
                       due=timezone.localdate() - datetime.timedelta(days=2))
    MeetingTaskFactory(meeting__network=network, responsible=org_b, title="Aufgabe von B")
    return {"stale": Service.objects.get(pk=stale.pk), "pending": pending}


class TestMyProvider:
    def test_everything_of_my_organisation_and_nothing_else(self, mine, provider_editor_a):
        html = client_for(provider_editor_a).get(URL).content.decode()
        assert "Jugendtreff Nord" in html and "Bitte bestätigen" in html and "Elterncafé" in html
        assert "Schuldnerberatung B" not in html and "Vereinbarung nur B" not in html and "Aufgabe von B" not in html
        assert "Trägerverbund Prävention" in html and "bestätigen" in html
        assert "Sozialraumteam Nord" in html and "Ferienangebote sammeln" in html and "überfällig" in html
        assert 'id="free-' in html and 'max="20"' in html

    def test_staff_without_membership_are_refused_and_nav_link_for_providers(self, mine, viewer, provider_editor_a):
        assert client_for(viewer).get(URL).status_code == 403
        assert 'href="/mein-traeger/"' in client_for(provider_editor_a).get("/raeume/").content.decode()
        assert 'href="/mein-traeger/"' not in client_for(viewer).get("/raeume/").content.decode()

    def test_update_free_places(self, mine, provider_editor_a, provider_editor_b):
        stale = mine["stale"]
        url = f"/organisationen/angebote/{stale.uuid}/freie-plaetze/"
        response = client_for(provider_editor_a).post(url, {"free_places": "5", "next": URL})
        assert response.status_code == 302 and response["Location"] == URL
        stale.refresh_from_db()
        assert stale.free_places == 5 and stale.free_places_reported_at == timezone.localdate()
        client_for(provider_editor_a).post(url, {"free_places": "21", "next": URL})  # above the capacity
        client_for(provider_editor_a).post(url, {"free_places": "zwei", "next": URL})
        stale.refresh_from_db()
        assert stale.free_places == 5
        assert client_for(provider_editor_b).post(url, {"free_places": "1"}).status_code == 404
        client_for(provider_editor_a).post(url, {"free_places": ""})
        stale.refresh_from_db()
        assert stale.free_places is None and stale.free_places_reported_at is None

    def test_trägerbudget_totals(self, mine, provider_editor_a, budget, tree, field, org_a, planner, eager_celery,
                                 django_capture_on_commit_callbacks):
        from budgets.services import adopt, run_allocation

        agreement = AgreementFactory(regions=[tree["CITY"]], fields=[field])
        Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
        AgreementPartyFactory(agreement=agreement, organization=org_a, budget_share=D(10))
        with django_capture_on_commit_callbacks(execute=True):
            adopt(run_allocation(budget.pk), planner)
        html = client_for(provider_editor_a).get(URL).content.decode()
        assert "Jugendhilfe 2027" in html and "100,00\u00a0€" in html  # 10 % of 1000 €

    def test_numbers_in_the_form_are_not_localised(self, org_a, provider_editor_a):
        service = ServiceFactory(name="Großes Angebot", organization=org_a, capacity=1500, free_places=1200,
                                 free_places_reported_at=datetime.date(2026, 11, 1))
        html = client_for(provider_editor_a).get(URL).content.decode()
        assert f'id="free-{service.uuid}"' in html and 'max="1500"' in html and 'value="1200"' in html

    def test_query_count(self, mine, provider_editor_a, django_assert_max_num_queries):
        client = client_for(provider_editor_a)
        client.get(URL)
        with django_assert_max_num_queries(20):
            assert client.get(URL).status_code == 200
