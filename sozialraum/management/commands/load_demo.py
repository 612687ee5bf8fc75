"""Load the demo city (Berlin) and one demo login per role.

Idempotent: running it again changes nothing. Uses the same import code path as
the upload page and the API, on files shipped in sozialraum/demo_data/berlin/.
"""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from budgets.choices import RulePart, RunStatus, SplitMode, TermKind
from budgets.models import AllocationRule, Budget, Expenditure, RuleTerm
from budgets.services import adopt, run_allocation
from core.access import Role
from core.imports.base import import_now
from core.models import FieldOfAction
from regions.models import Indicator, Region, RegionLevel, RoleAssignment
from regions.services import upsert_indicators
from sozialraum import demo_agreements, demo_cooperation

DATA = Path(__file__).resolve().parents[2] / "demo_data" / "berlin"
CATALOGUE = Path(__file__).resolve().parents[3] / "regions" / "catalogues" / "berlin.json"

STEPS = [
    ("regions", "lor_2021.csv", "berlin-lor"),
    ("indicator_values", "einwohner_2022-06_plr.csv", "berlin-einwohner"),
    ("indicator_values", "mss_2021_kontext_plr.csv", "berlin-mss-2021"),
    ("boundaries", "bezirke.geojson", "berlin-bezirke-grenzen"),
    ("boundaries", "prognoseraeume_2021.geojson", "berlin-prognoseraeume-grenzen"),
]

CATALOGUES = Path(__file__).resolve().parents[3] / "regions" / "catalogues"
# (definition, period): example indices computed for the demo
INDICES = [
    ("berlin-status-index.json", "2020-12-31"),
    ("berlin-ew-unter18.json", "2022-06-30"),
    ("berlin-bedarf-bezirke.json", "2020-12-31"),
]

# username, role, region code (None = everywhere), description
DEMO_USERS = [
    ("planung", Role.PLANNER, None, "Planung (Sozialplanung, alle Räume)"),
    ("sozialraumleitung", Role.REGION_LEAD, "08", "Sozialraumleitung Neukölln"),
    ("lesezugriff", Role.VIEWER, None, "Lesezugriff (Rat, Verwaltungsleitung)"),
    ("traeger-a", None, None, "Träger A (Redaktion der eigenen Angebote)"),
    ("traeger-b", None, None, "Träger B (Redaktion der eigenen Angebote)"),
]
DEMO_PASSWORD = "demo-sozialraum"


class Command(BaseCommand):
    help = "Lädt die Demo-Stadt Berlin (LOR, Einwohner, MSS 2021, Grenzen) und Demo-Zugänge je Rolle."

    def add_arguments(self, parser):
        parser.add_argument("--no-users", action="store_true", help="keine Demo-Zugänge anlegen")
        parser.add_argument(
            "--force", action="store_true", help="auch ohne DEBUG/SOZIALRAUM_DEMO_MODE laden (nicht in Produktion!)"
        )

    def handle(self, *args, **opts):
        if not (settings.DEBUG or settings.SOZIALRAUM_DEMO_MODE or opts["force"]):
            raise CommandError("Demo-Daten nur mit DJANGO_DEBUG, SOZIALRAUM_DEMO_MODE oder --force.")
        with pghistory.context(command="load_demo"):
            catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
            result = upsert_indicators(catalogue["indicators"])
            self.stdout.write(f"Indikatoren: {self._fmt(result)}")
            for kind, name, profile in STEPS:
                run = import_now(kind, DATA / name, options={"profile": profile}, original_name=f"demo/{name}")
                if run.status != run.Status.SUCCEEDED:
                    for e in run.errors[:20]:
                        self.stderr.write(f"  Zeile {e['line']}: {e['message']}")
                    raise CommandError(f"Demo-Import {name} abgelehnt ({run.error_count} Fehler)")
                self.stdout.write(f"{name}: {self._fmt(run.summary)}")
            for definition, period in INDICES:
                call_command("compute_index", "--definition", str(CATALOGUES / definition), "--period", period,
                             stdout=self.stdout)
            self._budget()
            demo_cooperation.load(self.stdout)  # fictional providers and offerings
            demo_agreements.load(self.stdout)  # fictional agreements, networks, needs, planning, conflicts
            if not opts["no_users"]:
                self._users()

    def _budget(self):
        """The youth-welfare budget of 2027 (planned) and of 2026 (running, with
        spending from January to October)."""
        self._youth_budget("Sozialraumbudget Jugendhilfe (Demo)", 2027, Decimal("10000000.00"))
        current = self._youth_budget("Sozialraumbudget Jugendhilfe 2026 (Demo)", 2026, Decimal("9600000.00"))
        self._expenditures(current, months=range(1, 11))

    @transaction.atomic
    def _youth_budget(self, name, year, total):
        """A youth-welfare budget over the 12 Bezirke: 60 % by residents under
        18, 40 % by a need index; the preventive part half equal, half by
        residents under 18, with a base per Bezirk. Computed and adopted."""
        budget, created = Budget.objects.get_or_create(
            name=name, fiscal_year=year, field=FieldOfAction.objects.get(key="kjh"),
            scope_region=Region.objects.get(code="BE"),
            defaults={"target_level": RegionLevel.objects.get(key="bezirk"), "total": total,
                      "split_mode": SplitMode.PERCENT, "case_specific": Decimal("60"),
                      "case_overarching": Decimal("25"), "preventive": Decimal("15")},
        )
        if created:
            under18 = Indicator.objects.get(key="ew_unter18")
            need = Indicator.objects.get(key="bedarf_kontext_bezirke")
            general = AllocationRule.objects.create(
                budget=budget, part=RulePart.ALL,
                description="60 % nach Kindern und Jugendlichen, 40 % nach sozialer Lage (Bedarfsindex).",
            )
            RuleTerm.objects.create(rule=general, kind=TermKind.INDICATOR, weight=Decimal("0.6"), indicator=under18)
            RuleTerm.objects.create(rule=general, kind=TermKind.INDICATOR, weight=Decimal("0.4"), indicator=need,
                                    order=1)
            preventive = AllocationRule.objects.create(
                budget=budget, part=RulePart.PREVENTIVE, base_amount=Decimal("50000.00"),
                description="Prävention: Sockel je Bezirk, dann je zur Hälfte gleich und nach Kindern und Jugendlichen.",
            )
            RuleTerm.objects.create(rule=preventive, kind=TermKind.EQUAL, weight=Decimal("0.5"))
            RuleTerm.objects.create(rule=preventive, kind=TermKind.INDICATOR, weight=Decimal("0.5"), indicator=under18,
                                    order=1)
        run = run_allocation(budget.pk)
        if budget.adopted_run is None and run.status == RunStatus.SUCCEEDED:
            adopt(run, None)
        self.stdout.write(f"Budget: {budget} – Berechnung #{run.pk} ({run.get_status_display()})")
        return budget

    @transaction.atomic
    def _expenditures(self, budget, months):
        """Monthly bookings per Bezirk and part (aggregates, no persons): 70 %
        staff, 30 % material costs of a share of the month's pro-rata amount that
        varies between 70 and 100 % by Bezirk and month. Once only."""
        if budget.expenditures.exists() or budget.adopted_run is None:
            return
        rows = []
        allocations = budget.adopted_run.allocations.select_related("region").order_by("region__code", "part")
        for i, allocation in enumerate(allocations):
            for month in months:
                factor = Decimal("0.70") + Decimal("0.05") * ((i + month) % 7)
                amount = (allocation.amount / 12 * factor).quantize(Decimal("0.01"))
                staff = (amount * Decimal("0.7")).quantize(Decimal("0.01"))
                for category, value in (("Personal", staff), ("Sachkosten", amount - staff)):
                    rows.append(Expenditure(
                        budget=budget, region=allocation.region, part=allocation.part, category=category,
                        booking_date=datetime.date(budget.fiscal_year, month, 28), amount=value,
                        recipient="Sammelbuchung Bezirk", text=f"{category} {month:02d}/{budget.fiscal_year}"))
        Expenditure.objects.bulk_create(rows)
        self.stdout.write(f"Ausgaben: {len(rows)} Buchungen für {budget}")

    @staticmethod
    def _fmt(summary):
        return ", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, list))

    @transaction.atomic
    def _users(self):
        User = get_user_model()
        lines = []
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        lines.append(("admin", "Administration (Django-Admin)"))
        for username, role, code, label in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": label[:150]})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if role:
                region = Region.objects.get(code=code) if code else None
                RoleAssignment.objects.get_or_create(user=user, role=role, region=region)
            lines.append((username, demo_cooperation.demo_login_label(user, label)))
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo-Zugänge (Passwort für alle: %s):" % DEMO_PASSWORD))
        for username, label in lines:
            self.stdout.write(f"  {username:<20} {label}")
