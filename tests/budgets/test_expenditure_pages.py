"""Pages "Ausgaben (Ist)" and "Auslastung": list with filters and pagination,
add / edit / delete with validation messages, CSV upload (counts; a bad file
names its lines and writes nothing), utilisation against a hand computation,
access per persona and query counts."""

import datetime
import io
import re
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from budgets.choices import Part, RulePart, SplitMode, TermKind
from budgets.models import AllocationRule, Budget, Expenditure, RuleTerm
from budgets.services import adopt, run_allocation
from core.models import ImportRun

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def cells(html: str) -> list[str]:
    return [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html, re.S)]


def spend(budget, region, part, day, amount, category="Personal", text="", recipient=""):
    return Expenditure.objects.create(budget=budget, region=region, part=part, category=category,
                                      booking_date=datetime.date.fromisoformat(day), amount=D(amount), text=text,
                                      recipient=recipient)


def hidden_budget(tree, levels, field):
    """A budget of district D1: invisible to the planner limited to D2."""
    budget = Budget.objects.create(name="Nordbudget", fiscal_year=2027, field=field, scope_region=tree["D1"],
                                   target_level=levels["planungsraum"], total=D("100.00"),
                                   split_mode=SplitMode.PERCENT, case_specific=D(100), case_overarching=D(0),
                                   preventive=D(0))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D(1))
    return budget


@pytest.fixture
def bookings(budget, tree):
    return [
        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-15", "100.00", "Personal", "Gehalt", "Träger A"),
        spend(budget, tree["P21"], Part.PREVENTIVE, "2027-03-02", "150.00", "Sachkosten", "Material"),
        spend(budget, tree["P12"], Part.CASE_OVERARCHING, "2027-03-20", "-12.50", "Sachkosten", "Rückzahlung"),
    ]


def form_data(tree, **changes):
    data = {"booking_date": "2027-05-04", "region": tree["P12"].pk, "part": Part.CASE_SPECIFIC,
            "category": "Honorare", "amount": "1.234,56", "recipient": "Verein B", "text": "Workshop"}
    data.update(changes)
    return data


# --- List ------------------------------------------------------------------------------


class TestList:
    def test_rows_money_and_sum(self, budget, bookings, viewer):
        response = client_for(viewer).get(f"/budgets/{budget.pk}/ausgaben/")
        assert response.status_code == 200
        html = response.content.decode()
        page = text(html)
        assert "15.01.2027 Nord-West (P11) fallspezifisch Personal 100,00 € Träger A Gehalt" in page
        assert "20.03.2027 Nord-Ost (P12) fallübergreifend Sachkosten -12,50 € – Rückzahlung" in page
        assert re.search(r'data-testid="expenditure-sum">237,50\xa0€<', html)
        assert "3 Einträge" in page
        # readers see neither edit links nor the buttons to add or import
        assert "/bearbeiten/" not in html and "/loeschen/" not in html and "/ausgaben/neu/" not in html

    def test_newest_first_and_write_links_for_planners(self, budget, bookings, planner):
        html = client_for(planner).get(f"/budgets/{budget.pk}/ausgaben/").content.decode()
        dates = re.findall(r'<time datetime="(2027-[0-9-]+)"', html)
        assert dates == ["2027-03-20", "2027-03-02", "2027-01-15"]
        assert f"/budgets/{budget.pk}/ausgaben/{bookings[0].pk}/bearbeiten/" in html
        assert f"/budgets/{budget.pk}/ausgaben/{bookings[0].pk}/loeschen/" in html
        assert f'href="/budgets/{budget.pk}/ausgaben/neu/"' in html
        assert f'href="/budgets/{budget.pk}/ausgaben/import/"' in html
        assert 'aria-label="Ausgabe vom 15.01.2027 über 100,00 € bearbeiten"' in html.replace("\xa0", " ")

    @pytest.mark.parametrize("params, expected", [
        ({"region": "P21"}, ["Material"]),
        ({"part": Part.CASE_OVERARCHING}, ["Rückzahlung"]),
        ({"category": "Sachkosten"}, ["Material", "Rückzahlung"]),
        ({"month": "2027-03"}, ["Material", "Rückzahlung"]),
        ({"month": "2027-01", "category": "Personal"}, ["Gehalt"]),
        ({"month": "2027-02"}, []),
    ])
    def test_filters(self, budget, bookings, viewer, params, expected):
        response = client_for(viewer).get(f"/budgets/{budget.pk}/ausgaben/", params)
        page = text(response)
        assert sorted(t for t in ("Gehalt", "Material", "Rückzahlung") if t in page) == expected
        if not expected:
            assert "Keine Ausgaben zu diesem Filter." in page

    def test_filter_choices_and_invalid_values(self, budget, bookings, viewer):
        html = client_for(viewer).get(f"/budgets/{budget.pk}/ausgaben/").content.decode()
        assert '<option value="P11">Nord-West (P11)</option>' in html and 'value="D1"' not in html
        assert '<option value="2027-03">März 2027</option>' in html
        assert '<option value="Sachkosten">Sachkosten</option>' in html
        response = client_for(viewer).get(f"/budgets/{budget.pk}/ausgaben/", {"month": "2027-13"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Bitte einen Monat des Haushaltsjahres wählen." in html and 'id="id_month_error"' in html
        assert "Gehalt" not in text(html)

    def test_pagination(self, budget, tree, viewer):
        for i in range(55):
            spend(budget, tree["P11"], Part.CASE_SPECIFIC, f"2027-02-{i % 28 + 1:02d}", f"{i + 1}.00", text=f"B{i}")
        client = client_for(viewer)
        page1 = text(client.get(f"/budgets/{budget.pk}/ausgaben/"))
        assert "1–50 von 55 Einträgen" in page1 and "Seite 1 von 2" in page1
        assert "Summe aller Seiten" in page1 and "1.540,00 €" in page1  # 1 + 2 + … + 55
        page2 = text(client.get(f"/budgets/{budget.pk}/ausgaben/", {"page": 2}))
        assert "51–55 von 55 Einträgen" in page2

    def test_query_count(self, budget, tree, viewer, django_assert_max_num_queries):
        for i in range(60):
            spend(budget, tree[("P11", "P12", "P21")[i % 3]], Part.CASE_SPECIFIC, f"2027-04-{i % 28 + 1:02d}",
                  "10.00", category=f"Kostenart {i % 4}")
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/ausgaben/?part=case_specific"
        client.get(url)
        with django_assert_max_num_queries(10):
            response = client.get(url)
        assert response.content.decode().count("<time datetime=") == 50


# --- Add, edit, delete -----------------------------------------------------------------


class TestWrite:
    def test_form_offers_only_the_budgets_regions(self, budget, planner):
        html = client_for(planner).get(f"/budgets/{budget.pk}/ausgaben/neu/").content.decode()
        options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', html)
        assert sorted(label for _, label in options) == ["Nord-Ost (P12)", "Nord-West (P11)", "Süd-Mitte (P21)"]
        assert 'type="date"' in html and '<datalist id="category-list">' in html and 'value="Personal"' in html
        assert 'for="id_amount"' in html and "Im Haushaltsjahr 2027." in html

    def test_create(self, budget, tree, planner):
        client = client_for(planner)
        response = client.post(f"/budgets/{budget.pk}/ausgaben/neu/", form_data(tree))
        assert response.status_code == 302 and response["Location"] == f"/budgets/{budget.pk}/ausgaben/"
        e = Expenditure.objects.get()
        assert (e.budget, e.region, e.part, e.category, e.amount) == (
            budget, tree["P12"], Part.CASE_SPECIFIC, "Honorare", D("1234.56"))
        assert e.booking_date == datetime.date(2027, 5, 4) and e.recipient == "Verein B" and e.text == "Workshop"
        assert e.created_by == planner and e.updated_by == planner
        assert "Ausgabe vom 04.05.2027 über 1.234,56 € erfasst." in text(client.get(response["Location"]))

    def test_refund_with_german_date(self, budget, tree, planner):
        response = client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/neu/",
                                            form_data(tree, booking_date="31.12.2027", amount="-12,50"))
        assert response.status_code == 302
        assert Expenditure.objects.get().amount == D("-12.50")

    @pytest.mark.parametrize("changes, name, message", [
        ({"booking_date": "2026-12-31"}, "booking_date", "Das Buchungsdatum liegt nicht im Haushaltsjahr 2027."),
        ({"amount": "0"}, "amount", "Der Betrag darf nicht 0 sein."),
        ({"amount": "zehn"}, "amount", "Bitte einen Betrag angeben, z. B. 1.234,56 (negativ für Erstattungen)."),
        ({"amount": "1,234"}, "amount", "Höchstens zwei Nachkommastellen."),
        ({"region": "D1"}, "region", "Bitte einen Raum des Budgets wählen."),
        ({"category": ""}, "category", "Bitte die Kostenart angeben, z. B. Personal."),
        ({"part": "irgendwas"}, "part", "irgendwas"),
    ])
    def test_validation_errors_next_to_their_fields(self, budget, tree, planner, changes, name, message):
        if changes.get("region") == "D1":
            changes = {"region": tree["D1"].pk}
        response = client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/neu/", form_data(tree, **changes))
        assert response.status_code == 200
        html = response.content.decode()
        errors = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', html, re.S)
        assert errors and message in text(errors.group(1)), html
        assert re.search(rf'<(input|select)[^>]*name="{name}"[^>]*aria-invalid="true"', html) or re.search(
            rf'<(input|select)[^>]*aria-invalid="true"[^>]*name="{name}"', html)
        assert f"id_{name}_error" in re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html).group(0)
        assert "Bitte 1 Angabe korrigieren." in text(html) and 'role="alert"' in html
        assert not Expenditure.objects.exists()

    def test_edit(self, budget, bookings, tree, planner):
        e = bookings[0]
        client = client_for(planner)
        html = client.get(f"/budgets/{budget.pk}/ausgaben/{e.pk}/bearbeiten/").content.decode()
        assert 'name="amount" value="100,00"' in html and 'name="booking_date" value="2027-01-15"' in html
        response = client.post(f"/budgets/{budget.pk}/ausgaben/{e.pk}/bearbeiten/",
                               form_data(tree, region=tree["P11"].pk, amount="99,99", category="Personal"))
        assert response.status_code == 302
        e.refresh_from_db()
        assert e.amount == D("99.99") and e.region == tree["P11"] and e.updated_by == planner
        # an invalid change is shown and not saved
        response = client.post(f"/budgets/{budget.pk}/ausgaben/{e.pk}/bearbeiten/",
                               form_data(tree, booking_date="2028-01-01"))
        assert "Das Buchungsdatum liegt nicht im Haushaltsjahr 2027." in text(response)
        e.refresh_from_db()
        assert e.booking_date == datetime.date(2027, 5, 4)

    def test_delete(self, budget, bookings, planner):
        e = bookings[1]
        client = client_for(planner)
        page = text(client.get(f"/budgets/{budget.pk}/ausgaben/{e.pk}/loeschen/"))
        assert "150,00 €" in page and "Material" in page and "Süd-Mitte (P21)" in page
        response = client.post(f"/budgets/{budget.pk}/ausgaben/{e.pk}/loeschen/")
        assert response.status_code == 302
        assert not Expenditure.objects.filter(pk=e.pk).exists() and Expenditure.objects.count() == 2
        assert "Ausgabe vom 02.03.2027 über 150,00 € gelöscht." in text(client.get(response["Location"]))

    def test_expenditure_of_another_budget_is_404(self, budget, tree, levels, field, planner):
        other = hidden_budget(tree, levels, field)
        foreign = spend(other, tree["P11"], Part.CASE_SPECIFIC, "2027-01-01", "5.00")
        client = client_for(planner)
        assert client.get(f"/budgets/{budget.pk}/ausgaben/{foreign.pk}/bearbeiten/").status_code == 404
        assert client.post(f"/budgets/{budget.pk}/ausgaben/{foreign.pk}/loeschen/").status_code == 404
        assert Expenditure.objects.filter(pk=foreign.pk).exists()


class TestAccess:
    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "scoped_planner", "provider_editor_a"])
    def test_readers_may_not_write(self, budget, bookings, tree, persona, request):
        client = client_for(request.getfixturevalue(persona))
        assert client.get(f"/budgets/{budget.pk}/ausgaben/").status_code == 200
        # utilisation holds every organisation's spending: staff only (found by the permission matrix)
        expected = 404 if persona.startswith("provider") else 200
        assert client.get(f"/budgets/{budget.pk}/auslastung/").status_code == expected
        e = bookings[0]
        for url in ("ausgaben/neu/", "ausgaben/import/", f"ausgaben/{e.pk}/bearbeiten/", f"ausgaben/{e.pk}/loeschen/"):
            assert client.get(f"/budgets/{budget.pk}/{url}").status_code == 403, url
            assert client.post(f"/budgets/{budget.pk}/{url}", form_data(tree)).status_code == 403, url
        assert Expenditure.objects.count() == 3
        e.refresh_from_db()
        assert e.amount == D("100.00")

    def test_invisible_budget_is_404(self, tree, levels, field, scoped_planner):
        hidden = hidden_budget(tree, levels, field)
        e = spend(hidden, tree["P11"], Part.CASE_SPECIFIC, "2027-01-01", "5.00")
        client = client_for(scoped_planner)
        for url in ("ausgaben/", "auslastung/", "ausgaben/neu/", "ausgaben/import/", f"ausgaben/{e.pk}/bearbeiten/",
                    f"ausgaben/{e.pk}/loeschen/"):
            assert client.get(f"/budgets/{hidden.pk}/{url}").status_code == 404, url
        assert client.post(f"/budgets/{hidden.pk}/ausgaben/{e.pk}/loeschen/").status_code == 404
        assert Expenditure.objects.filter(pk=e.pk).exists()

    def test_anonymous_is_sent_to_login(self, budget):
        for url in ("ausgaben/", "auslastung/", "ausgaben/neu/", "ausgaben/import/"):
            response = client_for(None).get(f"/budgets/{budget.pk}/{url}")
            assert response.status_code == 302 and "/anmelden/" in response["Location"], url

    def test_scoped_planner_writes_in_their_district(self, tree, levels, field, scoped_planner):
        own = Budget.objects.create(name="Süd", fiscal_year=2027, field=field, scope_region=tree["D2"],
                                    target_level=levels["planungsraum"], total=D("100.00"),
                                    split_mode=SplitMode.PERCENT, case_specific=D(100))
        response = client_for(scoped_planner).post(f"/budgets/{own.pk}/ausgaben/neu/",
                                                   form_data(tree, region=tree["P21"].pk))
        assert response.status_code == 302 and Expenditure.objects.get().budget == own


# --- Upload ----------------------------------------------------------------------------

GOOD_CSV = (
    "region_code;part;category;booking_date;amount;text;recipient\r\n"
    "P11;fallspezifisch;Personal;15.01.2027;1.234,56;Gehalt Januar;Träger A\r\n"
    "P12;case_overarching;Sachkosten;2027-02-01;-12,50;Erstattung;\r\n"
    "P21;fallunspezifisch (präventiv);Honorare;31.12.2027;100;Workshop;Verein B\r\n"
)
BAD_CSV = (
    "region_code;part;category;booking_date;amount;text\n"
    "P11;fallspezifisch;Personal;15.01.2027;10;gut\n"
    "P99;fallspezifisch;Personal;15.01.2027;10;unbekannter Raum\n"
    "P12;fallspezifisch;Personal;01.02.2026;10;falsches Jahr\n"
)


def upload(name, content: str, **extra):
    return {"file": SimpleUploadedFile(name, ("\ufeff" + content).encode("utf-8"), content_type="text/csv"), **extra}


class TestUpload:
    def test_form(self, budget, planner):
        html = client_for(planner).get(f"/budgets/{budget.pk}/ausgaben/import/").content.decode()
        assert 'enctype="multipart/form-data"' in html and 'for="id_file"' in html and 'for="id_dry_run"' in html
        assert "P11;fallspezifisch;Personal;15.01.2027" in html

    def test_success_shows_the_counts(self, budget, planner):
        client = client_for(planner)
        response = client.post(f"/budgets/{budget.pk}/ausgaben/import/", upload("ist.csv", GOOD_CSV))
        assert response.status_code == 200
        page = text(response)
        assert "Import erfolgreich abgeschlossen." in page
        assert "angelegt 3" in page and "unverändert (schon vorhanden) 0" in page and "Zeilen insgesamt 3" in page
        assert "Summe der neuen Ausgaben 1.322,06 €" in page
        rows = {e.region.code: e for e in Expenditure.objects.select_related("region")}
        assert rows["P11"].amount == D("1234.56") and rows["P11"].recipient == "Träger A"
        assert rows["P11"].created_by == planner and rows["P12"].amount == D("-12.50")
        assert ImportRun.objects.get().created_by == planner
        # the same file again: nothing new
        page = text(client.post(f"/budgets/{budget.pk}/ausgaben/import/", upload("ist.csv", GOOD_CSV)))
        assert "angelegt 0" in page and "unverändert (schon vorhanden) 3" in page
        assert Expenditure.objects.count() == 3

    def test_xlsx(self, budget, planner):
        book = Workbook()
        sheet = book.active
        sheet.append(["region_code", "part", "category", "booking_date", "amount"])
        sheet.append(["P21", "preventive", "Honorare", datetime.date(2027, 6, 30), 99.5])
        buf = io.BytesIO()
        book.save(buf)
        file = SimpleUploadedFile("ist.xlsx", buf.getvalue(),
                                  content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        page = text(client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/import/", {"file": file}))
        assert "angelegt 1" in page, page
        e = Expenditure.objects.get()
        assert (e.region.code, e.part, e.amount, e.booking_date) == ("P21", Part.PREVENTIVE, D("99.50"),
                                                                     datetime.date(2027, 6, 30))

    def test_bad_file_names_the_lines_and_writes_nothing(self, budget, planner):
        response = client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/import/", upload("bad.csv", BAD_CSV))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Import abgelehnt: 2 Fehler. Es wurde nichts gespeichert." in text(html)
        table = re.search(r'<table class="table" id="import-errors">(.*?)</table>', html, re.S).group(1)
        rows = [cells(r) for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)]
        assert rows[0][:2] == ["3", "region_code"] and "P99" in rows[0][2]
        assert rows[1][:2] == ["4", "booking_date"] and "Haushaltsjahr 2027" in rows[1][2]
        assert not Expenditure.objects.exists()
        assert ImportRun.objects.get().status == ImportRun.Status.FAILED

    def test_dry_run_writes_nothing(self, budget, planner):
        page = text(client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/import/",
                                             upload("ist.csv", GOOD_CSV, dry_run="on")))
        assert "Probelauf erfolgreich" in page and "angelegt 3" in page
        assert not Expenditure.objects.exists()

    def test_rows_of_another_budget_are_refused(self, budget, tree, levels, field, planner):
        other = hidden_budget(tree, levels, field)
        content = ("budget;region_code;part;category;booking_date;amount\n"
                   f"{budget.pk};P11;fallspezifisch;Personal;15.01.2027;10\n"
                   f"{other.pk};P12;fallspezifisch;Personal;15.01.2027;10\n")
        response = client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/import/", upload("ist.csv", content))
        html = response.content.decode()
        assert f"Zeilen für andere Budgets ({other.pk})" in text(html) and 'id="id_file_error"' in html
        assert not Expenditure.objects.exists() and not ImportRun.objects.exists()

    def test_missing_file(self, budget, planner):
        html = client_for(planner).post(f"/budgets/{budget.pk}/ausgaben/import/", {}).content.decode()
        assert "Bitte eine Datei auswählen." in html and 'id="id_file_error"' in html


# --- Utilisation -----------------------------------------------------------------------


def region_rows(response, code) -> list[list[str]]:
    html = response.content.decode()
    body = re.search(rf'<tbody data-region="{code}">(.*?)</tbody>', html, re.S).group(1)
    return [cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


class TestUtilisation:
    def test_against_hand_computation(self, budget, bookings, planner, viewer):
        adopt(run_allocation(budget.pk), planner)
        response = client_for(viewer).get(f"/budgets/{budget.pk}/auslastung/")
        assert response.status_code == 200
        # allocated (1:1:2 of 700 / 100 / 200 €): P11 175 / 25 / 50, P21 350 / 50 / 100
        assert region_rows(response, "P11") == [
            ["Nord-West (P11)", "fallspezifisch", "175,00 €", "100,00 €", "75,00 €", "57,1 %"],
            ["fallübergreifend", "25,00 €", "0,00 €", "25,00 €", "0,0 %"],
            ["fallunspezifisch (präventiv)", "50,00 €", "0,00 €", "50,00 €", "0,0 %"],
            ["zusammen", "250,00 €", "100,00 €", "150,00 €", "40,0 %"],
        ]
        p21 = region_rows(response, "P21")
        assert p21[2] == ["fallunspezifisch (präventiv)", "100,00 €", "150,00 €", "-50,00 € (überschritten)",
                          "150,0 %"]
        assert p21[3] == ["zusammen", "500,00 €", "150,00 €", "350,00 €", "30,0 %"]
        assert region_rows(response, "P12")[1] == ["fallübergreifend", "25,00 €", "-12,50 €", "37,50 €", "-50,0 %"]
        page = text(response)
        assert "Summe 1.000,00 € 237,50 € 762,50 € 23,8 %" in page
        # per cost type: of the allocated 1.000 €
        categories = re.search(r'id="category-table">(.*?)</table>', response.content.decode(), re.S).group(1)
        assert "Personal 100,00 € 10,0 %" in text(categories) and "Sachkosten 137,50 € 13,8 %" in text(categories)
        # per month, with the chart in front of the table
        months = text(re.search(r'id="month-table">(.*?)</table>', response.content.decode(), re.S).group(1))
        assert "Januar 2027 100,00 €" in months and "Februar 2027 0,00 €" in months
        assert "März 2027 137,50 €" in months
        html = response.content.decode()
        chart = re.search(r'<svg[^>]*class="chart".*?</svg>', html, re.S).group(0)
        assert 'role="img"' in chart and chart.count("<rect ") == 12 and "Januar: 100,00\xa0€" in chart
        assert f'href="/budgets/{budget.pk}/ausgaben/?month=2027-03"' in html
        assert "Es gibt noch keinen Verteilungsbeschluss" not in page

    def test_note_without_adoption(self, budget, bookings, viewer):
        run_allocation(budget.pk)  # computed but not adopted
        response = client_for(viewer).get(f"/budgets/{budget.pk}/auslastung/")
        page = text(response)
        assert "Es gibt noch keinen Verteilungsbeschluss" in page
        assert region_rows(response, "P11")[0] == ["Nord-West (P11)", "fallspezifisch", "–", "100,00 €", "–", "–"]
        assert re.search(r'data-testid="total-spent">237,50\xa0€<', response.content.decode())

    def test_empty(self, budget, viewer):
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/auslastung/"))
        assert "Noch keine Zuweisungen und keine Ausgaben." in page and "Noch keine Ausgaben." in page

    def test_query_count(self, budget, tree, planner, viewer, django_assert_max_num_queries):
        adopt(run_allocation(budget.pk), planner)
        for i in range(36):
            spend(budget, tree[("P11", "P12", "P21")[i % 3]], list(Part)[i % 3], f"2027-{i % 12 + 1:02d}-01",
                  "10.00", category=f"Kostenart {i % 5}")
        client = client_for(viewer)
        client.get(f"/budgets/{budget.pk}/auslastung/")
        with django_assert_max_num_queries(7):
            assert client.get(f"/budgets/{budget.pk}/auslastung/").status_code == 200
