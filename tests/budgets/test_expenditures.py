"""Expenditures (Ist-Ausgaben): validation, CSV/XLSX import, API per persona and
utilisation against the adopted allocation."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from openpyxl import Workbook

from budgets.choices import Part, SplitMode
from budgets.models import Budget, Expenditure
from budgets.services import adopt, run_allocation
from core.imports.base import import_now
from core.models import ImportRun
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
API = "/api/v1"




@pytest.fixture
def budget_d2(tree, levels, field):
    """A budget of district D2 (its only target region is P21)."""
    return Budget.objects.create(name="Süd", fiscal_year=2027, field=field, scope_region=tree["D2"],
                                 target_level=levels["planungsraum"], total=D("100.00"),
                                 split_mode=SplitMode.PERCENT, case_specific=D(100), case_overarching=D(0),
                                 preventive=D(0))


def spend(budget, region, part, day, amount, category="Personal", text=""):
    return Expenditure.objects.create(budget=budget, region=region, part=part, category=category,
                                      booking_date=datetime.date.fromisoformat(day), amount=D(amount), text=text)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def lines_and_columns(run) -> set:
    return {(e["line"], e["column"]) for e in run.errors}


# --- model ---------------------------------------------------------------------------


class TestModel:
    def test_region_outside_the_target_regions_names_the_field(self, budget, tree):
        for code in ("D1", "CITY"):  # the wrong level, inside the scope
            e = Expenditure(budget=budget, region=tree[code], part=Part.CASE_SPECIFIC, category="Personal",
                            booking_date=datetime.date(2027, 1, 1), amount=D("1.00"))
            with pytest.raises(ValidationError) as exc:
                e.full_clean()
            assert "region" in exc.value.message_dict

    def test_region_outside_the_scope(self, budget_d2, tree):
        e = Expenditure(budget=budget_d2, region=tree["P11"], part=Part.CASE_SPECIFIC, category="Personal",
                        booking_date=datetime.date(2027, 1, 1), amount=D("1.00"))
        with pytest.raises(ValidationError) as exc:
            e.full_clean()
        assert set(exc.value.message_dict) == {"region"}

    def test_valid_refund_and_date_outside_the_fiscal_year(self, budget, tree):
        e = Expenditure(budget=budget, region=tree["P11"], part=Part.PREVENTIVE, category="Sachkosten",
                        booking_date=datetime.date(2027, 5, 1), amount=D("-5.00"))
        e.full_clean()  # refunds are negative
        e.booking_date = datetime.date(2026, 12, 31)
        with pytest.raises(ValidationError) as exc:
            e.full_clean()
        assert "booking_date" in exc.value.message_dict

    def test_zero_amount_refused_by_clean_and_database(self, budget, tree):
        e = Expenditure(budget=budget, region=tree["P11"], part=Part.PREVENTIVE, category="Sachkosten",
                        booking_date=datetime.date(2027, 5, 1), amount=D("0.00"))
        with pytest.raises(ValidationError) as exc:
            e.full_clean()
        assert "amount" in exc.value.message_dict
        with pytest.raises(IntegrityError, match="expenditure_amount_not_zero"), transaction.atomic():
            e.save()


# --- import --------------------------------------------------------------------------

GOOD_CSV = (
    "region_code;part;category;booking_date;amount;text;recipient\n"
    "P11;fallspezifisch;Personal;15.01.2027;1.234,56;Gehalt Januar;Träger A\n"
    "P12;case_overarching;Sachkosten;2027-02-01;-12,50;Erstattung;\n"
    "P21;fallunspezifisch (präventiv);Honorare;31.12.2027;100;Workshop;Verein B\n"
)


class TestImport:
    def test_csv_with_decimal_comma_dates_and_labels(self, budget, tmp_path):
        run = import_now("expenditures", write(tmp_path / "ist.csv", GOOD_CSV), options={"budget": budget.pk})
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert run.summary["created"] == 3 and run.summary["unchanged"] == 0
        rows = {e.region.code: e for e in Expenditure.objects.select_related("region")}
        assert rows["P11"].amount == D("1234.56") and rows["P11"].booking_date == datetime.date(2027, 1, 15)
        assert rows["P11"].part == Part.CASE_SPECIFIC and rows["P11"].recipient == "Träger A"
        assert rows["P12"].amount == D("-12.50") and rows["P12"].part == Part.CASE_OVERARCHING
        assert rows["P21"].part == Part.PREVENTIVE and rows["P21"].booking_date == datetime.date(2027, 12, 31)

    def test_bad_lines_are_all_reported_and_nothing_is_written(self, budget, tmp_path):
        path = write(tmp_path / "bad.csv", (
            "region_code;part;category;booking_date;amount;text\n"
            "P99;fallspezifisch;Personal;15.01.2027;10;unbekannter Raum\n"
            "P11;fallspezifisch;Personal;31.02.2027;10;falsches Datum\n"
            "P11;fallspezifisch;Personal;01.02.2027;zehn;falscher Betrag\n"
            "D1;fallspezifisch;Personal;01.02.2027;10;falsche Ebene\n"
            "P12;irgendwas;Personal;01.02.2026;0;Teil, Jahr und Betrag\n"
            "P12;fallspezifisch;Personal;01.02.2027;10;gut\n"
        ))
        run = import_now("expenditures", path, options={"budget": str(budget.pk)})
        assert run.status == ImportRun.Status.FAILED
        assert lines_and_columns(run) == {
            (2, "region_code"), (3, "booking_date"), (4, "amount"), (5, "region_code"),
            (6, "part"), (6, "booking_date"), (6, "amount"),
        }
        messages = {e["line"]: e["message"] for e in run.errors}
        assert "P99" in messages[2] and "31.02.2027" in messages[3] and "zehn" in messages[4]
        assert not Expenditure.objects.exists()

    def test_reimport_is_idempotent(self, budget, tmp_path):
        path = write(tmp_path / "ist.csv", GOOD_CSV)
        assert import_now("expenditures", path, options={"budget": budget.pk}).summary["created"] == 3
        again = import_now("expenditures", path, options={"budget": budget.pk})
        assert again.status == ImportRun.Status.SUCCEEDED
        assert again.summary == {**again.summary, "created": 0, "unchanged": 3, "total": 3}
        assert Expenditure.objects.count() == 3
        # one more line: only that one is new; a line repeated in the file is a second booking
        more = write(tmp_path / "mehr.csv", GOOD_CSV + "P11;fallspezifisch;Personal;16.01.2027;5;Nachtrag;\n"
                     + "P11;fallspezifisch;Personal;16.01.2027;5;Nachtrag;\n")
        third = import_now("expenditures", more, options={"budget": budget.pk})
        assert (third.summary["created"], third.summary["unchanged"]) == (2, 3)
        assert import_now("expenditures", more, options={"budget": budget.pk}).summary["created"] == 0
        assert Expenditure.objects.count() == 5

    def test_xlsx_with_budget_column_date_cells_and_numbers(self, budget, tmp_path):
        wb = Workbook()
        ws = wb.active
        ws.append(["budget", "region_code", "part", "category", "booking_date", "amount", "text", "recipient"])
        ws.append([budget.pk, "P11", "Fallübergreifend", "Honorare", datetime.datetime(2027, 3, 4), 12.5, "A", ""])
        ws.append([budget.pk, "P21", "präventiv", "Sachkosten", "04.03.2027", "7,25", "B", "Verein"])
        ws.append([budget.pk, "P21", "präventiv", "Sachkosten", "2027-13-01", 1, "C", ""])
        path = tmp_path / "ist.xlsx"
        wb.save(path)
        run = import_now("expenditures", path)
        assert run.status == ImportRun.Status.FAILED and lines_and_columns(run) == {(4, "booking_date")}
        ws.delete_rows(4)
        wb.save(path)
        run = import_now("expenditures", path)
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert sorted(Expenditure.objects.values_list("amount", "part", "booking_date")) == [
            (D("7.25"), "preventive", datetime.date(2027, 3, 4)),
            (D("12.50"), "case_overarching", datetime.date(2027, 3, 4)),
        ]

    def test_missing_columns_and_budget(self, budget, tmp_path):
        path = write(tmp_path / "x.csv", "region_code;part;amount\nP11;fallspezifisch;1\n")
        run = import_now("expenditures", path)
        assert run.status == ImportRun.Status.FAILED
        assert {"budget", "category", "booking_date"} <= {e["message"].split("„")[1].split("“")[0]
                                                          for e in run.errors}
        run = import_now("expenditures", write(tmp_path / "ist.csv", GOOD_CSV), options={"budget": 999999})
        assert run.status == ImportRun.Status.FAILED and "999999" in run.errors[0]["message"]

    def test_scoped_planner_cannot_import_into_a_budget_outside_its_subtree(self, budget, scoped_planner, tmp_path):
        run = import_now("expenditures", write(tmp_path / "ist.csv", GOOD_CSV), user=scoped_planner,
                         options={"budget": budget.pk})
        assert run.status == ImportRun.Status.FAILED and "Berechtigung" in run.errors[0]["message"]
        assert not Expenditure.objects.exists()

    def test_management_command(self, budget, tmp_path):
        path = write(tmp_path / "ist.csv", GOOD_CSV)
        call_command("import_data", "expenditures", str(path), "-o", f"budget={budget.pk}")
        assert Expenditure.objects.count() == 3


# --- API -----------------------------------------------------------------------------


def payload(budget, **kw):
    data = {"budget": budget.pk, "region": "P11", "part": "case_specific", "category": "Personal",
            "booking_date": "2027-04-01", "amount": "99.90", "text": "April", "recipient": "Träger A"}
    data.update(kw)
    return data


class TestApi:
    def test_anonymous_is_refused(self, budget, tree):
        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-01", "1.00")
        api = client_for(None)
        assert api.get(f"{API}/expenditures/").status_code in (401, 403)
        assert api.post(f"{API}/expenditures/", payload(budget), format="json").status_code in (401, 403)
        assert api.get(f"{API}/budgets/{budget.pk}/utilisation/").status_code in (401, 403)

    def test_viewer_reads_but_cannot_write(self, budget, tree, viewer):
        e = spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-01", "1.00")
        api = client_for(viewer)
        response = api.get(f"{API}/expenditures/")
        assert response.status_code == 200 and response.json()["count"] == 1
        assert response.json()["results"][0]["region"] == "P11"
        assert api.post(f"{API}/expenditures/", payload(budget), format="json").status_code == 403
        assert api.patch(f"{API}/expenditures/{e.pk}/", {"amount": "2.00"}, format="json").status_code == 403
        assert api.delete(f"{API}/expenditures/{e.pk}/").status_code == 403
        assert api.get(f"{API}/budgets/{budget.pk}/utilisation/").status_code == 200

    def test_planner_writes(self, budget, tree, planner):
        api = client_for(planner)
        response = api.post(f"{API}/expenditures/", payload(budget), format="json")
        assert response.status_code == 201, response.json()
        pk = response.json()["id"]
        assert Expenditure.objects.get(pk=pk).created_by == planner
        response = api.patch(f"{API}/expenditures/{pk}/", {"amount": "-3.10"}, format="json")
        assert response.status_code == 200 and response.json()["amount"] == "-3.10"
        response = api.patch(f"{API}/expenditures/{pk}/", {"region": "D1"}, format="json")
        assert response.status_code == 400 and "region" in response.json()
        response = api.post(f"{API}/expenditures/", payload(budget, amount="0"), format="json")
        assert response.status_code == 400 and "amount" in response.json()
        assert api.delete(f"{API}/expenditures/{pk}/").status_code == 204

    def test_scoped_planner_writes_only_in_its_subtree(self, budget, budget_d2, tree, scoped_planner):
        outside = spend(budget, tree["P21"], Part.CASE_SPECIFIC, "2027-01-01", "1.00")
        api = client_for(scoped_planner)
        response = api.post(f"{API}/expenditures/", payload(budget, region="P21"), format="json")
        assert response.status_code == 400 and "budget" in response.json()
        assert api.patch(f"{API}/expenditures/{outside.pk}/", {"amount": "2.00"}, format="json").status_code in (
            403, 404)
        assert api.delete(f"{API}/expenditures/{outside.pk}/").status_code in (403, 404)
        response = api.post(f"{API}/expenditures/", payload(budget_d2, region="P21"), format="json")
        assert response.status_code == 201, response.json()
        response = api.post(f"{API}/expenditures/", payload(budget_d2, region="P11"), format="json")
        assert response.status_code == 400 and "region" in response.json()
        outside.refresh_from_db()
        assert outside.amount == D("1.00")

    def test_api_root_lists_budgets_and_expenditures(self, viewer):
        root = client_for(viewer).get(f"{API}/").json()
        assert root["budgets"].endswith("/api/v1/budgets/") and root["expenditures"].endswith("/api/v1/expenditures/")

    def test_filters(self, budget, tree, planner):
        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-15", "1.00", category="Personal")
        spend(budget, tree["P12"], Part.PREVENTIVE, "2027-03-01", "2.00", category="Honorare")
        spend(budget, tree["P21"], Part.PREVENTIVE, "2027-03-31", "3.00", category="Honorare")
        api = client_for(planner)

        def amounts(query):
            response = api.get(f"{API}/expenditures/?{query}")
            assert response.status_code == 200, response.json()
            return sorted(r["amount"] for r in response.json()["results"])

        assert amounts(f"budget={budget.pk}") == ["1.00", "2.00", "3.00"]
        assert amounts("region=P12") == ["2.00"]
        assert amounts("region_ancestor=D1") == ["1.00", "2.00"]
        assert amounts("part=preventive") == ["2.00", "3.00"]
        assert amounts("category=honorare") == ["2.00", "3.00"]
        assert amounts("booking_date_after=2027-02-01&booking_date_before=2027-03-15") == ["2.00"]
        assert amounts("month=2027-03") == ["2.00", "3.00"]
        assert api.get(f"{API}/expenditures/?month=März").status_code == 400

    def test_list_query_count_is_constant(self, budget, tree, viewer, django_assert_num_queries):
        def fresh_api():  # a fresh user object: its role scopes are not cached yet
            return client_for(type(viewer).objects.get(pk=viewer.pk))

        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-15", "1.00")
        api = fresh_api()
        with django_assert_num_queries(3):  # roles, count, page (region joined)
            assert api.get(f"{API}/expenditures/").json()["count"] == 1
        for i in range(20):
            spend(budget, tree[("P11", "P12", "P21")[i % 3]], Part.PREVENTIVE, "2027-02-01", f"{i + 1}.00")
        api = fresh_api()
        with django_assert_num_queries(3):
            assert api.get(f"{API}/expenditures/").json()["count"] == 21


class TestUtilisation:
    @pytest.fixture
    def spent(self, budget, tree):
        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-01-15", "100.00")
        spend(budget, tree["P11"], Part.CASE_SPECIFIC, "2027-03-01", "50.50", category="Sachkosten")
        spend(budget, tree["P11"], Part.PREVENTIVE, "2027-03-20", "-10.25", category="Sachkosten")  # refund
        spend(budget, tree["P21"], Part.CASE_OVERARCHING, "2027-12-31", "33.33")
        spend(budget, tree["P21"], Part.CASE_SPECIFIC, "2027-06-30", "0.01")

    def test_without_adopted_run_allocated_is_null(self, budget, spent, planner):
        data = client_for(planner).get(f"{API}/budgets/{budget.pk}/utilisation/").json()
        assert data["adopted_run"] is None and "Verteilungsbeschluss" in data["note"]
        rows = {(r["region"], r["part"]): r for r in data["rows"]}
        assert rows[("P11", "case_specific")] == {
            "region": "P11", "region_name": "Nord-West", "part": "case_specific", "allocated": None,
            "spent": "150.50", "remaining": None, "percent": None,
        }
        assert data["totals"]["spent"] == "173.59" and data["totals"]["allocated"] is None

    def test_numbers_against_a_hand_computation(self, budget, spent, planner, django_assert_num_queries):
        run = run_allocation(budget.pk)
        adopt(run, planner)
        api = client_for(type(planner).objects.get(pk=planner.pk))  # no cached role scopes
        # roles, budget (with its adopted run), allocations, expenditures
        with django_assert_num_queries(4):
            response = api.get(f"{API}/budgets/{budget.pk}/utilisation/")
        data = response.json()
        assert data["adopted_run"] == run.pk and data["note"] == ""
        # need 1:1:2 → case_specific 700 = 175/175/350, overarching 100 = 25/25/50, preventive 200 = 50/50/100
        got = {(r["region"], r["part"]): (r["allocated"], r["spent"], r["remaining"], r["percent"])
               for r in data["rows"]}
        assert got == {
            ("P11", "case_specific"): ("175.00", "150.50", "24.50", "86.0"),
            ("P11", "case_overarching"): ("25.00", "0.00", "25.00", "0.0"),
            ("P11", "preventive"): ("50.00", "-10.25", "60.25", "-20.5"),
            ("P12", "case_specific"): ("175.00", "0.00", "175.00", "0.0"),
            ("P12", "case_overarching"): ("25.00", "0.00", "25.00", "0.0"),
            ("P12", "preventive"): ("50.00", "0.00", "50.00", "0.0"),
            ("P21", "case_specific"): ("350.00", "0.01", "349.99", "0.0"),
            ("P21", "case_overarching"): ("50.00", "33.33", "16.67", "66.7"),
            ("P21", "preventive"): ("100.00", "0.00", "100.00", "0.0"),
        }
        assert data["totals"] == {"allocated": "1000.00", "spent": "173.59", "remaining": "826.41", "percent": "17.4"}
        months = {m["month"]: m["spent"] for m in data["months"]}
        assert len(months) == 12
        assert months == {f"2027-{m:02d}": "0.00" for m in range(1, 13)} | {
            "2027-01": "100.00", "2027-03": "40.25", "2027-06": "0.01", "2027-12": "33.33"}
        assert sum(D(v) for v in months.values()) == D(data["totals"]["spent"])
        # per cost type: Personal 100.00 + 33.33 + 0.01, Sachkosten 50.50 − 10.25; percent of the 1,000.00 allocated
        categories = {c["category"]: c for c in data["categories"]}
        assert [c["category"] for c in data["categories"]] == ["Personal", "Sachkosten"]
        assert (categories["Personal"]["spent"], categories["Personal"]["percent"]) == ("133.34", "13.3")
        assert (categories["Sachkosten"]["spent"], categories["Sachkosten"]["percent"]) == ("40.25", "4.0")
        sachkosten = {m["month"]: m["spent"] for m in categories["Sachkosten"]["months"]}
        assert sachkosten["2027-03"] == "40.25" and sachkosten["2027-01"] == "0.00" and len(sachkosten) == 12
        assert sum(D(c["spent"]) for c in data["categories"]) == D(data["totals"]["spent"])

    def test_utilisation_of_an_invisible_budget_is_404(self, budget_d2, region_lead):
        # the region lead of D1 does not see a budget of D2
        assert client_for(region_lead).get(f"{API}/budgets/{budget_d2.pk}/utilisation/").status_code == 404
