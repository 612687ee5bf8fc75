"""Pages of need reports (Bedarfsmeldungen) and cooperative planning
processes (kooperative Sozialplanung), German UI.

Need reports:
- list (the API's ``NeedReportFilterSet``): provider staff see their
  organisation's reports with their status, staff all of them, with how long
  a new report has waited;
- create/edit/withdraw: the reporting organisation's editors while a report is
  new, planners always; triage by planners (``cooperation.needs``): in review,
  into planning (optionally into an open process), declined with a reason.

Planning processes:
- list (``PlanningProcessFilterSet``), create/edit by planners (mandate and
  evidence);
- a process's page: the mandate, the six phases with the current one, moving
  one phase back or forward and closing (planners, ``cooperation.planning``),
  participants (planners), the SWOT analysis (participants' editors for their
  organisation, planners for any participant), evidence, decisions and
  measures (planners), history.

Access only through ``for_user`` querysets: what a user does not see is 404
(a provider's process it does not take part in), what they see but may not
change is 403.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from core.access import Action
from core.models import FieldOfAction
from core.views import ScopedDetailView, ScopedListView, history_rows
from regions.models import Region

from . import access
from .choices import NeedStatus, PlanningPhase, SwotQuadrant
from .filtersets import NeedReportFilterSet, PlanningProcessFilterSet
from .forms import MULTI_SELECT_HELP, field_key_choices
from .models import (
    Agreement,
    NeedReport,
    Organization,
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    SwotEntry,
)
from .needs import TriageError, next_statuses, triage
from .planning import PlanningError, add_swot, close, contributing_organizations, move_phase, neighbour_phases
from .planning_forms import DecisionForm, NeedReportForm, ParticipantForm, PlanningProcessForm, SwotForm, TriageForm
from .views import region_code_choices, scoped_object

NAV_NEEDS, NAV_PLANNING = "needreports", "planning"  # the navigation entry marked current

NEED_CHANGE_DENIED = _("Eine Bedarfsmeldung ändert die meldende Organisation, solange sie neu ist, oder die Planung.")
NEED_DELETE_DENIED = _("Eine Bedarfsmeldung zieht die meldende Organisation zurück, solange sie neu ist; "
                       "die Planung kann sie löschen.")
TRIAGE_DENIED = _("Bedarfsmeldungen bearbeitet die Planung.")
PLANNING_DENIED = _("Planungsprozesse steuert die Planung.")
SWOT_DENIED = _("Zur SWOT-Analyse tragen die Bearbeitenden der beteiligten Organisationen und die Planung bei.")
SWOT_DELETE_DENIED = _("Einen SWOT-Eintrag löscht die Organisation, die ihn eingebracht hat, oder die Planung.")

#: the button of each triage step
TRIAGE_LABELS = {
    NeedStatus.IN_REVIEW: _("In Prüfung nehmen"),
    NeedStatus.PLANNED: _("In die Planung übernehmen"),
    NeedStatus.DECLINED: _("Ablehnen"),
    NeedStatus.NEW: _("Zurück auf „neu“ setzen"),
}
#: the SWOT sections in their usual order, with plural headings
SWOT_SECTIONS = [
    (SwotQuadrant.STRENGTH, _("Stärken")),
    (SwotQuadrant.WEAKNESS, _("Schwächen")),
    (SwotQuadrant.OPPORTUNITY, _("Chancen")),
    (SwotQuadrant.THREAT, _("Risiken")),
]
# --- Helpers -------------------------------------------------------------------------------


def checkboxes(field):
    """Show a multiple-choice filter as checkboxes (a fieldset)."""
    choices = list(field.choices)
    field.widget = forms.CheckboxSelectMultiple()
    field.choices = choices
    field.help_text = ""


def render_detail(view_class, request, obj_kwargs: dict, **extra):
    """The detail page of ``view_class`` with bound forms in ``extra`` (a form
    posted from the page that has errors, shown next to its fields)."""
    view = view_class()
    view.setup(request, **obj_kwargs)
    view.object = view.get_object()
    context = view.get_context_data(object=view.object, **extra)
    return render(request, view.template_name, context)


# --- Need reports --------------------------------------------------------------------------


class NeedReportListView(ScopedListView):
    """Need reports the user sees; staff see how long new ones wait."""

    model = NeedReport
    filterset_class = NeedReportFilterSet
    template_name = "cooperation/planning/needreport_list.html"
    nav = NAV_NEEDS

    def scoped_queryset(self, qs):
        return qs.select_related("reporter", "region", "field").defer("region__boundary").order_by("-created_at", "-pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        user = self.request.user
        fields["q"].label = _("Suche (Bedarf, Beschreibung)")
        checkboxes(fields["status"])
        fields["region"].label = _("im Raum (mit Teilräumen)")
        fields["region"].widget = forms.Select(choices=region_code_choices(user))
        fields["field"].label = _("Handlungsfeld")
        fields["field"].widget = forms.Select(choices=field_key_choices(user))
        reporters = Organization.objects.filter(
            pk__in=NeedReport.objects.for_user(user, Action.VIEW).values("reporter_id")
        ).order_by("name", "pk").values_list("uuid", "name")
        fields["reporter"].label = _("gemeldet von")
        fields["reporter"].widget = forms.Select(choices=[("", _("alle Organisationen")),
                                                          *((str(u), name) for u, name in reporters)])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        show_age = access.is_staff_reader(user)
        today = timezone.localdate()
        reminder_days = getattr(settings, "REMINDER_NEED_REPORT_DAYS", 14)
        for report in context["object_list"]:
            report.waiting_days = None
            if report.status == NeedStatus.NEW:
                report.waiting_days = (today - timezone.localtime(report.created_at).date()).days
                report.overdue = report.waiting_days >= reminder_days
        context.update(can_add=NeedReport.objects.can_add(user), show_age=show_age, reminder_days=reminder_days)
        return context


class NeedReportDetailView(ScopedDetailView):
    model = NeedReport
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/planning/needreport_detail.html"
    context_object_name = "report"
    nav = NAV_NEEDS

    def scoped_queryset(self, qs):
        return qs.select_related("reporter", "region", "region__level", "field", "triaged_by").defer(
            "region__boundary")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        report = self.object
        user = self.request.user
        bound = kwargs.get("triage_form")
        triage_forms = []
        if access.is_planner(user):
            processes = open_processes(user)
            for to in next_statuses(report):
                form = bound if bound is not None and bound.to == to else TriageForm(to=to, processes=processes)
                triage_forms.append({"to": to, "label": TRIAGE_LABELS[to], "form": form})
        context.update(
            can_change=NeedReport.objects.for_user(user, Action.CHANGE).filter(pk=report.pk).exists(),
            can_delete=NeedReport.objects.for_user(user, Action.DELETE).filter(pk=report.pk).exists(),
            is_planner=access.is_planner(user),
            triage_forms=triage_forms,
            triage_error_count=len(bound.errors) if bound is not None else 0,
            triage_error_forms=[bound] if bound is not None else [],
            processes=list(PlanningProcess.objects.for_user(user, Action.VIEW).filter(need_reports=report)
                           .only("uuid", "title", "phase", "closed").order_by("closed", "-created_at")),
            history=history_rows(report),
        )
        return context


def open_processes(user):
    return PlanningProcess.objects.for_user(user, Action.CHANGE).filter(closed=False).only("pk", "title").order_by(
        "title", "pk")


class NeedReportEditView(LoginRequiredMixin, View):
    """Report a need (no uuid) or change a report: planners any organisation's,
    provider editors their organisation's while the report is new."""

    template_name = "cooperation/planning/needreport_form.html"

    def prepare(self, uuid):
        user = self.request.user
        if uuid is None:
            if not NeedReport.objects.can_add(user):
                raise PermissionDenied(_("Bedarfe melden die Bearbeitenden einer Organisation und die Planung."))
            return NeedReport()
        return scoped_object(NeedReport, user, Action.CHANGE, NEED_CHANGE_DENIED, uuid=uuid)

    def organizations(self):
        user = self.request.user
        if access.is_planner(user):
            return Organization.objects.for_user(user, Action.VIEW)
        return Organization.objects.filter(pk__in=access.organization_ids(user, editor=True))

    def make_form(self, report, data=None):
        initial = None
        if report.pk is None:
            only = list(self.organizations().order_by().values_list("pk", flat=True)[:2])
            initial = {"reporter": only[0]} if len(only) == 1 else None
        return NeedReportForm(data, instance=report, initial=initial, user=self.request.user,
                              organizations=self.organizations())

    def render_page(self, report, form):
        return render(self.request, self.template_name, {
            "report": report if report.pk else None, "form": form, "nav": NAV_NEEDS,
            "error_count": len(form.errors), "error_forms": [form],
        })

    def get(self, request, uuid=None):
        report = self.prepare(uuid)
        return self.render_page(report, self.make_form(report))

    def post(self, request, uuid=None):
        report = self.prepare(uuid)
        creating = report.pk is None
        form = self.make_form(report, request.POST)
        if not form.is_valid():
            return self.render_page(report, form)
        with transaction.atomic():
            report = form.save(commit=False)
            report.stamp(request.user)
            report.save()
        text = gettext("Bedarf „%(title)s“ gemeldet.") if creating else gettext("Bedarfsmeldung „%(title)s“ gespeichert.")
        messages.success(request, text % {"title": report.title})
        return redirect("needreport-detail", uuid=report.uuid)


class NeedReportDeleteView(LoginRequiredMixin, TemplateView):
    """GET asks, POST withdraws (deletes) a report; the history keeps it."""

    template_name = "cooperation/planning/needreport_confirm_delete.html"

    def get(self, request, uuid):
        report = scoped_object(NeedReport, request.user, Action.DELETE, NEED_DELETE_DENIED, uuid=uuid)
        return self.render_to_response({"report": report, "nav": NAV_NEEDS})

    def post(self, request, uuid):
        report = scoped_object(NeedReport, request.user, Action.DELETE, NEED_DELETE_DENIED, uuid=uuid)
        title = report.title
        with transaction.atomic():
            report.delete()
        messages.success(request, gettext("Bedarfsmeldung „%(title)s“ zurückgezogen.") % {"title": title})
        return redirect("needreport-list")


class NeedReportTriageView(LoginRequiredMixin, View):
    """POST ``to`` (the next status) with its form: planners only; a report the
    user does not see is 404, one they see 403."""

    http_method_names = ["post"]

    def post(self, request, uuid):
        user = request.user
        report = scoped_object(NeedReport, user, Action.VIEW, TRIAGE_DENIED, uuid=uuid)
        if not access.is_planner(user):
            raise PermissionDenied(TRIAGE_DENIED)
        to = request.POST.get("to", "")
        if to not in next_statuses(report):
            label = dict(NeedStatus.choices).get(to, to)
            messages.error(request, gettext("Von „%(from)s“ nach „%(to)s“ geht es nicht.") % {
                "from": report.get_status_display(), "to": label})
            return redirect("needreport-detail", uuid=report.uuid)
        form = TriageForm(request.POST, to=to, processes=open_processes(user))
        if form.is_valid():
            try:
                report = triage(report, to, user, reason=form.cleaned_data.get("reason", ""),
                                process=form.cleaned_data.get("process"))
            except TriageError as error:
                form.add_error("reason" if "reason" in form.fields else None, str(error))
            else:
                messages.success(request, gettext("Bedarfsmeldung „%(title)s“: %(status)s.") % {
                    "title": report.title, "status": report.get_status_display()})
                return redirect("needreport-detail", uuid=report.uuid)
        return render_detail(NeedReportDetailView, request, {"uuid": uuid}, triage_form=form)


# --- Planning processes --------------------------------------------------------------------


class PlanningListView(ScopedListView):
    model = PlanningProcess
    filterset_class = PlanningProcessFilterSet
    template_name = "cooperation/planning/planning_list.html"
    nav = NAV_PLANNING

    def scoped_queryset(self, qs):
        # Meta.ordering is not applied to GROUP BY queries: order explicitly.
        return qs.annotate(participant_count=Count("participants", distinct=True)).prefetch_related(
            Prefetch("regions", queryset=Region.objects.only("pk", "code", "name").order_by("name", "code")),
            Prefetch("fields", queryset=FieldOfAction.objects.only("pk", "key", "name").order_by("name")),
        ).order_by("closed", "-created_at", "-pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        user = self.request.user
        fields["q"].label = _("Suche (Titel, Ziele)")
        checkboxes(fields["phase"])
        fields["region"].label = _("Raum (mit über- und untergeordneten)")
        fields["region"].widget = forms.Select(choices=region_code_choices(user))
        fields["field"].label = _("Handlungsfeld")
        fields["field"].widget = forms.Select(choices=field_key_choices(user))
        orgs = Organization.objects.filter(
            planning_participations__process__in=PlanningProcess.objects.for_user(user, Action.VIEW).values("pk")
        ).distinct().order_by("name", "pk").values_list("uuid", "name")
        fields["organization"].label = _("beteiligte Organisation")
        fields["organization"].widget = forms.Select(choices=[("", _("alle Organisationen")),
                                                              *((str(u), name) for u, name in orgs)])
        fields["closed"].label = _("Stand")
        fields["closed"].widget = forms.Select(choices=[("", _("alle")), ("false", _("laufend")),
                                                        ("true", _("abgeschlossen"))])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = PlanningProcess.objects.can_add(self.request.user)
        return context


class PlanningDetailView(ScopedDetailView):
    model = PlanningProcess
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/planning/planning_detail.html"
    context_object_name = "process"
    nav = NAV_PLANNING

    def scoped_queryset(self, qs):
        return qs.prefetch_related(
            Prefetch("regions", queryset=Region.objects.select_related("level").defer("boundary")
                     .order_by("level__rank", "name")),
            Prefetch("fields", queryset=FieldOfAction.objects.order_by("path")),
            "indicators", "indices",
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        process = self.object
        user = self.request.user
        can_change = PlanningProcess.objects.for_user(user, Action.CHANGE).filter(pk=process.pk).exists()
        current = PlanningPhase.values.index(process.phase)
        phases = [{"value": value, "label": label, "current": i == current, "done": i < current}
                  for i, (value, label) in enumerate(PlanningPhase.choices)]
        previous, following = neighbour_phases(process)

        participants = list(PlanningParticipant.objects.for_user(user, Action.VIEW).filter(process=process)
                            .select_related("organization").order_by("role", "organization__name", "pk"))
        entries = list(SwotEntry.objects.for_user(user, Action.VIEW).filter(process=process)
                       .select_related("organization").order_by("created_at", "pk"))
        deletable = set(SwotEntry.objects.for_user(user, Action.DELETE).filter(process=process)
                        .values_list("pk", flat=True)) if entries and not process.closed else set()
        for entry in entries:
            entry.can_delete = entry.pk in deletable
        swot = [{"quadrant": quadrant, "heading": heading, "entries": [e for e in entries if e.quadrant == quadrant]}
                for quadrant, heading in SWOT_SECTIONS]
        contributing = contributing_organizations(process, user) if not process.closed else []

        decisions = list(PlanningDecision.objects.for_user(user, Action.VIEW).filter(process=process)
                         .select_related("responsible").order_by("decided_on", "pk"))
        agreement_ids = {d.agreement_id for d in decisions if d.agreement_id}
        agreements = {a.pk: a for a in Agreement.objects.for_user(user, Action.VIEW).filter(pk__in=agreement_ids)
                      .only("pk", "uuid", "title")} if agreement_ids else {}
        for decision in decisions:
            decision.visible_agreement = agreements.get(decision.agreement_id)
            decision.hidden_agreement = decision.agreement_id is not None and decision.visible_agreement is None

        context.update(
            can_change=can_change,
            phases=phases,
            current_phase=process.get_phase_display(),
            previous_phase=previous and PlanningPhase(previous),
            next_phase=following and PlanningPhase(following),
            can_close=can_change and not process.closed and process.phase == PlanningPhase.EVALUATION,
            participants=participants,
            swot=swot,
            swot_count=len(entries),
            need_reports=list(NeedReport.objects.for_user(user, Action.VIEW).filter(planning_processes=process)
                              .select_related("reporter", "region").defer("region__boundary")
                              .order_by("-created_at", "-pk")),
            decisions=decisions,
            history=history_rows(process),
        )
        if contributing:
            form = kwargs.get("swot_form") or SwotForm(organizations=contributing)
            context.update(swot_form=form, swot_error_count=len(form.errors), swot_error_forms=[form])
        if can_change:
            participant_form = kwargs.get("participant_form") or ParticipantForm(
                organizations=Organization.objects.for_user(user, Action.VIEW).exclude(
                    pk__in=[p.organization_id for p in participants]))
            decision_form = kwargs.get("decision_form") or DecisionForm(
                agreements=Agreement.objects.for_user(user, Action.VIEW),
                organizations=Organization.objects.for_user(user, Action.VIEW),
                initial={"decided_on": timezone.localdate()})
            context.update(
                participant_form=participant_form, participant_error_count=len(participant_form.errors),
                participant_error_forms=[participant_form],
                decision_form=decision_form, decision_error_count=len(decision_form.errors),
                decision_error_forms=[decision_form],
            )
        return context


def planning_url(process, anchor: str = "") -> str:
    return reverse("planning-detail", kwargs={"uuid": process.uuid}) + (f"#{anchor}" if anchor else "")


class PlanningEditView(LoginRequiredMixin, View):
    """Create (no uuid) or edit a planning process (planners)."""

    template_name = "cooperation/planning/planning_form.html"

    def prepare(self, uuid):
        user = self.request.user
        if uuid is None:
            if not PlanningProcess.objects.can_add(user):
                raise PermissionDenied(PLANNING_DENIED)
            return PlanningProcess()
        return scoped_object(PlanningProcess, user, Action.CHANGE, PLANNING_DENIED, uuid=uuid)

    def render_page(self, process, form):
        return render(self.request, self.template_name, {
            "process": process if process.pk else None, "form": form, "nav": NAV_PLANNING,
            "error_count": len(form.errors), "error_forms": [form], "multi_select_help": MULTI_SELECT_HELP,
        })

    def get(self, request, uuid=None):
        process = self.prepare(uuid)
        return self.render_page(process, PlanningProcessForm(instance=process, user=request.user))

    def post(self, request, uuid=None):
        process = self.prepare(uuid)
        creating = process.pk is None
        form = PlanningProcessForm(request.POST, instance=process, user=request.user)
        if not form.is_valid():
            return self.render_page(process, form)
        with transaction.atomic():
            process = form.save(commit=False)
            process.stamp(request.user)
            process.save()
            form.save_m2m()
        text = gettext("Planungsprozess „%(title)s“ angelegt.") if creating else gettext(
            "Planungsprozess „%(title)s“ gespeichert.")
        messages.success(request, text % {"title": process.title})
        return redirect("planning-detail", uuid=process.uuid)


class PlanningPostView(LoginRequiredMixin, View):
    """Base of the POST-only actions on a process's page: ``process(action)``
    is 404 for a process the user does not see, 403 if they may not act."""

    http_method_names = ["post"]

    def process(self, uuid, action=Action.CHANGE, denied=PLANNING_DENIED) -> PlanningProcess:
        return scoped_object(PlanningProcess, self.request.user, action, denied, uuid=uuid)


class PlanningPhaseView(PlanningPostView):
    """POST ``to``: the previous or next phase."""

    def post(self, request, uuid):
        process = self.process(uuid)
        try:
            process = move_phase(process, request.POST.get("to", ""), request.user)
        except PlanningError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, gettext("Phase: %(phase)s.") % {"phase": process.get_phase_display()})
        return redirect(planning_url(process, "phasen"))


class PlanningCloseView(PlanningPostView):
    """POST: close the process (after the evaluation), or ``reopen``."""

    def post(self, request, uuid):
        process = self.process(uuid)
        reopen = bool(request.POST.get("reopen"))
        try:
            process = close(process, request.user, reopen=reopen)
        except PlanningError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, gettext("Planungsprozess wieder geöffnet.") if reopen
                             else gettext("Planungsprozess abgeschlossen."))
        return redirect(planning_url(process, "phasen"))


class ParticipantCreateView(PlanningPostView):
    def post(self, request, uuid):
        process = self.process(uuid)
        existing = PlanningParticipant.objects.filter(process=process).values("organization_id")
        form = ParticipantForm(request.POST, instance=PlanningParticipant(process=process),
                               organizations=Organization.objects.for_user(request.user, Action.VIEW)
                               .exclude(pk__in=existing))
        if not form.is_valid():
            return render_detail(PlanningDetailView, request, {"uuid": uuid}, participant_form=form)
        with transaction.atomic():
            participant = form.save()
        messages.success(request, gettext("%(org)s ist jetzt beteiligt (%(role)s).") % {
            "org": participant.organization.name, "role": participant.get_role_display()})
        return redirect(planning_url(process, "beteiligte"))


class ParticipantDeleteView(PlanningPostView):
    def post(self, request, uuid, pk):
        process = self.process(uuid)
        participant = scoped_object(PlanningParticipant, request.user, Action.DELETE, PLANNING_DENIED, pk=pk,
                                    process=process)
        name = participant.organization.name
        with transaction.atomic():
            participant.delete()
        messages.success(request, gettext("%(org)s ist nicht mehr beteiligt.") % {"org": name})
        return redirect(planning_url(process, "beteiligte"))


class SwotCreateView(PlanningPostView):
    """POST: a SWOT entry for an organisation the user contributes for."""

    def post(self, request, uuid):
        process = self.process(uuid, Action.VIEW)
        contributing = contributing_organizations(process, request.user)
        if not contributing:
            raise PermissionDenied(SWOT_DENIED)
        if process.closed:
            raise PermissionDenied(gettext("Der Planungsprozess ist abgeschlossen."))
        form = SwotForm(request.POST, organizations=contributing)
        if form.is_valid():
            data = form.cleaned_data
            try:
                add_swot(process, data["organization"], data["quadrant"], data["text"], request.user)
            except PlanningError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, gettext("Eintrag zur SWOT-Analyse hinzugefügt."))
                return redirect(planning_url(process, "swot"))
        return render_detail(PlanningDetailView, request, {"uuid": uuid}, swot_form=form)


class SwotDeleteView(PlanningPostView):
    def post(self, request, uuid, pk):
        process = self.process(uuid, Action.VIEW)
        entry = scoped_object(SwotEntry, request.user, Action.DELETE, SWOT_DELETE_DENIED, pk=pk, process=process)
        if process.closed:
            raise PermissionDenied(gettext("Der Planungsprozess ist abgeschlossen."))
        with transaction.atomic():
            entry.delete()
        messages.success(request, gettext("Eintrag aus der SWOT-Analyse gelöscht."))
        return redirect(planning_url(process, "swot"))


class DecisionCreateView(PlanningPostView):
    def post(self, request, uuid):
        process = self.process(uuid)
        user = request.user
        form = DecisionForm(request.POST, instance=PlanningDecision(process=process),
                            agreements=Agreement.objects.for_user(user, Action.VIEW),
                            organizations=Organization.objects.for_user(user, Action.VIEW))
        if not form.is_valid():
            return render_detail(PlanningDetailView, request, {"uuid": uuid}, decision_form=form)
        with transaction.atomic():
            decision = form.save(commit=False)
            decision.stamp(user)
            decision.save()
        messages.success(request, gettext("%(kind)s vom %(date)s eingetragen.") % {
            "kind": decision.get_kind_display(), "date": date_format(decision.decided_on, "SHORT_DATE_FORMAT")})
        return redirect(planning_url(process, "beschluesse"))


class DecisionDeleteView(PlanningPostView):
    def post(self, request, uuid, pk):
        process = self.process(uuid)
        decision = scoped_object(PlanningDecision, request.user, Action.DELETE, PLANNING_DENIED, pk=pk,
                                 process=process)
        with transaction.atomic():
            decision.delete()
        messages.success(request, gettext("Beschluss gelöscht."))
        return redirect(planning_url(process, "beschluesse"))

