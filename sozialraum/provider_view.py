""""Mein Träger": the provider staff's page — their offerings (stale ones
flagged, free places to update), agreements with pending confirmations,
networks and open tasks, and their Trägerbudget with its spending. Everything
through the models' ``for_user`` scopes; a fixed number of queries.

Its three tables (offerings, open tasks, Trägerbudget) keep their own HTML
(forms and flags in the cells); each is also a :class:`core.tables.DataTable`
with the same rows, so ``?export=<key>&format=csv|xlsx`` downloads exactly what
the page shows."""

from collections import defaultdict
from decimal import Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.generic import TemplateView

from budgets.models import Budget
from budgets.providers import totals_for_organizations
from budgets.views import money
from cooperation import access
from cooperation.choices import AgreementStatus, ServiceStatus
from cooperation.models import Agreement, AgreementParty, MeetingTask, Network, Organization, Service, confirmation_cutoff
from core.access import Action
from core.tables import DATE, INT, MONEY, Cell, Column, DataTable, tables_response

ZERO = Decimal("0.00")
OPEN_AGREEMENTS = (AgreementStatus.DRAFT, AgreementStatus.NEGOTIATION, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)


def offering_table(services) -> DataTable:
    """The offerings as the page lists them: the stale flag as a boolean, the
    organisation always (the page shows it only for staff of several)."""
    rows = [[Cell(s.name, reverse("service-detail", args=[s.uuid])), s.get_status_display(), s.organization.name,
             timezone.localtime(s.last_confirmed_at).date() if s.last_confirmed_at else None, s.stale,
             s.free_places, s.capacity, s.free_places_reported_at] for s in services]
    return DataTable(
        key="angebote", caption=gettext("Angebote, ihr Stand und ihre freien Plätze"),
        columns=[Column("offering", gettext("Angebot")), Column("status", gettext("Status")),
                 Column("organization", gettext("Organisation")),
                 Column("last_confirmed", gettext("zuletzt bestätigt"), DATE),
                 Column("confirmation_due", gettext("Bitte bestätigen")),
                 Column("free_places", gettext("freie Plätze"), INT), Column("capacity", gettext("Plätze"), INT),
                 Column("free_places_reported", gettext("freie Plätze gemeldet am"), DATE)],
        rows=rows,
    )


def task_table(tasks) -> DataTable:
    rows = [[Cell(t.title, reverse("meeting-detail", args=[t.meeting.uuid])), t.meeting.network.name, t.due,
             t.overdue] for t in tasks]
    return DataTable(
        key="aufgaben", caption=gettext("Offene Aufgaben meiner Organisation"),
        columns=[Column("task", gettext("Aufgabe")), Column("network", gettext("Netzwerk")),
                 Column("due", gettext("fällig am"), DATE), Column("overdue", gettext("überfällig"))],
        rows=rows,
    )


def budget_table(sums) -> DataTable:
    """``sums``: (budget, {"allocated", "spent", "remaining"}) in the page's order."""
    rows = [[b.name, b.fiscal_year, v["allocated"], v["spent"], v["remaining"], v["remaining"] < 0]
            for b, v in sums]
    return DataTable(
        key="budget", caption=gettext("Trägerbudget, Ausgaben und Rest je Sozialraumbudget"),
        columns=[Column("budget", gettext("Budget")), Column("fiscal_year", gettext("Haushaltsjahr"), INT),
                 Column("allocated", gettext("Trägerbudget"), MONEY), Column("spent", gettext("ausgegeben"), MONEY),
                 Column("remaining", gettext("verbleibend"), MONEY), Column("exceeded", gettext("überschritten"))],
        rows=rows,
    )


class MyProviderView(LoginRequiredMixin, TemplateView):
    template_name = "sozialraum/my_provider.html"
    nav = "my-provider"

    def get(self, request, *args, **kwargs):
        self.orgs = access.organization_ids(request.user)
        if not self.orgs:
            raise PermissionDenied(gettext("Diese Seite ist für Mitarbeitende von Trägern."))
        context = self.get_context_data(**kwargs)
        tables = list(context["tables"].values())
        return tables_response(request, tables, "mein-traeger", lambda: self.render_to_response(context))

    def get_context_data(self, **kwargs):
        user, orgs, today = self.request.user, self.orgs, timezone.localdate()
        editor_orgs = access.organization_ids(user, editor=True)
        organizations = list(Organization.objects.filter(pk__in=orgs).order_by("name").only("pk", "uuid", "name"))

        cutoff = confirmation_cutoff()
        services = list(
            Service.objects.for_user(user, Action.VIEW).filter(organization_id__in=orgs)
            .exclude(status__in=[ServiceStatus.INACTIVE, ServiceStatus.DEFUNCT])
            .select_related("organization").order_by("organization__name", "name")
            .only("pk", "uuid", "name", "status", "capacity", "free_places", "free_places_reported_at",
                  "last_confirmed_at", "created_at", "organization__name", "organization_id")
        )
        for s in services:
            reference = s.last_confirmed_at or s.created_at
            s.stale = reference is not None and reference < cutoff
            s.editable = s.organization_id in editor_orgs

        agreements = list(
            Agreement.objects.filter(parties__organization_id__in=orgs, status__in=OPEN_AGREEMENTS).distinct()
            .order_by("status", "title").only("pk", "uuid", "title", "status", "valid_from", "valid_until",
                                             "next_review")
        )
        pending = list(
            AgreementParty.objects.filter(organization_id__in=editor_orgs, confirmed_at__isnull=True,
                                          agreement__status=AgreementStatus.NEGOTIATION)
            .select_related("agreement", "organization").order_by("agreement__title")
        )
        networks = list(
            Network.objects.filter(Q(coordinator_id__in=orgs) | Q(members__organization_id__in=orgs), active=True)
            .distinct().order_by("name").only("pk", "uuid", "name", "kind", "cadence")
        )
        tasks = list(
            MeetingTask.objects.filter(responsible_id__in=orgs, done_at__isnull=True)
            .select_related("meeting__network", "responsible").order_by("due", "pk")[:50]
        )
        for t in tasks:
            t.overdue = t.due < today
            t.can_complete = t.responsible_id in editor_orgs

        totals = totals_for_organizations(orgs)
        by_budget = defaultdict(lambda: {"allocated": ZERO, "spent": ZERO, "remaining": ZERO})
        for (budget_id, _r, _p, _o), v in totals.items():
            for k in ("allocated", "spent", "remaining"):
                by_budget[budget_id][k] += v[k]
        budgets = {b.pk: b for b in Budget.objects.filter(pk__in=list(by_budget)).only("pk", "name", "fiscal_year")}
        budget_sums = sorted(((budgets[b], sums) for b, sums in by_budget.items()),
                             key=lambda bs: (-bs[0].fiscal_year, bs[0].name))
        budget_rows = [{"budget": b, **{k: money(v) for k, v in sums.items()}, "over": sums["remaining"] < 0}
                       for b, sums in budget_sums]
        tables = [offering_table(services), task_table(tasks), budget_table(budget_sums)]
        kwargs.update(
            organizations=organizations, services=services, stale_count=sum(s.stale for s in services),
            agreements=agreements, pending=pending, networks=networks, tasks=tasks,
            overdue_count=sum(t.overdue for t in tasks), budget_rows=budget_rows, today=today,
            tables={t.key: t for t in tables},
        )
        return super().get_context_data(**kwargs)
