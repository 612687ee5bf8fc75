"""Budget pages: list, detail (allocation, runs, Neu berechnen, Beschließen) and
"Wie wird gerechnet?"; access per persona, query counts, English UI."""

import re
from decimal import Decimal as D

import pgtrigger
import pytest
from django.conf import settings
from django.test import Client

from budgets import services
from budgets.choices import RulePart, RunStatus, SplitMode, TermKind, Trigger
from budgets.models import Adoption, AllocationRule, AllocationRun, Budget, RegionBound, RuleTerm
from budgets.services import adopt, run_allocation
from core.models import FieldOfAction
from tests.factories import IndicatorFactory, IndicatorValueFactory, RegionFactory

pytestmark = pytest.mark.django_db


def client_for(user, language=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def text(response) -> str:
    """The page's text with tags dropped and whitespace collapsed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


def make_budget(tree, levels, scope="CITY", name="Jugendhilfe", total=D("1000.00")):
    field = FieldOfAction.objects.get_or_create(key="test-feld", defaults={"name": "Testfeld"})[0]
    need = IndicatorFactory(key="u18", name="Einwohner unter 18", rollup="none")
    budget = Budget.objects.create(name=name, fiscal_year=2027, field=field, scope_region=tree[scope],
                                   target_level=levels["planungsraum"], total=total,
                                   split_mode=SplitMode.PERCENT, case_specific=D(70), case_overarching=D(10),
                                   preventive=D(20))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL, base_amount=D("10.00"))
    RuleTerm.objects.create(rule=rule, kind=TermKind.INDICATOR, weight=D("0.6"), indicator=need,
                            period="2022-06-30", order=1)
    RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D("0.4"), order=2)
    return budget, need


@pytest.fixture
def budget(tree, levels):
    budget, need = make_budget(tree, levels)
    for code, value in (("P11", 100), ("P12", 250), ("P21", 650)):
        IndicatorValueFactory(indicator=need, region=tree[code], period="2022-06-30", value=value)
    return budget


@pytest.fixture
def run(budget):
    run = run_allocation(budget.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


@pytest.fixture
def budget_d2_pages(tree, levels):
    budget, need = make_budget(tree, levels, scope="D2", name="Nur D2")
    return budget


@pytest.fixture
def big_budget(tree, levels, planner):
    """A budget over 15 regions (12 extra), with a cap, two runs, one adopted."""
    budget, need = make_budget(tree, levels, total=D("1000000.00"))
    for i in range(12):
        region = RegionFactory(code=f"P3{i:02d}", name=f"Raum {i}", level=levels["planungsraum"],
                               parent=tree["D2"])
        IndicatorValueFactory(indicator=need, region=region, period="2022-06-30", value=10 + i)
    for code, value in (("P11", 100), ("P12", 250), ("P21", 650)):
        IndicatorValueFactory(indicator=need, region=tree[code], period="2022-06-30", value=value)
    RegionBound.objects.create(rule=budget.rules.get(), region=tree["P21"], cap=D("100000.00"))
    adopt(run_allocation(budget.pk), planner)
    budget.total = D("1200000.00")
    budget.save()
    run_allocation(budget.pk, Trigger.BUDGET_CHANGE)
    return budget


class TestAccess:
    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead"])
    def test_pages_render(self, budget, run, personas, persona):
        client = client_for(personas[persona])
        for url in ("/budgets/", f"/budgets/{budget.pk}/", f"/budgets/{budget.pk}/wie-wird-gerechnet/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert "Jugendhilfe" in text(response)

    def test_anonymous_is_sent_to_login(self, budget):
        for url in ("/budgets/", f"/budgets/{budget.pk}/", f"/budgets/{budget.pk}/wie-wird-gerechnet/"):
            response = client_for(None).get(url)
            assert response.status_code == 302 and "/anmelden/" in response["Location"]
        response = client_for(None).post(f"/budgets/{budget.pk}/neu-berechnen/")
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_scoped_users_without_visibility_get_404(self, tree, levels, scoped_planner, planner):
        hidden, _ = make_budget(tree, levels, scope="D1", name="Nordbudget")
        run = run_allocation(hidden.pk)
        client = client_for(scoped_planner)  # planner for D2 only: D1 is not theirs
        for url in (f"/budgets/{hidden.pk}/", f"/budgets/{hidden.pk}/wie-wird-gerechnet/"):
            assert client.get(url).status_code == 404
        assert client.post(f"/budgets/{hidden.pk}/neu-berechnen/").status_code == 404
        assert client.post(f"/budgets/{hidden.pk}/berechnungen/{run.pk}/beschliessen/").status_code == 404
        assert "Nordbudget" not in text(client.get("/budgets/"))
        assert "Nordbudget" in text(client_for(planner).get("/budgets/"))

    def test_nav_links_to_budgets(self, viewer):
        response = client_for(viewer).get("/budgets/")
        assert 'href="/budgets/" aria-current="page"' in response.content.decode()


class TestList:
    def test_columns_and_money_format(self, budget, run, planner):
        adopt(run, planner)
        Budget.objects.create(name="Altenhilfe", fiscal_year=2026, field=budget.field, scope_region=budget.scope_region,
                              target_level=budget.target_level, total=D("1234567.89"),
                              split_mode=SplitMode.PERCENT, case_specific=D(100))
        page = text(client_for(planner).get("/budgets/"))
        assert "1.234.567,89 €" in page and "1.000,00 €" in page
        assert f"ja (Berechnung #{run.pk})" in page and "nein" in page
        assert "Testfeld" in page and "Teststadt" in page and "Planungsraum" in page and "Entwurf" in page

    def test_filter_by_the_api_filterset(self, budget, planner):
        Budget.objects.create(name="Altenhilfe", fiscal_year=2026, field=budget.field, scope_region=budget.scope_region,
                              target_level=budget.target_level, total=D("5.00"), split_mode=SplitMode.PERCENT,
                              case_specific=D(100))
        page = text(client_for(planner).get("/budgets/", {"fiscal_year": 2026}))
        assert "Altenhilfe" in page and "Jugendhilfe" not in page

    def test_query_count(self, big_budget, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get("/budgets/")  # warm the session
        with django_assert_max_num_queries(6):
            assert client.get("/budgets/").status_code == 200


class TestDetail:
    def test_parts_rules_and_allocation_sum(self, budget, run, viewer):
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/"))
        assert "700,00 €" in page and "100,00 €" in page and "200,00 €" in page  # the three parts
        assert "Einwohner unter 18" in page and "60 %" in page and "40 %" in page and "30.06.2022" in page
        assert "noch nicht beschlossen" in page
        assert "Summe" in page
        html = client_for(viewer).get(f"/budgets/{budget.pk}/").content.decode()
        assert re.search(r'data-testid="allocation-sum">1\.000,00\xa0€<', html)
        # viewers see no buttons
        assert "/neu-berechnen/" not in html and "/beschliessen/" not in html

    def test_adopted_run_is_shown(self, budget, run, planner):
        adopt(run, planner)
        budget.total = D("2000.00")
        budget.save()
        newer = run_allocation(budget.pk)
        assert newer.pk != run.pk
        response = client_for(planner).get(f"/budgets/{budget.pk}/")
        page = text(response)
        assert f"Beschlossene Verteilung (Berechnung #{run.pk})" in page
        assert "noch nicht beschlossen" not in page
        assert "Sie beruht auf einem Gesamtbetrag von 1.000,00 €" in page
        assert re.search(r'data-testid="allocation-sum">1\.000,00\xa0€<', response.content.decode())
        assert f"/berechnungen/{newer.pk}/beschliessen/" in response.content.decode()
        assert f"/berechnungen/{run.pk}/beschliessen/" not in response.content.decode()  # already adopted

    def test_without_runs(self, budget, viewer):
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/"))
        assert "Noch keine fertige Berechnung." in page and "Noch keine Berechnungen." in page
        assert "noch keine fertige Berechnung" in text(client_for(viewer).get(f"/budgets/{budget.pk}/wie-wird-gerechnet/"))

    def test_run_history_and_change_history(self, budget, planner):
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)
        budget.name = "Jugendhilfe neu"
        budget.save()
        page = text(client_for(planner).get(f"/budgets/{budget.pk}/"))
        assert f"{failed.pk}" in page and "fehlgeschlagen" in page and "Verteilungsschlüssel" in page
        assert "Änderungsverlauf" in page and "Jugendhilfe neu" in page

    def test_query_count(self, big_budget, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get(f"/budgets/{big_budget.pk}/")
        with django_assert_max_num_queries(18):  # 16 + the allocation per resident (2) behind the map
            response = client.get(f"/budgets/{big_budget.pk}/")
        assert response.status_code == 200
        assert re.search(r'data-testid="allocation-sum">1\.000\.000,00\xa0€<', response.content.decode())


class TestActions:
    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "scoped_planner"])
    def test_refused(self, budget, run, persona, request):
        client = client_for(request.getfixturevalue(persona))
        assert client.post(f"/budgets/{budget.pk}/neu-berechnen/").status_code == 403
        assert client.post(f"/budgets/{budget.pk}/berechnungen/{run.pk}/beschliessen/").status_code == 403
        assert not Adoption.objects.exists()

    def test_get_not_allowed(self, budget, planner):
        assert client_for(planner).get(f"/budgets/{budget.pk}/neu-berechnen/").status_code == 405

    def test_recompute(self, budget, planner, eager_celery, django_capture_on_commit_callbacks):
        client = client_for(planner)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/budgets/{budget.pk}/neu-berechnen/")
        assert response.status_code == 302 and response["Location"] == f"/budgets/{budget.pk}/"
        new = AllocationRun.objects.get()
        assert new.status == RunStatus.SUCCEEDED and new.trigger == Trigger.MANUAL and new.triggered_by == planner
        page = text(client.get(response["Location"]))
        assert "Neuberechnung angefordert" in page and "„Neu berechnen“" in page

    def test_adopt(self, budget, run, planner):
        client = client_for(planner)
        response = client.post(f"/budgets/{budget.pk}/berechnungen/{run.pk}/beschliessen/")
        assert response.status_code == 302
        assert Budget.objects.get(pk=budget.pk).adopted_run == run
        assert Adoption.objects.get().adopted_by == planner
        assert f"Berechnung #{run.pk} beschlossen." in text(client.get(response["Location"]))

    def test_adopt_refuses_failed_run_and_other_budgets_runs(self, budget, tree, levels, planner):
        other, _ = make_budget(tree, levels, name="Andere")
        other_run = run_allocation(other.pk)
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)
        client = client_for(planner)
        response = client.post(f"/budgets/{budget.pk}/berechnungen/{failed.pk}/beschliessen/", follow=True)
        assert "Nur eine fertige Berechnung" in text(response)
        assert client.post(f"/budgets/{budget.pk}/berechnungen/{other_run.pk}/beschliessen/").status_code == 404
        assert not Adoption.objects.exists()


class TestRunProgress:
    """The page says when a run waits or runs; a JSON status endpoint feeds the
    status line's script (static/js/run-status.js) while it is under way."""

    def test_no_status_line_when_nothing_is_under_way(self, budget, run, viewer):
        html = client_for(viewer).get(f"/budgets/{budget.pk}/").content.decode()
        assert 'class="run-status notice" role="status" aria-live="polite"' in html
        assert re.search(r'data-active=""[^>]*hidden', html)
        assert "js/run-status" in html

    def test_a_waiting_run_is_shown(self, budget, run, viewer):
        waiting = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.MANUAL)
        html = client_for(viewer).get(f"/budgets/{budget.pk}/").content.decode()
        assert f'data-active="{waiting.pk}"' in html
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/"))
        assert f"Berechnung #{waiting.pk} wartet auf die Ausführung" in page and "Stand aktualisieren" in page

    def test_a_resumed_run_is_shown_with_its_attempt(self, budget, run, viewer):
        from django.utils import timezone

        running = AllocationRun.objects.create(budget=budget, status=RunStatus.RUNNING, attempts=2,
                                               started_at=timezone.now())
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/"))
        assert f"Berechnung #{running.pk} läuft seit" in page and "Versuch 2" in page

    def test_duration_of_finished_runs(self, budget, run, viewer):
        from datetime import timedelta

        with pgtrigger.ignore("budgets.AllocationRun:finished_run_immutable"):
            AllocationRun.objects.filter(pk=run.pk).update(finished_at=run.started_at + timedelta(seconds=1.234))
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/"))
        assert "Dauer" in page and "1,23 s" in page

    def test_status_endpoint(self, budget, run, viewer):
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/berechnungen/stand/"
        assert client.get(url).json() == {
            "active": None,
            "finished": {"id": run.pk, "status": "succeeded", "text": f"Berechnung #{run.pk} ist fertig."},
        }
        waiting = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED)
        data = client.get(url).json()
        assert data["active"]["id"] == waiting.pk and data["active"]["status"] == "queued"
        assert "wartet" in data["active"]["text"]

    def test_status_endpoint_access(self, budget_d2_pages, region_lead):
        url = f"/budgets/{budget_d2_pages.pk}/berechnungen/stand/"
        assert client_for(region_lead).get(url).status_code == 404  # the D1 lead does not see a D2 budget
        assert client_for(None).get(url).status_code == 302  # to the login page

    def test_the_script_is_served_by_the_app(self):
        from django.contrib.staticfiles import finders

        path = finders.find("js/run-status.js")
        assert path is not None
        source = open(path, encoding="utf-8").read()
        assert "/berechnungen/stand/" not in source  # the URL comes from the page (data-status-url)
        assert "getAttribute(\"data-status-url\")" in source and "http" not in source.replace("https://", "")


class TestExplanation:
    def test_words_inputs_and_breakdown(self, budget, run, viewer):
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/wie-wird-gerechnet/"))
        assert "noch nicht beschlossen" in page
        assert "1.000,00 €" in page and "700,00 €" in page and "100,00 €" in page and "200,00 €" in page
        assert "60 % nach dem Anteil am Indikator „Einwohner unter 18“ (Stand 30.06.2022)" in page
        assert "40 % zu gleichen Teilen" in page
        # the case-specific part: 700 € − 3 × 10 € base = 670 € to share
        assert "Jeder der 3 Räume erhält vorab 10,00 €, zusammen 30,00 €. Zu verteilen bleiben 670,00 €." in page
        assert "größten" in page and "kleineren Schlüssel" in page
        # inputs and share of P21: 0.6 × 650/1000 + 0.4 / 3 = 52.3333 %
        assert "650" in page and "52,3333 %" in page
        # its breakdown for the case-specific part: Sockel 10, 0.6 × 670 × 0.65 = 261.30, 0.4 × 670 / 3 = 89.333333
        row = re.search(r"Süd-Mitte \(P21\)(.*?)(Süd-Mitte|Summe)", page).group(1)
        assert "10,00 €" in row and "261,30 €" in row and "89,333333 €" in row and "360,63 €" in row
        assert "Sockel" in page and "gleiche Anteile" in page and "Rundung" in page

    def test_breakdown_adds_up_and_replay_gives_the_stored_cents(self, budget, run):
        results = services.replay(run)
        for allocation in run.allocations.select_related("region"):
            replayed = results[allocation.part].by_code()[allocation.region.code]
            assert replayed.amount == allocation.amount
            assert sum(replayed.breakdown.values()) == allocation.amount
        assert services.verify(run) == []

    def test_a_stored_amount_that_differs_from_the_replay_is_flagged(self, budget, run, viewer):
        allocation = run.allocations.select_related("region").get(region__code="P21", part="preventive")
        with pgtrigger.ignore("budgets.Allocation:allocation_immutable"):  # tampering, for the test
            type(allocation).objects.filter(pk=allocation.pk).update(amount=allocation.amount + D("0.01"))
        assert services.verify(run) == [
            f"P21 fallunspezifisch (präventiv): gespeichert {allocation.amount + D('0.01')}, nachgerechnet {allocation.amount}"
        ]
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/wie-wird-gerechnet/"))
        assert "Nachrechnung weicht ab" in page and "P21 (fallunspezifisch (präventiv))" in page

    def test_explains_the_adopted_run_with_bounds(self, big_budget, planner, tree):
        adopted = big_budget.adopted_run
        page = text(client_for(planner).get(f"/budgets/{big_budget.pk}/wie-wird-gerechnet/"))
        assert f"Erklärt wird die beschlossene Berechnung #{adopted.pk}" in page
        assert "1.000.000,00 €" in page and "1.200.000,00 €" not in page  # the adopted run's total
        assert "fallspezifisch: 700.000,00 € fallübergreifend: 100.000,00 € fallunspezifisch (präventiv): 200.000,00 €" in page
        assert "Raum P21: Obergrenze 100.000,00 €" in page and "an der Obergrenze" in page and "Begrenzung" in page

    def test_query_count(self, big_budget, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get(f"/budgets/{big_budget.pk}/wie-wird-gerechnet/")
        with django_assert_max_num_queries(9):
            assert client.get(f"/budgets/{big_budget.pk}/wie-wird-gerechnet/").status_code == 200


class TestEnglish:
    def test_pages_in_english(self, budget, run, planner):
        client = client_for(planner, language="en")
        page = text(client.get("/budgets/"))
        assert "1,000.00 €" in page, page
        assert ">Finance<" in client.get("/budgets/").content.decode()
        detail = text(client.get(f"/budgets/{budget.pk}/"))
        assert "Recompute" in detail and "not yet adopted" in detail
        explanation = text(client.get(f"/budgets/{budget.pk}/wie-wird-gerechnet/"))
        assert "How is it calculated?" in explanation
        assert "60 % by the share of the indicator “Einwohner unter 18” (as of 06/30/2022)" in explanation
        assert "40 % in equal shares" in explanation
