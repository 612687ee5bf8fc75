"""Pages "Berechnungen vergleichen" and "Was wäre, wenn?": numbers against a
hand computation, the map of differences, nothing stored by a what-if,
validation messages, access per persona and query counts."""

import re
from decimal import Decimal as D

import pytest
from django.test import Client

from budgets.choices import RulePart, RunStatus, SplitMode, TermKind
from budgets.models import Adoption, AllocationRule, AllocationRun, Budget, RegionBound, RuleTerm
from budgets.services import adopt, run_allocation
from regions.models import IndicatorValue
from tests.factories import IndicatorFactory, IndicatorValueFactory, RegionFactory

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def row(response, code: str) -> list[str]:
    """The cells of the table row of region ``code`` (``data-region``), as text."""
    html = response.content.decode()
    match = re.search(rf'<tr data-region="{code}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {code!r}"
    return [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def square(lon, lat, size=0.01):
    return {"type": "Polygon",
            "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]}


@pytest.fixture
def two_runs(budget):
    """Run 1: "kinder" 1:1:2 → P11 250, P12 250, P21 500 €. Run 2: P21's value
    raised to 3 → 1:1:3 → P11 200, P12 200, P21 600 €."""
    first = run_allocation(budget.pk)
    IndicatorValue.objects.filter(region__code="P21", indicator__key="kinder").update(value=3)
    second = run_allocation(budget.pk)
    assert first.status == second.status == RunStatus.SUCCEEDED and first.pk != second.pk
    return first, second


def other_budget(tree, levels, field, scope="D1", name="Nordbudget"):
    """A budget of district D1 (its target regions P11, P12), equal shares."""
    budget = Budget.objects.create(name=name, fiscal_year=2027, field=field, scope_region=tree[scope],
                                   target_level=levels["planungsraum"], total=D("100.00"),
                                   split_mode=SplitMode.PERCENT, case_specific=D(100), case_overarching=D(0),
                                   preventive=D(0))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D(1))
    return budget


# --- Comparison ------------------------------------------------------------------------


class TestCompare:
    def test_table_against_hand_computation(self, budget, two_runs, viewer):
        first, second = two_runs
        response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/", {"a": first.pk, "b": second.pk})
        assert response.status_code == 200
        assert row(response, "P11") == ["Nord-West (P11)", "250,00 €", "200,00 €", "\u221250,00 €", "\u221220,0 %"]
        assert row(response, "P12") == ["Nord-Ost (P12)", "250,00 €", "200,00 €", "\u221250,00 €", "\u221220,0 %"]
        assert row(response, "P21") == ["Süd-Mitte (P21)", "500,00 €", "600,00 €", "+100,00 €", "+20,0 %"]
        assert row(response, "") == ["Summe", "1.000,00 €", "1.000,00 €", "0,00 €", "0,0 %"]
        page = text(response.content.decode())
        assert f"Betrag A (#{first.pk})" in page and f"Betrag B (#{second.pk})" in page
        assert "Bei 3 Räumen ändert sich der Betrag." in page
        html = response.content.decode()
        assert "<caption>" in html and '<th scope="col"' in html and '<th scope="row"' in html

    def test_totals_when_the_budget_grows(self, budget, viewer):
        first = run_allocation(budget.pk)
        budget.total = D("2000.00")
        budget.save()
        second = run_allocation(budget.pk)
        response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/", {"a": first.pk, "b": second.pk})
        assert row(response, "P21") == ["Süd-Mitte (P21)", "500,00 €", "1.000,00 €", "+500,00 €", "+100,0 %"]
        assert row(response, "") == ["Summe", "1.000,00 €", "2.000,00 €", "+1.000,00 €", "+100,0 %"]

    def test_defaults_adopted_against_newest(self, budget, two_runs, planner, viewer):
        first, second = two_runs
        # without an adoption: the second newest against the newest
        response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/")
        assert row(response, "P21")[1:3] == ["500,00 €", "600,00 €"]
        adopt(second, planner)
        response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/")
        html = response.content.decode()
        assert re.search(rf'<option value="{second.pk}" selected>Berechnung #{second.pk} vom [^<]* \(beschlossen\)',
                         html)
        assert "A und B sind dieselbe Berechnung" in text(html)
        # the adopted run as A against another choice
        response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/", {"b": first.pk})
        assert row(response, "P21")[1:] == ["600,00 €", "500,00 €", "\u2212100,00 €", "\u221216,7 %"]

    def test_runs_of_other_budgets_and_unknown_runs_are_refused(self, budget, two_runs, tree, levels, field,
                                                               viewer):
        other = other_budget(tree, levels, field, scope="CITY", name="Andere")
        foreign = run_allocation(other.pk)
        first, second = two_runs
        for params in ({"a": foreign.pk, "b": second.pk}, {"a": "999999", "b": second.pk}, {"a": "x"}):
            response = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/", params)
            assert response.status_code == 200
            html = response.content.decode()
            assert "Bitte eine fertige Berechnung dieses Budgets wählen." in html
            assert 'aria-invalid="true"' in html and 'id="id_a_error"' in html
            assert 'id="compare-table"' not in html

    def test_failed_runs_are_not_offered(self, budget, two_runs, viewer):
        budget.rules.all().delete()
        failed = run_allocation(budget.pk)
        assert failed.status == RunStatus.FAILED
        html = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/").content.decode()
        assert f'<option value="{failed.pk}"' not in html

    def test_without_runs(self, budget, viewer):
        page = text(client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/").content.decode())
        assert "noch keine fertige Berechnung" in page

    def test_map_of_differences(self, budget, two_runs, tree, viewer):
        """The page names the map's data; the values come from /api/v1/map-data/ (drawn in the browser)."""
        for i, code in enumerate(("P11", "P12", "P21")):
            tree[code].set_boundary(square(13.0 + i * 0.01, 52.0))
            tree[code].save()
        first, second = two_runs
        client = client_for(viewer)
        html = client.get(f"/budgets/{budget.pk}/vergleich/", {"a": first.pk, "b": second.pk}).content.decode()
        metric = f"delta%3A{first.pk}%3A{second.pk}"
        assert f'data-values-url="/api/v1/map-data/?level=planungsraum&amp;metric={metric}"' in html
        assert "Karte der Veränderungen" in html and "/static/js/dashboard.js" in html
        body = client.get("/api/v1/map-data/", {"level": "planungsraum", "metric": f"delta:{first.pk}:{second.pk}"}).json()
        texts = {r["code"]: r["text"] for r in body["regions"]}
        assert texts["P11"] == "\u221250,00\xa0€ (\u221220,0\xa0%)" and texts["P21"] == "+100,00\xa0€ (+20,0\xa0%)"
        counts = {c["label"]: (c["count"], c["hatched"]) for c in body["classes"]}
        assert counts["Abnahme um mehr als 10 %"] == (2, True) and counts["Zunahme um mehr als 10 %"] == (1, False)

    def test_map_left_out_without_boundaries(self, budget, two_runs, viewer):
        html = client_for(viewer).get(f"/budgets/{budget.pk}/vergleich/").content.decode()
        assert 'id="compare-table"' in html and "data-values-url" not in html

    def test_query_count(self, budget, two_runs, tree, levels, viewer, django_assert_max_num_queries):
        for i in range(12):
            region = RegionFactory(code=f"P3{i:02d}", name=f"Raum {i}", level=levels["planungsraum"],
                                   parent=tree["D2"])
            region.set_boundary(square(13.0 + i * 0.01, 52.1))
            region.save()
            IndicatorValueFactory(indicator=budget.rules.get().terms.get().indicator, region=region, period="2022",
                                  value=i + 1)
        first = run_allocation(budget.pk)
        budget.total = D("5000.00")
        budget.save()
        second = run_allocation(budget.pk)
        client = client_for(viewer)
        url = f"/budgets/{budget.pk}/vergleich/?a={first.pk}&b={second.pk}"
        client.get(url)
        with django_assert_max_num_queries(9):  # session, user, roles, budget, runs, 2 × run totals, regions
            response = client.get(url)
        assert len(re.findall(r'<tr data-region="P', response.content.decode())) == 15


class TestCompareAccess:
    def test_anonymous_is_sent_to_login(self, budget):
        response = client_for(None).get(f"/budgets/{budget.pk}/vergleich/")
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead", "provider_editor_a"])
    def test_readers(self, budget, two_runs, persona, request):
        response = client_for(request.getfixturevalue(persona)).get(f"/budgets/{budget.pk}/vergleich/")
        assert response.status_code == 200

    def test_invisible_budget_is_404(self, tree, levels, field, scoped_planner):
        hidden = other_budget(tree, levels, field)
        run_allocation(hidden.pk)
        assert client_for(scoped_planner).get(f"/budgets/{hidden.pk}/vergleich/").status_code == 404


# --- What-if ---------------------------------------------------------------------------


def variant_data(budget, terms, base="0", missing="refuse", part="all", total_forms=None, initial_forms=1):
    """POST data of the what-if form for the budget's one rule."""
    data = {f"{part}-base_amount": base, f"{part}-missing": missing,
            f"{part}-t-TOTAL_FORMS": str(total_forms if total_forms is not None else len(terms)),
            f"{part}-t-INITIAL_FORMS": str(initial_forms), f"{part}-t-MIN_NUM_FORMS": "0",
            f"{part}-t-MAX_NUM_FORMS": "20"}
    for n, term in enumerate(terms):
        for key, value in term.items():
            data[f"{part}-t-{n}-{key}"] = value
    return data


def term(kind="", weight="", indicator="", factor="", period="", delete=False):
    out = {"kind": kind, "weight": weight, "indicator": str(indicator), "factor_indicator": str(factor),
           "period": period}
    if delete:
        out["DELETE"] = "on"
    return out


class TestWhatIf:
    def test_form_shows_the_stored_rule(self, budget, planner):
        response = client_for(planner).get(f"/budgets/{budget.pk}/was-waere-wenn/")
        assert response.status_code == 200
        html = response.content.decode()
        need = budget.rules.get().terms.get().indicator
        assert 'name="all-base_amount" value="0,00"' in html
        assert 'name="all-t-0-weight" value="1"' in html
        assert re.search(rf'<option value="{need.pk}" selected>Kinder \(kinder\)</option>', html)
        assert 'name="all-t-TOTAL_FORMS" value="2"' in html  # the stored term and an empty slot
        assert 'for="id_all-t-0-weight"' in html and "Verteilungsschlüssel: alle Teile ohne eigene Regel" in text(html)
        assert 'id="what-if-table"' not in html

    def test_equal_shares_against_the_adopted_run_and_nothing_is_stored(self, budget, planner):
        adopted = run_allocation(budget.pk)
        adopt(adopted, planner)
        need = budget.rules.get().terms.get()
        runs_before = AllocationRun.objects.count()
        response = client_for(planner).post(
            f"/budgets/{budget.pk}/was-waere-wenn/",
            variant_data(budget, [term("indicator", "1", need.indicator_id, delete=True), term("equal", "1")],
                         total_forms=2),
        )
        assert response.status_code == 200
        page = text(response.content.decode())
        assert f"mit der beschlossenen Berechnung #{adopted.pk} verglichen" in page and "Nichts wurde gespeichert." in page
        # equal shares per part (700 / 100 / 200 €), leftover cents to P11, then P12 (ties by code)
        assert row(response, "P11") == ["Nord-West (P11)", "250,00 €", "333,35 €", "+83,35 €", "+33,3 %"]
        assert row(response, "P12") == ["Nord-Ost (P12)", "250,00 €", "333,33 €", "+83,33 €", "+33,3 %"]
        assert row(response, "P21") == ["Süd-Mitte (P21)", "500,00 €", "333,32 €", "\u2212166,68 €", "\u221233,3 %"]
        assert row(response, "") == ["Summe", "1.000,00 €", "1.000,00 €", "0,00 €", "0,0 %"]
        # nothing stored: no run, the adoption and the rule as they were
        assert AllocationRun.objects.count() == runs_before
        assert Budget.objects.with_adopted_run().get(pk=budget.pk).adopted_run_id == adopted.pk
        assert Adoption.objects.count() == 1
        stored = budget.rules.get()
        assert [(t.kind, t.weight, t.indicator_id) for t in stored.terms.all()] == [
            (TermKind.INDICATOR, D(1), need.indicator_id)]
        assert stored.base_amount == D("0.00")

    def test_map_of_the_variant_from_the_api(self, budget, planner, viewer, tree):
        for i, code in enumerate(("P11", "P12", "P21")):
            tree[code].set_boundary(square(13.0 + i * 0.01, 52.0))
            tree[code].save()
        adopt(run_allocation(budget.pk), planner)
        need = budget.rules.get().terms.get()
        client = client_for(planner)
        html = client.post(f"/budgets/{budget.pk}/was-waere-wenn/", variant_data(
            budget, [term("indicator", "1", need.indicator_id, delete=True), term("equal", "1")], total_forms=2,
        )).content.decode()
        metric = re.search(r'data-values-url="/api/v1/map-data/\?level=planungsraum&amp;metric=(whatif%3A[^"]+)"',
                           html).group(1).replace("%3A", ":")
        body = client.get("/api/v1/map-data/", {"level": "planungsraum", "metric": metric}).json()
        texts = {r["code"]: r["text"] for r in body["regions"]}
        assert texts == {"P11": "+83,35\xa0€ (+33,3\xa0%)", "P12": "+83,33\xa0€ (+33,3\xa0%)",
                         "P21": "\u2212166,68\xa0€ (\u221233,3\xa0%)"}
        # the variant is the planner's own: another user does not get it
        other = client_for(viewer).get("/api/v1/map-data/", {"level": "planungsraum", "metric": metric})
        assert other.status_code == 400 and "nicht (mehr) vorhanden" in other.json()["detail"]

    def test_adding_a_term_in_the_empty_slot(self, budget, planner):
        run = run_allocation(budget.pk)  # not adopted: compared with the newest run
        need = budget.rules.get().terms.get()
        data = variant_data(budget, [term("indicator", "0,5", need.indicator_id), term("equal", "0,5")],
                            total_forms=2)
        response = client_for(planner).post(f"/budgets/{budget.pk}/was-waere-wenn/", data)
        html = response.content.decode()
        assert f"neuesten fertigen Berechnung #{run.pk}" in text(html)
        # s = 0.5 · x/Σx + 0.5 · 1/3: P21 = 5/12 of each part → 291,66 + 41,66 + 83,33 €
        assert row(response, "P21") == ["Süd-Mitte (P21)", "500,00 €", "416,65 €", "\u221283,35 €", "\u221216,7 %"]
        assert row(response, "")[2] == "1.000,00 €"
        # the two terms kept, and a new empty slot after them
        assert 'name="all-t-TOTAL_FORMS" value="3"' in html
        assert 'name="all-t-1-weight" value="0,5"' in html and 'name="all-t-2-weight"' in html

    def test_base_amount_and_stored_bounds_apply(self, budget, tree, planner):
        rule = budget.rules.get()
        RegionBound.objects.create(rule=rule, region=tree["P21"], cap=D("300.00"))
        need = rule.terms.get()
        response = client_for(planner).post(
            f"/budgets/{budget.pk}/was-waere-wenn/",
            variant_data(budget, [term("indicator", "1", need.indicator_id)], base="10"),
        )
        # base 10 € each, the rest 1:1:2; the stored cap of 300 € (per part) on P21 is kept:
        # case-specific 700 €: P21 would get 10 + 335 → capped at 300, P11 and P12 share the rest (200 each);
        # case-overarching 100 €: 27,50 / 27,50 / 45; preventive 200 €: 52,50 / 52,50 / 95
        assert "Grenzen je Raum (bleiben wie gespeichert)" in text(response.content.decode())
        assert row(response, "P21")[2] == "440,00 €"
        assert row(response, "P11")[2] == row(response, "P12")[2] == "280,00 €"

    def test_weights_not_adding_up(self, budget, planner):
        response = client_for(planner).post(f"/budgets/{budget.pk}/was-waere-wenn/",
                                            variant_data(budget, [term("equal", "0,5")]))
        html = response.content.decode()
        assert "Die Gewichte müssen zusammen 1 ergeben (sind 0,5)." in html
        assert 'aria-describedby="rule-all-terms-error"' in html and 'id="rule-all-terms-error"' in html
        assert 'role="alert"' in html and "Bitte 1 Angabe korrigieren." in text(html)
        assert 'id="what-if-table"' not in html

    def test_field_errors_are_tied_to_their_fields(self, budget, planner):
        response = client_for(planner).post(
            f"/budgets/{budget.pk}/was-waere-wenn/",
            variant_data(budget, [term("indicator", "1")], base="viel"),
        )
        html = response.content.decode()
        assert "Diese Art braucht einen Indikator." in html
        assert re.search(r'<select name="all-t-0-indicator"[^>]*aria-invalid="true"', html)
        assert re.search(r'aria-describedby="[^"]*id_all-t-0-indicator_error', html)
        assert 'id="id_all-t-0-indicator_error"' in html
        assert "Bitte einen Betrag angeben, z. B. 1.000,00." in html
        assert not AllocationRun.objects.exists()

    def test_allocation_errors_are_shown(self, budget, planner):
        need = budget.rules.get().terms.get()
        client = client_for(planner)
        # a base amount of 400 € × 3 regions exceeds the case-overarching part of 100 €
        response = client.post(f"/budgets/{budget.pk}/was-waere-wenn/",
                               variant_data(budget, [term("indicator", "1", need.indicator_id)], base="400"))
        html = response.content.decode()
        assert 'id="allocation-error"' in html and "Die Variante lässt sich nicht berechnen:" in text(html)
        assert "Sockelbetrag" in text(html) and 'id="what-if-table"' not in html
        # an indicator without values in these regions
        empty = IndicatorFactory(key="leer", name="Leerer Indikator")
        response = client.post(f"/budgets/{budget.pk}/was-waere-wenn/",
                               variant_data(budget, [term("indicator", "1", empty.pk)]))
        assert "Für „Leerer Indikator“ gibt es in diesen Räumen keine Werte." in text(response.content.decode())
        assert not AllocationRun.objects.exists()

    def test_missing_values_excluded(self, budget, tree, planner):
        share = IndicatorFactory(key="quote", name="Quote", rollup="none")
        IndicatorValueFactory(indicator=share, region=tree["P11"], period="2022", value=1)
        IndicatorValueFactory(indicator=share, region=tree["P12"], period="2022", value=3)
        response = client_for(planner).post(
            f"/budgets/{budget.pk}/was-waere-wenn/",
            variant_data(budget, [term("indicator", "1", share.pk, period="2022")], missing="exclude"),
        )
        page = text(response.content.decode())
        assert "Ausgeschlossen im Teil „fallspezifisch“" in page and "Süd-Mitte (P21): fehlende Werte" in page
        assert row(response, "P21")[2] == "0,00 €" and row(response, "P12")[2] == "750,00 €"

    def test_budget_without_rules_offers_a_draft_rule(self, budget, planner):
        budget.rules.all().delete()
        client = client_for(planner)
        html = client.get(f"/budgets/{budget.pk}/was-waere-wenn/").content.decode()
        assert "noch kein Verteilungsschlüssel festgelegt" in text(html)
        assert 'name="all-t-TOTAL_FORMS" value="1"' in html
        response = client.post(f"/budgets/{budget.pk}/was-waere-wenn/",
                               variant_data(budget, [term("equal", "1")], initial_forms=0))
        assert row(response, "P21") == ["Süd-Mitte (P21)", "–", "333,32 €", "–", "–"]
        assert not budget.rules.exists()

    def test_query_count(self, budget, planner, django_assert_max_num_queries):
        adopt(run_allocation(budget.pk), planner)
        need = budget.rules.get().terms.get()
        client = client_for(planner)
        data = variant_data(budget, [term("indicator", "0,5", need.indicator_id), term("equal", "0,5")],
                            total_forms=2)
        client.post(f"/budgets/{budget.pk}/was-waere-wenn/", data)
        with django_assert_max_num_queries(17):  # 16 + whether the regions have boundaries (for the map)
            response = client.post(f"/budgets/{budget.pk}/was-waere-wenn/", data)
        assert 'id="what-if-table"' in response.content.decode()
        with django_assert_max_num_queries(10):
            assert client.get(f"/budgets/{budget.pk}/was-waere-wenn/").status_code == 200


class TestWhatIfAccess:
    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "scoped_planner", "provider_editor_a"])
    def test_refused_to_those_who_may_not_change_the_budget(self, budget, persona, request):
        client = client_for(request.getfixturevalue(persona))
        assert client.get(f"/budgets/{budget.pk}/was-waere-wenn/").status_code == 403
        response = client.post(f"/budgets/{budget.pk}/was-waere-wenn/", variant_data(budget, [term("equal", "1")]))
        assert response.status_code == 403
        assert not AllocationRun.objects.exists()

    def test_invisible_budget_is_404(self, tree, levels, field, scoped_planner):
        hidden = other_budget(tree, levels, field)
        client = client_for(scoped_planner)
        assert client.get(f"/budgets/{hidden.pk}/was-waere-wenn/").status_code == 404
        assert client.post(f"/budgets/{hidden.pk}/was-waere-wenn/", {}).status_code == 404

    def test_anonymous_is_sent_to_login(self, budget):
        response = client_for(None).post(f"/budgets/{budget.pk}/was-waere-wenn/", {})
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_scoped_planner_may_use_it_for_a_budget_of_their_district(self, tree, levels, field, scoped_planner):
        own = other_budget(tree, levels, field, scope="D2", name="Südbudget")
        response = client_for(scoped_planner).post(f"/budgets/{own.pk}/was-waere-wenn/",
                                                   variant_data(own, [term("equal", "1")]))
        assert row(response, "P21")[2] == "100,00 €"


class TestDetailLinks:
    def test_links_on_the_budget_page(self, budget, planner, viewer):
        html = client_for(planner).get(f"/budgets/{budget.pk}/").content.decode()
        nav = re.search(r'<nav class="budget-links" aria-label="Auswertungen und Planung">(.*?)</nav>', html, re.S)
        assert nav
        for url in ("vergleich/", "was-waere-wenn/", "ausgaben/", "auslastung/"):
            assert f'href="/budgets/{budget.pk}/{url}"' in nav.group(1)
        html = client_for(viewer).get(f"/budgets/{budget.pk}/").content.decode()
        assert "/was-waere-wenn/" not in html and f'href="/budgets/{budget.pk}/vergleich/"' in html
