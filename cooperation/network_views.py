"""Pages of networks (Sozialraumteams, Stadtteilkonferenzen, Fachgremien,
Fallkonferenzen, Trägerverbünde, Netzwerke), below ``/kooperation/netzwerke/``.

- the list (the API's ``NetworkFilterSet``): staff see every network,
  provider staff those their organisation belongs to or coordinates and
  public ones;
- a network's page: its data, members with roles and responsibilities, its
  conflict procedure (escalation steps), its meetings (newest first), the
  open tasks and the change history; members and steps are added, changed
  and removed there (each form posts to its own URL);
- create (planners), edit (planners; editors of the coordinating
  organisation or of a member with the coordination role), delete (planners);
- meetings: create/edit with date and time, place, agenda, decisions,
  attending organisations and the task rows, saved together; for case
  conferences only the anonymous count and the fields of action of the cases
  discussed — never anything about a person;
- tasks: added on the meeting's page, marked done (or open again) by editors
  of the responsible organisation or whoever runs the network; the task list
  shows provider staff the tasks of their organisations first ("Meine
  Aufgaben").

Access only through ``for_user`` querysets: invisible is 404, visible but not
changeable is 403. Escalation steps of a network are changed by whoever may
change the network (the step's own queryset leaves changes to planners, as
for agreements), so the network is looked up for CHANGE and the step within it.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from core.access import Action
from core.models import FieldOfAction
from core.views import ScopedDetailView, ScopedListView, history_rows
from regions.models import Region

from . import access, meetings
from .choices import NetworkKind, NetworkRole
from .filtersets import MeetingTaskFilterSet, NetworkFilterSet
from .forms import field_key_choices
from .models import EscalationStep, Meeting, MeetingTask, Network, NetworkMember, Organization
from .network_forms import (
    NO_PERSONAL_DATA,
    EscalationStepForm,
    MeetingForm,
    MeetingTaskForm,
    NetworkForm,
    NetworkMemberChangeForm,
    NetworkMemberForm,
    meeting_task_formset,
)
from .views import region_code_choices, safe_next, scoped_object

NAV = "networks"
NETWORK_CHANGE_DENIED = _("Sie dürfen dieses Netzwerk lesen, aber nicht ändern.")
NETWORK_DELETE_DENIED = _("Nur die Planung darf Netzwerke löschen.")
NETWORK_ADD_DENIED = _("Nur die Planung darf Netzwerke anlegen.")
MEETING_CHANGE_DENIED = _("Sie dürfen diese Sitzung lesen, aber nicht ändern.")
TASK_CHANGE_DENIED = _("Nur die verantwortliche Organisation und die Koordination des Netzwerks können diese "
                       "Aufgabe erledigen.")
YES_NO_ANY = [("", _("egal")), ("true", _("ja")), ("false", _("nein"))]
ROLE_ORDER = Case(When(role=NetworkRole.COORDINATION, then=Value(0)), When(role=NetworkRole.MEMBER, then=Value(1)),
                  default=Value(2), output_field=IntegerField())


# --- Helpers ---------------------------------------------------------------------------------


def get_network(user, uuid, action=Action.VIEW) -> Network:
    denied = NETWORK_DELETE_DENIED if action == Action.DELETE else NETWORK_CHANGE_DENIED
    return scoped_object(Network, user, action, denied, uuid=uuid)


def can(model, user, action, obj) -> bool:
    return model.objects.for_user(user, action).filter(pk=obj.pk).exists()


def org_linker(user):
    """Whether an organisation's own page can be opened by ``user`` (staff see
    every organisation, provider staff their own): a function of the id, no
    query (memberships are cached on the user)."""
    if access.is_staff_reader(user) or user.is_superuser:
        return lambda org_id: True
    own = access.organization_ids(user)
    return lambda org_id: org_id in own


def mark_tasks(tasks, user, all_changeable: bool) -> None:
    """Set ``overdue`` and ``can_complete`` on each task (one query at most)."""
    today = timezone.localdate()
    if all_changeable or not tasks:
        changeable = {t.pk for t in tasks} if all_changeable else set()
    else:
        changeable = set(MeetingTask.objects.for_user(user, Action.CHANGE).filter(
            pk__in=[t.pk for t in tasks]).values_list("pk", flat=True))
    linked = org_linker(user)
    for task in tasks:
        task.overdue = meetings.is_overdue(task, today)
        task.can_complete = task.pk in changeable
        task.responsible_linked = linked(task.responsible_id)


def error_total(*forms_) -> int:
    return sum(len(f.errors) for f in forms_)


# --- Networks --------------------------------------------------------------------------------


class NetworkListView(ScopedListView):
    model = Network
    filterset_class = NetworkFilterSet
    template_name = "cooperation/networks/network_list.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return (
            qs.select_related("coordinator")
            .annotate(member_count=Count("members", distinct=True))
            .prefetch_related(Prefetch("regions", queryset=Region.objects.only("pk", "code", "name", "level_id")
                                       .order_by("level__rank", "name")))
            .order_by("name", "pk")
        )

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        user = self.request.user
        fields = filterset.form.fields
        fields["q"].label = _("Suche (Name, Beschreibung)")
        fields["kind"].widget = forms.CheckboxSelectMultiple(choices=NetworkKind.choices)
        fields["region"].label = _("Raum (mit über- und untergeordneten)")
        fields["region"].widget = forms.Select(choices=region_code_choices(user))
        fields["field"].label = _("Handlungsfeld")
        fields["field"].widget = forms.Select(choices=field_key_choices(user))
        visible = Network.objects.for_user(user, Action.VIEW).order_by().values("pk")
        orgs = Organization.objects.filter(
            Q(pk__in=NetworkMember.objects.filter(network__in=visible).values("organization_id"))
            | Q(pk__in=Network.objects.filter(pk__in=visible).values("coordinator_id"))
        ).order_by("name").values_list("uuid", "name")
        fields["organization"].label = _("Mitglied oder Koordination")
        fields["organization"].widget = forms.Select(choices=[("", _("alle Organisationen")), *orgs])
        fields["active"].label = _("aktiv")
        fields["active"].widget = forms.Select(choices=YES_NO_ANY)
        fields["public"].label = _("für alle Träger sichtbar")
        fields["public"].widget = forms.Select(choices=YES_NO_ANY)
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = Network.objects.can_add(self.request.user)
        return context


class NetworkDetailView(ScopedDetailView):
    model = Network
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/networks/network_detail.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return qs.select_related("coordinator").prefetch_related(
            Prefetch("regions", queryset=Region.objects.select_related("level").defer("boundary")
                     .order_by("level__rank", "name")),
            Prefetch("fields", queryset=FieldOfAction.objects.select_related("parent").order_by("path")),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        network = self.object
        user = self.request.user
        can_change = can(Network, user, Action.CHANGE, network)
        linked = org_linker(user)
        members = list(NetworkMember.objects.for_user(user, Action.VIEW).filter(network=network)
                       .select_related("organization").order_by(ROLE_ORDER, "organization__name", "pk"))
        bound = kwargs.get("member_change_form")
        for member in members:
            member.linked = linked(member.organization_id)
            if can_change:
                member.form = bound if bound is not None and bound.instance.pk == member.pk \
                    else NetworkMemberChangeForm(instance=member)
        tasks = list(MeetingTask.objects.for_user(user, Action.VIEW)
                     .filter(meeting__network=network, done_at__isnull=True)
                     .select_related("responsible", "meeting").order_by("due", "pk"))
        mark_tasks(tasks, user, all_changeable=can_change)
        context.update(
            can_change=can_change,
            can_delete=can(Network, user, Action.DELETE, network),
            coordinator_linked=network.coordinator_id is not None and linked(network.coordinator_id),
            members=members,
            steps=list(EscalationStep.objects.for_user(user, Action.VIEW).filter(network=network).order_by("order")),
            meetings=list(
                Meeting.objects.for_user(user, Action.VIEW).filter(network=network)
                .annotate(attendee_count=Count("attendees", distinct=True),
                          open_task_count=Count("tasks", filter=Q(tasks__done_at__isnull=True), distinct=True))
                .order_by("-starts_at", "pk")
            ),
            open_tasks=tasks,
            overdue_count=sum(1 for t in tasks if t.overdue),
            history=history_rows(network),
        )
        if can_change:
            member_form = context.setdefault("member_form", NetworkMemberForm(network=network))
            step_form = context.setdefault("step_form", EscalationStepForm(network=network))
            context.update(member_error_count=error_total(member_form), member_error_forms=[member_form],
                           step_error_count=error_total(step_form), step_error_forms=[step_form])
        return context


def render_network_page(request, uuid, **extra):
    """The network's page with bound forms (after a failed POST), status 200."""
    view = NetworkDetailView()
    view.setup(request, uuid=uuid)
    view.object = view.get_object()
    return render(request, view.template_name, view.get_context_data(object=view.object, **extra))


class NetworkEditView(LoginRequiredMixin, View):
    """Create (planners) or edit a network (whoever may change it; only
    planners choose its coordinator)."""

    template_name = "cooperation/networks/network_form.html"

    def prepare(self, uuid):
        user = self.request.user
        if uuid is None:
            if not Network.objects.can_add(user):
                raise PermissionDenied(NETWORK_ADD_DENIED)
            return Network()
        return get_network(user, uuid, Action.CHANGE)

    def make_form(self, network, data=None):
        return NetworkForm(data, instance=network, user=self.request.user,
                           can_choose_coordinator=access.is_planner(self.request.user))

    def render_page(self, network, form):
        return render(self.request, self.template_name, {
            "network": network if network.pk else None, "form": form, "nav": NAV,
            "error_count": len(form.errors), "error_forms": [form],
        })

    def get(self, request, uuid=None):
        network = self.prepare(uuid)
        return self.render_page(network, self.make_form(network))

    def post(self, request, uuid=None):
        network = self.prepare(uuid)
        creating = network.pk is None
        form = self.make_form(network, request.POST)
        if not form.is_valid():
            return self.render_page(network, form)
        network = meetings.save_network(form, request.user)
        text = gettext("Netzwerk „%(name)s“ angelegt.") if creating else gettext("Netzwerk „%(name)s“ gespeichert.")
        messages.success(request, text % {"name": network.name})
        return redirect("network-detail", uuid=network.uuid)


class NetworkDeleteView(LoginRequiredMixin, TemplateView):
    """GET asks, POST deletes a network with its members, steps, meetings and
    tasks (planners only; the change history keeps the rows)."""

    template_name = "cooperation/networks/network_confirm_delete.html"

    def get(self, request, uuid):
        network = get_network(request.user, uuid, Action.DELETE)
        return self.render_to_response({
            "network": network, "nav": NAV, "meeting_count": network.meetings.count(),
            "task_count": MeetingTask.objects.filter(meeting__network=network).count(),
        })

    def post(self, request, uuid):
        network = get_network(request.user, uuid, Action.DELETE)
        name = network.name
        with transaction.atomic():
            network.delete()
        messages.success(request, gettext("Netzwerk „%(name)s“ gelöscht.") % {"name": name})
        return redirect("network-list")


# --- Members and escalation steps (on the network's page) --------------------------------------


class NetworkChangeMixin(LoginRequiredMixin):
    """POST only; the network must be visible (404) and changeable (403)."""

    http_method_names = ["post"]

    def get_network(self, uuid) -> Network:
        return get_network(self.request.user, uuid, Action.CHANGE)

    def back(self, network, anchor) -> str:
        return reverse("network-detail", kwargs={"uuid": network.uuid}) + f"#{anchor}"


class NetworkMemberCreateView(NetworkChangeMixin, View):
    def post(self, request, uuid):
        network = self.get_network(uuid)
        form = NetworkMemberForm(request.POST, network=network)
        if not form.is_valid():
            return render_network_page(request, uuid, member_form=form)
        member = form.save()
        messages.success(request, gettext("„%(org)s“ ist jetzt im Netzwerk (%(role)s).") % {
            "org": member.organization.name, "role": member.get_role_display()})
        return redirect(self.back(network, "mitglieder"))


class NetworkMemberMixin(NetworkChangeMixin):
    def get_member(self, network, pk) -> NetworkMember:
        member = NetworkMember.objects.for_user(self.request.user, Action.CHANGE).filter(
            pk=pk, network=network).select_related("organization").first()
        if member is None:
            raise Http404
        return member


class NetworkMemberUpdateView(NetworkMemberMixin, View):
    def post(self, request, uuid, pk):
        network = self.get_network(uuid)
        member = self.get_member(network, pk)
        form = NetworkMemberChangeForm(request.POST, instance=member)
        if not form.is_valid():
            return render_network_page(request, uuid, member_change_form=form)
        form.save()
        messages.success(request, gettext("„%(org)s“: %(role)s, Aufgaben gespeichert.") % {
            "org": member.organization.name, "role": member.get_role_display()})
        return redirect(self.back(network, "mitglieder"))


class NetworkMemberDeleteView(NetworkMemberMixin, View):
    def post(self, request, uuid, pk):
        network = self.get_network(uuid)
        member = self.get_member(network, pk)
        name = member.organization.name
        member.delete()
        messages.success(request, gettext("„%(org)s“ gehört nicht mehr zum Netzwerk.") % {"org": name})
        return redirect(self.back(network, "mitglieder"))


class EscalationStepCreateView(NetworkChangeMixin, View):
    def post(self, request, uuid):
        network = self.get_network(uuid)
        form = EscalationStepForm(request.POST, network=network)
        if not form.is_valid():
            return render_network_page(request, uuid, step_form=form)
        step = form.save()
        messages.success(request, gettext("Stufe %(order)d (%(who)s) angelegt.") % {
            "order": step.order, "who": step.handled_by})
        return redirect(self.back(network, "konfliktverfahren"))


class EscalationStepDeleteView(NetworkChangeMixin, View):
    def post(self, request, uuid, pk):
        network = self.get_network(uuid)
        step = EscalationStep.objects.for_user(request.user, Action.VIEW).filter(pk=pk, network=network).first()
        if step is None:
            raise Http404
        order = step.order
        step.delete()
        messages.success(request, gettext("Stufe %(order)d entfernt.") % {"order": order})
        return redirect(self.back(network, "konfliktverfahren"))


# --- Meetings --------------------------------------------------------------------------------


def get_meeting(user, uuid, action=Action.VIEW) -> Meeting:
    return scoped_object(Meeting, user, action, MEETING_CHANGE_DENIED, uuid=uuid)


class MeetingEditView(LoginRequiredMixin, View):
    """Create (``network_uuid``) or edit (``uuid``) a meeting with its
    attendees and task rows, saved together."""

    template_name = "cooperation/networks/meeting_form.html"

    def prepare(self, network_uuid, uuid):
        user = self.request.user
        if uuid is None:
            network = get_network(user, network_uuid, Action.CHANGE)
            return network, Meeting(network=network)
        meeting = get_meeting(user, uuid, Action.CHANGE)
        return meeting.network, meeting

    def make_forms(self, network, meeting, data=None):
        form = MeetingForm(data, instance=meeting, network=network, user=self.request.user)
        return form, meeting_task_formset(data, meeting=meeting, network=network)

    def render_page(self, network, meeting, form, formset):
        non_form = formset.non_form_errors()
        return render(self.request, self.template_name, {
            "network": network, "meeting": meeting if meeting.pk else None, "form": form, "task_formset": formset,
            "nav": NAV, "error_forms": [form, *formset.forms], "formset_errors": non_form,
            "error_count": error_total(form, *formset.forms) + len(non_form),
            "no_personal_data": NO_PERSONAL_DATA,
        })

    def get(self, request, network_uuid=None, uuid=None):
        network, meeting = self.prepare(network_uuid, uuid)
        return self.render_page(network, meeting, *self.make_forms(network, meeting))

    def post(self, request, network_uuid=None, uuid=None):
        network, meeting = self.prepare(network_uuid, uuid)
        creating = meeting.pk is None
        form, formset = self.make_forms(network, meeting, request.POST)
        valid = form.is_valid()
        if not (formset.is_valid() and valid):
            return self.render_page(network, meeting, form, formset)
        meeting = meetings.save_meeting(form, formset, request.user)
        when = timezone.localtime(meeting.starts_at).strftime("%d.%m.%Y %H:%M")
        text = gettext("Sitzung am %(when)s angelegt.") if creating else gettext("Sitzung am %(when)s gespeichert.")
        messages.success(request, text % {"when": when})
        return redirect("meeting-detail", uuid=meeting.uuid)


class MeetingDetailView(ScopedDetailView):
    model = Meeting
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/networks/meeting_detail.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return qs.select_related("network", "network__coordinator").prefetch_related(
            Prefetch("attendees", queryset=Organization.objects.only("pk", "uuid", "name").order_by("name")),
            Prefetch("case_fields", queryset=FieldOfAction.objects.select_related("parent").order_by("path")),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        meeting = self.object
        network = meeting.network
        user = self.request.user
        can_change = can(Meeting, user, Action.CHANGE, meeting)
        tasks = list(MeetingTask.objects.for_user(user, Action.VIEW).filter(meeting=meeting)
                     .select_related("responsible").order_by("done_at", "due", "pk"))
        mark_tasks(tasks, user, all_changeable=can_change)
        linked = org_linker(user)
        attendees = list(meeting.attendees.all())
        for org in attendees:
            org.linked = linked(org.pk)
        context.update(
            network=network,
            can_change=can_change,
            can_delete=can(Meeting, user, Action.DELETE, meeting),
            is_case_conference=network.kind == NetworkKind.CASE_CONFERENCE,
            attendees=attendees,
            tasks=tasks,
            history=history_rows(meeting),
            no_personal_data=NO_PERSONAL_DATA,
        )
        if can_change:
            task_form = context.setdefault("task_form", MeetingTaskForm(
                network=network, prefix="aufgabe", instance=MeetingTask(meeting=meeting)))
            context.update(task_error_count=error_total(task_form), task_error_forms=[task_form])
        return context


class MeetingDeleteView(LoginRequiredMixin, TemplateView):
    """GET asks, POST deletes a meeting with its tasks."""

    template_name = "cooperation/networks/meeting_confirm_delete.html"

    def get(self, request, uuid):
        meeting = get_meeting(request.user, uuid, Action.DELETE)
        return self.render_to_response({"meeting": meeting, "network": meeting.network, "nav": NAV,
                                        "task_count": meeting.tasks.count()})

    def post(self, request, uuid):
        meeting = get_meeting(request.user, uuid, Action.DELETE)
        network = meeting.network
        with transaction.atomic():
            meeting.delete()
        messages.success(request, gettext("Sitzung am %(when)s gelöscht.") % {
            "when": timezone.localtime(meeting.starts_at).strftime("%d.%m.%Y")})
        return redirect(reverse("network-detail", kwargs={"uuid": network.uuid}) + "#sitzungen")


# --- Tasks -----------------------------------------------------------------------------------


class MeetingTaskCreateView(LoginRequiredMixin, View):
    """POST a task on the meeting's page (whoever may change the network)."""

    http_method_names = ["post"]

    def post(self, request, uuid):
        meeting = get_meeting(request.user, uuid, Action.CHANGE)
        form = MeetingTaskForm(request.POST, network=meeting.network, prefix="aufgabe",
                               instance=MeetingTask(meeting=meeting))
        if not form.is_valid():
            view = MeetingDetailView()
            view.setup(request, uuid=uuid)
            view.object = view.get_object()
            return render(request, view.template_name,
                          view.get_context_data(object=view.object, task_form=form))
        task = meetings.add_task(meeting, form, request.user)
        messages.success(request, gettext("Aufgabe „%(title)s“ für %(org)s angelegt.") % {
            "title": task.title, "org": task.responsible.name})
        return redirect(reverse("meeting-detail", kwargs={"uuid": meeting.uuid}) + "#aufgaben")


class MeetingTaskStateView(LoginRequiredMixin, View):
    """POST: mark a task done (or open again). Editors of the responsible
    organisation and whoever runs the network; others who see it get 403."""

    http_method_names = ["post"]
    done = True

    def post(self, request, pk):
        task = scoped_object(MeetingTask, request.user, Action.CHANGE, TASK_CHANGE_DENIED, pk=pk)
        meeting_uuid = Meeting.objects.filter(pk=task.meeting_id).values_list("uuid", flat=True).get()
        if self.done:
            changed = meetings.complete_task(task, request.user)
            text = gettext("Aufgabe „%(title)s“ als erledigt vermerkt.") if changed else gettext(
                "Aufgabe „%(title)s“ war schon erledigt.")
        else:
            changed = meetings.reopen_task(task, request.user)
            text = gettext("Aufgabe „%(title)s“ ist wieder offen.") if changed else gettext(
                "Aufgabe „%(title)s“ war schon offen.")
        (messages.success if changed else messages.info)(request, text % {"title": task.title})
        default = reverse("meeting-detail", kwargs={"uuid": meeting_uuid}) + "#aufgaben"
        return redirect(safe_next(request, default))


class MeetingTaskDoneView(MeetingTaskStateView):
    done = True


class MeetingTaskReopenView(MeetingTaskStateView):
    done = False


class MeetingTaskListView(ScopedListView):
    """Tasks from meetings the user sees; open ones by default, and for
    provider staff those of their own organisations ("Meine Aufgaben")."""

    model = MeetingTask
    filterset_class = MeetingTaskFilterSet
    template_name = "cooperation/networks/task_list.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return qs.select_related("responsible", "meeting", "meeting__network").order_by("due", "pk")

    def get_filterset(self, queryset):
        user = self.request.user
        has_orgs = bool(access.organization_ids(user))
        data = self.request.GET.copy()
        data.setdefault("done", "false")
        if has_orgs:
            data.setdefault("mine", "false" if access.is_staff_reader(user) else "true")
        else:
            data.pop("mine", None)
        filterset = self.filterset_class(data, queryset=queryset, request=self.request)
        fields = filterset.form.fields
        if not has_orgs:
            fields.pop("mine")
        fields["done"].label = _("Stand")
        fields["done"].widget = forms.Select(choices=[("", _("alle")), ("false", _("offen")), ("true", _("erledigt"))])
        responsible = Organization.objects.filter(
            pk__in=MeetingTask.objects.for_user(user, Action.VIEW).order_by().values("responsible_id")
        ).order_by("name").values_list("uuid", "name")
        fields["responsible"].label = _("verantwortlich")
        fields["responsible"].widget = forms.Select(choices=[("", _("alle Organisationen")), *responsible])
        fields["due_before"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        # API filters, kept working from links (the tasks of one network or meeting)
        fields["network"].widget = forms.HiddenInput()
        fields["meeting"].widget = forms.HiddenInput()
        filterset.form.order_fields(["mine", "done", "responsible", "due_before"])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        tasks = list(context["object_list"])
        mark_tasks(tasks, user, all_changeable=access.is_planner(user))
        cleaned = self.filterset.form.cleaned_data if self.filterset.is_valid() else {}
        network = None
        if cleaned.get("network"):
            network = Network.objects.for_user(user, Action.VIEW).filter(uuid=cleaned["network"]).only(
                "uuid", "name").first()
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            object_list=tasks, mine=cleaned.get("mine") == "true", network_filter=network,
            filter_active=bool(query), overdue_count=sum(1 for t in tasks if t.overdue),
        )
        return context
