"""Trägerbudgets: ``budgets.providers.recompute`` for one budget at "Berlin"
scale (the ~500 leaf regions below one district of gen.py's tree), with
agreements covering 10 leaf regions each (4 sharing parties: 20 + 20 + 15 +
10 %) and 10 covering the whole district (2 parties, 1–2 % each), 300
organisations. Measures the full
computation and write (shares changed between runs) and an unchanged
recompute (computes, finds the stored rows equal, writes nothing); checks
that every region and part adds up to its allocation to the cent.
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

import common


def _setup(budget):
    from budgets.services import adopt
    from cooperation.choices import AgreementStatus, PartyRole
    from cooperation.models import Agreement, AgreementParty, Organization

    run = budget.runs.filter(status="succeeded").order_by("-pk").first()
    adopt(run, None)
    orgs = Organization.objects.bulk_create([Organization(name=f"Bench-Träger {i:03d}", kind="provider")
                                             for i in range(300)])
    leaves = list(budget.target_regions().order_by("code"))
    groups = [leaves[i:i + 10] for i in range(0, len(leaves), 10)]
    agreements = Agreement.objects.bulk_create(
        [Agreement(title=f"Bench-Vereinbarung {i}", status=AgreementStatus.ACTIVE,
                   valid_from=f"{budget.fiscal_year}-01-01") for i in range(len(groups))]
        + [Agreement(title=f"Bench-Vereinbarung Bezirk {i}", status=AgreementStatus.ACTIVE,
                     valid_from=f"{budget.fiscal_year}-01-01") for i in range(10)])
    regions_through, fields_through = Agreement.regions.through, Agreement.fields.through
    links, parties = [], []
    for i, agreement in enumerate(agreements):
        local = i < len(groups)
        covered = groups[i] if local else [budget.scope_region]
        links += [regions_through(agreement_id=agreement.pk, region_id=r.pk) for r in covered]
        shares = (Decimal(20), Decimal(20), Decimal(15), Decimal(10)) if local else (Decimal(1), Decimal(1))
        for k, share in enumerate(shares):
            parties.append(AgreementParty(agreement=agreement, organization=orgs[(i * 4 + k) % len(orgs)],
                                          role=PartyRole.LEAD if k == 0 else PartyRole.PARTNER, budget_share=share))
    regions_through.objects.bulk_create(links)
    fields_through.objects.bulk_create([fields_through(agreement_id=a.pk, fieldofaction_id=budget.field_id)
                                        for a in agreements])
    AgreementParty.objects.bulk_create(parties)
    return run


def run(runs: int = 5) -> dict:
    from budgets.models import Allocation, Budget, ProviderAllocation
    from budgets.providers import recompute
    from cooperation.models import AgreementParty

    budget = Budget.objects.filter(name="bench berlin 0").select_related("scope_region").first()
    adopted = _setup(budget)
    full, unchanged = [], []
    district_parties = AgreementParty.objects.filter(agreement__title__startswith="Bench-Vereinbarung Bezirk")
    for i in range(runs):
        district_parties.update(budget_share=Decimal(1) + Decimal(i + 1) / 10)  # a change every run
        t0 = time.perf_counter()
        written = recompute(budget.pk)
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        again = recompute(budget.pk)
        unchanged.append(time.perf_counter() - t0)
        assert written["written"] > 0 and not written["problems"] and again.get("unchanged"), (
            written["written"], written["problems"][:3], again.get("unchanged"))
    sums = {}
    for region_id, part, amount in ProviderAllocation.objects.filter(budget=budget).values_list(
            "region_id", "part", "amount"):
        sums[region_id, part] = sums.get((region_id, part), Decimal(0)) + amount
    exact = all(sums.get((a.region_id, a.part), a.amount) == a.amount for a in Allocation.objects.filter(run=adopted))
    rows = ProviderAllocation.objects.filter(budget=budget).count()
    result = {
        "regions": budget.target_regions().count(), "agreements": district_parties.values("agreement").distinct().count()
        + -(-budget.target_regions().count() // 10), "rows": rows,
        "median_seconds_full": round(statistics.median(full), 4),
        "median_seconds_unchanged": round(statistics.median(unchanged), 4), "exact": exact,
    }
    common.print_table("Trägerbudgets (one budget, median)", [
        ("regions × parts, rows written", f"{result['regions']:,} × 3, {rows:,} rows"),
        ("recompute with changed shares", common.fmt_s(result["median_seconds_full"])),
        ("recompute, nothing changed", common.fmt_s(result["median_seconds_unchanged"])),
        ("every region and part adds up to its allocation", str(exact)),
    ])
    common.save_results("providers", result)
    # leave nothing behind for the other benchmarks
    ProviderAllocation.objects.filter(budget=budget).delete()
    from cooperation.models import Agreement, Organization

    Agreement.objects.filter(title__startswith="Bench-Vereinbarung").delete()
    Organization.objects.filter(name__startswith="Bench-Träger ").delete()
    return result
