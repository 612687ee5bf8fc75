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

import math
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


class RegionAmount:
    """A region's amount (``cents``, and ``amount`` in euros). ``share`` and
    ``breakdown`` are worked out when asked for (a run over thousands of
    regions stores only the amounts; the breakdown is derived again from the
    stored inputs when someone looks at it)."""

    __slots__ = ("code", "cents", "bound", "_detail", "_index")

    def __init__(self, code: str, cents: int, bound: str | None = None, detail=None, index: int = 0):
        self.code = code
        self.cents = cents
        self.bound = bound  # "floor" or "cap" when the region sits at a bound
        self._detail = detail
        self._index = index

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents).scaleb(-2)

    @property
    def share(self) -> Fraction:
        """s_r, the region's share under the rule."""
        return self._detail.share(self._index)

    @property
    def breakdown(self) -> dict:
        """How the amount came about: base, each term's contribution, the bound
        adjustment and the rounding, in euros (exact decimals of the fractions,
        rounded to 6 places for display); they add up to ``amount``."""
        return self._detail.breakdown(self._index)

    def __repr__(self):
        return f"RegionAmount({self.code!r}, {self.amount!r}, bound={self.bound!r})"


@dataclass
class _Detail:
    """What allocate() worked with, kept so that shares and breakdowns can be
    derived for any region afterwards: everything in cents × q (integers)."""

    labels: list[str]
    base_cents: int
    lam: Fraction
    q: int
    denom: int
    numerators: list[int]
    multipliers: list[int]
    values: list[list[int]]
    linear: list[int]
    clamped: list[int]
    cents: list[int]

    def share(self, i: int) -> Fraction:
        return Fraction(self.numerators[i], self.denom)

    def breakdown(self, i: int) -> dict:
        out = {"Sockel": _micro(self.base_cents, 1)}
        scale = 100 * self.lam.numerator
        for label, m, xs in zip(self.labels, self.multipliers, self.values, strict=True):
            out[label] = _micro(scale * m * xs[i], self.q)
        if self.clamped[i] != self.linear[i]:
            out["Begrenzung"] = _micro(self.clamped[i] - self.linear[i], self.q)
        rounding = self.cents[i] * self.q - self.clamped[i]
        if rounding:
            out["Rundung"] = _micro(rounding, self.q)
        return out


@dataclass
class Result:
    amounts: list[RegionAmount]
    excluded: dict[str, str]  # code → reason
    lam: Fraction  # λ, the amount per unit of share

    def total(self) -> Decimal:
        return Decimal(sum(a.cents for a in self.amounts)).scaleb(-2)

    def by_code(self) -> dict[str, RegionAmount]:
        return {a.code: a for a in self.amounts}


def _check_money(name: str, value: Decimal) -> Fraction:
    if not isinstance(value, Decimal):
        raise AllocationError(f"{name} muss ein Decimal-Betrag sein, nicht {type(value).__name__}")
    if value != value.quantize(CENT):
        raise AllocationError(f"{name} {value} hat mehr als zwei Nachkommastellen")
    return Fraction(value)


def _scaled(values: list) -> list[int]:
    """Exact integers proportional to ``values`` (one common scale). Integers
    are taken as they are (callers may pass values in a fixed unit, e.g.
    millionths, since only the proportions matter)."""
    if all(type(v) is int for v in values):
        return values
    if all(isinstance(v, Decimal) for v in values):
        scale = max([0] + [-v.as_tuple().exponent for v in values if v.as_tuple().exponent < 0])
        return [int(v.scaleb(scale)) for v in values]
    fracs = [Fraction(v) for v in values]
    common = math.lcm(*(f.denominator for f in fracs)) if fracs else 1
    return [f.numerator * (common // f.denominator) for f in fracs]


def _term_integers(term: Term, regions: list[str]) -> tuple[list[int], int]:
    """A term's basis per region as exact integers X_r and their total T, so
    that the term's share of region r is X_r / T."""
    if term.kind == EQUAL:
        return [1] * len(regions), len(regions)
    if term.kind == INDICATOR:
        xs = _scaled([term.values[r] for r in regions])
    elif term.kind == PER_CAPITA:
        xs = _scaled([term.values[r] for r in regions])
        if term.factors is not None:
            xs = [x * f for x, f in zip(xs, _scaled([term.factors[r] for r in regions]), strict=True)]
    else:
        raise AllocationError(f"unbekannte Verteilungsart {term.kind!r}")
    negative = [r for r, x in zip(regions, xs, strict=True) if x < 0]
    if negative:
        raise AllocationError(
            f"{term.label or term.kind}: negative Werte sind als Verteilungsgrundlage nicht möglich ({', '.join(negative[:5])})"
        )
    total = sum(xs)
    if total == 0:
        raise AllocationError(f"{term.label or term.kind}: die Summe der Werte ist 0 – nichts zu verteilen")
    return xs, total


def _shares(terms, weights: list[Fraction], regions: list[str]):
    """Shares s_r = N_r / D over one common denominator (exact integers), and
    per term the multiplier m_k and values X_rk with w_k·X_rk/T_k = m_k·X_rk/D."""
    bases = [_term_integers(t, regions) for t in terms]
    denom = 1
    for w, (_, total) in zip(weights, bases, strict=True):
        if w:
            denom = math.lcm(denom, w.denominator * total)
    multipliers = [denom // (w.denominator * total) * w.numerator for w, (_, total) in zip(weights, bases, strict=True)]
    numerators = [0] * len(regions)
    for m, (xs, _) in zip(multipliers, bases, strict=True):
        if m:
            numerators = [n + m * x for n, x in zip(numerators, xs, strict=True)]
    return numerators, denom, multipliers, [xs for xs, _ in bases]


def _micro(num: int, den: int) -> Decimal:
    """num/den euros-in-cents as a decimal euro amount with 6 places (half up)."""
    micro = (2 * num * 10**4 + den) // (2 * den)
    return Decimal(micro).scaleb(-6)


def _missing_regions(term: Term, regions: list[str]) -> list[str]:
    """The regions for which the term lacks a value or a factor."""
    if term.kind == EQUAL:
        return []
    values, factors = term.values, term.factors if term.kind == PER_CAPITA else None
    if factors is None:
        return [r for r in regions if values.get(r) is None]
    return [r for r in regions if values.get(r) is None or factors.get(r) is None]


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


def allocate(part: Part, cache: dict | None = None) -> Result:
    """Allocate one part. ``cache``: a dict shared by calls whose parts use the
    same Term objects (the shares are then computed once)."""
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

    missing: dict[str, list[str]] = {}  # region → the inputs it lacks, in term order
    regions_key = tuple(regions)
    for t in part.terms:
        gaps_key = ("gaps", id(t), regions_key)  # parts of one call share their terms
        if cache is not None and gaps_key in cache:
            gaps = cache[gaps_key]
        else:
            gaps = _missing_regions(t, regions)
            if cache is not None:
                cache[gaps_key] = gaps
        for r in gaps:
            missing.setdefault(r, []).extend(_missing_inputs(t, r))
    excluded: dict[str, str] = {}
    for r in sorted(missing):
        if part.missing == EXCLUDE:
            excluded[r] = "fehlende Werte: " + ", ".join(missing[r])
        else:
            raise AllocationError(f"Raum {r}: fehlende Werte ({', '.join(missing[r])}) – die Regel lässt keine Lücken zu")
    included = [r for r in regions if r not in excluded]
    if not included:
        raise AllocationError("alle Räume sind wegen fehlender Werte ausgeschlossen")
    if amount - base * len(included) < 0:
        raise AllocationError(
            f"Sockelbetrag {part.base} × {len(included)} Räume ist höher als der Betrag {part.amount}"
        )

    key = (tuple(id(t) for t in part.terms), tuple(included))
    if cache is not None and key in cache:
        numerators, denom, multipliers, values = cache[key]
    else:
        numerators, denom, multipliers, values = _shares(part.terms, weights, included)
        if cache is not None:
            cache[key] = (numerators, denom, multipliers, values)
    lo = {r: _check_money(f"Untergrenze {r}", part.floors[r]) for r in included if part.floors.get(r) is not None}
    hi = {r: _check_money(f"Obergrenze {r}", part.caps[r]) for r in included if part.caps.get(r) is not None}
    for r in included:
        if r in lo and r in hi and lo[r] > hi[r]:
            raise AllocationError(f"Raum {r}: Untergrenze {part.floors[r]} liegt über der Obergrenze {part.caps[r]}")
    if lo or hi:
        shares = {r: Fraction(n, denom) for r, n in zip(included, numerators, strict=True)}
        lam = _solve_lambda(base, shares, lo, hi, amount)
    else:
        lam = amount - base * len(included)  # Σ s_r = 1: everything above the base is shared

    # Everything in cents over one common denominator Q, in integers.
    q = lam.denominator * denom
    base_cents = int(base * 100)
    scale = 100 * lam.numerator
    base_q = base_cents * q
    linear = [base_q + scale * n for n in numerators]
    clamped = list(linear)
    bounds: list[str | None] = [None] * len(included)
    if lo or hi:
        for i, r in enumerate(included):
            if r in lo and clamped[i] < int(lo[r] * 100) * q:
                clamped[i], bounds[i] = int(lo[r] * 100) * q, "floor"
            if r in hi and clamped[i] > int(hi[r] * 100) * q:
                clamped[i], bounds[i] = int(hi[r] * 100) * q, "cap"
    cents = round_to_cents(included, clamped, q, int(amount * 100))
    detail = _Detail(
        labels=[t.label or t.kind for t in part.terms], base_cents=base_cents, lam=lam, q=q, denom=denom,
        numerators=numerators, multipliers=multipliers, values=values, linear=linear, clamped=clamped, cents=cents,
    )
    amounts = [
        RegionAmount(r, c, bounds[i], detail, i)
        for i, (r, c) in enumerate(zip(included, cents, strict=True))
    ]
    return Result(amounts=amounts, excluded=excluded, lam=lam)


def round_to_cents(codes: list[str], exact: list[int], q: int, target: int) -> list[int]:
    """``exact``: amounts in cents × q, in the order of ``codes`` (sorted).
    Floor each to the cent; hand out the leftover cents by largest remainder,
    ties by region code ascending."""
    floored = [e // q for e in exact]
    leftover = target - sum(floored)
    if not 0 <= leftover <= len(codes):  # pragma: no cover - guaranteed by the exact sum
        raise AllocationError("Rundungsfehler: die exakten Beträge ergeben nicht den Gesamtbetrag")
    if leftover:
        remainders = [e - f * q for e, f in zip(exact, floored, strict=True)]
        # codes are sorted, so a stable sort by remainder alone keeps ties in code order
        for i in sorted(range(len(codes)), key=lambda i: -remainders[i])[:leftover]:
            floored[i] += 1
    return floored
