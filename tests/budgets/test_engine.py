"""The allocation engine's contract (DESIGN.md "Allocation math"), checked with
fixed examples and with hypothesis properties."""

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from budgets.engine import EQUAL, EXCLUDE, INDICATOR, PER_CAPITA, AllocationError, Part, Term, allocate


def amounts(result):
    return {a.code: a.amount for a in result.amounts}


class TestExamples:
    def test_equal_split_leftover_cents_by_code(self):
        r = allocate(Part(amount=D("100.00"), regions=["c", "a", "b"], terms=[Term(EQUAL, D(1))]))
        assert amounts(r) == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
        assert r.total() == D("100.00")

    def test_indicator_shares_with_base(self):
        # 1,000 € ; base 100 € each; the remaining 700 € by x = 1 : 2 : 4
        part = Part(amount=D("1000.00"), regions=["a", "b", "c"], base=D("100.00"),
                    terms=[Term(INDICATOR, D(1), "x", {"a": D(1), "b": D(2), "c": D(4)})])
        assert amounts(allocate(part)) == {"a": D("200.00"), "b": D("300.00"), "c": D("500.00")}

    def test_weighted_terms_combine(self):
        part = Part(amount=D("1200.00"), regions=["a", "b"], terms=[
            Term(INDICATOR, D("0.5"), "x", {"a": D(3), "b": D(1)}),
            Term(EQUAL, D("0.5"), "gleich"),
        ])
        # a: 0.5·0.75 + 0.5·0.5 = 0.625 → 750 ; b: 450
        r = allocate(part)
        assert amounts(r) == {"a": D("750.00"), "b": D("450.00")}
        assert r.by_code()["a"].breakdown == {"Sockel": D("0"), "x": D("450.000000"), "gleich": D("300.000000")}

    def test_per_capita_times_factor(self):
        part = Part(amount=D("900.00"), regions=["a", "b"], terms=[
            Term(PER_CAPITA, D(1), "Einwohner", {"a": D(100), "b": D(100)}, factors={"a": D("2"), "b": D("1")}),
        ])
        assert amounts(allocate(part)) == {"a": D("600.00"), "b": D("300.00")}

    def test_cap_redistributes_excess_in_proportion(self):
        part = Part(amount=D("1000.00"), regions=["a", "b", "c"], caps={"a": D("200.00")},
                    terms=[Term(INDICATOR, D(1), "x", {"a": D(8), "b": D(1), "c": D(1)})])
        r = allocate(part)
        assert amounts(r) == {"a": D("200.00"), "b": D("400.00"), "c": D("400.00")}
        assert r.by_code()["a"].bound == "cap" and r.by_code()["a"].breakdown["Begrenzung"] < 0

    def test_floor_lifts_and_others_pay_in_proportion(self):
        part = Part(amount=D("1000.00"), regions=["a", "b", "c"], floors={"c": D("300.00")},
                    terms=[Term(INDICATOR, D(1), "x", {"a": D(3), "b": D(1), "c": D(0)})])
        assert amounts(allocate(part)) == {"a": D("525.00"), "b": D("175.00"), "c": D("300.00")}

    def test_missing_value_refused_or_excluded(self):
        values = {"a": D(1), "b": None, "c": D(1)}
        with pytest.raises(AllocationError, match="Raum b: fehlende Werte"):
            allocate(Part(amount=D("10.00"), regions=["a", "b", "c"], terms=[Term(INDICATOR, D(1), "x", values)]))
        r = allocate(Part(amount=D("10.00"), regions=["a", "b", "c"], missing=EXCLUDE,
                          terms=[Term(INDICATOR, D(1), "x", values)]))
        assert amounts(r) == {"a": D("5.00"), "c": D("5.00")} and "b" in r.excluded

    @pytest.mark.parametrize("part, message", [
        (Part(amount=D("10.00"), regions=["a", "b"], base=D("6.00"), terms=[Term(EQUAL, D(1))]), "Sockelbetrag"),
        (Part(amount=D("10.00"), regions=["a", "b"], floors={"a": D("6.00"), "b": D("6.00")},
              terms=[Term(EQUAL, D(1))]), "Untergrenzen"),
        (Part(amount=D("10.00"), regions=["a", "b"], caps={"a": D("4.00"), "b": D("4.00")},
              terms=[Term(EQUAL, D(1))]), "Obergrenzen"),
        (Part(amount=D("10.00"), regions=["a"], terms=[Term(EQUAL, D("0.5"))]), "Gewichte"),
        (Part(amount=D("10.005"), regions=["a"], terms=[Term(EQUAL, D(1))]), "Nachkommastellen"),
        (Part(amount=D("10.00"), regions=["a", "b"], terms=[Term(INDICATOR, D(1), "x", {"a": D(-1), "b": D(2)})]),
         "negative"),
        (Part(amount=D("10.00"), regions=["a", "b"], terms=[Term(INDICATOR, D(1), "x", {"a": D(0), "b": D(0)})]),
         "Summe"),
    ])
    def test_refusals(self, part, message):
        with pytest.raises(AllocationError, match=message):
            allocate(part)


# --- properties ---------------------------------------------------------------------

codes = st.lists(st.from_regex(r"[0-9]{2,4}", fullmatch=True), min_size=1, max_size=25, unique=True)
money = st.integers(min_value=0, max_value=10**11).map(lambda c: D(c).scaleb(-2))
positive_value = st.decimals(min_value=D("0.001"), max_value=D("1000000"), places=3)


@st.composite
def parts(draw, with_bounds=True):
    regions = draw(codes)
    amount = draw(money)
    n_terms = draw(st.integers(min_value=1, max_value=3))
    raw_weights = draw(st.lists(st.integers(min_value=1, max_value=100), min_size=n_terms, max_size=n_terms))
    weights = [D(w) / D(sum(raw_weights)) for w in raw_weights]
    # make the weights sum to exactly 1 as Decimals
    weights = [w.quantize(D("0.0001")) for w in weights]
    weights[-1] = D(1) - sum(weights[:-1])
    assume(all(w >= 0 for w in weights))
    terms = []
    for i, w in enumerate(weights):
        kind = draw(st.sampled_from([INDICATOR, PER_CAPITA, EQUAL]))
        values = {r: draw(positive_value) for r in regions}
        factors = {r: draw(positive_value) for r in regions} if kind == PER_CAPITA else None
        terms.append(Term(kind, w, f"t{i}", values, factors))
    base = D(0)
    if draw(st.booleans()) and len(regions):
        base = (amount / len(regions) * D(draw(st.integers(0, 90))) / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
    floors, caps = {}, {}
    if with_bounds:
        for r in regions:
            if draw(st.integers(0, 4)) == 0:
                floors[r] = (amount / len(regions) * D(draw(st.integers(0, 100))) / 100).quantize(
                    D("0.01"), rounding="ROUND_DOWN")
            if draw(st.integers(0, 4)) == 0:
                caps[r] = (amount / len(regions) * D(draw(st.integers(100, 300))) / 100).quantize(D("0.01"))
    return Part(amount=amount, regions=regions, terms=terms, base=base, floors=floors, caps=caps)


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(parts())
    def test_sum_is_exact_to_the_cent_and_bounds_hold(self, part):
        try:
            result = allocate(part)
        except AllocationError as e:
            assert "Grenzen" in str(e)  # only bounds that cannot all hold are refused here
            return
        assert result.total() == part.amount
        for a in result.amounts:
            assert a.amount == a.amount.quantize(D("0.01")) and a.amount >= 0
            if a.code in part.floors:
                assert a.amount >= part.floors[a.code]
            if a.code in part.caps:
                assert a.amount <= part.caps[a.code]

    @settings(max_examples=150, deadline=None)
    @given(parts(), st.randoms())
    def test_deterministic_whatever_the_order(self, part, rnd):
        shuffled = list(part.regions)
        rnd.shuffle(shuffled)
        try:
            first = allocate(part)
        except AllocationError:
            return
        second = allocate(Part(amount=part.amount, regions=shuffled, terms=part.terms, base=part.base,
                               floors=part.floors, caps=part.caps))
        assert amounts(first) == amounts(second)

    @settings(max_examples=300, deadline=None)
    @given(parts(with_bounds=False), st.data())
    def test_more_need_never_less_money(self, part, data):
        indicator_terms = [i for i, t in enumerate(part.terms) if t.kind == INDICATOR and t.weight > 0]
        assume(indicator_terms)
        i = data.draw(st.sampled_from(indicator_terms))
        region = data.draw(st.sampled_from(sorted(part.regions)))
        factor = data.draw(st.decimals(min_value=D("1.001"), max_value=D("100"), places=3))
        term = part.terms[i]
        raised = Term(term.kind, term.weight, term.label, {**term.values, region: term.values[region] * factor},
                      term.factors)
        terms = list(part.terms)
        terms[i] = raised
        before = amounts(allocate(part))[region]
        after = amounts(allocate(Part(amount=part.amount, regions=part.regions, terms=terms, base=part.base)))[region]
        assert after >= before

    @settings(max_examples=100, deadline=None)
    @given(parts(with_bounds=False))
    def test_without_bounds_amounts_follow_the_formula(self, part):
        result = allocate(part)
        shared = Fraction(part.amount) - Fraction(part.base) * len(part.regions)
        for a in result.amounts:
            exact = Fraction(part.base) + shared * a.share
            assert abs(Fraction(a.amount) - exact) < Fraction(1, 100)
