"""Composite indices (Sozialindex, MSS status/dynamics method): the computation
against an independent one (``statistics``), class bounds, exclusion and missing
values (never 0), storage as a derived indicator, recomputation through the
``indicator_values_changed`` receiver and Celery, the API per persona, the
management command (JSON in, CSV out), the pages, and the real Berlin data.

Tree (conftest): CITY ─ D1 ─ P11, P12 (+ P13 here)
                     └ D2 ─ P21 (+ P22, P23 here)
"""

import csv
import io
import json
import statistics
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models.deletion import ProtectedError

from core.imports.base import import_now
from core.models import ImportRun
from regions.choices import IndexResultStatus
from regions.indices import (
    class_problems,
    classes_overlap,
    component_problems,
    compute,
    indices_using,
    save_definition,
)
from regions.models import (
    CompositeIndex,
    IndexClass,
    IndexResult,
    Indicator,
    IndicatorValue,
)
from regions.services import upsert_indicators
from regions.signals import indicator_values_changed
from tests.conftest import BERLIN_DIR, client_for
from tests.factories import IndicatorFactory, IndicatorValueFactory, RegionFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "regions" / "catalogues" / "berlin-status-index.json"
PERIOD = "2022"

# residents (exclusion below 300), share a, share b; P13 is excluded, P22 lacks b
EW = {"P11": 1000, "P12": 2000, "P13": 250, "P21": 800, "P22": 1200, "P23": 500}
A = {"P11": "10", "P12": "20", "P13": "99", "P21": "5", "P22": "30", "P23": "12.5"}
B = {"P11": "3", "P12": "1", "P13": "5", "P21": "4", "P23": "8"}
COMPUTED = ["P11", "P12", "P21", "P23"]

MSS_CLASSES = [
    {"label": "hoch", "lower": None, "lower_inclusive": True, "upper": Decimal("-1"), "upper_inclusive": False},
    {"label": "mittel", "lower": Decimal("-1"), "lower_inclusive": True, "upper": Decimal("1"),
     "upper_inclusive": True},
    {"label": "niedrig", "lower": Decimal("1"), "lower_inclusive": False, "upper": Decimal("1.5"),
     "upper_inclusive": True},
    {"label": "sehr niedrig", "lower": Decimal("1.5"), "lower_inclusive": False, "upper": None,
     "upper_inclusive": False},
]
DYNAMICS_CLASSES = [
    {"label": "positiv", "lower": None, "upper": Decimal("-1"), "upper_inclusive": False},
    {"label": "stabil", "lower": Decimal("-1"), "lower_inclusive": True, "upper": Decimal("1"),
     "upper_inclusive": True},
    {"label": "negativ", "lower": Decimal("1"), "lower_inclusive": False, "upper": None},
]


# --- helpers and fixtures ------------------------------------------------------------


def pz(values):
    """Independent z-scores: statistics module, population standard deviation."""
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    return [(v - mean) / sd for v in values]


@pytest.fixture
def world(tree, levels):
    plr = levels["planungsraum"]
    tree["P13"] = RegionFactory(code="P13", name="Nord-Süd", level=plr, parent=tree["D1"])
    tree["P22"] = RegionFactory(code="P22", name="Süd-Ost", level=plr, parent=tree["D2"])
    tree["P23"] = RegionFactory(code="P23", name="Süd-West", level=plr, parent=tree["D2"])
    ew = IndicatorFactory(key="ew", name="Einwohner", rollup="sum")
    a = IndicatorFactory(key="a", name="Anteil A", unit="%", rollup="none")
    b = IndicatorFactory(key="b", name="Anteil B", unit="%", rollup="none")
    for indicator, values in ((ew, EW), (a, A), (b, B)):
        for code, value in values.items():
            IndicatorValueFactory(indicator=indicator, region=tree[code], period=PERIOD, value=Decimal(str(value)))
    return {"tree": tree, "levels": levels, "ew": ew, "a": a, "b": b}


def make_index(world, key="sozialindex", components=None, classes=None, **fields):
    defaults = {
        "name": "Sozialindex", "scope_level": world["levels"]["planungsraum"],
        "exclude_indicator": world["ew"], "exclude_below": Decimal("300"), "restandardise": True,
    }
    defaults.update(fields)
    if components is None:
        components = [{"indicator": world["a"], "weight": 1}, {"indicator": world["b"], "weight": 2}]
    return save_definition(None, {"key": key, **defaults}, components, MSS_CLASSES if classes is None else classes)


def results(index, period=PERIOD) -> dict:
    return {r.region.code: r for r in IndexResult.objects.filter(index=index, period=period).select_related("region")}


def stored_values(index, period=PERIOD) -> dict:
    return {
        v.region.code: v.value
        for v in IndicatorValue.objects.filter(indicator=index.result_indicator, period=period).select_related("region")
    }


def expected_sums(weights=(1, 2), invert=(False, False), standardise=(True, True)):
    columns = []
    for values, inv, std in zip((A, B), invert, standardise, strict=True):
        xs = [(-1 if inv else 1) * float(values[c]) for c in COMPUTED]
        columns.append(pz(xs) if std else xs)
    return {c: sum(w * col[i] for w, col in zip(weights, columns, strict=True)) for i, c in enumerate(COMPUTED)}


def close(decimal_value, expected, tol=1e-6):
    return abs(float(decimal_value) - expected) <= tol


# --- computation --------------------------------------------------------------------


class TestComputation:
    def test_weighted_sum_of_z_scores_matches_independent_computation(self, world):
        index = make_index(world, restandardise=False)
        summary = compute(index.pk, PERIOD)
        assert (summary["regions"], summary["ok"], summary["excluded"], summary["missing"]) == (6, 4, 1, 1)
        expected = expected_sums()
        got = results(index)
        for code in COMPUTED:
            assert got[code].status == IndexResultStatus.OK
            assert close(got[code].value, expected[code]), (code, got[code].value, expected[code])
            assert got[code].weighted_sum == got[code].value  # not restandardised
        # the scores kept per region are the z-values
        za = pz([float(A[c]) for c in COMPUTED])
        assert got["P11"].inputs["a"] == {"value": "10", "score": round(za[0], 6)}

    def test_restandardised_sum_has_mean_0_and_sd_1(self, world):
        index = make_index(world)
        compute(index.pk, PERIOD)
        got = results(index)
        values = [float(got[c].value) for c in COMPUTED]
        assert abs(statistics.fmean(values)) < 1e-5
        assert abs(statistics.pstdev(values) - 1) < 1e-5
        expected = pz(list(expected_sums().values()))
        for code, e in zip(COMPUTED, expected, strict=True):
            assert close(got[code].value, e)
            assert close(got[code].weighted_sum, expected_sums()[code])

    def test_excluded_region_is_listed_without_value(self, world):
        index = make_index(world)
        compute(index.pk, PERIOD)
        p13 = results(index)["P13"]
        assert p13.status == IndexResultStatus.EXCLUDED
        assert p13.value is None and p13.class_label == ""
        assert "ew = 250" in p13.reason and "300" in p13.reason
        assert "P13" not in stored_values(index)

    def test_missing_component_gives_no_value_never_zero(self, world):
        index = make_index(world)
        compute(index.pk, PERIOD)
        p22 = results(index)["P22"]
        assert p22.status == IndexResultStatus.MISSING
        assert p22.missing == ["b"]
        assert p22.value is None and p22.weighted_sum is None and p22.class_label == ""
        assert "P22" not in stored_values(index)
        # the region is not counted as 0 in the standardisation either: the others
        # are standardised over the four computed regions only
        assert sorted(stored_values(index)) == COMPUTED

    def test_missing_exclusion_value_is_missing(self, world):
        IndicatorValue.objects.filter(indicator=world["ew"], region__code="P11").delete()
        index = make_index(world)
        compute(index.pk, PERIOD)
        p11 = results(index)["P11"]
        assert p11.status == IndexResultStatus.MISSING and p11.missing == ["ew"]

    def test_inverted_component(self, world):
        plain = make_index(world, key="plain", components=[{"indicator": world["a"]}], restandardise=False)
        inverted = make_index(world, key="inverted", components=[{"indicator": world["a"], "invert": True}],
                              restandardise=False)
        compute(plain.pk, PERIOD)
        compute(inverted.pk, PERIOD)
        p, i = results(plain), results(inverted)
        computed = ["P11", "P12", "P21", "P22", "P23"]  # without b, P22 is computed too
        za = pz([float(A[c]) for c in computed])
        for n, code in enumerate(computed):
            assert close(i[code].value, -za[n])
            assert i[code].value == -p[code].value
        # the region with the highest share has the lowest inverted value
        assert min(computed, key=lambda c: i[c].value) == "P22"

    def test_component_taken_as_is(self, world):
        index = make_index(world, components=[{"indicator": world["a"], "weight": "0.5", "standardise": False},
                                              {"indicator": world["b"], "standardise": False, "invert": True}],
                           restandardise=False)
        compute(index.pk, PERIOD)
        got = results(index)
        for code in COMPUTED:
            assert got[code].value == Decimal(A[code]) * Decimal("0.5") - Decimal(B[code])

    def test_results_are_values_of_the_result_indicator(self, world):
        index = make_index(world)
        indicator = index.result_indicator
        assert (indicator.key, indicator.rollup, indicator.source) == ("sozialindex", "none", "berechnet")
        compute(index.pk, PERIOD)
        got = results(index)
        values = IndicatorValue.objects.filter(indicator=indicator, period=PERIOD)
        assert values.count() == 4 and not values.filter(is_rollup=True).exists()
        assert stored_values(index) == {c: got[c].value for c in COMPUTED}

    def test_stale_values_removed_when_region_no_longer_computable(self, world):
        index = make_index(world)
        compute(index.pk, PERIOD)
        assert "P11" in stored_values(index)
        IndicatorValue.objects.filter(indicator=world["b"], region__code="P11").delete()
        summary = compute(index.pk, PERIOD)
        assert summary["values_removed"] == 1
        assert "P11" not in stored_values(index)
        assert results(index)["P11"].status == IndexResultStatus.MISSING

    def test_region_leaving_the_scope_loses_its_result(self, world):
        index = make_index(world, scope_ancestor=world["tree"]["D1"])
        compute(index.pk, PERIOD)
        assert sorted(results(index)) == ["P11", "P12", "P13"]
        index.scope_ancestor = world["tree"]["D2"]
        index.save()
        compute(index.pk, PERIOD)
        assert sorted(results(index)) == ["P21", "P22", "P23"]
        assert sorted(stored_values(index)) == ["P21", "P23"]

    def test_idempotent_second_run_changes_nothing(self, world, django_capture_on_commit_callbacks):
        index = make_index(world)
        sent = []

        def receiver(sender, **kwargs):
            sent.append(kwargs)

        indicator_values_changed.connect(receiver)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                first = compute(index.pk, PERIOD)
            with django_capture_on_commit_callbacks(execute=True):
                second = compute(index.pk, PERIOD)
        finally:
            indicator_values_changed.disconnect(receiver)
        assert first["values_created"] == 4
        assert (second["values_created"], second["values_updated"], second["values_removed"]) == (0, 0, 0)
        assert len(sent) == 1
        assert sent[0]["indicator_ids"] == [index.result_indicator_id] and sent[0]["periods"] == [PERIOD]
        assert sorted(sent[0]["region_ids"]) == sorted(world["tree"][c].pk for c in COMPUTED)

    def test_period_without_values_stores_nothing(self, world):
        index = make_index(world)
        summary = compute(index.pk, "2030")
        assert summary["regions"] == 0 and summary["warnings"]
        assert not IndexResult.objects.filter(period="2030").exists()

    def test_bad_period_refused(self, world):
        index = make_index(world)
        with pytest.raises(ValueError):
            compute(index.pk, "22")

    def test_constant_component_gives_zero_z_and_a_warning(self, world):
        c = IndicatorFactory(key="konstant", rollup="none")
        for code in EW:
            IndicatorValueFactory(indicator=c, region=world["tree"][code], period=PERIOD, value=7)
        index = make_index(world, components=[{"indicator": world["a"]}, {"indicator": c}], restandardise=False)
        summary = compute(index.pk, PERIOD)
        assert any("konstant" in w for w in summary["warnings"])
        za = pz([float(A[code]) for code in ["P11", "P12", "P21", "P22", "P23"]])
        assert close(results(index)["P22"].value, za[3])

    def test_index_over_districts_uses_rolled_up_values(self, world):
        for code, a_value, b_value in (("D1", "12", "2"), ("D2", "9", "5")):
            IndicatorValueFactory(indicator=world["a"], region=world["tree"][code], period=PERIOD,
                                  value=Decimal(a_value), is_rollup=True)
            IndicatorValueFactory(indicator=world["b"], region=world["tree"][code], period=PERIOD,
                                  value=Decimal(b_value), is_rollup=True)
        index = make_index(world, scope_level=world["levels"]["bezirk"], exclude_indicator=None, exclude_below=None,
                           restandardise=False)
        compute(index.pk, PERIOD)
        got = results(index)
        assert sorted(got) == ["D1", "D2"]
        assert close(got["D1"].value, 1 * 1 + 2 * -1) and close(got["D2"].value, -1 + 2 * 1)


# --- classes --------------------------------------------------------------------------


class TestClasses:
    @pytest.mark.parametrize("value, label", [
        ("-1.000001", "hoch"), ("-1", "mittel"), ("0", "mittel"), ("1", "mittel"), ("1.000001", "niedrig"),
        ("1.5", "niedrig"), ("1.500001", "sehr niedrig"), ("-99", "hoch"), ("99", "sehr niedrig"),
    ])
    def test_mss_bounds(self, value, label):
        classes = [IndexClass(**c) for c in MSS_CLASSES]
        assert [c.label for c in classes if c.contains(Decimal(value))] == [label]

    def test_exact_bounds_through_the_computation(self, world):
        x = IndicatorFactory(key="x", rollup="none")
        values = {"P11": "-1", "P12": "1", "P21": "1.5", "P22": "-1.0000001", "P23": "2", "P13": "1.0000004"}
        for code, v in values.items():
            IndicatorValueFactory(indicator=x, region=world["tree"][code], period=PERIOD, value=Decimal(v))
        index = make_index(world, components=[{"indicator": x, "standardise": False}], restandardise=False,
                           exclude_indicator=None, exclude_below=None)
        compute(index.pk, PERIOD)
        got = {code: (str(r.value), r.class_label) for code, r in results(index).items()}
        # values are stored with 6 decimals and classed as stored
        assert got == {
            "P11": ("-1.000000", "mittel"), "P12": ("1.000000", "mittel"), "P21": ("1.500000", "niedrig"),
            "P22": ("-1.000000", "mittel"), "P23": ("2.000000", "sehr niedrig"), "P13": ("1.000000", "mittel"),
        }

    def test_dynamics_index_expressible(self, world):
        index = make_index(world, key="dynamik", kind="dynamics", classes=DYNAMICS_CLASSES)
        compute(index.pk, PERIOD)
        labels = {r.class_label for r in results(index).values() if r.status == "ok"}
        assert labels <= {"positiv", "stabil", "negativ"} and labels
        assert index.get_kind_display() == "Dynamikindex"

    def test_interval_text(self):
        texts = [IndexClass(**c).interval_text() for c in MSS_CLASSES]
        assert texts == ["< −1", "≥ −1 und ≤ 1", "> 1 und ≤ 1,5", "> 1,5"]

    @pytest.mark.parametrize("a, b, overlap", [
        ((Decimal(-1), True, Decimal(1), True), (Decimal(1), True, Decimal("1.5"), True), True),
        ((Decimal(-1), True, Decimal(1), True), (Decimal(1), False, Decimal("1.5"), True), False),
        ((Decimal(-1), True, Decimal(1), False), (Decimal(1), True, None, False), False),
        ((None, True, Decimal(0), False), (None, True, Decimal(-5), False), True),
        ((Decimal(0), True, Decimal(2), False), (Decimal(1), True, Decimal(3), False), True),
        ((Decimal(0), True, Decimal(1), False), (Decimal(2), True, Decimal(3), False), False),
    ])
    def test_overlap(self, a, b, overlap):
        def cls(t):
            return {"label": "x", "lower": t[0], "lower_inclusive": t[1], "upper": t[2], "upper_inclusive": t[3]}

        assert classes_overlap(cls(a), cls(b)) is overlap
        assert classes_overlap(cls(b), cls(a)) is overlap

    def test_problems(self):
        assert class_problems(MSS_CLASSES) == []
        assert class_problems(DYNAMICS_CLASSES) == []
        overlapping = [dict(MSS_CLASSES[1]), dict(MSS_CLASSES[2], lower_inclusive=True)]
        assert class_problems(overlapping) == ["Die Klassen „mittel“ und „niedrig“ überschneiden sich."]
        assert any("mehrfach" in p for p in class_problems([MSS_CLASSES[0], dict(MSS_CLASSES[2], label="hoch")]))
        assert any("Untergrenze" in p for p in class_problems(
            [{"label": "x", "lower": Decimal(2), "upper": Decimal(1)}]))

    def test_bounds_checked_in_the_database(self, world):
        index = make_index(world)
        bad = IndexClass(index=index, label="falsch", lower=Decimal(2), upper=Decimal(1))
        with pytest.raises(ValidationError):
            bad.validate_constraints()


# --- definitions -------------------------------------------------------------------------


class TestDefinition:
    def test_result_indicator_follows_key_and_name(self, world):
        index = make_index(world)
        index.key, index.name = "neuer-name", "Neuer Name"
        index.save()
        indicator = Indicator.objects.get(pk=index.result_indicator_id)
        assert (indicator.key, indicator.name) == ("neuer-name", "Neuer Name")

    def test_key_of_an_existing_indicator_refused(self, world):
        index = CompositeIndex(key="a", name="x", scope_level=world["levels"]["planungsraum"])
        with pytest.raises(ValidationError) as e:
            index.clean()
        assert "key" in e.value.message_dict

    def test_reserved_key(self, world):
        with pytest.raises(ValidationError):
            CompositeIndex(key="neu", name="x", scope_level=world["levels"]["planungsraum"]).clean()

    def test_ancestor_must_lie_above_the_level(self, world):
        index = CompositeIndex(key="x", name="x", scope_level=world["levels"]["bezirk"],
                               scope_ancestor=world["tree"]["P11"])
        with pytest.raises(ValidationError) as e:
            index.clean()
        assert "scope_ancestor" in e.value.message_dict

    def test_own_result_and_cycles_refused(self, world):
        first = make_index(world, key="erster")
        second = make_index(world, key="zweiter", components=[{"indicator": first.result_indicator}])
        assert component_problems(second, [first.result_indicator]) == []  # a chain is fine
        assert any("eigene" in p for p in component_problems(first, [first.result_indicator]))
        assert any("Zirkelbezug" in p for p in component_problems(first, [world["a"], second.result_indicator]))
        assert any("mindestens" in p for p in component_problems(first, []))
        assert any("mehrfach" in p for p in component_problems(first, [world["a"], world["a"]]))

    def test_components_and_classes_matched_on_update(self, world):
        index = make_index(world)
        component_ids = {c.indicator.key: c.pk for c in index.components.select_related("indicator")}
        save_definition(index, {}, [{"indicator": world["b"], "weight": 3}], MSS_CLASSES[:2])
        comps = list(index.components.select_related("indicator"))
        assert [(c.indicator.key, c.weight) for c in comps] == [("b", 3)]
        assert comps[0].pk == component_ids["b"]  # updated, not replaced
        assert [c.label for c in index.classes.all()] == ["hoch", "mittel"]

    def test_delete_removes_result_indicator_unless_used(self, world):
        from regions.indices import delete_index

        first = make_index(world, key="erster")
        compute(first.pk, PERIOD)
        second = make_index(world, key="zweiter", components=[{"indicator": first.result_indicator}])
        with pytest.raises(ProtectedError), transaction.atomic():
            delete_index(first)
        first = CompositeIndex.objects.get(key="erster")  # still there (the failed delete was rolled back)
        delete_index(second)
        delete_index(first)
        assert not Indicator.objects.filter(key__in=["erster", "zweiter"]).exists()
        assert not IndexResult.objects.exists()


# --- recomputation (receiver + Celery) -------------------------------------------------------


@pytest.fixture
def computations(monkeypatch):
    """Counts the computations the task runs: [(index key, period), …]."""
    import regions.indices

    calls = []
    real = regions.indices.compute

    def counting(index_id, period, **kwargs):
        summary = real(index_id, period, **kwargs)
        calls.append((summary["index"], period))
        return summary

    monkeypatch.setattr(regions.indices, "compute", counting)
    return calls


def import_values(records):
    run = import_now("indicator_values", records, original_name="test")
    assert run.status == ImportRun.Status.SUCCEEDED, run.errors
    return run


class TestRecompute:
    def test_import_of_a_component_recomputes_once(self, world, eager_celery, computations,
                                                   django_capture_on_commit_callbacks):
        index = make_index(world)
        compute(index.pk, PERIOD)
        before = results(index)["P11"].value
        with django_capture_on_commit_callbacks(execute=True):
            import_values([{"region_code": "P11", "indicator": "a", "period": PERIOD, "value": "50"}])
        # exactly one computation, and the index's own result change did not trigger another
        assert computations == [("sozialindex", PERIOD)]
        after = results(index)["P11"]
        assert after.value != before and after.inputs["a"]["value"] == "50"
        assert stored_values(index)["P11"] == after.value

    def test_unrelated_import_triggers_nothing(self, world, eager_celery, computations,
                                               django_capture_on_commit_callbacks):
        make_index(world)
        other = IndicatorFactory(key="anderes", rollup="none")
        with django_capture_on_commit_callbacks(execute=True):
            import_values([{"region_code": "P11", "indicator": other.key, "period": PERIOD, "value": "1"}])
        assert computations == []

    def test_exclusion_indicator_triggers(self, world, eager_celery, computations,
                                          django_capture_on_commit_callbacks):
        index = make_index(world)
        with django_capture_on_commit_callbacks(execute=True):
            import_values([{"region_code": "P13", "indicator": "ew", "period": PERIOD, "value": "400"}])
        assert computations == [("sozialindex", PERIOD)]
        assert results(index)["P13"].status == IndexResultStatus.OK

    def test_own_result_indicator_ignored(self, world, eager_celery, computations,
                                          django_capture_on_commit_callbacks):
        index = make_index(world)
        assert indices_using([index.result_indicator_id]) == []
        with django_capture_on_commit_callbacks(execute=True):
            indicator_values_changed.send(sender=IndicatorValue, indicator_ids=[index.result_indicator_id],
                                          periods=[PERIOD], region_ids=None)
        assert computations == []

    def test_chained_index_follows_without_loop(self, world, eager_celery, computations,
                                                django_capture_on_commit_callbacks):
        first = make_index(world, key="erster")
        second = make_index(world, key="zweiter", components=[{"indicator": first.result_indicator}],
                            exclude_indicator=None, exclude_below=None)
        with django_capture_on_commit_callbacks(execute=True):
            import_values([{"region_code": "P11", "indicator": "a", "period": PERIOD, "value": "11"}])
        assert computations == [("erster", PERIOD), ("zweiter", PERIOD)]
        assert sorted(stored_values(second)) == COMPUTED

    def test_definition_change_recomputes_existing_periods(self, world, eager_celery, computations,
                                                           django_capture_on_commit_callbacks):
        index = make_index(world, restandardise=False)
        compute(index.pk, PERIOD)
        with django_capture_on_commit_callbacks(execute=True):
            save_definition(index, {}, [{"indicator": world["a"], "weight": 1}], None)
        assert computations == [("sozialindex", PERIOD)]
        za = pz([float(A[c]) for c in ["P11", "P12", "P21", "P22", "P23"]])
        assert close(results(index)["P22"].value, za[3])  # b no longer needed: P22 is computed now

    def test_task_skips_deleted_index(self, world, eager_celery):
        from regions.tasks import compute_index

        assert compute_index.delay(987654, PERIOD).get()["status"] == "skipped"


# --- API --------------------------------------------------------------------------------------


def api_definition(**overrides):
    body = {
        "key": "api-index", "name": "API-Index", "kind": "status", "scope_level": "planungsraum",
        "exclude_indicator": "ew", "exclude_below": "300", "restandardise": True,
        "components": [{"indicator": "a", "weight": "1"}, {"indicator": "b", "weight": "2", "invert": False}],
        "classes": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in c.items()} for c in MSS_CLASSES],
    }
    body.update(overrides)
    return body


@pytest.fixture
def users(personas, scoped_planner):
    return {**personas, "scoped_planner": scoped_planner}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def computed(world):
    index = make_index(world)
    compute(index.pk, PERIOD)
    return index


READERS = ["planner", "viewer", "region_lead", "provider_editor_a", "provider_editor_b", "scoped_planner"]
REFUSED_WRITERS = ["viewer", "region_lead", "provider_editor_a", "provider_editor_b", "scoped_planner"]
WRITES = [
    ("post", "/indices/", "definition"),
    ("patch", "/indices/sozialindex/", {"name": "X"}),
    ("put", "/indices/sozialindex/", "definition"),
    ("delete", "/indices/sozialindex/", None),
    ("post", "/indices/sozialindex/compute/", {"period": PERIOD}),
]


class TestApiAccess:
    @pytest.mark.parametrize("path", ["/indices/", "/indices/sozialindex/", "/indices/sozialindex/results/"])
    def test_anonymous_reads_refused(self, computed, api, path):
        response = api.get(API + path)
        assert response.status_code in (401, 403)
        assert set(response.json()) == {"detail"}

    @pytest.mark.parametrize("method, path, body", WRITES)
    def test_anonymous_writes_refused(self, computed, api, method, path, body):
        body = api_definition() if body == "definition" else body
        response = getattr(api, method)(API + path, body, format="json")
        assert response.status_code in (401, 403)
        assert CompositeIndex.objects.get().name == "Sozialindex"

    @pytest.mark.parametrize("persona", READERS)
    @pytest.mark.parametrize("path", ["/indices/", "/indices/sozialindex/", "/indices/sozialindex/results/"])
    def test_readers(self, computed, clients, persona, path):
        assert clients[persona].get(API + path).status_code == 200

    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    @pytest.mark.parametrize("method, path, body", WRITES)
    def test_writes_refused(self, computed, clients, persona, method, path, body, eager_celery,
                            django_capture_on_commit_callbacks, computations):
        body = api_definition() if body == "definition" else body
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(clients[persona], method)(API + path, body, format="json")
        assert response.status_code == 403, response.content
        assert CompositeIndex.objects.get().name == "Sozialindex"
        assert computations == []

    def test_results_follow_the_region_scope(self, computed, clients):
        def codes(persona):
            body = clients[persona].get(f"{API}/indices/sozialindex/results/").json()
            return sorted(r["region"] for r in body["results"])

        assert codes("viewer") == ["P11", "P12", "P13", "P21", "P22", "P23"]
        assert codes("region_lead") == ["P11", "P12", "P13"]
        assert codes("scoped_planner") == ["P21", "P22", "P23"]


class TestApiWrites:
    def test_planner_creates_with_nested_lists(self, world, clients):
        response = clients["planner"].post(f"{API}/indices/", api_definition(), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["result_indicator"] == "api-index"
        assert [c["indicator"] for c in body["components"]] == ["a", "b"]
        assert [c["label"] for c in body["classes"]] == ["hoch", "mittel", "niedrig", "sehr niedrig"]
        assert body["classes"][1]["lower_inclusive"] is True and body["classes"][2]["lower_inclusive"] is False
        index = CompositeIndex.objects.get(key="api-index")
        assert index.created_by.username == "planner"
        assert Indicator.objects.get(key="api-index").composite_index == index

    def test_planner_updates_and_deletes(self, computed, clients):
        client = clients["planner"]
        response = client.patch(f"{API}/indices/sozialindex/", {
            "name": "Neu", "components": [{"indicator": "a"}], "classes": [{"label": "alle"}],
        }, format="json")
        assert response.status_code == 200, response.json()
        assert [c["indicator"] for c in response.json()["components"]] == ["a"]
        assert [c["label"] for c in response.json()["classes"]] == ["alle"]
        assert response.json()["name"] == "Neu"
        response = client.put(f"{API}/indices/sozialindex/", api_definition(key="sozialindex"), format="json")
        assert response.status_code == 200, response.json()
        assert len(response.json()["components"]) == 2
        assert client.delete(f"{API}/indices/sozialindex/").status_code == 204
        assert not Indicator.objects.filter(key="sozialindex").exists()
        assert not IndicatorValue.objects.filter(indicator__key="sozialindex").exists()

    def test_delete_refused_while_used(self, computed, clients, world):
        make_index(world, key="kette", components=[{"indicator": computed.result_indicator}])
        response = clients["planner"].delete(f"{API}/indices/sozialindex/")
        assert response.status_code == 409
        assert CompositeIndex.objects.filter(key="sozialindex").exists()

    @pytest.mark.parametrize("overrides, field", [
        ({"classes": [{"label": "a", "lower": "-1", "upper": "1", "upper_inclusive": True},
                      {"label": "b", "lower": "1", "lower_inclusive": True}]}, "classes"),
        ({"components": [{"indicator": "a"}, {"indicator": "a"}]}, "components"),
        ({"components": []}, "components"),
        ({"components": [{"indicator": "a", "weight": "0"}]}, "components"),
        ({"components": [{"indicator": "gibt-es-nicht"}]}, "components"),
        ({"exclude_indicator": None}, "exclude_indicator"),
        ({"exclude_below": None}, "exclude_below"),
        ({"key": "a"}, "key"),
        ({"scope_level": "bezirk", "scope_ancestor": "P11"}, "scope_ancestor"),
    ])
    def test_invalid_definitions(self, world, clients, overrides, field):
        response = clients["planner"].post(f"{API}/indices/", api_definition(**overrides), format="json")
        assert response.status_code == 400
        assert field in response.json(), response.json()
        assert not CompositeIndex.objects.exists()

    def test_compute_enqueues_and_results_filter(self, world, clients, eager_celery,
                                                 django_capture_on_commit_callbacks):
        make_index(world)
        client = clients["planner"]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(f"{API}/indices/sozialindex/compute/", {"period": PERIOD}, format="json")
        assert response.status_code == 202
        assert response.json() == {"index": "sozialindex", "period": PERIOD, "status": "queued"}
        assert callbacks
        url = f"{API}/indices/sozialindex/results/"
        body = client.get(url, {"period": PERIOD}).json()
        assert body["count"] == 6
        row = next(r for r in body["results"] if r["region"] == "P22")
        assert row["status"] == "missing" and row["value"] is None and row["missing"] == ["b"]
        assert [r["region"] for r in client.get(url, {"status": "excluded"}).json()["results"]] == ["P13"]
        assert client.get(url, {"region_ancestor": "D1"}).json()["count"] == 3
        labels = {r["class_label"] for r in client.get(url, {"status": "ok"}).json()["results"]}
        some = labels.pop()
        assert all(r["class_label"] == some for r in client.get(url, {"class_label": some}).json()["results"])
        assert client.get(url, {"period": "1999"}).json()["count"] == 0
        assert client.get(url, {"status": "unsinn"}).status_code == 400

    def test_compute_needs_a_valid_period(self, world, clients):
        make_index(world)
        response = clients["planner"].post(f"{API}/indices/sozialindex/compute/", {"period": "gestern"},
                                           format="json")
        assert response.status_code == 400 and "period" in response.json()

    def test_list_filters(self, computed, world, clients):
        make_index(world, key="dynamik", name="Dynamik", kind="dynamics", classes=DYNAMICS_CLASSES,
                   components=[{"indicator": world["b"]}])
        client = clients["viewer"]
        assert [i["key"] for i in client.get(f"{API}/indices/", {"kind": "dynamics"}).json()["results"]] == ["dynamik"]
        assert [i["key"] for i in client.get(f"{API}/indices/", {"indicator": "a"}).json()["results"]] == [
            "sozialindex"]

    def test_schema_documents_the_endpoints(self, computed, clients):
        schema = json.loads(clients["viewer"].get(f"{API}/schema/", {"format": "json"}).content)
        for path in ["/api/v1/indices/", "/api/v1/indices/{key}/", "/api/v1/indices/{key}/compute/",
                     "/api/v1/indices/{key}/results/"]:
            assert path in schema["paths"], path
        params = {p["name"] for p in schema["paths"]["/api/v1/indices/{key}/results/"]["get"]["parameters"]}
        assert {"period", "status", "class_label", "region_ancestor", "page"} <= params


class TestApiQueries:
    @pytest.fixture
    def many(self, world):
        levels, tree = world["levels"], world["tree"]
        for i in range(40):
            region = RegionFactory(code=f"Q{i:03d}", name=f"Quartier {i}", level=levels["planungsraum"],
                                   parent=tree["D2"] if i % 2 else tree["D1"])
            for indicator, value in ((world["ew"], 1000 + i), (world["a"], i), (world["b"], i % 7)):
                IndicatorValueFactory(indicator=indicator, region=region, period=PERIOD, value=value)
        for n in range(8):
            make_index(world, key=f"index-{n}", name=f"Index {n}")
        index = make_index(world)
        compute(index.pk, PERIOD)
        return index

    @pytest.mark.parametrize("persona", ["viewer", "planner"])
    def test_list_queries(self, many, users, persona, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users[persona])
        # session, user, count, page, components (with indicators), classes
        with django_assert_max_num_queries(6):
            response = client.get(f"{API}/indices/")
        assert response.json()["count"] == 9

    @pytest.mark.parametrize("persona", ["viewer", "region_lead"])
    def test_results_queries(self, many, users, persona, django_assert_max_num_queries):
        client = client_for(None)
        client.force_login(users[persona])
        # session, user, index, role scopes, count, page
        with django_assert_max_num_queries(6):
            response = client.get(f"{API}/indices/sozialindex/results/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 20


# --- management command -------------------------------------------------------------------


def write_definition(tmp_path, **overrides):
    path = tmp_path / "index.json"
    path.write_text(json.dumps(api_definition(**overrides), ensure_ascii=False), encoding="utf-8")
    return path


def read_csv(text):
    return list(csv.reader(io.StringIO(text)))


class TestCommand:
    def test_definition_in_csv_out(self, world, tmp_path):
        definition = write_definition(tmp_path)
        out = tmp_path / "ergebnis.csv"
        stdout = io.StringIO()
        call_command("compute_index", "--definition", str(definition), "--period", PERIOD, "--csv", str(out),
                     stdout=stdout)
        assert "Index api-index angelegt" in stdout.getvalue()
        assert "4 berechnet, 1 ausgeschlossen, 1 mit fehlenden Werten" in stdout.getvalue()
        rows = read_csv(out.read_text(encoding="utf-8"))
        assert rows[0] == ["region_code", "period", "value", "class"]
        by_code = {r[0]: r for r in rows[1:]}
        assert sorted(by_code) == ["P11", "P12", "P13", "P21", "P22", "P23"]
        assert by_code["P13"] == ["P13", PERIOD, "", ""]
        assert by_code["P22"] == ["P22", PERIOD, "", ""]
        got = results(CompositeIndex.objects.get(key="api-index"))
        assert by_code["P11"] == ["P11", PERIOD, str(got["P11"].value), got["P11"].class_label]

    def test_csv_to_stdout_and_update(self, world, tmp_path):
        call_command("compute_index", "--definition", str(write_definition(tmp_path)), stdout=io.StringIO())
        changed = write_definition(tmp_path, components=[{"indicator": "a"}], name="Nur A")
        stdout, stderr = io.StringIO(), io.StringIO()
        call_command("compute_index", "--definition", str(changed), "--period", PERIOD, "--csv", stdout=stdout,
                     stderr=stderr)
        assert "aktualisiert" in stderr.getvalue()
        rows = read_csv(stdout.getvalue())
        assert rows[0] == ["region_code", "period", "value", "class"] and len(rows) == 7
        assert [r[0] for r in rows[1:] if r[2]] == ["P11", "P12", "P21", "P22", "P23"]  # b no longer needed
        assert CompositeIndex.objects.get(key="api-index").name == "Nur A"

    def test_compute_by_key_and_all_periods(self, world):
        index = make_index(world)
        IndicatorValueFactory(indicator=world["a"], region=world["tree"]["P11"], period="2023", value=1)
        stdout = io.StringIO()
        call_command("compute_index", "sozialindex", "--all-periods", stdout=stdout)
        assert sorted(index.result_periods()) == ["2022", "2023"]
        assert "sozialindex 2023: 0 berechnet" in stdout.getvalue()

    def test_invalid_definition_saves_nothing(self, world, tmp_path):
        bad = write_definition(tmp_path, components=[{"indicator": "gibt-es-nicht"}])
        with pytest.raises(CommandError, match="components"):
            call_command("compute_index", "--definition", str(bad), stdout=io.StringIO())
        assert not CompositeIndex.objects.exists()

    @pytest.mark.parametrize("args, message", [
        (["unbekannt", "--period", PERIOD], "unbekannt"),
        (["sozialindex", "--period", "22"], "Zeitraum"),
        ([], "Schlüssel"),
    ])
    def test_errors(self, world, args, message):
        make_index(world)
        with pytest.raises(CommandError, match=message):
            call_command("compute_index", *args, stdout=io.StringIO())


# --- pages ------------------------------------------------------------------------------


def login(client, user):
    client.force_login(user)
    return client


def formset_data(prefix, rows, initial=0):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        for k, v in row.items():
            data[f"{prefix}-{i}-{k}"] = v
    return data


def form_post(world, **overrides):
    data = {"name": "Seitenindex", "key": "seitenindex", "kind": "status",
            "scope_level": str(world["levels"]["planungsraum"].pk), "scope_ancestor": "",
            "exclude_indicator": str(world["ew"].pk), "exclude_below": "300", "restandardise": "on"}
    data.update(formset_data("components", [
        {"indicator": str(world["a"].pk), "weight": "1", "standardise": "on", "order": "0"},
        {"indicator": str(world["b"].pk), "weight": "1", "standardise": "on", "order": "1"},
    ]))
    data.update(formset_data("classes", [
        {"label": "niedrig", "lower": "", "lower_inclusive": "on", "upper": "0", "order": "0"},
        {"label": "hoch", "lower": "0", "lower_inclusive": "on", "upper": "", "order": "1"},
    ]))
    data.update(overrides)
    return data


class TestPages:
    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead", "provider_editor_a"])
    def test_list_and_detail_render(self, computed, client, users, persona):
        login(client, users[persona])
        html = client.get("/raeume/indizes/").content.decode()
        assert "Sozialindex" in html and 'href="/raeume/indizes/sozialindex/"' in html
        response = client.get("/raeume/indizes/sozialindex/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Ausgeschlossene Räume" in html and "ew = 250 unter der Schwelle 300" in html
        # P22 (missing a value) lies in D2, outside the region lead's subtree
        assert ("Räume mit fehlenden Werten" in html) is (persona != "region_lead")
        assert ("Neu berechnen" in html) is (persona == "planner")
        assert ('href="/raeume/indizes/neu/"' in client.get("/raeume/indizes/").content.decode()) is (
            persona == "planner")

    def test_detail_lists_excluded_and_missing_separately(self, computed, client, viewer):
        html = login(client, viewer).get("/raeume/indizes/sozialindex/").content.decode()
        assert "Zeitraum 2022: 4 Räume berechnet, 1 ausgeschlossen, 1 mit fehlenden Werten." in html
        missing_section = html.split("Räume mit fehlenden Werten")[1]
        assert "P22" in missing_section and "<td>b</td>" in missing_section

    def test_nav_link(self, computed, client, viewer):
        html = login(client, viewer).get("/raeume/indizes/").content.decode()
        assert 'href="/raeume/indizes/" aria-current="page">Indizes<' in html

    def test_detail_queries(self, computed, client, viewer, django_assert_max_num_queries):
        login(client, viewer)
        with django_assert_max_num_queries(14):
            assert client.get("/raeume/indizes/sozialindex/").status_code == 200

    def test_planner_creates_with_formsets(self, world, client, planner):
        login(client, planner)
        assert client.get("/raeume/indizes/neu/").status_code == 200
        response = client.post("/raeume/indizes/neu/", form_post(world))
        assert response.status_code == 302, response.content.decode()[:2000]
        index = CompositeIndex.objects.get(key="seitenindex")
        assert [c.indicator.key for c in index.components.all()] == ["a", "b"]
        assert [c.label for c in index.classes.all()] == ["niedrig", "hoch"]
        assert index.created_by == planner

    def test_form_errors_per_field(self, world, client, planner):
        login(client, planner)
        data = form_post(world, **{"components-1-weight": "0", "exclude_below": "",
                                   "classes-1-lower_inclusive": ""})
        data["classes-0-upper_inclusive"] = "on"  # ]-∞; 0] and [0; ∞[ overlap … unless 0 is excluded below
        data["classes-1-lower_inclusive"] = "on"
        response = client.post("/raeume/indizes/neu/", data)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="id_components-1-weight_error"' in html
        assert "Das Gewicht muss größer als 0 sein" in html
        assert 'id="id_exclude_below_error"' in html
        assert not CompositeIndex.objects.exists()

    def test_overlapping_classes_reported(self, world, client, planner):
        login(client, planner)
        data = form_post(world)
        data["classes-0-upper_inclusive"] = "on"
        html = client.post("/raeume/indizes/neu/", data).content.decode()
        assert "Die Klassen „niedrig“ und „hoch“ überschneiden sich." in html

    def test_planner_edits(self, computed, client, planner, eager_celery, django_capture_on_commit_callbacks):
        login(client, planner)
        assert client.get("/raeume/indizes/sozialindex/bearbeiten/").status_code == 200
        comps = list(computed.components.all())
        classes = list(computed.classes.all())
        data = form_post(computed_world := {"levels": {"planungsraum": computed.scope_level},
                                            "ew": computed.exclude_indicator,
                                            "a": comps[0].indicator, "b": comps[1].indicator},
                         name="Umbenannt", key="sozialindex")
        data.update(formset_data("components", [
            {"id": str(comps[0].pk), "indicator": str(computed_world["a"].pk), "weight": "1", "standardise": "on",
             "order": "0"},
            {"id": str(comps[1].pk), "indicator": str(computed_world["b"].pk), "weight": "2", "standardise": "on",
             "order": "1", "DELETE": "on"},
        ], initial=2))
        data.update(formset_data("classes", [
            {"id": str(c.pk), "label": c.label, "lower": "" if c.lower is None else str(c.lower),
             "lower_inclusive": "on" if c.lower_inclusive else "", "upper": "" if c.upper is None else str(c.upper),
             "upper_inclusive": "on" if c.upper_inclusive else "", "order": str(c.order)}
            for c in classes
        ], initial=len(classes)))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/raeume/indizes/sozialindex/bearbeiten/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        computed.refresh_from_db()
        assert computed.name == "Umbenannt"
        assert [c.indicator.key for c in computed.components.all()] == ["a"]
        assert results(computed)["P22"].status == IndexResultStatus.OK  # recomputed without b

    @pytest.mark.parametrize("persona", ["viewer", "region_lead", "provider_editor_a", "scoped_planner"])
    def test_others_may_not_edit_or_compute(self, computed, client, users, persona):
        login(client, users[persona])
        assert client.get("/raeume/indizes/neu/").status_code == 403
        assert client.get("/raeume/indizes/sozialindex/bearbeiten/").status_code == 403
        assert client.post("/raeume/indizes/sozialindex/bearbeiten/", {}).status_code == 403
        assert client.post("/raeume/indizes/sozialindex/berechnen/", {"period": PERIOD}).status_code == 403

    def test_anonymous_redirected_to_login(self, computed, client):
        for url in ("/raeume/indizes/", "/raeume/indizes/sozialindex/", "/raeume/indizes/neu/"):
            response = client.get(url)
            assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_recompute_button(self, world, client, planner, eager_celery, django_capture_on_commit_callbacks):
        make_index(world)
        login(client, planner)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/raeume/indizes/sozialindex/berechnen/", {"period": PERIOD})
        assert response.status_code == 302
        assert response["Location"] == f"/raeume/indizes/sozialindex/?period={PERIOD}"
        assert len(results(CompositeIndex.objects.get())) == 6
        html = client.get(response["Location"]).content.decode()
        assert "Berechnung für den Zeitraum 2022 gestartet." in html
        response = client.post("/raeume/indizes/sozialindex/berechnen/", {"period": "x"}, follow=True)
        assert "Zeitraum muss JJJJ" in response.content.decode()

    def test_english(self, computed, client, viewer, settings):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = login(client, viewer).get("/raeume/indizes/sozialindex/").content.decode()
        assert "Excluded" in html and "Results" in html


# --- the real Berlin data ---------------------------------------------------------------------

MSS_PERIOD = "2020-12-31"


def berlin_csv(name):
    with open(BERLIN_DIR / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


@pytest.fixture(scope="class")
def berlin_mss(request, django_db_setup, django_db_blocker):
    """Catalogue, LOR hierarchy and MSS context indicators, imported once per
    class inside a transaction rolled back afterwards."""
    if not (BERLIN_DIR / "lor_2021.csv").is_file():
        pytest.skip(f"Berlin open data not found at {BERLIN_DIR}")
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            catalogue = json.loads((ROOT / "regions" / "catalogues" / "berlin.json").read_text(encoding="utf-8"))
            upsert_indicators(catalogue["indicators"])
            for kind, name, profile in (("regions", "lor_2021.csv", "berlin-lor"),
                                        ("indicator_values", "mss_2021_kontext_plr.csv", "berlin-mss-2021")):
                run = import_now(kind, BERLIN_DIR / name, options={"profile": profile}, original_name=name)
                assert run.status == ImportRun.Status.SUCCEEDED, run.errors[:5]
                with connection.cursor() as cur:
                    cur.execute("ANALYZE regions_region, regions_indicatorvalue, regions_indicator")
            out = io.StringIO()
            call_command("compute_index", "--definition", str(EXAMPLE), "--period", MSS_PERIOD, "--csv",
                         stdout=out, stderr=io.StringIO())
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
            yield {"csv": read_csv(out.getvalue()), "index": CompositeIndex.objects.get(key="berlin-status-kontext")}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def independent_berlin():
    """The example index computed from the CSV alone (statistics module)."""
    rows = berlin_csv("mss_2021_kontext_plr.csv")
    excluded, missing, computed = set(), set(), []
    for r in rows:
        if int(r["EW 31.12.2020"]) < 300:
            excluded.add(r["PLR-ID"])
        elif any(not r[k].strip() for k in ("K01", "K02", "K03")):
            missing.add(r["PLR-ID"])
        else:
            computed.append(r)
    columns = [pz([float(r[k]) for r in computed]) for k in ("K01", "K02", "K03")]
    sums = [sum(col[i] for col in columns) for i in range(len(computed))]
    values = dict(zip((r["PLR-ID"] for r in computed), pz(sums), strict=True))
    return {"rows": rows, "excluded": excluded, "missing": missing, "values": values}


def mss_class(v: float) -> str:
    if v < -1:
        return "hoch"
    if v <= 1:
        return "mittel"
    if v <= 1.5:
        return "niedrig"
    return "sehr niedrig"


@pytest.mark.berlin
class TestBerlin:
    def test_example_over_542_planungsraeume(self, berlin_mss):
        expected = independent_berlin()
        index = berlin_mss["index"]
        got = results(index, MSS_PERIOD)
        assert len(got) == 542 == len(expected["rows"])
        excluded = {c for c, r in got.items() if r.status == IndexResultStatus.EXCLUDED}
        # residents < 300, counted independently from the CSV: 5 Planungsräume
        assert excluded == expected["excluded"] and len(excluded) == 5
        missing = {c for c, r in got.items() if r.status == IndexResultStatus.MISSING}
        assert missing == expected["missing"]
        assert all(got[c].value is None for c in excluded | missing)
        ok = {c: r for c, r in got.items() if r.status == IndexResultStatus.OK}
        assert len(ok) == 542 - len(excluded) - len(missing)
        for code, value in expected["values"].items():
            assert close(ok[code].value, value), (code, ok[code].value, value)
            assert ok[code].class_label == mss_class(float(ok[code].value))
        assert IndicatorValue.objects.filter(indicator=index.result_indicator, period=MSS_PERIOD).count() == len(ok)

    def test_class_counts_match_independent_classing(self, berlin_mss):
        expected = independent_berlin()
        counts = {}
        for v in expected["values"].values():
            label = mss_class(round(v, 6))
            counts[label] = counts.get(label, 0) + 1
        got = {}
        for r in IndexResult.objects.filter(index=berlin_mss["index"], status="ok"):
            got[r.class_label] = got.get(r.class_label, 0) + 1
        assert got == counts
        assert set(got) == {"hoch", "mittel", "niedrig", "sehr niedrig"}

    def test_csv_output(self, berlin_mss):
        rows = berlin_mss["csv"]
        assert rows[0] == ["region_code", "period", "value", "class"]
        assert len(rows) == 543
        by_code = {r[0]: r for r in rows[1:]}
        assert by_code["01100101"][1] == MSS_PERIOD and by_code["01100101"][2]  # codes keep leading zeros
        for code in independent_berlin()["excluded"]:
            assert by_code[code][2:] == ["", ""]

    def test_pages_render(self, berlin_mss, client, planner, viewer):
        for user in (planner, viewer):
            client.force_login(user)
            response = client.get("/raeume/indizes/berlin-status-kontext/")
            assert response.status_code == 200
            html = response.content.decode()
            assert "Ausgeschlossene Räume" in html and "NICHT der amtliche MSS-Statusindex" in html
            assert client.get("/raeume/indizes/").status_code == 200

    def test_dynamics_example_from_the_readme(self, berlin_mss, tmp_path):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        section = readme.split("## Composite indices")[1]
        snippet = section.split("```json")[1].split("```")[0]
        path = tmp_path / "dynamik.json"
        path.write_text(snippet, encoding="utf-8")
        call_command("compute_index", "--definition", str(path), "--period", MSS_PERIOD, stdout=io.StringIO())
        index = CompositeIndex.objects.get(key="dynamik")
        assert index.kind == "dynamics"
        got = results(index, MSS_PERIOD)
        assert len(got) == 542
        labels = {r.class_label for r in got.values() if r.status == "ok"}
        assert labels == {"positiv", "stabil", "negativ"}
        assert sum(r.status == "excluded" for r in got.values()) == 5
