"""Trägerbudget pages: a budget's Trägerbudgets with the share table (staff;
planners edit the shares), and "Mein Trägerbudget" for provider staff.

Amounts are computed by ``budgets.providers`` in a Celery task whenever the
adoption, the share table or the agreements change; these pages only read
them (and show problems such as shares over 100 %, computed live)."""

from collections import defaultdict
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Sum
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from cooperation import access as cooperation_access
from cooperation.models import Agreement, Organization
from core.tables import MONEY, PERCENT, Cell, Column, DataTable, tables_response

from . import exports, providers
from .choices import Part, ShareSource
from .comparison_views import BudgetPageMixin
from .models import Budget, Expenditure, ProviderAllocation, ProviderShare
from .views import money, part_label, plain

ZERO = Decimal("0.00")


def percent(value) -> str:
    from django.utils.formats import number_format

    return f"{number_format(Decimal(value).normalize(), force_grouping=True)}\u00a0%" if value is not None else "–"


class ProviderShareForm(forms.ModelForm):
    class Meta:
        model = ProviderShare
        fields = ["region", "part", "organization", "share"]
        localized_fields = ["share"]
        widgets = {"share": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})}
        error_messages = {
            "share": {"required": _("Bitte den Anteil in Prozent angeben."),
                      "invalid": _("Bitte eine Zahl angeben, z. B. 12,5.")},
            "region": {"required": _("Bitte den Raum wählen.")},
            "organization": {"required": _("Bitte den Träger wählen.")},
        }

    def __init__(self, *args, budget, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.budget = budget
        self.fields["region"].queryset = budget.target_regions().order_by("code").only("pk", "code", "name")
        self.fields["region"].label_from_instance = lambda r: f"{r.code} {r.name}"
        self.fields["organization"].queryset = Organization.objects.order_by("name").only("pk", "name")
        self.fields["part"].choices = [("", _("– Teil wählen –")), *Part.choices]

    def clean(self):
        data = super().clean()
        region, part, share = data.get("region"), data.get("part"), data.get("share")
        if region and part and share is not None:
            others = ProviderShare.objects.filter(budget=self.instance.budget, region=region, part=part).exclude(
                organization=data.get("organization")).aggregate(s=Sum("share"))["s"] or Decimal(0)
            if others + share > 100:
                self.add_error("share", gettext("Mit den anderen Anteilen für %(region)s, %(part)s ergäbe das "
                                                "%(sum)s (höchstens 100 %%).") % {
                    "region": region.code, "part": part_label(part), "sum": percent(others + share)})
        return data


def _organization_cell(org) -> Cell:
    return Cell(org.name, reverse("organization-detail", args=[org.uuid]))


def provider_tables(organizations: list[dict], rows: list[dict], shares: list) -> dict[str, DataTable]:
    """The three tables of the Trägerbudgets page as files, with the same rows:
    per provider; per region, part and provider (a retained amount has no
    provider and no spending); the explicit shares."""
    amount_columns = [Column("allocated", gettext("Trägerbudget"), MONEY), Column("spent", gettext("ausgegeben"), MONEY),
                      Column("remaining", gettext("verbleibend"), MONEY)]
    per_provider = DataTable(
        key="traeger", caption=gettext("Trägerbudget, Ausgaben und Rest je Träger"),
        columns=[Column("organization", gettext("Träger")), *amount_columns],
        rows=[[_organization_cell(e["organization"]), e["allocated_value"], e["spent_value"],
               e["allocated_value"] - e["spent_value"]] for e in organizations],
    )
    allocation_rows = []
    for e in rows:
        pa = e["row"]
        allocation_rows.append([
            pa.region.name, pa.region.code, e["part"],
            _organization_cell(pa.organization) if pa.organization else gettext("nicht weitergegeben"),
            plain(pa.share), e["source"], ", ".join(a.title for a in pa.agreements.all()), pa.amount, e["spent_value"],
            None if e["spent_value"] is None else pa.amount - e["spent_value"],
        ])
    allocations = DataTable(
        key="zuweisungen", caption=gettext("Trägerbudgets je Raum und Teil mit Anteil, Grundlage und Ausgaben"),
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("part", gettext("Teil")), Column("organization", gettext("Träger")),
                 Column("share", gettext("Anteil"), PERCENT, decimals=4), Column("source", gettext("Grundlage")),
                 Column("agreements", gettext("Vereinbarungen")), Column("amount", gettext("Betrag"), MONEY),
                 Column("spent", gettext("ausgegeben"), MONEY), Column("remaining", gettext("verbleibend"), MONEY)],
        rows=allocation_rows,
    )
    explicit = DataTable(
        key="anteile", caption=gettext("Ausdrücklich festgelegte Anteile"),
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("part", gettext("Teil")), Column("organization", gettext("Träger")),
                 Column("share", gettext("Anteil (%)"), PERCENT, decimals=4)],
        rows=[[s.region.name, s.region.code, s.get_part_display(), s.organization.name, plain(s.share)] for s in shares],
    )
    return {"traeger": per_provider, "zuweisungen": allocations, "anteile": explicit}


class BudgetProvidersView(BudgetPageMixin, TemplateView):
    """The Trägerbudgets of a budget (staff who see the budget); each table
    also as CSV/XLSX (``?export=traeger|zuweisungen|anteile``)."""

    template_name = "budgets/budget_providers.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not cooperation_access.is_staff_reader(request.user):
            raise Http404  # provider staff see their own on "Mein Trägerbudget"
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        tables = list(context["tables"].values())
        return tables_response(request, tables, f"{exports.file_stem(self.budget)}-traegerbudgets",
                               lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        budget = self.get_budget()
        rows = list(
            ProviderAllocation.objects.filter(budget=budget)
            .select_related("region", "organization")
            .prefetch_related(Prefetch("agreements", queryset=Agreement.objects.only("pk", "uuid", "title")))
            .order_by("region__code", "part", "organization__name")
        )
        spent = defaultdict(lambda: ZERO)
        for r, p, o, total in Expenditure.objects.filter(budget=budget, organization__isnull=False).values(
                "region_id", "part", "organization_id").annotate(t=Sum("amount")).values_list(
                "region_id", "part", "organization_id", "t"):
            spent[r, p, o] = total
        by_org = defaultdict(lambda: {"allocated": ZERO, "spent": ZERO})
        table = []
        for pa in rows:
            s = spent.get((pa.region_id, pa.part, pa.organization_id), ZERO) if pa.organization_id else None
            table.append({"row": pa, "part": part_label(pa.part), "share": percent(pa.share),
                          "source": ShareSource(pa.source).label, "amount": money(pa.amount), "spent_value": s,
                          "spent": money(s) if s is not None else "–",
                          "remaining": money(pa.amount - s) if s is not None else "–",
                          "over": s is not None and s > pa.amount})
            if pa.organization_id:
                by_org[pa.organization]["allocated"] += pa.amount
        org_spent = defaultdict(lambda: ZERO)
        for (_r, _p, o), total in spent.items():
            org_spent[o] += total
        for org, entry in by_org.items():
            entry["spent"] = org_spent[org.pk]
        organizations = sorted(
            ({"organization": org, "allocated": money(v["allocated"]), "spent": money(v["spent"]),
              "remaining": money(v["allocated"] - v["spent"]), "allocated_value": v["allocated"],
              "spent_value": v["spent"]} for org, v in by_org.items()),
            key=lambda e: e["organization"].name)
        shares = list(ProviderShare.objects.filter(budget=budget).select_related("region", "organization"))
        _rows, problems = providers.compute(budget) if budget.adopted_run_id else ([], [])
        kwargs.update(
            budget=budget, rows=table, organizations=organizations, problems=problems,
            passed_on=money(sum((pa.amount for pa in rows if pa.organization_id), ZERO)),
            retained=money(sum((pa.amount for pa in rows if not pa.organization_id), ZERO)),
            shares=shares,
            tables=provider_tables(organizations, table, shares),
            share_form=kwargs.get("share_form") or (ProviderShareForm(budget=budget) if self.can_change else None),
            can_change=self.can_change,
            error_forms=[kwargs["share_form"]] if kwargs.get("share_form") else [],
            error_count=len(kwargs["share_form"].errors) if kwargs.get("share_form") else 0,
        )
        return super().get_context_data(**kwargs)


class ProviderShareCreateView(BudgetPageMixin, View):
    require_change = True

    def post(self, request, pk):
        budget = self.get_budget()
        form = ProviderShareForm(request.POST, budget=budget)
        if form.is_valid():
            share = form.save(commit=False)
            share.stamp(request.user)
            try:
                with transaction.atomic():
                    share.save()
            except IntegrityError:
                form.add_error("organization", gettext("Für diesen Raum, Teil und Träger gibt es schon einen Anteil."))
            else:
                messages.success(request, gettext("Anteil gespeichert; die Trägerbudgets werden neu berechnet."))
                return redirect(reverse("budget-providers", args=[budget.pk]) + "#shares-heading")
        view = BudgetProvidersView()
        view.setup(request, pk=pk)
        view.budget, view.can_change = budget, True
        return view.render_to_response(view.get_context_data(share_form=form), status=400)


class ProviderShareDeleteView(BudgetPageMixin, View):
    require_change = True

    def post(self, request, pk, share_pk):
        budget = self.get_budget()
        deleted, _n = ProviderShare.objects.filter(budget=budget, pk=share_pk).delete()
        if not deleted:
            raise Http404
        messages.success(request, gettext("Anteil entfernt; die Trägerbudgets werden neu berechnet."))
        return redirect(reverse("budget-providers", args=[budget.pk]) + "#shares-heading")


def my_budget_table(budget: Budget, entries: list[dict], several: bool) -> DataTable:
    """One budget's table of "Mein Trägerbudget" as a file (``?export=budget-<id>``):
    region, part, (the organisation when the user has several), Trägerbudget,
    spent and remaining."""
    org_column = [Column("organization", gettext("Organisation"))] if several else []
    return DataTable(
        key=f"budget-{budget.pk}",
        caption=gettext("Trägerbudget je Raum und Teil – %(name)s") % {"name": budget.name},
        columns=[Column("region", gettext("Raum")), Column("code", gettext("Schlüssel")),
                 Column("part", gettext("Teil")), *org_column,
                 Column("allocated", gettext("Trägerbudget"), MONEY), Column("spent", gettext("ausgegeben"), MONEY),
                 Column("remaining", gettext("verbleibend"), MONEY)],
        rows=[[e["region"].name, e["region"].code, e["part"],
               *([e["organization"].name if e["organization"] else ""] if several else []),
               e["values"]["allocated"], e["values"]["spent"], e["values"]["remaining"]] for e in entries],
    )


class MyProviderBudgetView(LoginRequiredMixin, TemplateView):
    """"Mein Trägerbudget": the Trägerbudgets of the user's organisations and
    their spending, per budget, region and part."""

    template_name = "budgets/my_provider_budget.html"
    nav = "my-provider-budget"

    def get(self, request, *args, **kwargs):
        self.orgs = cooperation_access.organization_ids(request.user)
        if not self.orgs and not request.user.is_superuser:
            raise PermissionDenied(gettext("Diese Seite ist für Mitarbeitende von Trägern."))
        context = self.get_context_data(**kwargs)
        tables = [s["table"] for s in context["sections"]]
        return tables_response(request, tables, "mein-traegerbudget", lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        totals = providers.totals_for_organizations(self.orgs)
        budgets = {b.pk: b for b in Budget.objects.filter(pk__in={k[0] for k in totals}).select_related("field")}
        from regions.models import Region

        regions = {r.pk: r for r in Region.objects.filter(pk__in={k[1] for k in totals}).only("pk", "code", "name")}
        orgs = {o.pk: o for o in Organization.objects.filter(pk__in=self.orgs).only("pk", "uuid", "name")}
        grouped = defaultdict(list)
        for (b, r, p, o), v in sorted(totals.items(), key=lambda kv: (
                -budgets[kv[0][0]].fiscal_year, budgets[kv[0][0]].name, regions[kv[0][1]].code, kv[0][2],
                orgs[kv[0][3]].name if kv[0][3] in orgs else "")):
            grouped[b].append({"region": regions[r], "part": part_label(p), "organization": orgs.get(o),
                               "allocated": money(v["allocated"]), "spent": money(v["spent"]),
                               "remaining": money(v["remaining"]), "over": v["remaining"] < 0, "values": v})
        sections = []
        several = len(orgs) > 1  # the page names the organisation of a row only then
        for b, entries in grouped.items():
            sums = {k: sum((v[k] for key, v in totals.items() if key[0] == b), ZERO)
                    for k in ("allocated", "spent", "remaining")}
            sections.append({"budget": budgets[b], "rows": entries, **{k: money(v) for k, v in sums.items()},
                             "table": my_budget_table(budgets[b], entries, several)})
        kwargs.update(sections=sections, organizations=sorted(orgs.values(), key=lambda o: o.name))
        return super().get_context_data(**kwargs)
