"""Trägerbudgets: a region's allocated amount for a budget part passed on to
providers by shares.

Where the shares come from, for one region r and part p of a budget:

1. the explicit share table (``ProviderShare``) — if it has rows for (r, p),
   they alone count;
2. otherwise the agreements covering r and the budget's field: active,
   valid in the fiscal year, with r (or a region containing r) among their
   regions and the budget's field (or a sub-field) among their fields; each
   party with a ``budget_share`` for the part (``work_modes`` empty = all
   parts) gets it; an organisation in two agreements gets the sum.

Shares may add up to at most 100 %; the rest stays with the funder
("nicht weitergegeben"). The amounts are exact to the cent by the engine's
rounding: exact shares of the region's cents, each floored, the leftover
cents by largest remainder, ties in a fixed order (organisation name, then
id; the retained part last). So per region and part the Trägerbudgets and the
retained part add up to the allocation exactly.

Computed for the adopted run, again whenever the adoption, the share table or
an agreement's shares change (a Celery task, ``budgets.recompute_providers``),
under a per-budget transaction lock; a computation that yields the stored rows
writes nothing, otherwise the budget's rows are replaced (DELETE, then COPY).
"""

import datetime
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cooperation.choices import AgreementStatus, WorkMode
from cooperation.models import AgreementParty
from core.models import FieldOfAction
from regions.models import Region

from .choices import Part, ShareSource
from .engine import round_to_cents
from .models import Allocation, Budget, ProviderAllocation, ProviderShare

#: a share in units of 1/10,000 per cent: 100 % = 1,000,000
SCALE = 10_000
WHOLE = 100 * SCALE
PART_TO_WORK_MODE = {Part.CASE_SPECIFIC: WorkMode.CASE_SPECIFIC, Part.CASE_OVERARCHING: WorkMode.CASE_OVERARCHING,
                     Part.PREVENTIVE: WorkMode.CASE_UNSPECIFIC}
ADVISORY_NAMESPACE = 7305  # pg_advisory_xact_lock(namespace, budget id)


class ShareError(ValueError):
    """Shares that cannot be passed on (German message naming region and part)."""


@dataclass
class Row:
    region_id: int
    part: str
    organization_id: int | None
    share: Decimal
    source: str
    agreement_ids: tuple[int, ...]
    amount: Decimal

    def key(self):
        return (self.region_id, self.part, self.organization_id or -1, self.share, self.source, self.agreement_ids,
                self.amount)


def _covering_parties(budget: Budget, paths: dict[int, str]) -> dict[int, list[AgreementParty]]:
    """Parties with a share, by target region id (agreements covering the region
    or a region containing it, and the budget's field or a sub-field)."""
    year_start, year_end = datetime.date(budget.fiscal_year, 1, 1), datetime.date(budget.fiscal_year, 12, 31)
    fields = FieldOfAction.objects.subtree(budget.field)
    parties = list(
        AgreementParty.objects.filter(
            budget_share__isnull=False, agreement__status=AgreementStatus.ACTIVE,
            agreement__valid_from__lte=year_end, agreement__fields__in=fields,
        ).filter(Q(agreement__valid_until__isnull=True) | Q(agreement__valid_until__gte=year_start))
        .select_related("organization").prefetch_related("agreement__regions").distinct()
    )
    by_region = defaultdict(list)
    for party in parties:
        covered = [r.path for r in party.agreement.regions.all()]
        for region_id, path in paths.items():
            if any(path.startswith(c) for c in covered):
                by_region[region_id].append(party)
    return by_region


def shares(budget: Budget, region_ids: list[int]) -> tuple[dict, list[str]]:
    """{(region id, part): {organization id: (share units, source, agreement ids)}}
    and the problems (German) — shares over 100 % for a region and part."""
    explicit = defaultdict(dict)
    for s in ProviderShare.objects.filter(budget=budget, region_id__in=region_ids):
        explicit[s.region_id, s.part][s.organization_id] = (int(s.share * SCALE), ShareSource.TABLE, ())
    regions = list(Region.objects.filter(pk__in=region_ids).values_list("pk", "path", "code"))
    by_region = _covering_parties(budget, {pk: path for pk, path, _c in regions})
    result, problems = {}, []
    codes = {pk: code for pk, _p, code in regions}
    for region_id in region_ids:
        for part in Part.values:
            if (region_id, part) in explicit:
                claims = explicit[region_id, part]
            else:
                claims = {}
                for party in by_region.get(region_id, ()):
                    if party.work_modes and PART_TO_WORK_MODE[part] not in party.work_modes:
                        continue
                    units, _src, agreements = claims.get(party.organization_id, (0, None, ()))
                    claims[party.organization_id] = (units + int(party.budget_share * SCALE), ShareSource.AGREEMENT,
                                                     tuple(sorted({*agreements, party.agreement_id})))
            if not claims:
                continue
            total = sum(units for units, _s, _a in claims.values())
            if total > WHOLE:
                problems.append(
                    f"Raum {codes[region_id]}, {Part(part).label}: die Anteile ergeben "
                    f"{Decimal(total).scaleb(-4).normalize():f} % (höchstens 100 %).".replace(".", ","))
                continue
            result[region_id, part] = claims
    return result, problems


def split_cents(cents: int, units: list[int]) -> list[int]:
    """``cents`` split by ``units`` (1/10,000 %, adding up to at most 100 %);
    the last element is the retained rest. Exact shares floored to the cent,
    leftover cents by largest remainder, ties in the given order; the result
    adds up to ``cents``."""
    retained = WHOLE - sum(units)
    if retained < 0 or any(u < 0 for u in units):
        raise ShareError("Anteile müssen zwischen 0 und zusammen 100 % liegen.")
    keys = [f"{i:08d}" for i in range(len(units) + 1)]
    return round_to_cents(keys, [cents * u for u in [*units, retained]], WHOLE, cents)


def compute(budget: Budget) -> tuple[list[Row], list[str]]:
    """The Trägerbudgets of ``budget``'s adopted run (no run: none)."""
    run = budget.adopted_run
    if run is None:
        return [], []
    amounts = {(a.region_id, a.part): a.amount for a in Allocation.objects.filter(run=run)}
    region_ids = sorted({r for r, _p in amounts})
    claims, problems = shares(budget, region_ids)
    names = {}
    org_ids = {o for c in claims.values() for o in c}
    if org_ids:
        from cooperation.models import Organization

        names = dict(Organization.objects.filter(pk__in=org_ids).values_list("pk", "name"))
    rows = []
    for (region_id, part), by_org in sorted(claims.items()):
        cents = int(amounts.get((region_id, part), Decimal(0)) * 100)
        order = sorted(by_org, key=lambda o: (names.get(o, ""), o))
        units = [by_org[o][0] for o in order]
        retained = WHOLE - sum(units)
        got = split_cents(cents, units)
        for org_id, u, c in zip(order, units, got, strict=False):
            _u, source, agreements = by_org[org_id]
            rows.append(Row(region_id, part, org_id, Decimal(u).scaleb(-4), source, agreements, Decimal(c).scaleb(-2)))
        if retained:
            rows.append(Row(region_id, part, None, Decimal(retained).scaleb(-4), ShareSource.RETAINED, (),
                            Decimal(got[-1]).scaleb(-2)))
    return rows, problems


def _stored(budget: Budget) -> list[tuple]:
    through = ProviderAllocation.agreements.through
    links = defaultdict(list)
    for pa_id, agreement_id in through.objects.filter(providerallocation__budget=budget).values_list(
            "providerallocation_id", "agreement_id"):
        links[pa_id].append(agreement_id)
    return sorted(
        (r, p, o or -1, s, src, tuple(sorted(links.get(pk, []))), a)
        for pk, r, p, o, s, src, a in ProviderAllocation.objects.filter(budget=budget).values_list(
            "pk", "region_id", "part", "organization_id", "share", "source", "amount")
    )


def recompute(budget_id: int) -> dict:
    """Compute and store the Trägerbudgets of one budget (idempotent)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, budget_id])
        budget = Budget.objects.filter(pk=budget_id).first()
        if budget is None:
            return {"written": 0, "problems": []}
        rows, problems = compute(budget)
        through = ProviderAllocation.agreements.through
        table, through_table = ProviderAllocation._meta.db_table, through._meta.db_table
        wanted = sorted(r.key() for r in rows)
        if wanted == _stored(budget):
            return {"written": 0, "problems": problems, "unchanged": True}
        # plain DELETEs (the collector would load every row and link first)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {through_table} WHERE providerallocation_id IN "
                           f"(SELECT id FROM {table} WHERE budget_id = %s)", [budget.pk])
            cursor.execute(f"DELETE FROM {table} WHERE budget_id = %s", [budget.pk])
        if rows:
            _copy_rows(budget, budget.adopted_run.pk, rows, table, through_table)
        return {"written": len(rows), "problems": problems}


def _copy_rows(budget: Budget, run_id: int, rows: list[Row], table: str, through_table: str) -> None:
    """Write the rows and their agreement links by COPY (tens of thousands of
    rows for a budget over Planungsräume; the ORM's bulk_create took seconds)."""
    now = timezone.now().isoformat()
    buf = io.StringIO()
    for r in rows:
        org = r.organization_id if r.organization_id is not None else "\\N"
        buf.write(f"{budget.pk}\t{run_id}\t{r.region_id}\t{r.part}\t{org}\t{r.share:f}\t{r.source}\t{r.amount:f}\t{now}\n")
    buf.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} (budget_id, run_id, region_id, part, organization_id, share, source, amount, "
                           f"computed_at) FROM STDIN", buf)
        if not any(r.agreement_ids for r in rows):
            return
        cursor.execute(f"SELECT id, region_id, part, organization_id FROM {table} WHERE budget_id = %s", [budget.pk])
        ids = {(region, part, org or -1): pk for pk, region, part, org in cursor.fetchall()}
        links = io.StringIO()
        for r in rows:
            for agreement_id in r.agreement_ids:
                links.write(f"{ids[r.region_id, r.part, r.organization_id or -1]}\t{agreement_id}\n")
        links.seek(0)
        cursor.copy_expert(f"COPY {through_table} (providerallocation_id, agreement_id) FROM STDIN", links)


def request_recompute(budget_ids) -> None:
    """Recompute after the current transaction commits (a Celery task; while
    the broker is unreachable it is not sent — logged, the change that asked
    for it is not failed; see core.queueing)."""
    from core.queueing import send_on_commit

    from .tasks import recompute_providers

    for budget_id in sorted(set(budget_ids)):
        send_on_commit(recompute_providers, budget_id, record=True)


def budgets_with_adoption():
    from .choices import BudgetStatus

    return Budget.objects.exclude(status=BudgetStatus.CLOSED).filter(adoptions__isnull=False).values_list(
        "pk", flat=True).distinct()


def totals_for_organizations(org_ids, budget_ids=None):
    """Trägerbudget and spending per (budget, region, part, organization) for
    the provider's view: allocated, spent, remaining."""
    from django.db.models import Sum

    from .models import Expenditure

    allocated = ProviderAllocation.objects.filter(organization_id__in=org_ids)
    spent = Expenditure.objects.filter(organization_id__in=org_ids)
    if budget_ids is not None:
        allocated, spent = allocated.filter(budget_id__in=budget_ids), spent.filter(budget_id__in=budget_ids)
    rows = {}
    for b, r, p, o, amount in allocated.values_list("budget_id", "region_id", "part", "organization_id", "amount"):
        rows[b, r, p, o] = {"allocated": amount, "spent": Decimal("0.00")}
    for b, r, p, o, amount in spent.values("budget_id", "region_id", "part", "organization_id").annotate(
            total=Sum("amount")).values_list("budget_id", "region_id", "part", "organization_id", "total"):
        rows.setdefault((b, r, p, o), {"allocated": Decimal("0.00"), "spent": Decimal("0.00")})["spent"] = amount
    for value in rows.values():
        value["remaining"] = value["allocated"] - value["spent"]
    return rows
