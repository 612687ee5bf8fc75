"""Pages of a budget's actual expenditures (Ist-Ausgaben) and its utilisation
(Auslastung), German UI.

- the list, filtered with the API's ``ExpenditureFilterSet`` and paginated;
- add, edit and delete one expenditure (``ExpenditureForm``, a ModelForm: the
  model's ``clean`` checks region and fiscal year);
- upload of a CSV/XLSX file through the registered ``expenditures`` importer
  (``core.imports.base.import_now``: atomic, every bad line named, nothing
  written when any line is wrong);
- utilisation from ``services.utilisation``: allocated, spent, remaining per
  region and part, per cost type and per month (table and bar chart).

Reading needs the budget to be visible (else 404); writing needs the right to
change it (else 403), checked through ``for_user`` like the other pages.
"""

import os
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.dates import MONTHS, MONTHS_3
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, TemplateView, UpdateView

from cooperation.access import is_staff_reader
from core.access import Action
from core.imports.base import import_now
from core.tables import MONEY, PERCENT, Cell, Column, DataTable, tables_response
from core.views import ScopedListView

from . import exports, services
from .choices import Part
from .comparison_views import BudgetPageMixin
from .filtersets import ExpenditureFilterSet
from .forms import ExpenditureForm, ExpenditureUploadForm
from .models import Expenditure
from .views import money, part_label

MAX_SHOWN_ERRORS = 1000
TENTH = Decimal("0.1")


def month_choices(year: int) -> list[tuple[str, str]]:
    return [(f"{year}-{m:02d}", f"{MONTHS[m]} {year}") for m in range(1, 13)]


class ExpenditureWriteMixin(BudgetPageMixin):
    """Writing expenditures: the budget must be changeable by the user and the
    user allowed to add expenditures at all."""

    require_change = True
    permission_message = _("Nur die Planung darf Ausgaben dieses Budgets erfassen und ändern.")

    def get_budget(self):
        budget = super().get_budget()
        if not Expenditure.objects.can_add(self.request.user):
            raise PermissionDenied(self.permission_message)
        return budget

    def list_url(self) -> str:
        return reverse("budget-expenditures", kwargs={"pk": self.budget.pk})


# --- List ----------------------------------------------------------------------------------


class ExpenditureListView(BudgetPageMixin, ScopedListView):
    """The budget's expenditures, newest booking first, filtered by region,
    part, cost type and month (the API's FilterSet)."""

    model = Expenditure
    filterset_class = ExpenditureFilterSet
    template_name = "budgets/expenditure_list.html"

    def get(self, request, *args, **kwargs):
        self.get_budget()
        return super().get(request, *args, **kwargs)

    def scoped_queryset(self, qs):
        return qs.filter(budget=self.budget).select_related("region", "organization").only(
            "pk", "budget_id", "booking_date", "part", "category", "amount", "recipient", "text",
            "region__code", "region__name", "organization__name", "organization__uuid",
        ).order_by("-booking_date", "-pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        for name in ("budget", "region_ancestor", "booking_date"):
            fields.pop(name, None)  # the budget is the page's; the rest stay API filters
        budget = self.budget
        regions = budget.target_regions().order_by("code").values_list("code", "name")
        fields["region"] = forms.ChoiceField(
            label=_("Raum"), required=False, choices=[("", _("alle")), *((c, f"{n} ({c})") for c, n in regions)],
            error_messages={"invalid_choice": _("Bitte einen Raum des Budgets wählen.")},
        )
        fields["part"].empty_label = _("alle")
        fields["part"].choices = Part.choices  # rebuilds django-filter's choice iterator with that label
        # the cost types of the rows the user may see (provider staff: their own organisation's spending)
        categories = (Expenditure.objects.for_user(self.request.user, Action.VIEW).filter(budget=budget)
                      .order_by("category").values_list("category", flat=True).distinct())
        fields["category"] = forms.ChoiceField(
            label=_("Kostenart"), required=False, choices=[("", _("alle")), *((c, c) for c in categories)],
            error_messages={"invalid_choice": _("Diese Kostenart kommt in diesem Budget nicht vor.")},
        )
        fields["month"] = forms.ChoiceField(
            label=_("Monat"), required=False, choices=[("", _("alle")), *month_choices(budget.fiscal_year)],
            error_messages={"invalid_choice": _("Bitte einen Monat des Haushaltsjahres wählen.")},
        )
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for e in context["object_list"]:
            e.amount_text = money(e.amount)
            e.part_text = part_label(e.part)
        totals = self.object_list.aggregate(n=Count("pk"), total=Sum("amount"))
        context.update(
            filtered_total=money(totals["total"] or Decimal("0.00")),
            may_write=self.can_change and Expenditure.objects.can_add(self.request.user),
        )
        return context


# --- Add, edit, delete ---------------------------------------------------------------------


class ExpenditureFormMixin(ExpenditureWriteMixin):
    model = Expenditure
    form_class = ExpenditureForm
    template_name = "budgets/expenditure_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.get_budget()
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "budget": self.budget}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        existing = (Expenditure.objects.filter(budget=self.budget).order_by("category")
                    .values_list("category", flat=True).distinct())
        context.update(categories=form.category_suggestions(existing), error_count=len(form.errors))
        return context

    def form_valid(self, form):
        form.instance.stamp(self.request.user)
        self.object = form.save()
        messages.success(self.request, self.success_message % {
            "date": self.object.booking_date.strftime("%d.%m.%Y"), "amount": money(self.object.amount)})
        return redirect(self.list_url())


class ExpenditureCreateView(ExpenditureFormMixin, CreateView):
    success_message = _("Ausgabe vom %(date)s über %(amount)s erfasst.")


class ExpenditureUpdateView(ExpenditureFormMixin, UpdateView):
    pk_url_kwarg = "expenditure_pk"
    success_message = _("Ausgabe vom %(date)s über %(amount)s gespeichert.")

    def get_queryset(self):
        return Expenditure.objects.for_user(self.request.user, Action.CHANGE).filter(budget=self.budget)


class ExpenditureDeleteView(ExpenditureWriteMixin, TemplateView):
    """GET asks, POST deletes (the audit history keeps the deleted row)."""

    template_name = "budgets/expenditure_confirm_delete.html"

    def get_object(self) -> Expenditure:
        self.get_budget()
        expenditure = (
            Expenditure.objects.for_user(self.request.user, Action.DELETE)
            .filter(budget=self.budget, pk=self.kwargs["expenditure_pk"]).select_related("region").first()
        )
        if expenditure is None:
            raise Http404
        return expenditure

    def get(self, request, *args, **kwargs):
        expenditure = self.get_object()
        return self.render_to_response(self.get_context_data(
            object=expenditure, amount_text=money(expenditure.amount), part_text=part_label(expenditure.part)))

    def post(self, request, *args, **kwargs):
        expenditure = self.get_object()
        text = {"date": expenditure.booking_date.strftime("%d.%m.%Y"), "amount": money(expenditure.amount)}
        expenditure.delete()
        messages.success(request, gettext("Ausgabe vom %(date)s über %(amount)s gelöscht.") % text)
        return redirect(self.list_url())


# --- Upload --------------------------------------------------------------------------------


class _OtherBudgets(Exception):
    def __init__(self, budgets):
        self.budgets = budgets


SUMMARY_LABELS = (("created", _("angelegt")), ("unchanged", _("unverändert (schon vorhanden)")),
                  ("total", _("Zeilen insgesamt")))


class ExpenditureImportView(ExpenditureWriteMixin, TemplateView):
    """GET: the upload form. POST: import the file at once for this budget and
    show the counts, or every bad line with its number (nothing written then).
    Rows naming another budget in a ``budget`` column are refused as a whole."""

    template_name = "budgets/expenditure_import.html"

    def get(self, request, *args, **kwargs):
        self.get_budget()
        return self.render_to_response(self.get_context_data(form=ExpenditureUploadForm()))

    def post(self, request, *args, **kwargs):
        budget = self.get_budget()
        form = ExpenditureUploadForm(request.POST, request.FILES)
        context = {"form": form}
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = self.run_import(upload, dry_run=form.cleaned_data["dry_run"])
            except _OtherBudgets as e:
                form.add_error("file", gettext(
                    "Die Datei enthält in der Spalte budget Zeilen für andere Budgets (%(budgets)s). Hier werden "
                    "nur Ausgaben dieses Budgets (%(budget)s) importiert; es wurde nichts gespeichert."
                ) % {"budgets": ", ".join(str(b) for b in e.budgets), "budget": budget.pk})
            else:
                context["run"] = run
                if run.status == run.Status.SUCCEEDED:
                    summary = run.summary
                    context["summary"] = [(label, summary.get(key, 0)) for key, label in SUMMARY_LABELS]
                    context["amount_created"] = money(summary.get("amount_created", "0"))
                    form = ExpenditureUploadForm()  # ready for the next file
                    context["form"] = form
                else:
                    context["errors"] = run.errors[:MAX_SHOWN_ERRORS]
                    context["hidden_errors"] = max(run.error_count - min(len(run.errors), MAX_SHOWN_ERRORS), 0)
        context["error_count"] = len(form.errors)
        return self.render_to_response(self.get_context_data(**context))

    def get_context_data(self, **kwargs):
        kwargs.setdefault("example_code", self.budget.target_regions().order_by("code")
                          .values_list("code", flat=True).first())
        return super().get_context_data(**kwargs)

    def run_import(self, upload, *, dry_run: bool):
        """The importer reads files by path: the upload goes to a temporary
        file, which is removed afterwards."""
        suffix = Path(upload.name or "").suffix.lower()[:10]
        fd, path = tempfile.mkstemp(prefix="ausgaben-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            with transaction.atomic():
                run = import_now("expenditures", path, user=self.request.user, options={"budget": self.budget.pk},
                                 dry_run=dry_run, original_name=upload.name or "")
                others = sorted(b for b in (run.summary or {}).get("budgets", []) if b != self.budget.pk)
                if others:
                    raise _OtherBudgets(others)  # rolls the whole import back, its record too
            return run
        finally:
            os.unlink(path)


# --- Utilisation ---------------------------------------------------------------------------


def _percent(spent: Decimal, allocated: Decimal | None) -> Decimal | None:
    if not allocated:
        return None
    return (spent * 100 / allocated).quantize(TENTH, rounding=ROUND_HALF_UP)


def percent_text(value) -> str:
    return "–" if value is None else f"{number_format(value, decimal_pos=1)}\u00a0%"


def _amounts(row: dict) -> dict:
    return {
        "allocated": money(row["allocated"]), "spent": money(row["spent"]), "remaining": money(row["remaining"]),
        "percent": percent_text(row["percent"]),
        "over": row["remaining"] is not None and row["remaining"] < 0,
    }


CHART_WIDTH, CHART_HEIGHT = 720, 240
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 8, 8, 24, 28


def month_chart(months: list[dict], *, id_prefix: str, title: str):
    """An inline SVG bar chart of spent per month (role="img"; the table of
    months holds the same values). Negative months (refunds) go below the
    baseline. None when nothing was spent."""
    values = [m["spent"] for m in months]
    if not any(values):
        return None
    top, bottom = max(max(values), Decimal(0)), min(min(values), Decimal(0))
    span = top - bottom
    inner_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    inner_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    slot = inner_w / len(months)
    bar_w = slot * 0.7

    def y(value):
        return CHART_TOP + float((top - value) / span) * inner_h

    base_y = y(Decimal(0))
    bars = []
    for i, m in enumerate(months):
        x = CHART_LEFT + i * slot + (slot - bar_w) / 2
        v = m["spent"]
        y0, y1 = sorted((y(v), base_y))
        month_no = int(m["month"][5:7])
        label = f"{MONTHS[month_no]}: {money(v)}"
        bars.append((
            label, f"{x:.1f}", f"{y0:.1f}", f"{bar_w:.1f}", f"{max(y1 - y0, 0):.1f}",
            "#a4161a" if v < 0 else "#0b4f8a",
            f"{x + bar_w / 2:.1f}", f"{CHART_HEIGHT - 8}", capfirst(MONTHS_3[month_no]),
        ))
    body = format_html_join(
        "", '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="#1b1b1b">{}</text></g>', bars,
    )
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" role="img" '
        'aria-labelledby="{tid}" aria-describedby="{did}" width="100%">'
        '<title id="{tid}">{title}</title><desc id="{did}">{desc}</desc>'
        '<text x="{left}" y="14" font-size="12" fill="#4a4a4a">{max_label}</text>'
        '<line x1="{left}" x2="{right}" y1="{top}" y2="{top}" stroke="#c4c9d0" stroke-dasharray="3 3"/>'
        '{body}<line x1="{left}" x2="{right}" y1="{base}" y2="{base}" stroke="#1b1b1b"/></svg>',
        w=CHART_WIDTH, h=CHART_HEIGHT, tid=title_id, did=desc_id, title=title,
        desc=gettext("Balkendiagramm: ausgegeben je Monat; die Tabelle unter dem Diagramm enthält dieselben Werte."),
        left=CHART_LEFT, right=CHART_WIDTH - CHART_RIGHT, top=f"{y(top):.1f}", base=f"{base_y:.1f}",
        max_label=gettext("höchster Monatswert: %(amount)s") % {"amount": money(top)}, body=body,
    )


AMOUNT_COLUMNS = (("allocated", _("zugewiesen")), ("spent", _("ausgegeben")), ("remaining", _("verbleibend")))


def utilisation_tables(data: dict, regions: list[dict], months: list[dict]) -> dict[str, DataTable]:
    """The page's three tables as files, with the same rows: per region its
    parts and its subtotal row ("zusammen"), the total as the footer; per cost
    type; per month."""
    amount_columns = [Column(key, str(label), MONEY) for key, label in AMOUNT_COLUMNS]
    totals = data["totals"]
    region_rows = []
    for entry in regions:
        for p in entry["values"]:
            region_rows.append([entry["name"], entry["code"], part_label(p["part"]), p["allocated"], p["spent"],
                                p["remaining"], p["percent"]])
        s = entry["sum_values"]
        region_rows.append([entry["name"], entry["code"], gettext("zusammen"), s["allocated"], s["spent"],
                            s["remaining"], s["percent"]])
    by_region = DataTable(
        key="raeume", caption=gettext("Zugewiesen, ausgegeben und verbleibend je Raum und Teil"),
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("part", gettext("Teil")), *amount_columns,
                 Column("percent", gettext("ausgeschöpft"), PERCENT)],
        rows=region_rows,
        footer=[gettext("Summe"), "", "", totals["allocated"], totals["spent"], totals["remaining"],
                totals["percent"]],
    )
    by_category = DataTable(
        key="kostenarten", caption=gettext("Ausgegeben je Kostenart und Anteil am zugewiesenen Gesamtbetrag"),
        columns=[Column("category", gettext("Kostenart")), Column("spent", gettext("ausgegeben"), MONEY),
                 Column("percent", gettext("Anteil am zugewiesenen Betrag"), PERCENT)],
        rows=[[c["category"], c["spent"], c["percent"]] for c in data["categories"]],
        footer=[gettext("Summe"), totals["spent"], totals["percent"]],
    )
    by_month = DataTable(
        key="monate", caption=gettext("Ausgegeben je Monat"),
        columns=[Column("month", gettext("Monat")), Column("spent", gettext("ausgegeben"), MONEY)],
        rows=[[Cell(m["label"], m["url"]), m["value"]] for m in months],
    )
    return {"raeume": by_region, "kostenarten": by_category, "monate": by_month}


class BudgetUtilisationView(BudgetPageMixin, TemplateView):
    """Allocated (adopted run), spent and remaining per region and part; spent
    per cost type and per month of the fiscal year. Each table also as CSV/XLSX
    (``?export=raeume|kostenarten|monate``)."""

    template_name = "budgets/budget_utilisation.html"

    def dispatch(self, request, *args, **kwargs):
        # every organisation's spending: staff only (provider staff see theirs on "Mein Trägerbudget")
        if request.user.is_authenticated and not is_staff_reader(request.user):
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        tables = list(context["tables"].values())
        return tables_response(request, tables, f"{exports.file_stem(self.budget)}-auslastung",
                               lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        budget = self.get_budget()
        data = services.utilisation(budget, budget.adopted_run_id)
        regions: dict[str, dict] = {}
        for row in data["rows"]:
            entry = regions.setdefault(row["region"], {
                "code": row["region"], "name": row["region_name"], "parts": [],
                "allocated": None if row["allocated"] is None else Decimal("0.00"), "spent": Decimal("0.00"),
            })
            entry["parts"].append({"label": part_label(row["part"]), **_amounts(row)})
            entry.setdefault("values", []).append(row)
            if row["allocated"] is not None:
                entry["allocated"] += row["allocated"]
            entry["spent"] += row["spent"]
        region_rows = []
        for entry in regions.values():
            allocated, spent = entry["allocated"], entry["spent"]
            remaining = None if allocated is None else allocated - spent
            entry["sum_values"] = {"allocated": allocated, "spent": spent, "remaining": remaining,
                                   "percent": _percent(spent, allocated)}
            entry["sum"] = _amounts(entry["sum_values"])
            region_rows.append(entry)
        expenditures_url = reverse("budget-expenditures", kwargs={"pk": budget.pk})
        months = [
            {"label": f"{MONTHS[int(m['month'][5:7])]} {m['month'][:4]}", "month": m["month"],
             "spent": money(m["spent"]), "value": m["spent"], "url": f"{expenditures_url}?month={m['month']}"}
            for m in data["months"]
        ]
        kwargs.update(
            adopted=data["adopted_run"],
            regions=region_rows,
            totals=_amounts(data["totals"]),
            categories=[{"category": c["category"], "spent": money(c["spent"]), "percent": percent_text(c["percent"])}
                        for c in data["categories"]],
            months=months,
            chart=month_chart(data["months"], id_prefix=f"monate-{budget.pk}",
                              title=gettext("Ausgaben je Monat %(year)s") % {"year": budget.fiscal_year}),
            tables=utilisation_tables(data, region_rows, months),
        )
        return super().get_context_data(**kwargs)
