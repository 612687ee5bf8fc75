"""The allocation engine: one budget part over the regions of a level, exact to
the cent. Pure Python (no database), so every figure can be recomputed and
tested in isolation; the services feed it and store what it returns.

The contract (DESIGN.md, "Allocation math"), for a part with amount A over the
regions R:

1. Base: every region gets ``base``; the rest A' = A − base·|R| is shared
   (refused if negative).
2. Share s_r = Σ_t W_t · s_r^(t) over the rule's terms t (Σ W_t = 1):
   an *indicator* term  s^(t)_r = x_r / Σ_q x_q;
   a *per-capita* term  s^(t)_r = p_r·f_r / Σ_q p_q·f_q (population × factor);
   an *equal* term      s^(t)_r = 1/|R|.
   A region with a missing input is refused or excluded, as the rule says —
   never counted as 0.
3. Floors and caps: each region gets b + λ·s_r clamped to [floor_r, cap_r],
   with the one λ for which the amounts add up to A. This is the stable outcome
   of "fix the regions that break a bound at that bound and share the rest among
   the others in proportion to s_r, until no bound is broken"; it is found
   exactly (the sum is piecewise linear and non-decreasing in λ). Refused if the
   bounds cannot all hold.
4. Cents: everything is computed with fractions; each amount is rounded down to
   the cent and the leftover cents go one by one to the largest remainders,
   ties by region code ascending. The amounts add up to A exactly, and the same
   inputs give the same cents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

CENT = Decimal("0.01")

INDICATOR, PER_CAPITA, EQUAL = "indicator", "per_capita", "equal"
REFUSE, EXCLUDE = "refuse", "exclude"


class AllocationError(ValueError):
    """The inputs cannot be allocated; the message (German) says why."""


@dataclass(frozen=True)
class Term:
    """One part of the share formula, with its weight W_t."""

    kind: str
    weight: Decimal
    label: str = ""
    #: indicator values x_r (indicator term) or populations p_r (per-capita term)
    values: Mapping[str, Decimal | None] = field(default_factory=dict)
    #: factors f_r of a per-capita term (None: factor 1 for every region)
    factors: Mapping[str, Decimal | None] | None = None


@dataclass(frozen=True)
class Part:
    """One budget part (e.g. the preventive part) and its rule."""

    amount: Decimal
    regions: Sequence[str]
    terms: Sequence[Term]
    base: Decimal = Decimal(0)
    floors: Mapping[str, Decimal] = field(default_factory=dict)
    caps: Mapping[str, Decimal] = field(default_factory=dict)
    missing: str = REFUSE


@dataclass
class RegionAmount:
    code: str
    amount: Decimal
    #: how the amount came about: base, each term's contribution, the bound
    #: adjustment and the rounding, in euros (exact decimals of the fractions,
    #: rounded to 6 places for display); they add up to ``amount``
    breakdown: dict
    share: Fraction
    bound: str | None = None  # "floor" or "cap" when the region sits at a bound


@dataclass
class Result:
    amounts: list[RegionAmount]
    excluded: dict[str, str]  # code → reason
    lam: Fraction  # λ, the amount per unit of share

    def total(self) -> Decimal:
        return sum((a.amount for a in self.amounts), Decimal(0))

    def by_code(self) -> dict[str, RegionAmount]:
        return {a.code: a for a in self.amounts}


def _frac(value) -> Fraction:
    return Fraction(value) if not isinstance(value, Fraction) else value


def _euros(value: Fraction) -> Decimal:
    """A fraction of euros as a decimal for display (6 places)."""
    return Decimal(round(value * 10**6)).scaleb(-6)


def _check_money(name: str, value: Decimal) -> Fraction:
    if not isinstance(value, Decimal):
        raise AllocationError(f"{name} muss ein Decimal-Betrag sein, nicht {type(value).__name__}")
    if value != value.quantize(CENT):
        raise AllocationError(f"{name} {value} hat mehr als zwei Nachkommastellen")
    return Fraction(value)


def _term_shares(term: Term, regions: list[str]) -> dict[str, Fraction]:
    if term.kind == EQUAL:
        return {r: Fraction(1, len(regions)) for r in regions}
    if term.kind == INDICATOR:
        raw = {r: _frac(term.values[r]) for r in regions}
    elif term.kind == PER_CAPITA:
        factors = term.factors
        raw = {r: _frac(term.values[r]) * (_frac(factors[r]) if factors is not None else 1) for r in regions}
    else:
        raise AllocationError(f"unbekannte Verteilungsart {term.kind!r}")
    negative = sorted(r for r, v in raw.items() if v < 0)
    if negative:
        raise AllocationError(
            f"{term.label or term.kind}: negative Werte sind als Verteilungsgrundlage nicht möglich ({', '.join(negative[:5])})"
        )
    total = sum(raw.values())
    if total == 0:
        raise AllocationError(f"{term.label or term.kind}: die Summe der Werte ist 0 – nichts zu verteilen")
    return {r: v / total for r, v in raw.items()}


def _missing_inputs(term: Term, region: str) -> list[str]:
    if term.kind == EQUAL:
        return []
    out = []
    if term.values.get(region) is None:
        out.append(term.label or term.kind)
    if term.kind == PER_CAPITA and term.factors is not None and term.factors.get(region) is None:
        out.append(f"Faktor zu {term.label or term.kind}")
    return out


def _clamp(value: Fraction, lo, hi) -> Fraction:
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    return value


def _solve_lambda(base: Fraction, shares: dict[str, Fraction], lo: dict, hi: dict, amount: Fraction) -> Fraction:
    """The λ ≥ 0 with Σ clamp(base + λ·s_r, lo_r, hi_r) = amount, exactly.

    The sum is piecewise linear and non-decreasing in λ: a region contributes its
    slope s_r between the λ where it leaves its floor and the λ where it reaches
    its cap. One sweep over the sorted breakpoints (O(n log n))."""
    value = sum((_clamp(base, lo.get(r), hi.get(r)) for r in shares), Fraction(0))
    if value > amount:
        raise AllocationError(
            "Untergrenzen und Sockelbeträge sind zusammen höher als der Betrag – die Grenzen können nicht alle gelten"
        )
    slope = Fraction(0)
    events: dict[Fraction, Fraction] = {}  # λ → change of slope
    for r, s in shares.items():
        if s <= 0:
            continue
        low, high = lo.get(r), hi.get(r)
        enter = (low - base) / s if low is not None and low > base else Fraction(0)
        leave = (high - base) / s if high is not None else None
        if leave is not None and leave <= enter:
            continue  # always at a bound
        if enter == 0:
            slope += s
        else:
            events[enter] = events.get(enter, Fraction(0)) + s
        if leave is not None:
            events[leave] = events.get(leave, Fraction(0)) - s
    lam = Fraction(0)
    for point in sorted(events):
        reached = value + slope * (point - lam)
        if reached >= amount and slope > 0:
            return lam + (amount - value) / slope
        value, lam = reached, point
        slope += events[point]
    if value == amount:
        return lam
    if slope <= 0:
        raise AllocationError("Obergrenzen sind zusammen niedriger als der Betrag – die Grenzen können nicht alle gelten")
    return lam + (amount - value) / slope


def allocate(part: Part) -> Result:
    amount = _check_money("Betrag", part.amount)
    base = _check_money("Sockelbetrag", part.base)
    if amount < 0 or base < 0:
        raise AllocationError("Betrag und Sockelbetrag dürfen nicht negativ sein")
    regions = sorted(dict.fromkeys(part.regions))
    if not regions:
        raise AllocationError("keine Räume, auf die verteilt werden kann")
    if not part.terms:
        raise AllocationError("die Regel hat keine Verteilungsgrundlage")
    weights = [Fraction(t.weight) for t in part.terms]
    if any(w < 0 for w in weights) or sum(weights) != 1:
        raise AllocationError(f"die Gewichte der Verteilungsgrundlagen müssen zusammen 1 ergeben (sind {sum(weights)})")

    excluded: dict[str, str] = {}
    for r in regions:
        missing = [m for t in part.terms for m in _missing_inputs(t, r)]
        if missing:
            if part.missing == EXCLUDE:
                excluded[r] = "fehlende Werte: " + ", ".join(missing)
            else:
                raise AllocationError(f"Raum {r}: fehlende Werte ({', '.join(missing)}) – die Regel lässt keine Lücken zu")
    included = [r for r in regions if r not in excluded]
    if not included:
        raise AllocationError("alle Räume sind wegen fehlender Werte ausgeschlossen")
    if amount - base * len(included) < 0:
        raise AllocationError(
            f"Sockelbetrag {part.base} × {len(included)} Räume ist höher als der Betrag {part.amount}"
        )

    term_shares = [_term_shares(t, included) for t in part.terms]
    shares = {r: sum((w * ts[r] for w, ts in zip(weights, term_shares, strict=True)), Fraction(0)) for r in included}
    lo = {r: _check_money(f"Untergrenze {r}", part.floors[r]) for r in included if part.floors.get(r) is not None}
    hi = {r: _check_money(f"Obergrenze {r}", part.caps[r]) for r in included if part.caps.get(r) is not None}
    for r in included:
        if r in lo and r in hi and lo[r] > hi[r]:
            raise AllocationError(f"Raum {r}: Untergrenze {part.floors[r]} liegt über der Obergrenze {part.caps[r]}")
    lam = _solve_lambda(base, shares, lo, hi, amount)

    exact: dict[str, Fraction] = {}
    bounds: dict[str, str | None] = {}
    for r in included:
        linear = base + lam * shares[r]
        exact[r] = _clamp(linear, lo.get(r), hi.get(r))
        bounds[r] = None if exact[r] == linear else ("floor" if exact[r] > linear else "cap")
    cents = _round_to_cents(exact, amount)

    amounts = []
    for r in included:
        linear = base + lam * shares[r]
        breakdown = {"Sockel": _euros(base)}
        for t, w, ts in zip(part.terms, weights, term_shares, strict=True):
            breakdown[t.label or t.kind] = _euros(lam * w * ts[r])
        if exact[r] != linear:
            breakdown["Begrenzung"] = _euros(exact[r] - linear)
        rounding = Fraction(cents[r], 100) - exact[r]
        if rounding:
            breakdown["Rundung"] = _euros(rounding)
        amounts.append(
            RegionAmount(
                code=r, amount=Decimal(cents[r]).scaleb(-2), breakdown=breakdown, share=shares[r], bound=bounds[r]
            )
        )
    return Result(amounts=amounts, excluded=excluded, lam=lam)


def _round_to_cents(exact: dict[str, Fraction], amount: Fraction) -> dict[str, int]:
    """Floor each amount to the cent; hand out the leftover cents by largest
    remainder, ties by region code ascending."""
    target = int(amount * 100)
    floored = {r: (a * 100).numerator // (a * 100).denominator for r, a in exact.items()}
    remainders = {r: a * 100 - floored[r] for r, a in exact.items()}
    leftover = target - sum(floored.values())
    if not 0 <= leftover <= len(exact):  # pragma: no cover - guaranteed by the exact sum
        raise AllocationError("Rundungsfehler: die exakten Beträge ergeben nicht den Gesamtbetrag")
    for r in sorted(exact, key=lambda code: (-remainders[code], code))[:leftover]:
        floored[r] += 1
    return floored
