""""Mein Träger": the provider staff's page with their offerings (stale ones,
free places), agreements and pending confirmations, networks and open tasks,
and Trägerbudget — only their own organisation's; every table as CSV/XLSX with
the page's rows; query count pinned."""

import csv
import datetime
import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from budgets.models import Expenditure
from cooperation.choices import AgreementStatus, ServiceStatus
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


def rows_of(response):
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def sheet_of(response):
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)


def export(client, table, fmt="csv"):
    return client.get(URL, {"export": table, "format": fmt})


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


@pytest.fixture
def budgeted(budget, tree, field, org_a, org_b, planner, eager_celery, django_capture_on_commit_callbacks):
    """An adopted budget of 1000 €: A holds 10 % (100 €) and spent 12,34 €,
    B holds 30 % (300 €) and spent 312,50 € (over by 12,50 €)."""
    from budgets.services import adopt, run_allocation

    agreement = AgreementFactory(regions=[tree["CITY"]], fields=[field])
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
    AgreementPartyFactory(agreement=agreement, organization=org_a, budget_share=D(10))
    AgreementPartyFactory(agreement=agreement, organization=org_b, budget_share=D(30))
    with django_capture_on_commit_callbacks(execute=True):
        adopt(run_allocation(budget.pk), planner)
    for org, amount in ((org_a, "12.34"), (org_b, "312.50")):
        Expenditure.objects.create(budget=budget, region=tree["P11"], organization=org, part="case_specific",
                                   category="Personal", booking_date="2027-03-15", amount=D(amount))
    return budget


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


class TestMyProviderExports:
    """Each table of the page as CSV and XLSX: English column keys, the page's
    rows with typed values, only the user's own organisations."""

    def test_links_below_each_table(self, mine, budgeted, provider_editor_a):
        html = client_for(provider_editor_a).get(URL).content.decode()
        for table, caption in (("angebote", "Angebote, ihr Stand und ihre freien Plätze"),
                               ("aufgaben", "Offene Aufgaben meiner Organisation"),
                               ("budget", "Trägerbudget, Ausgaben und Rest je Sozialraumbudget")):
            assert f'href="{URL}?export={table}&amp;format=csv" download' in html
            assert f'href="{URL}?export={table}&amp;format=xlsx" download' in html
            assert f"Tabelle „{caption}“ herunterladen:" in html
        # the links follow their table (the HTML with its forms is unchanged)
        assert html.index('id="my-offerings"') < html.index("export=angebote") < html.index('id="my-tasks"')
        assert html.index('id="my-tasks"') < html.index("export=aufgaben") < html.index('id="my-budget"')
        assert html.index('id="my-budget"') < html.index("export=budget")

    def test_no_links_without_rows(self, org_a, provider_editor_a):
        html = client_for(provider_editor_a).get(URL).content.decode()
        assert "Noch keine Angebote." in html and "export=" not in html

    def test_offerings(self, mine, org_a, provider_editor_a):
        closed = ServiceFactory(name="Ferienfreizeit", organization=org_a, status=ServiceStatus.TEMPORARILY_CLOSED,
                                last_confirmed_at=timezone.now())
        ServiceFactory(name="Altes Angebot", organization=org_a, status=ServiceStatus.INACTIVE)  # not on the page
        client = client_for(provider_editor_a)
        stale = mine["stale"]
        confirmed = timezone.localtime(stale.last_confirmed_at).date()
        rows = rows_of(export(client, "angebote"))
        assert rows[0] == ["offering", "status", "organization", "last_confirmed", "confirmation_due", "free_places",
                           "capacity", "free_places_reported"]
        by_name = {r[0]: r for r in rows[1:]}
        assert list(by_name) == ["Elterncafé", "Ferienfreizeit", "Jugendtreff Nord"]  # the page's order
        assert by_name["Jugendtreff Nord"] == ["Jugendtreff Nord", "aktiv", "Träger A e. V.", confirmed.isoformat(),
                                               "ja", "3", "20", "2026-01-05"]
        assert by_name["Ferienfreizeit"][1:5] == ["vorübergehend geschlossen", "Träger A e. V.",
                                                  timezone.localdate(closed.last_confirmed_at).isoformat(), "nein"]
        assert by_name["Elterncafé"][5:] == ["", "", ""]

        sheet = sheet_of(export(client, "angebote", "xlsx"))
        assert sheet[0][0] == "offering" and len(sheet) == 4
        row = next(r for r in sheet if r[0] == "Jugendtreff Nord")
        assert row[1:5] == ("aktiv", "Träger A e. V.", datetime.datetime.combine(confirmed, datetime.time()), True)
        assert row[5:7] == (3, 20) and all(type(v) is int for v in row[5:7])
        assert row[7] == datetime.datetime(2026, 1, 5)

    def test_tasks(self, mine, provider_editor_a):
        client = client_for(provider_editor_a)
        due = timezone.localdate() - datetime.timedelta(days=2)
        rows = rows_of(export(client, "aufgaben"))
        assert rows == [["task", "network", "due", "overdue"],
                        ["Ferienangebote sammeln", "Sozialraumteam Nord", due.isoformat(), "ja"]]
        sheet = sheet_of(export(client, "aufgaben", "xlsx"))
        assert sheet == [("task", "network", "due", "overdue"),
                         ("Ferienangebote sammeln", "Sozialraumteam Nord",
                          datetime.datetime.combine(due, datetime.time()), True)]

    def test_budget(self, budgeted, provider_editor_a):
        client = client_for(provider_editor_a)
        assert rows_of(export(client, "budget")) == [
            ["budget", "fiscal_year", "allocated", "spent", "remaining", "exceeded"],
            ["Jugendhilfe", "2027", "100,00", "12,34", "87,66", "nein"]]
        sheet = sheet_of(export(client, "budget", "xlsx"))
        assert sheet[0] == ("budget", "fiscal_year", "allocated", "spent", "remaining", "exceeded")
        assert sheet[1] == ("Jugendhilfe", 2027, 100, 12.34, 87.66, False)
        assert type(sheet[1][1]) is int and all(isinstance(v, int | float) for v in sheet[1][2:5])

    def test_provider_b_gets_only_its_own_rows(self, mine, budgeted, provider_editor_b):
        client = client_for(provider_editor_b)
        offerings = rows_of(export(client, "angebote"))
        assert [r[:3] for r in offerings[1:]] == [["Schuldnerberatung B", "aktiv", "Träger B gGmbH"]]
        tasks = rows_of(export(client, "aufgaben"))
        assert [r[:2] for r in tasks[1:]] == [["Aufgabe von B", "Sozialraumteam Nord"]]
        assert rows_of(export(client, "budget"))[1:] == [["Jugendhilfe", "2027", "300,00", "312,50", "-12,50", "ja"]]
        for table in ("angebote", "aufgaben", "budget"):
            for fmt in ("csv", "xlsx"):
                content = export(client, table, fmt).content
                body = content.decode("utf-8-sig") if fmt == "csv" else str(sheet_of(export(client, table, fmt)))
                assert "Jugendtreff Nord" not in body and "Elterncafé" not in body
                assert "Ferienangebote sammeln" not in body and "Träger A" not in body and "12,34" not in body

    def test_unknown_table_or_format_and_refused_persona(self, mine, provider_editor_a, viewer):
        client = client_for(provider_editor_a)
        assert export(client, "vereinbarungen").status_code == 404
        assert export(client, "angebote", "pdf").status_code == 404
        assert export(client_for(viewer), "angebote").status_code == 403
        response = export(client, "angebote")
        assert response["Content-Disposition"].startswith('attachment; filename="mein-traeger-angebote-')

    def test_export_query_count(self, mine, budgeted, provider_editor_a, django_assert_max_num_queries):
        client = client_for(provider_editor_a)
        client.get(URL)
        with django_assert_max_num_queries(20):
            assert export(client, "budget", "xlsx").status_code == 200
