"""Every table of the budget pages as CSV and XLSX (``?export=<table>&format=csv|xlsx``,
``core.tables``): detail (parts, rules, bounds, runs), "Wie wird gerechnet?", utilisation,
comparison, what-if, Trägerbudgets and "Mein Trägerbudget". The files hold the rows the page
shows, typed (money to the cent, whole numbers whole; German decimal comma in the CSV); every
table on a page has its links; an unknown table is 404; whoever may not see a page gets the
same refusal for its files; an export runs no more queries than the page."""

import csv
import datetime
import html as html_lib
import io
import re
from decimal import Decimal as D

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from budgets.choices import Part, RulePart, SplitMode, TermKind
from budgets.models import AllocationRule, Budget, Expenditure, ProviderShare, RegionBound, RuleTerm
from budgets.providers import recompute
from budgets.services import adopt, run_allocation
from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from regions.models import IndicatorValue
from tests.factories import AgreementFactory, AgreementPartyFactory, MembershipFactory

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def client_for(user, language=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="budget-') or \
        response["Content-Disposition"].startswith('attachment; filename="mein-traegerbudget-')
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")  # BOM for German Excel
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def xlsx_rows(response) -> list[tuple]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == XLSX
    return list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)


def export(client, url, key, fmt="csv", **params):
    return client.get(url, {**params, "export": key, "format": fmt})


def export_keys(html: str) -> list[str]:
    return re.findall(r'data-table-export="([^"]+)"', html)


def assert_every_table_has_links(html: str):
    """Each <table> on the page is followed by its download links before the next table."""
    segments = html.split("<table")[1:]
    assert segments, "no table on the page"
    for segment in segments:
        assert 'class="export-links"' in segment, segment[:200]


def assert_links_work(client, html: str):
    """Every CSV/XLSX link of a table on the page answers with its file."""
    hrefs = [html_lib.unescape(h) for h in re.findall(r'href="([^"]*[?&](?:amp;)?export=[^"]+)"', html)]
    assert hrefs
    for href in hrefs:
        response = client.get(href)
        assert response.status_code == 200, href
        assert response["Content-Type"] in ("text/csv; charset=utf-8", XLSX), href


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def hidden_budget(tree, levels, field):
    """A budget of district D1: invisible to the planner limited to D2."""
    budget = Budget.objects.create(name="Nordbudget", fiscal_year=2027, field=field, scope_region=tree["D1"],
                                   target_level=levels["planungsraum"], total=D("100.00"),
                                   split_mode=SplitMode.PERCENT, case_specific=D(100), case_overarching=D(0),
                                   preventive=D(0))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D(1))
    run_allocation(budget.pk)
    return budget


@pytest.fixture
def adopted(budget, planner):
    """The shared budget (1000 € by "kinder" 1:1:2, parts 70/10/20 %) with its run adopted:
    P11 and P12 get 175 / 25 / 50 €, P21 350 / 50 / 100 €."""
    run = run_allocation(budget.pk)
    adopt(run, planner)
    return run


@pytest.fixture
def bounded(budget, tree, planner):
    """A cap of 300 € on P21 (per part): case-specific 700 € → P21 300 €, P11 and P12 200 € each."""
    RegionBound.objects.create(rule=budget.rules.get(), region=tree["P21"], cap=D("300.00"))
    run = run_allocation(budget.pk)
    adopt(run, planner)
    return run


@pytest.fixture
def bookings(budget, tree):
    def spend(region, part, day, amount, category):
        Expenditure.objects.create(budget=budget, region=tree[region], part=part, category=category,
                                   booking_date=datetime.date.fromisoformat(day), amount=D(amount))

    spend("P11", Part.CASE_SPECIFIC, "2027-01-15", "100.00", "Personal")
    spend("P21", Part.PREVENTIVE, "2027-03-02", "150.00", "Sachkosten")
    spend("P12", Part.CASE_OVERARCHING, "2027-03-20", "-12.50", "Sachkosten")


@pytest.fixture
def two_runs(budget):
    """Run 1: "kinder" 1:1:2 → P11 250, P12 250, P21 500 €. Run 2: P21's value 3 →
    P11 200, P12 200, P21 600 €."""
    first = run_allocation(budget.pk)
    IndicatorValue.objects.filter(region__code="P21", indicator__key="kinder").update(value=3)
    second = run_allocation(budget.pk)
    return first, second


@pytest.fixture
def providers_setup(tree, field, org_a, budget, planner, eager_celery, django_capture_on_commit_callbacks):
    """Adopted; an agreement gives org A 40 % in D1 (P11, P12); an explicit share gives
    org A 25,5 % of P21's preventive part; org A spent 12,34 € in P11, case-specific."""
    with django_capture_on_commit_callbacks(execute=True):
        adopt(run_allocation(budget.pk), planner)
    agreement = AgreementFactory(regions=[tree["D1"]], fields=[field], title="Jugendarbeit Nord")
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ACTIVE)
    AgreementPartyFactory(agreement=agreement, organization=org_a, budget_share=D(40))
    ProviderShare.objects.create(budget=budget, region=tree["P21"], part=Part.PREVENTIVE, organization=org_a,
                                 share=D("25.5"))
    recompute(budget.pk)
    Expenditure.objects.create(budget=budget, region=tree["P11"], part=Part.CASE_SPECIFIC, category="Personal",
                               booking_date=datetime.date(2027, 2, 1), amount=D("12.34"), organization=org_a)
    return budget


# --- Budget detail ---------------------------------------------------------------------------


class TestDetail:
    def test_every_table_has_working_links(self, budget, bounded, viewer):
        client = client_for(viewer)
        html = client.get(f"/budgets/{budget.pk}/").content.decode()
        assert export_keys(html) == ["teile", "grundlagen-all", "grenzen-all", "berechnungen"]
        assert 'data-table="je-einwohner"' in html  # the map's table keeps its own links
        assert_links_work(client, html)

    def test_parts(self, budget, viewer):
        client = client_for(viewer)
        rows = csv_rows(export(client, f"/budgets/{budget.pk}/", "teile"))
        assert rows == [
            ["part", "setting", "setting_unit", "amount"],
            ["fallspezifisch", "70", "%", "700,00"],
            ["fallübergreifend", "10", "%", "100,00"],
            ["fallunspezifisch (präventiv)", "20", "%", "200,00"],
            ["Summe", "", "", "1000,00"],
        ]
        sheet = xlsx_rows(export(client, f"/budgets/{budget.pk}/", "teile", "xlsx"))
        assert sheet[1] == ("fallspezifisch", 70, "%", 700) and is_number(sheet[1][3])
        assert sheet[-1] == ("Summe", None, None, 1000)

    def test_parts_in_euros(self, budget, viewer):
        Budget.objects.filter(pk=budget.pk).update(split_mode=SplitMode.AMOUNT, case_specific=D("600.50"),
                                                   case_overarching=D("399.50"), preventive=D(0))
        rows = csv_rows(export(client_for(viewer), f"/budgets/{budget.pk}/", "teile"))
        assert rows[1] == ["fallspezifisch", "600,5", "€", "600,50"]
        assert rows[3] == ["fallunspezifisch (präventiv)", "0", "€", "0,00"]

    def test_terms_and_bounds(self, budget, bounded, planner):
        client = client_for(planner)
        rule = budget.rules.get()
        RuleTerm.objects.filter(rule=rule).update(weight=D("0.75"), period="2022")
        RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D("0.25"), order=2)
        rows = csv_rows(export(client, f"/budgets/{budget.pk}/", "grundlagen-all"))
        assert rows == [["kind", "weight", "indicator", "factor", "period"],
                        ["Anteil an einem Indikator", "75", "Kinder", "", "2022"],
                        ["gleiche Anteile", "25", "", "", ""]]
        sheet = xlsx_rows(export(client, f"/budgets/{budget.pk}/", "grundlagen-all", "xlsx"))
        assert sheet[1] == ("Anteil an einem Indikator", 75, "Kinder", None, "2022") and is_number(sheet[1][1])
        rows = csv_rows(export(client, f"/budgets/{budget.pk}/", "grenzen-all"))
        assert rows == [["region", "code", "floor", "cap"], ["Süd-Mitte", "P21", "", "300,00"]]
        sheet = xlsx_rows(export(client, f"/budgets/{budget.pk}/", "grenzen-all", "xlsx"))
        assert sheet[1] == ("Süd-Mitte", "P21", None, 300) and is_number(sheet[1][3])

    def test_rules_per_part(self, budget, viewer):
        AllocationRule.objects.create(budget=budget, part=RulePart.PREVENTIVE)
        client = client_for(viewer)
        html = client.get(f"/budgets/{budget.pk}/").content.decode()
        assert "grundlagen-all" in export_keys(html)
        assert "grundlagen-preventive" not in export_keys(html)  # a rule without terms: no table, no links
        assert csv_rows(export(client, f"/budgets/{budget.pk}/", "grundlagen-preventive")) == [
            ["kind", "weight", "indicator", "factor", "period"]]

    def test_runs(self, budget, adopted, planner):
        client = client_for(planner)
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)  # no rule: fails
        adopted.refresh_from_db()
        rows = csv_rows(export(client, f"/budgets/{budget.pk}/", "berechnungen"))
        assert rows[0] == ["run", "created_at", "status", "adopted", "duration_seconds", "trigger", "triggered_by",
                           "error"]
        created = timezone.localtime(adopted.created_at).strftime("%Y-%m-%d %H:%M:%S")
        duration = (adopted.finished_at - adopted.started_at).total_seconds()
        assert rows[2][:4] == [str(adopted.pk), created, "fertig", "ja"]
        assert rows[2][4] == f"{D(duration).quantize(D('0.01'))}".replace(".", ",")
        assert rows[2][5:] == ["„Neu berechnen“", "System", ""]
        assert rows[1][:4] == [str(failed.pk), rows[1][1], "fehlgeschlagen", "nein"] and rows[1][7]  # the error
        sheet = xlsx_rows(export(client, f"/budgets/{budget.pk}/", "berechnungen", "xlsx"))
        assert sheet[2][0] == adopted.pk and isinstance(sheet[2][0], int)
        assert sheet[2][1] == timezone.localtime(adopted.created_at).replace(tzinfo=None, microsecond=0)
        assert sheet[2][3] is True and is_number(sheet[2][4])

    def test_unknown_table_or_format_is_404(self, budget, adopted, viewer):
        client = client_for(viewer)
        assert export(client, f"/budgets/{budget.pk}/", "nope").status_code == 404
        assert export(client, f"/budgets/{budget.pk}/", "teile", "pdf").status_code == 404

    def test_refused_like_the_page(self, tree, levels, field, scoped_planner, planner):
        hidden = hidden_budget(tree, levels, field)
        assert export(client_for(planner), f"/budgets/{hidden.pk}/", "teile").status_code == 200
        for key in ("teile", "grundlagen-all", "berechnungen"):
            assert export(client_for(scoped_planner), f"/budgets/{hidden.pk}/", key).status_code == 404
        response = export(client_for(None), f"/budgets/{hidden.pk}/", "teile")
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_english_ui_keeps_the_column_keys(self, budget, viewer):
        rows = csv_rows(export(client_for(viewer, "en"), f"/budgets/{budget.pk}/", "teile"))
        assert rows[0] == ["part", "setting", "setting_unit", "amount"] and rows[1][1:] == ["70", "%", "700,00"]
        assert rows[1][0] != "fallspezifisch"  # the part's label in English


# --- "Wie wird gerechnet?" --------------------------------------------------------------------


class TestExplanation:
    def test_every_table_has_working_links(self, budget, bounded, viewer):
        client = client_for(viewer)
        html = client.get(f"/budgets/{budget.pk}/wie-wird-gerechnet/").content.decode()
        assert export_keys(html) == ["teil-case_specific", "teil-case_overarching", "teil-preventive"]
        assert_every_table_has_links(html)
        assert_links_work(client, html)

    def test_inputs_share_breakdown_and_bound(self, budget, bounded, viewer):
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/wie-wird-gerechnet/"
        rows = csv_rows(export(client, url, "teil-case_specific"))
        # 700 € by 1:1:2: P21 would get 350 € and is capped at 300 €; the others share the rest in
        # proportion (the engine scales the term, and P21's bound takes back what is over its cap)
        assert rows[0] == ["region", "code", "bound", "input_kinder", "share", "base", "term_kinder",
                           "bound_adjustment", "amount"]
        assert rows[1] == ["Nord-West", "P11", "", "1", "25,0000", "0,00", "200,00", "", "200,00"]
        assert rows[3] == ["Süd-Mitte", "P21", "Obergrenze", "2", "50,0000", "0,00", "400,00", "-100,00", "300,00"]
        assert rows[4] == ["Summe", "", "", "", "", "", "", "", "700,00"]
        sheet = xlsx_rows(export(client, url, "teil-case_specific", "xlsx"))
        assert sheet[3] == ("Süd-Mitte", "P21", "Obergrenze", 2, 50, 0, 400, -100, 300)
        assert all(is_number(v) for v in sheet[3][3:])
        # the page shows the same numbers
        page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(url).content.decode())).replace("\xa0", " ")
        assert "Süd-Mitte (P21) – an der Obergrenze 2 50,0000 % 0,00 € 400,00 € -100,00 € 300,00 €" in page
        assert "Nord-West (P11) 1 25,0000 % 0,00 € 200,00 € – 200,00 €" in page

    def test_exact_breakdown_decimals(self, budget, planner, tree):
        """A third of a cent stays exact in the breakdown, as on the page."""
        Budget.objects.filter(pk=budget.pk).update(total=D("100.00"))
        IndicatorValue.objects.filter(indicator__key="kinder").update(value=1)
        adopt(run_allocation(budget.pk), planner)
        rows = csv_rows(export(client_for(planner), f"/budgets/{budget.pk}/wie-wird-gerechnet/", "teil-case_specific"))
        # 70 € / 3 = 23,333333 €; the leftover cent goes to P11 (largest remainder, then code)
        assert rows[1][-3:] == ["23,333333", "0,006667", "23,34"]
        assert rows[2][-3:] == ["23,333333", "-0,003333", "23,33"]
        assert rows[0][-2] == "rounding"

    def test_exports_the_page_shown(self, budget, bounded, viewer, monkeypatch):
        monkeypatch.setattr("budgets.views.EXPLANATION_PAGE_SIZE", 2)
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/wie-wird-gerechnet/"
        rows = csv_rows(export(client, url, "teil-preventive"))
        assert [r[:2] for r in rows[1:]] == [["Nord-West", "P11"], ["Nord-Ost", "P12"], ["Summe", ""]]
        page2 = client.get(url, {"page": 2}).content.decode()
        assert "page=2" in html_lib.unescape(re.search(r'href="([^"]*export=teil-preventive[^"]*)"', page2).group(1))
        rows = csv_rows(export(client, url, "teil-preventive", page=2))
        assert [r[:2] for r in rows[1:]] == [["Süd-Mitte", "P21"], ["Summe", ""]]
        assert rows[-1][-1] == "200,00"  # the part's sum over all regions, as on the page

    def test_unknown_and_refused(self, budget, tree, levels, field, scoped_planner, viewer):
        assert export(client_for(viewer), f"/budgets/{budget.pk}/wie-wird-gerechnet/", "teil-x").status_code == 404
        hidden = hidden_budget(tree, levels, field)
        response = export(client_for(scoped_planner), f"/budgets/{hidden.pk}/wie-wird-gerechnet/", "teil-case_specific")
        assert response.status_code == 404


# --- Utilisation -------------------------------------------------------------------------------


class TestUtilisation:
    def test_every_table_has_working_links(self, budget, adopted, bookings, viewer):
        client = client_for(viewer)
        html = client.get(f"/budgets/{budget.pk}/auslastung/").content.decode()
        assert export_keys(html) == ["raeume", "kostenarten", "monate"]
        assert_every_table_has_links(html)
        assert_links_work(client, html)

    def test_regions_and_parts(self, budget, adopted, bookings, viewer):
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/auslastung/"
        rows = csv_rows(export(client, url, "raeume"))
        assert rows[0] == ["region", "code", "part", "allocated", "spent", "remaining", "percent"]
        assert rows[1:5] == [
            ["Nord-West", "P11", "fallspezifisch", "175,00", "100,00", "75,00", "57,1"],
            ["Nord-West", "P11", "fallübergreifend", "25,00", "0,00", "25,00", "0,0"],
            ["Nord-West", "P11", "fallunspezifisch (präventiv)", "50,00", "0,00", "50,00", "0,0"],
            ["Nord-West", "P11", "zusammen", "250,00", "100,00", "150,00", "40,0"],
        ]
        assert ["Süd-Mitte", "P21", "fallunspezifisch (präventiv)", "100,00", "150,00", "-50,00", "150,0"] in rows
        assert rows[-1] == ["Summe", "", "", "1000,00", "237,50", "762,50", "23,8"]
        assert len(rows) == 1 + 3 * 4 + 1
        sheet = xlsx_rows(export(client, url, "raeume", "xlsx"))
        assert sheet[1] == ("Nord-West", "P11", "fallspezifisch", 175, 100, 75, 57.1)
        assert all(is_number(v) for v in sheet[1][3:])

    def test_cost_types_and_months(self, budget, adopted, bookings, viewer):
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/auslastung/"
        assert csv_rows(export(client, url, "kostenarten")) == [
            ["category", "spent", "percent"], ["Personal", "100,00", "10,0"], ["Sachkosten", "137,50", "13,8"],
            ["Summe", "237,50", "23,8"]]
        assert xlsx_rows(export(client, url, "kostenarten", "xlsx"))[2] == ("Sachkosten", 137.5, 13.8)
        months = csv_rows(export(client, url, "monate"))
        assert months[0] == ["month", "spent"] and len(months) == 13
        assert months[1] == ["Januar 2027", "100,00"] and months[3] == ["März 2027", "137,50"]
        sheet = xlsx_rows(export(client, url, "monate", "xlsx"))
        assert sheet[2] == ("Februar 2027", 0) and is_number(sheet[2][1])

    def test_without_adoption_allocated_stays_empty(self, budget, bookings, viewer):
        run_allocation(budget.pk)  # computed, not adopted
        rows = csv_rows(export(client_for(viewer), f"/budgets/{budget.pk}/auslastung/", "raeume"))
        assert rows[1] == ["Nord-West", "P11", "fallspezifisch", "", "100,00", "", ""]
        assert rows[-1] == ["Summe", "", "", "", "237,50", "", ""]

    def test_unknown_and_refused(self, budget, tree, levels, field, scoped_planner, viewer):
        assert export(client_for(viewer), f"/budgets/{budget.pk}/auslastung/", "nope").status_code == 404
        hidden = hidden_budget(tree, levels, field)
        assert export(client_for(scoped_planner), f"/budgets/{hidden.pk}/auslastung/", "raeume").status_code == 404


# --- Comparison and what-if ---------------------------------------------------------------------


class TestCompare:
    def test_table(self, budget, two_runs, viewer):
        first, second = two_runs
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/vergleich/"
        html = client.get(url, {"a": first.pk, "b": second.pk}).content.decode()
        assert export_keys(html) == ["vergleich"]
        assert_every_table_has_links(html)
        assert_links_work(client, html)
        rows = csv_rows(export(client, url, "vergleich", a=first.pk, b=second.pk))
        assert rows == [
            ["region", "code", "amount_a", "amount_b", "difference", "change_percent"],
            ["Nord-West", "P11", "250,00", "200,00", "-50,00", "-20,0"],
            ["Nord-Ost", "P12", "250,00", "200,00", "-50,00", "-20,0"],
            ["Süd-Mitte", "P21", "500,00", "600,00", "100,00", "20,0"],
            ["Summe", "", "1000,00", "1000,00", "0,00", "0,0"],
        ]
        sheet = xlsx_rows(export(client, url, "vergleich", "xlsx", a=first.pk, b=second.pk))
        assert sheet[3] == ("Süd-Mitte", "P21", 500, 600, 100, 20) and all(is_number(v) for v in sheet[3][2:])
        # the runs chosen on the page are the runs exported (here: swapped)
        rows = csv_rows(export(client, url, "vergleich", a=second.pk, b=first.pk))
        assert rows[3] == ["Süd-Mitte", "P21", "600,00", "500,00", "-100,00", "-16,7"]

    def test_nothing_to_export_is_404(self, budget, two_runs, viewer):
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/vergleich/"
        assert export(client, url, "vergleich", a=999999).status_code == 404  # not a run of the budget
        assert export(client, url, "nope").status_code == 404

    def test_refused_like_the_page(self, tree, levels, field, scoped_planner):
        hidden = hidden_budget(tree, levels, field)
        assert export(client_for(scoped_planner), f"/budgets/{hidden.pk}/vergleich/", "vergleich").status_code == 404


def variant_data(terms):
    data = {"all-base_amount": "0", "all-missing": "refuse", "all-t-TOTAL_FORMS": str(len(terms)),
            "all-t-INITIAL_FORMS": "1", "all-t-MIN_NUM_FORMS": "0", "all-t-MAX_NUM_FORMS": "20"}
    for n, term in enumerate(terms):
        for key in ("kind", "weight", "indicator", "factor_indicator", "period"):
            data[f"all-t-{n}-{key}"] = str(term.get(key, ""))
    return data


EQUAL = variant_data([{"kind": "equal", "weight": "1"}])


class TestWhatIf:
    def test_result_as_files(self, budget, adopted, planner):
        client = client_for(planner)
        url = f"/budgets/{budget.pk}/was-waere-wenn/"
        rows = csv_rows(client.post(f"{url}?export=variante&format=csv", EQUAL))
        # equal shares of 700 / 100 / 200 €, the leftover cents to P11, then P12
        assert rows == [
            ["region", "code", "amount_a", "amount_b", "difference", "change_percent"],
            ["Nord-West", "P11", "250,00", "333,35", "83,35", "33,3"],
            ["Nord-Ost", "P12", "250,00", "333,33", "83,33", "33,3"],
            ["Süd-Mitte", "P21", "500,00", "333,32", "-166,68", "-33,3"],
            ["Summe", "", "1000,00", "1000,00", "0,00", "0,0"],
        ]
        sheet = xlsx_rows(client.post(f"{url}?export=variante&format=xlsx", EQUAL))
        assert sheet[1] == ("Nord-West", "P11", 250, 333.35, 83.35, 33.3) and all(is_number(v) for v in sheet[1][2:])

    def test_the_page_buttons_post_the_computed_variant_again(self, budget, adopted, planner):
        client = client_for(planner)
        url = f"/budgets/{budget.pk}/was-waere-wenn/"
        html = client.post(url, EQUAL).content.decode()
        assert export_keys(html) == ["variante"]
        assert_every_table_has_links(html)
        form = re.search(r'<form method="post" class="export-links".*?</form>', html, re.S).group(0)
        data = {html_lib.unescape(n): html_lib.unescape(v)
                for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)}
        assert data.pop("csrfmiddlewaretoken") and data == EQUAL
        actions = [html_lib.unescape(a) for a in re.findall(r'formaction="([^"]+)"', form)]
        assert actions == [f"{url}?export=variante&format=xlsx", f"{url}?export=variante&format=csv"]
        rows = csv_rows(client.post(actions[1], data))
        assert rows[1] == ["Nord-West", "P11", "250,00", "333,35", "83,35", "33,3"]
        assert xlsx_rows(client.post(actions[0], data))[1][3] == 333.35

    def test_without_a_run_to_compare(self, budget, planner):
        rows = csv_rows(client_for(planner).post(f"/budgets/{budget.pk}/was-waere-wenn/?export=variante&format=csv",
                                                 EQUAL))
        assert rows[1] == ["Nord-West", "P11", "", "333,35", "", ""]
        assert rows[-1] == ["Summe", "", "", "1000,00", "", ""]

    def test_nothing_computed_is_404(self, budget, planner):
        client = client_for(planner)
        url = f"/budgets/{budget.pk}/was-waere-wenn/"
        assert client.get(url, {"export": "variante", "format": "csv"}).status_code == 404
        invalid = variant_data([{"kind": "equal", "weight": "0,5"}])  # weights not adding up to 1
        assert client.post(f"{url}?export=variante&format=csv", invalid).status_code == 404
        assert client.post(f"{url}?export=nope&format=csv", EQUAL).status_code == 404

    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "provider_editor_a"])
    def test_refused_like_the_page(self, budget, adopted, persona, request):
        client = client_for(request.getfixturevalue(persona))
        url = f"/budgets/{budget.pk}/was-waere-wenn/"
        page = client.post(url, EQUAL).status_code
        assert page in (403, 404)
        assert client.post(f"{url}?export=variante&format=csv", EQUAL).status_code == page
        assert client.post(f"{url}?export=variante&format=xlsx", EQUAL).status_code == page


# --- Trägerbudgets ------------------------------------------------------------------------------


class TestProviders:
    def test_every_table_has_working_links(self, providers_setup, viewer):
        client = client_for(viewer)
        html = client.get(f"/budgets/{providers_setup.pk}/traegerbudgets/").content.decode()
        assert export_keys(html) == ["traeger", "zuweisungen", "anteile"]
        assert_every_table_has_links(html)
        assert_links_work(client, html)

    def test_per_provider(self, providers_setup, viewer, org_a):
        client = client_for(viewer)
        url = f"/budgets/{providers_setup.pk}/traegerbudgets/"
        # 40 % of P11 and P12 (250 € each) = 200 €, plus 25,5 % of P21's 100 € preventive = 25,50 €
        assert csv_rows(export(client, url, "traeger")) == [
            ["organization", "allocated", "spent", "remaining"], [org_a.name, "225,50", "12,34", "213,16"]]
        assert xlsx_rows(export(client, url, "traeger", "xlsx"))[1] == (org_a.name, 225.5, 12.34, 213.16)

    def test_per_region_part_and_provider(self, providers_setup, viewer, org_a):
        client = client_for(viewer)
        url = f"/budgets/{providers_setup.pk}/traegerbudgets/"
        rows = csv_rows(export(client, url, "zuweisungen"))
        assert rows[0] == ["region", "code", "part", "organization", "share", "source", "agreements", "amount",
                           "spent", "remaining"]
        assert ["Nord-West", "P11", "fallspezifisch", org_a.name, "40", "Vereinbarung", "Jugendarbeit Nord",
                "70,00", "12,34", "57,66"] in rows
        assert ["Nord-West", "P11", "fallspezifisch", "nicht weitergegeben", "60", "nicht weitergegeben", "",
                "105,00", "", ""] in rows
        assert ["Süd-Mitte", "P21", "fallunspezifisch (präventiv)", org_a.name, "25,5", "Anteilstabelle", "",
                "25,50", "0,00", "25,50"] in rows
        assert len(rows) == 1 + 14  # P11, P12: 3 parts × (provider, retained); P21 preventive: 2
        sheet = xlsx_rows(export(client, url, "zuweisungen", "xlsx"))
        row = next(r for r in sheet if r[:4] == ("Nord-West", "P11", "fallspezifisch", org_a.name))
        assert row[4:] == (40, "Vereinbarung", "Jugendarbeit Nord", 70, 12.34, 57.66)
        assert all(is_number(v) for v in (row[4], *row[7:]))

    def test_explicit_shares(self, providers_setup, planner, org_a):
        client = client_for(planner)
        url = f"/budgets/{providers_setup.pk}/traegerbudgets/"
        assert csv_rows(export(client, url, "anteile")) == [
            ["region", "code", "part", "organization", "share"],
            ["Süd-Mitte", "P21", "fallunspezifisch (präventiv)", org_a.name, "25,5"]]
        assert xlsx_rows(export(client, url, "anteile", "xlsx"))[1][4] == 25.5

    def test_refused_like_the_page(self, providers_setup, provider_editor_a, tree, levels, field, scoped_planner):
        url = f"/budgets/{providers_setup.pk}/traegerbudgets/"
        assert client_for(provider_editor_a).get(url).status_code == 404
        assert export(client_for(provider_editor_a), url, "traeger").status_code == 404
        hidden = hidden_budget(tree, levels, field)
        assert export(client_for(scoped_planner), f"/budgets/{hidden.pk}/traegerbudgets/", "traeger").status_code \
            == 404
        assert export(client_for(scoped_planner), url, "nope").status_code == 404


class TestMyProviderBudget:
    def test_table_per_budget(self, providers_setup, provider_editor_a):
        client = client_for(provider_editor_a)
        html = client.get("/budgets/traegerbudget/").content.decode()
        key = f"budget-{providers_setup.pk}"
        assert export_keys(html) == [key]
        assert_every_table_has_links(html)
        assert_links_work(client, html)
        rows = csv_rows(export(client, "/budgets/traegerbudget/", key))
        assert rows[0] == ["region", "code", "part", "allocated", "spent", "remaining"]
        assert ["Nord-West", "P11", "fallspezifisch", "70,00", "12,34", "57,66"] in rows
        assert rows[-1] == ["Süd-Mitte", "P21", "fallunspezifisch (präventiv)", "25,50", "0,00", "25,50"]
        assert len(rows) == 1 + 7
        sheet = xlsx_rows(export(client, "/budgets/traegerbudget/", key, "xlsx"))
        assert ("Nord-West", "P11", "fallspezifisch", 70, 12.34, 57.66) in sheet

    def test_organisation_column_for_several_organisations(self, providers_setup, provider_editor_a, org_a, org_b):
        MembershipFactory(user=provider_editor_a, organization=org_b, role="viewer")
        rows = csv_rows(export(client_for(provider_editor_a), "/budgets/traegerbudget/",
                               f"budget-{providers_setup.pk}"))
        assert rows[0] == ["region", "code", "part", "organization", "allocated", "spent", "remaining"]
        assert ["Nord-West", "P11", "fallspezifisch", org_a.name, "70,00", "12,34", "57,66"] in rows

    def test_refused_like_the_page(self, providers_setup, viewer, provider_editor_b):
        key = f"budget-{providers_setup.pk}"
        assert client_for(viewer).get("/budgets/traegerbudget/").status_code == 403
        assert export(client_for(viewer), "/budgets/traegerbudget/", key).status_code == 403
        # provider B has no Trägerbudget in this budget: no such table for them
        assert client_for(provider_editor_b).get("/budgets/traegerbudget/").status_code == 200
        assert export(client_for(provider_editor_b), "/budgets/traegerbudget/", key).status_code == 404


# --- Queries ------------------------------------------------------------------------------------


def count_queries(client, method, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


class TestQueries:
    """An export runs the page's queries (or fewer); the links add none to the page."""

    def test_exports_run_no_more_queries_than_their_pages(self, providers_setup, two_runs, bookings, planner,
                                                          provider_editor_a):
        budget = providers_setup
        first, second = two_runs
        pages = [
            (planner, "get", f"/budgets/{budget.pk}/", None, "berechnungen"),
            (planner, "get", f"/budgets/{budget.pk}/wie-wird-gerechnet/", None, "teil-case_specific"),
            (planner, "get", f"/budgets/{budget.pk}/auslastung/", None, "raeume"),
            (planner, "get", f"/budgets/{budget.pk}/vergleich/?a={first.pk}&b={second.pk}", None, "vergleich"),
            (planner, "post", f"/budgets/{budget.pk}/was-waere-wenn/", EQUAL, "variante"),
            (planner, "get", f"/budgets/{budget.pk}/traegerbudgets/", None, "zuweisungen"),
            (provider_editor_a, "get", "/budgets/traegerbudget/", None, f"budget-{budget.pk}"),
        ]
        for user, method, url, data, key in pages:
            client = client_for(user)
            count_queries(client, method, url, data)  # warm the session
            page = count_queries(client, method, url, data)
            separator = "&" if "?" in url else "?"
            for fmt in ("csv", "xlsx"):
                exported = count_queries(client, method, f"{url}{separator}export={key}&format={fmt}", data)
                assert exported <= page, (url, fmt, exported, page)
