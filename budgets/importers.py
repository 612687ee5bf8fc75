"""Import of expenditures (Ist-Ausgaben) from CSV/XLSX.

Same rules as the indicator import (``core.imports``): atomic, every bad line is
reported with its line number and column, nothing is written if there is any.
Idempotent: a row whose natural key (budget, region, part, category, booking
date, amount, text) already exists is skipped and counted as unchanged, so
importing the same file twice writes nothing the second time. Rows repeated
within a file count as separate bookings (a re-import still finds them all).
"""

import uuid
from collections import Counter
from datetime import date
from decimal import Decimal

from django.db.models import Q

from core.access import Action
from core.imports.parsing import CellError, is_missing, parse_decimal, parse_period
from regions.importers import ProfileImporter, _cell
from regions.models import Region

from .choices import Part
from .models import MONEY, Budget, Expenditure

COLUMNS = ("budget", "region_code", "part", "category", "booking_date", "amount", "text", "recipient", "organization")
REQUIRED = ("region_code", "part", "category", "booking_date", "amount")
MAX_AMOUNT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])

# Keys, German labels and their short forms, lower-cased.
PART_NAMES = {
    **{p.value: p.value for p in Part},
    **{str(p.label).lower(): p.value for p in Part},
    "fallunspezifisch": Part.PREVENTIVE.value,
    "präventiv": Part.PREVENTIVE.value,
    "praeventiv": Part.PREVENTIVE.value,
    "fallubergreifend": Part.CASE_OVERARCHING.value,
    "falluebergreifend": Part.CASE_OVERARCHING.value,
}


def parse_part(text: str) -> str:
    part = PART_NAMES.get(" ".join(text.split()).lower())
    if part is None:
        known = ", ".join(f"{p.value} ({p.label})" for p in Part)
        raise CellError(f"unbekannter Teil {text!r} (erwartet: {known})")
    return part


def parse_date(text: str) -> date:
    """31.12.2027 or 2027-12-31 (an XLSX date cell arrives as the latter)."""
    try:
        iso = parse_period(text)
    except CellError:
        iso = ""
    if len(iso) != 10:
        raise CellError(f"kein Datum: {text.strip()!r} (erwartet z. B. 31.12.2027 oder 2027-12-31)")
    return date.fromisoformat(iso)


class ExpenditureImporter(ProfileImporter):
    """Expenditures, columns ``budget,region_code,part,category,booking_date,
    amount,text,recipient,organization`` (``budget`` may be given as option
    instead; ``text``, ``recipient`` and ``organization`` — the provider whose
    Trägerbudget the expenditure is booked to, by UUID or exact name — may be
    absent)."""

    kind = "expenditures"
    label = "Ausgaben (Ist) eines Budgets (CSV/XLSX)"
    option_help = {
        "budget": "Budget (ID) für alle Zeilen, statt einer Spalte budget",
        "decimal": "Dezimaltrennzeichen , oder . (sonst automatisch)",
    }

    def run(self, source) -> dict:
        default_budget = self._option_budget()
        table = self._open(source)
        try:
            rows = self._read(table, default_budget)
        finally:
            table.close()
        self.reject_if_errors()
        return self._write(rows)

    # -- budgets ------------------------------------------------------------------

    def _budgets(self):
        if self.user is None:
            return Budget.objects.all()
        return Budget.objects.for_user(self.user, Action.CHANGE)

    def _option_budget(self) -> Budget | None:
        value = self.options.get("budget")
        if value in (None, ""):
            return None
        budget = self._lookup_budget(None, str(value), "budget")
        if budget is None:
            self.reject_if_errors()
        return budget

    def _lookup_budget(self, line, text, column) -> Budget | None:
        cache = self.__dict__.setdefault("_budget_cache", {})
        text = text.strip()
        if text in cache:
            return cache[text]
        budget = None
        if not text.isdigit():
            self.errors.add(line, f"Budget {text!r}: erwartet die Nummer (ID) eines Budgets", column)
        elif (budget := self._budgets().select_related("scope_region", "target_level").filter(pk=int(text)).first()):
            budget.region_ids = dict(budget.target_regions().values_list("code", "pk"))
        elif Budget.objects.filter(pk=int(text)).exists():
            self.errors.add(line, f"Budget {text}: keine Berechtigung", column)
        else:
            self.errors.add(line, f"Budget {text} gibt es nicht", column)
        if budget is not None or line is None:
            cache[text] = budget
        return budget

    # -- reading ------------------------------------------------------------------

    def _read(self, table, default_budget) -> list[tuple]:
        header = table.header
        lowered = [h.lower() for h in header]
        idx = {}
        for col in COLUMNS:
            if col in REQUIRED or (col == "budget" and default_budget is None):
                idx[col] = self._column_index(header, col, role=col)
            else:
                idx[col] = lowered.index(col) if col in lowered else None
        if self.errors:
            return []
        decimal = getattr(self, "decimal", self.options.get("decimal"))
        rows = []
        for line, cells in table.rows:
            before = self.errors.total
            budget = default_budget
            if idx["budget"] is not None and (text := _cell(cells, idx["budget"])):
                budget = self._lookup_budget(line, text, "budget")
            elif budget is None:
                self.errors.add(line, "Budget fehlt", "budget")
            code = _cell(cells, idx["region_code"])
            region_id = None
            if budget is not None:
                region_id = budget.region_ids.get(code)
                if region_id is None:
                    if not code:
                        self.errors.add(line, "Raumschlüssel fehlt", "region_code")
                    elif Region.objects.filter(code=code).exists():
                        self.errors.add(line, f"Raum {code!r} gehört nicht zu den Räumen des Budgets „{budget}“",
                                        "region_code")
                    else:
                        self.errors.add(line, f"unbekannter Raumschlüssel {code!r}", "region_code")
            part = self._parse(line, "part", parse_part, _cell(cells, idx["part"]))
            category = _cell(cells, idx["category"])
            if not category:
                self.errors.add(line, "Kostenart fehlt", "category")
            elif len(category) > Expenditure._meta.get_field("category").max_length:
                self.errors.add(line, "Kostenart ist zu lang (höchstens 100 Zeichen)", "category")
            booking_date = self._parse(line, "booking_date", parse_date, _cell(cells, idx["booking_date"]))
            if booking_date and budget is not None and booking_date.year != budget.fiscal_year:
                self.errors.add(line, f"Buchungsdatum {booking_date:%d.%m.%Y} liegt nicht im Haushaltsjahr "
                                      f"{budget.fiscal_year}", "booking_date")
            amount = self._amount(line, _cell(cells, idx["amount"]), decimal)
            text = _cell(cells, idx["text"])
            recipient = _cell(cells, idx["recipient"])
            for col, value in (("text", text), ("recipient", recipient)):
                limit = Expenditure._meta.get_field(col).max_length
                if len(value) > limit:
                    self.errors.add(line, f"Text ist zu lang (höchstens {limit} Zeichen)", col)
            org_text = _cell(cells, idx["organization"]) if idx["organization"] is not None else ""
            organization_id = self._lookup_organization(line, org_text) if org_text else None
            if self.errors.total == before:
                rows.append((line, budget.pk, region_id, part, category, booking_date, amount, text, recipient,
                             organization_id))
        return rows

    def _lookup_organization(self, line, text) -> int | None:
        """A provider by UUID or exact name (case-insensitive), cached."""
        from cooperation.models import Organization

        cache = self.__dict__.setdefault("_org_cache", {})
        key = text.strip().lower()
        if key not in cache:
            try:
                matches = list(Organization.objects.filter(uuid=uuid.UUID(key)).values_list("pk", flat=True))
            except ValueError:
                matches = list(Organization.objects.filter(name__iexact=text.strip()).values_list("pk", flat=True)[:2])
            cache[key] = matches
        matches = cache[key]
        if len(matches) != 1:
            self.errors.add(line, f"Träger {text.strip()!r} " + ("ist nicht eindeutig (bitte die UUID angeben)"
                                                                  if matches else "gibt es nicht"), "organization")
            return None
        return matches[0]

    def _parse(self, line, column, parse, text):
        if not text:
            self.errors.add(line, "Wert fehlt", column)
            return None
        try:
            return parse(text)
        except CellError as e:
            self.errors.add(line, str(e), column)
            return None

    def _amount(self, line, text, decimal) -> Decimal | None:
        if is_missing(text):
            self.errors.add(line, "Betrag fehlt", "amount")
            return None
        try:
            value = parse_decimal(text, decimal)
        except CellError as e:
            self.errors.add(line, str(e), "amount")
            return None
        if value != value.quantize(Decimal("0.01")):
            self.errors.add(line, f"Betrag {text!r} hat mehr als zwei Nachkommastellen", "amount")
        elif value == 0:
            self.errors.add(line, "Betrag darf nicht 0 sein", "amount")
        elif abs(value) >= MAX_AMOUNT:
            self.errors.add(line, f"Betrag {text!r} ist zu groß", "amount")
        else:
            return value.quantize(Decimal("0.01"))
        return None

    # -- writing ------------------------------------------------------------------

    def _write(self, rows) -> dict:
        """Create the rows whose natural key is not there yet (as many times as
        the file holds it more often than the database)."""
        keys = ("budget_id", "region_id", "part", "category", "booking_date", "amount", "text")
        recipients: dict[tuple, list[tuple]] = {}  # natural key → (recipient, provider) of the file's rows
        for row in rows:
            recipients.setdefault(tuple(row[1:8]), []).append((row[8], row[9]))
        existing = Counter()
        if rows:
            q = Q()
            for budget_id, region_id in {(r[1], r[2]) for r in rows}:
                q |= Q(budget_id=budget_id, region_id=region_id)
            existing.update(Expenditure.objects.filter(q).values_list(*keys))
        new = []
        for key, names in recipients.items():
            missing = len(names) - existing[key]
            for recipient, organization_id in names[len(names) - missing:] if missing > 0 else []:
                new.append(Expenditure(**dict(zip(keys, key, strict=True)), recipient=recipient,
                                       organization_id=organization_id, created_by=self.user, updated_by=self.user))
        Expenditure.objects.bulk_create(new, batch_size=2000)
        return {
            "created": len(new), "unchanged": len(rows) - len(new), "total": len(rows),
            "amount_created": str(sum((e.amount for e in new), Decimal("0.00"))),
            "budgets": sorted({r[1] for r in rows}),
        }
