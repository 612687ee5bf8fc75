"""The Berlin demo budget: 10,000,000.00 € over the 12 Bezirke, 60 % by residents
under 18 and 40 % by a need index from MSS context indicators (15 % preventive
with its own rule), checked against a computation in this test from the
original CSV files."""

import csv
from collections import defaultdict
from decimal import Decimal as D
from fractions import Fraction
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from budgets.models import Budget
from budgets.services import input_series

DEMO = Path(__file__).resolve().parents[2] / "sozialraum" / "demo_data" / "berlin"


def read(path):
    return list(csv.DictReader(StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))


def number(text):
    text = text.strip()
    return Fraction(0) if text in ("–", "-") else Fraction(D(text))


def largest_remainder(exact: dict[str, Fraction], total_cents: int) -> dict[str, int]:
    cents = {k: int(v * 100) for k, v in exact.items()}  # all positive: int() floors
    order = sorted(exact, key=lambda k: (-(exact[k] * 100 - cents[k]), k))
    for k in order[: total_cents - sum(cents.values())]:
        cents[k] += 1
    return cents


@pytest.fixture
def demo_budget(db, berlin_dir, settings):
    for name in ("lor_2021.csv", "einwohner_2022-06_plr.csv", "mss_2021_kontext_plr.csv"):
        assert (DEMO / name).read_bytes() == (berlin_dir / name).read_bytes(), f"demo copy of {name} differs"
    call_command("load_demo", "--no-users", "--force", stdout=StringIO())
    return Budget.objects.get(name="Sozialraumbudget Jugendhilfe (Demo)")


@pytest.mark.berlin
class TestBerlinBudget:
    def test_amounts_match_an_independent_computation(self, demo_budget, berlin_dir):
        # residents under 18 per Bezirk (digits 1–2 of the PLR code), "–" = 0
        under18 = defaultdict(Fraction)
        for row in read(berlin_dir / "einwohner_2022-06_plr.csv"):
            under18[row["PLR-ID"][:2]] += number(row["unter6"]) + number(row["6-15"]) + number(row["15-18"])
        # need: Σ of the population-weighted means of K01, K02, K03 per Bezirk (empty cells left out)
        sums, weights = defaultdict(Fraction), defaultdict(Fraction)
        for row in read(berlin_dir / "mss_2021_kontext_plr.csv"):
            for k in ("K01", "K02", "K03"):
                if row[k].strip():
                    sums[(row["PLR-ID"][:2], k)] += number(row[k]) * number(row["EW 31.12.2020"])
                    weights[(row["PLR-ID"][:2], k)] += number(row["EW 31.12.2020"])
        need = {b: sum(sums[(b, k)] / weights[(b, k)] for k in ("K01", "K02", "K03")) for b in under18}
        s_under18 = {b: v / sum(under18.values()) for b, v in under18.items()}
        s_need = {b: v / sum(need.values()) for b, v in need.items()}
        # parts: 60 % / 25 % / 15 % of 10 M; the first two by 0.6·under18 + 0.4·need,
        # the preventive one: 50,000 € base each, the rest half equal, half by under18
        general = Fraction(8_500_000)
        preventive_rest = Fraction(1_500_000) - 12 * 50_000
        exact = {
            b: general * (Fraction(6, 10) * s_under18[b] + Fraction(4, 10) * s_need[b])
            + 50_000 + preventive_rest * (Fraction(1, 2) / 12 + Fraction(1, 2) * s_under18[b])
            for b in under18
        }
        run = demo_budget.adopted_run
        assert run is not None and run.status == "succeeded"
        totals = defaultdict(D)
        for allocation in run.allocations.select_related("region"):
            totals[allocation.region.code] += allocation.amount
        assert sum(totals.values()) == D("10000000.00")
        assert set(totals) == set(exact)
        for b, amount in totals.items():
            # the stored indicator values are rounded to 6 decimals at every roll-up level,
            # which moves an amount by at most a few cents
            assert abs(Fraction(amount) - exact[b]) < Fraction(50, 100), (b, amount, float(exact[b]))

    def test_cents_follow_the_stored_inputs_exactly(self, demo_budget):
        """From the inputs the run stored, this test's own arithmetic gives the same cents."""
        run = demo_budget.adopted_run
        inputs = run.snapshot["inputs"]
        under18 = {b: Fraction(D(v)) for b, v in input_series(inputs, "ew_unter18").items()}
        need = {b: Fraction(D(v)) for b, v in input_series(inputs, "bedarf_kontext_bezirke").items()}
        s_u = {b: v / sum(under18.values()) for b, v in under18.items()}
        s_n = {b: v / sum(need.values()) for b, v in need.items()}
        expected = {
            "case_specific": largest_remainder(
                {b: 6_000_000 * (Fraction(6, 10) * s_u[b] + Fraction(4, 10) * s_n[b]) for b in s_u}, 600_000_000),
            "case_overarching": largest_remainder(
                {b: 2_500_000 * (Fraction(6, 10) * s_u[b] + Fraction(4, 10) * s_n[b]) for b in s_u}, 250_000_000),
            "preventive": largest_remainder(
                {b: 50_000 + 900_000 * (Fraction(1, 24) + Fraction(1, 2) * s_u[b]) for b in s_u}, 150_000_000),
        }
        for allocation in run.allocations.select_related("region"):
            assert int(allocation.amount * 100) == expected[allocation.part][allocation.region.code], allocation
