""""Mein Träger": the provider staff's page — their offerings (stale ones
flagged, free places to update), agreements with pending confirmations,
networks and open tasks, and their Trägerbudget with its spending. Everything
through the models' ``for_user`` scopes; a fixed number of queries."""

from collections import defaultdict
from decimal import Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
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

ZERO = Decimal("0.00")
OPEN_AGREEMENTS = (AgreementStatus.DRAFT, AgreementStatus.NEGOTIATION, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)


class MyProviderView(LoginRequiredMixin, TemplateView):
    template_name = "sozialraum/my_provider.html"
    nav = "my-provider"

    def get(self, request, *args, **kwargs):
        self.orgs = access.organization_ids(request.user)
        if not self.orgs:
            raise PermissionDenied(gettext("Diese Seite ist für Mitarbeitende von Trägern."))
        return super().get(request, *args, **kwargs)

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
        budget_rows = [{"budget": budgets[b], **{k: money(v) for k, v in sums.items()}, "over": sums["remaining"] < 0}
                       for b, sums in sorted(by_budget.items(), key=lambda kv: (-budgets[kv[0]].fiscal_year,
                                                                               budgets[kv[0]].name))]
        kwargs.update(
            organizations=organizations, services=services, stale_count=sum(s.stale for s in services),
            agreements=agreements, pending=pending, networks=networks, tasks=tasks,
            overdue_count=sum(t.overdue for t in tasks), budget_rows=budget_rows, today=today,
        )
        return super().get_context_data(**kwargs)
