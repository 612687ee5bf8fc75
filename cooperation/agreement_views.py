"""Pages of agreements (Kooperations- und Leistungsvereinbarungen), below
``/kooperation/vereinbarungen/`` (German UI).

- list with the API's ``AgreementFilterSet``; page of one agreement with its
  parties, conflict procedure, documents, outcome goals with their attainment
  and the change history (of the agreement and its parts, party confirmations
  included);
- lifecycle: one POST button per transition the user may make
  (``cooperation.agreements.allowed_transitions``), confirmation for a party by
  its organisation's editors while negotiating;
- create/edit (planners); parties (planners; a party's own editors keep its
  responsibilities and reachability current); escalation steps, goals
  (planners); documents (upload: planners and editors of the parties; download:
  whoever sees the agreement; delete: planners).

Access only through ``for_user`` querysets: an agreement a user does not see is
404; one they see but may not change is 403. Every change of several rows runs
in one transaction.
"""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from pghistory.models import MiddlewareEvents

from core.access import Action
from core.models import FieldOfAction
from core.views import EVENT_LABELS, MAX_VALUE_CHARS, ScopedDetailView, ScopedListView
from regions.models import Region

from . import access
from . import agreements as lifecycle
from . import documents as document_service
from .agreement_forms import (
    AgreementForm,
    DocumentForm,
    EscalationStepForm,
    GoalForm,
    PartyForm,
    decimal_text,
)
from .choices import AgreementStatus as S
from .choices import WorkMode
from .filtersets import AgreementFilterSet
from .forms import MULTI_SELECT_HELP, field_key_choices
from .goals import attainments
from .models import Agreement, AgreementDocument, AgreementParty, EscalationStep, Goal, Organization, Service
from .views import region_code_choices, scoped_object

NAV = "agreements"
REVIEW_WARNING_DAYS = 30
#: statuses in which planners add and remove parties
PARTY_STATUSES = (S.DRAFT, S.NEGOTIATION)

AGREEMENT_DENIED = _("Sie dürfen diese Vereinbarung lesen, aber nicht ändern.")
PLANNERS_ONLY = _("Das darf nur die Planung.")
PARTY_DENIED = _("Diese Angaben pflegen die Planung und die Bearbeitenden der Organisation selbst.")
UPLOAD_DENIED = _("Dokumente laden die Planung und die Bearbeitenden der beteiligten Organisationen hoch.")

#: the button text of each manual transition, by target status
TRANSITION_LABELS = {
    S.NEGOTIATION: _("In Verhandlung geben"),
    S.DRAFT: _("Zurück in den Entwurf"),
    S.SUSPENDED: _("Aussetzen"),
    S.ACTIVE: _("Wieder aktivieren"),
    S.TERMINATED: _("Beenden"),
}
TRANSITION_HINTS = {
    S.NEGOTIATION: _("Danach bestätigen die Parteien die Vereinbarung; mit der letzten Bestätigung wird sie aktiv, "
                     "sobald „gültig ab“ erreicht ist."),
    S.DRAFT: _("Die Bestätigungen der Parteien werden dabei zurückgesetzt."),
    S.SUSPENDED: _("Die Vereinbarung ruht, bis sie wieder aktiviert wird."),
    S.ACTIVE: _("Die ausgesetzte Vereinbarung gilt wieder."),
    S.TERMINATED: _("Endgültig: eine beendete Vereinbarung kann nicht wieder aktiviert werden."),
}


# --- Helpers ---------------------------------------------------------------------------------


def get_agreement(user, uuid, action=Action.VIEW) -> Agreement:
    return scoped_object(Agreement, user, action, AGREEMENT_DENIED, uuid=uuid)


def require_planner(user, model=Agreement):
    """Adding and removing parts of an agreement is for planners (403 to
    anyone else who sees the agreement)."""
    if not model.objects.can_add(user):
        raise PermissionDenied(PLANNERS_ONLY)


def detail_url(agreement, anchor: str = "") -> str:
    return reverse("agreement-detail", kwargs={"uuid": agreement.uuid}) + (f"#{anchor}" if anchor else "")


def review_state(agreement, today) -> str:
    """"overdue", "due" (within REVIEW_WARNING_DAYS days) or ""."""
    if agreement.next_review is None or agreement.status in (S.TERMINATED, S.EXPIRED):
        return ""
    if agreement.next_review < today:
        return "overdue"
    if agreement.next_review <= today + datetime.timedelta(days=REVIEW_WARNING_DAYS):
        return "due"
    return ""


def locked(agreement) -> Agreement:
    """The agreement row locked for the rest of the transaction (parties and
    their shares are checked and changed one writer at a time)."""
    return Agreement.objects.select_for_update().get(pk=agreement.pk)


def work_mode_text(modes) -> str:
    if not modes:
        return gettext("alle drei Teile")
    labels = dict(WorkMode.choices)
    return ", ".join(str(labels.get(m, m)) for m in modes)


def value_text(value, indicator) -> str:
    if value is None:
        return "–"
    text = number_format(value, decimal_pos=indicator.decimals, force_grouping=True)
    return f"{text} {indicator.unit}".strip()


# --- Change history of the agreement and its parts -----------------------------------------------

HISTORY_MODELS = {
    "cooperation.AgreementEvent": Agreement,
    "cooperation.AgreementPartyEvent": AgreementParty,
    "cooperation.EscalationStepEvent": EscalationStep,
    "cooperation.GoalEvent": Goal,
}
HIDDEN_HISTORY = {"id", "agreement", "network", "uuid", "created_at", "updated_at", "created_by", "updated_by"}
#: set by the lifecycle, not by a form, but what the history is for
LIFECYCLE_FIELDS = {"status", "confirmed_at", "confirmed_by"}


def _history_field(model, name):
    for field in model._meta.concrete_fields:
        if name in (field.name, field.attname):
            return field
    return None


def _shown(field) -> bool:
    return field is not None and field.name not in HIDDEN_HISTORY and (field.editable or field.name in LIFECYCLE_FIELDS)


def _history_value(field, value, related) -> str:
    if value is None or value == "" or value == []:
        return "–"
    if field.is_relation:
        return related.get((field.related_model, value), f"#{value}")
    if isinstance(value, list):
        choices = dict(field.base_field.flatchoices) if getattr(field, "base_field", None) is not None else {}
        return ", ".join(str(choices.get(v, v)) for v in value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.get_internal_type() == "DateTimeField":
        moment = parse_datetime(str(value))
        if moment is not None:
            return date_format(timezone.localtime(moment) if timezone.is_aware(moment) else moment,
                               "SHORT_DATETIME_FORMAT")
    if field.get_internal_type() == "DateField":
        day = parse_date(str(value))
        if day is not None:
            return date_format(day, "SHORT_DATE_FORMAT")
    if field.get_internal_type() == "DecimalField":
        try:
            return decimal_text(value)  # 12.5000 → "12,5": as entered, not with the column's places
        except (TypeError, ValueError, ArithmeticError):
            return str(value)
    if field.get_internal_type() in ("FloatField", "IntegerField", "PositiveSmallIntegerField",
                                     "PositiveIntegerField", "SmallIntegerField", "BigIntegerField"):
        try:
            return number_format(value, force_grouping=True)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, bool):
        return gettext("ja") if value else gettext("nein")
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def agreement_history(agreement, limit: int = 100) -> list[dict]:
    """Changes of the agreement, its parties (with their confirmations), its
    escalation steps and goals, newest first, from one query over the audit
    tables (pghistory), plus one per kind of name shown (users, organisations,
    indicators, regions). Unlike ``core.views.history_rows`` this shows the
    status and the confirmations, which no form sets."""
    events = list(
        MiddlewareEvents.objects.references(agreement).across(*HISTORY_MODELS)
        .order_by("-pgh_created_at", "-pgh_id")[:limit]
    )
    wanted: dict = {}
    user_ids = set()
    for e in events:
        model = HISTORY_MODELS[e.pgh_model]
        user_ids.add((e.pgh_context or {}).get("user"))
        data = e.pgh_data or {}
        pairs = [(k, None, v) for k, v in data.items()] if e.pgh_label == "insert" else [
            (k, old, new) for k, (old, new) in (e.pgh_diff or {}).items()]
        if model is AgreementParty:
            pairs.append(("organization_id", None, data.get("organization_id")))
        for name, old, new in pairs:
            field = _history_field(model, name)
            if (field is not None and field.is_relation and field.many_to_one
                    and (_shown(field) or field.name == "organization")):
                wanted.setdefault(field.related_model, set()).update(v for v in (old, new) if v is not None)
    user_model = get_user_model()
    wanted.setdefault(user_model, set()).update(user_ids - {None})
    related = {}
    for model, pks in wanted.items():
        if not pks:
            continue
        qs = model._base_manager.filter(pk__in=pks)
        if model is Region:
            qs = qs.defer("boundary")
        for obj in qs:
            label = (obj.get_full_name() or obj.username) if model is user_model else str(obj)
            related[(model, obj.pk)] = label
    users = {pk: label for (model, pk), label in related.items() if model is user_model}

    rows = []
    for e in events:
        model = HISTORY_MODELS[e.pgh_model]
        data = e.pgh_data or {}
        if e.pgh_label == "insert":
            raw = [(k, None, v) for k, v in sorted(data.items())]
        else:
            raw = [(k, old, new) for k, (old, new) in sorted((e.pgh_diff or {}).items())]
        changes = []
        for name, old, new in raw:
            field = _history_field(model, name)
            if not _shown(field) or (e.pgh_label == "insert" and new in (None, "", [])):
                continue
            changes.append({"field": str(field.verbose_name), "old": _history_value(field, old, related),
                            "new": _history_value(field, new, related)})
        label = str(EVENT_LABELS.get(e.pgh_label, e.pgh_label))
        if model is Agreement:
            subject = gettext("Vereinbarung")
        elif model is AgreementParty:
            org = related.get((Organization, data.get("organization_id")), "?")
            subject = gettext("Partei %(org)s") % {"org": org}
            diff = e.pgh_diff or {}
            if e.pgh_label == "update" and "confirmed_at" in diff:
                label = gettext("bestätigt") if diff["confirmed_at"][1] else gettext("Bestätigung zurückgesetzt")
        elif model is EscalationStep:
            subject = gettext("Eskalationsstufe %(order)s") % {"order": data.get("order", "?")}
        else:
            subject = gettext("Wirkungsziel „%(title)s“") % {"title": data.get("title", "?")}
        user_id = (e.pgh_context or {}).get("user")
        source = (e.pgh_context or {}).get("url") or (e.pgh_context or {}).get("command") or ""
        rows.append({"when": e.pgh_created_at, "label": label, "subject": subject,
                     "user_label": users.get(user_id), "source": source, "changes": changes})
    return rows


# --- List ----------------------------------------------------------------------------------------


def organization_choices(user) -> list:
    rows = Organization.objects.for_user(user, Action.VIEW).order_by("name", "pk").values_list("uuid", "name")
    return [("", _("alle Organisationen")), *((str(uuid), name) for uuid, name in rows)]


class AgreementListView(ScopedListView):
    model = Agreement
    filterset_class = AgreementFilterSet
    template_name = "cooperation/agreements/agreement_list.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return qs.prefetch_related(
            Prefetch("parties", queryset=AgreementParty.objects.select_related("organization")
                     .only("pk", "agreement_id", "role", "confirmed_at", "organization__name", "organization__uuid")
                     .order_by("role", "organization__name")),
            Prefetch("regions", queryset=Region.objects.only("pk", "code", "name").order_by("name")),
        ).order_by("-valid_from", "title", "pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        user = self.request.user
        fields["q"].label = _("Suche (Titel, gemeinsame Ziele)")
        for name, size in (("kind", 5), ("status", 6)):
            fields[name].help_text = MULTI_SELECT_HELP
            fields[name].widget.attrs.update({"size": size, "class": "select-multiple"})
        fields["region"].label = _("Raum (mit über- und untergeordneten)")
        fields["region"].widget = forms.Select(choices=region_code_choices(user))
        fields["field"].label = _("Handlungsfeld")
        fields["field"].widget = forms.Select(choices=field_key_choices(user))
        fields["organization"].label = _("Partei")
        fields["organization"].widget = forms.Select(choices=organization_choices(user))
        fields["review_before"].label = _("Überprüfung fällig bis")
        fields["review_before"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        # API filters, kept working from links
        fields["public"].widget = forms.HiddenInput()
        fields["modified_after"].widget = forms.HiddenInput()
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for agreement in context["object_list"]:
            agreement.review_state = review_state(agreement, today)
        context.update(can_add=Agreement.objects.can_add(self.request.user),
                       review_warning_days=REVIEW_WARNING_DAYS)
        return context


# --- Detail --------------------------------------------------------------------------------------


class AgreementDetailView(ScopedDetailView):
    model = Agreement
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/agreements/agreement_detail.html"
    nav = NAV

    def scoped_queryset(self, qs):
        return qs.prefetch_related(
            Prefetch("regions", queryset=Region.objects.select_related("level").defer("boundary")
                     .order_by("level__rank", "name")),
            Prefetch("fields", queryset=FieldOfAction.objects.order_by("path")),
            Prefetch("services", queryset=Service.objects.select_related("organization")
                     .only("pk", "uuid", "name", "status", "organization__name").order_by("organization__name", "name")),
            Prefetch("parties", queryset=AgreementParty.objects.select_related("organization", "confirmed_by")
                     .order_by("role", "organization__name")),
            Prefetch("escalation_steps", queryset=EscalationStep.objects.order_by("order")),
            Prefetch("documents", queryset=AgreementDocument.objects.order_by("-created_at")),
            Prefetch("outcome_goals", queryset=Goal.objects.select_related("indicator", "region")
                     .defer("region__boundary").order_by("target_date", "title")),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        agreement = self.object
        user = self.request.user
        today = timezone.localdate()
        can_change = Agreement.objects.for_user(user, Action.CHANGE).filter(pk=agreement.pk).exists()
        editor_of = access.organization_ids(user, editor=True)
        parties = list(agreement.parties.all())
        editable = set(AgreementParty.objects.for_user(user, Action.CHANGE).filter(agreement=agreement)
                       .values_list("pk", flat=True)) if parties else set()
        negotiating = agreement.status == S.NEGOTIATION
        for party in parties:
            party.can_edit = party.pk in editable
            party.can_confirm = negotiating and party.confirmed_at is None and party.organization_id in editor_of
            party.share_text = decimal_text(party.budget_share) if party.budget_share is not None else ""
            party.work_mode_text = work_mode_text(party.work_modes)
            by = party.confirmed_by
            party.confirmed_by_text = (by.get_full_name() or by.username) if by else gettext("unbekannt")
        shares = [p.budget_share for p in parties if p.budget_share is not None]

        goals = list(agreement.outcome_goals.all())
        attained = attainments(goals, today)
        for goal in goals:
            a = attained[goal.pk]
            goal.attainment = a
            goal.baseline_text = value_text(a.baseline, goal.indicator)
            goal.current_text = value_text(a.current, goal.indicator)
            goal.target_text = value_text(goal.target_value, goal.indicator)
            goal.progress_text = (f"{number_format(a.progress, decimal_pos=1)} %" if a.progress is not None else "")

        context.update(
            today=today,
            review_state=review_state(agreement, today),
            review_warning_days=REVIEW_WARNING_DAYS,
            can_change=can_change,
            can_manage_parties=can_change and agreement.status in PARTY_STATUSES,
            party_statuses_text=", ".join(str(S(s).label) for s in PARTY_STATUSES),
            can_upload=can_change or any(p.organization_id in editor_of for p in parties),
            transitions=[{"to": to, "label": TRANSITION_LABELS.get(to, S(to).label), "hint": TRANSITION_HINTS.get(to, "")}
                         for to in lifecycle.allowed_transitions(agreement, user)],
            parties=parties,
            confirmed_count=sum(1 for p in parties if p.confirmed_at is not None),
            share_total=decimal_text(sum(shares)) if shares else "",
            steps=list(agreement.escalation_steps.all()),
            documents=list(agreement.documents.all()),
            goals=goals,
            history=agreement_history(agreement),
        )
        return context


# --- Lifecycle -----------------------------------------------------------------------------------


class AgreementTransitionView(LoginRequiredMixin, View):
    """POST ``to``: a manual transition. Refused transitions (wrong status, a
    condition not met) come back as error messages; who may never make a
    transition of this agreement gets 403."""

    http_method_names = ["post"]

    def post(self, request, uuid):
        agreement = get_agreement(request.user, uuid)
        if not lifecycle.actor_roles(agreement, request.user):
            raise PermissionDenied(_("Den Status ändern die Planung und der federführende Träger."))
        to = request.POST.get("to", "")
        if to not in S.values:
            messages.error(request, gettext("Unbekannter Status „%(status)s“.") % {"status": to})
            return redirect(detail_url(agreement))
        try:
            lifecycle.transition(agreement, to, request.user)
        except lifecycle.TransitionError as e:
            messages.error(request, str(e))
            return redirect(detail_url(agreement))
        agreement.refresh_from_db()  # the transition may have gone further (activation)
        messages.success(request, gettext("Die Vereinbarung ist jetzt „%(status)s“.") % {
            "status": agreement.get_status_display()})
        return redirect(detail_url(agreement))


class PartyConfirmView(LoginRequiredMixin, View):
    """POST: an editor of the party's organisation confirms the agreement for it."""

    http_method_names = ["post"]

    def post(self, request, uuid, pk):
        agreement = get_agreement(request.user, uuid)
        party = agreement.parties.select_related("organization").filter(pk=pk).first()
        if party is None:
            raise Http404
        if party.organization_id not in access.organization_ids(request.user, editor=True):
            raise PermissionDenied(gettext("Für %(org)s bestätigt nur, wer diese Organisation bearbeiten darf.") % {
                "org": party.organization.name})
        try:
            lifecycle.confirm(party, request.user)
        except lifecycle.TransitionError as e:
            messages.error(request, str(e))
            return redirect(detail_url(agreement, "parteien"))
        agreement.refresh_from_db()
        messages.success(request, gettext("Für %(org)s bestätigt.") % {"org": party.organization.name})
        if agreement.status == S.ACTIVE:
            messages.success(request, gettext("Alle Parteien haben bestätigt: die Vereinbarung ist jetzt aktiv."))
        elif lifecycle.all_confirmed(agreement):
            messages.info(request, gettext("Alle Parteien haben bestätigt; aktiv wird die Vereinbarung am %(date)s.") % {
                "date": date_format(agreement.valid_from, "SHORT_DATE_FORMAT")})
        return redirect(detail_url(agreement, "parteien"))


# --- Create / edit -------------------------------------------------------------------------------


class AgreementEditView(LoginRequiredMixin, View):
    """Create (no uuid) or edit an agreement (planners). Its status is not
    part of the form. While it is negotiated, a change withdraws the parties'
    confirmations."""

    template_name = "cooperation/agreements/agreement_form.html"

    def prepare(self, uuid):
        if uuid is None:
            require_planner(self.request.user)
            return Agreement()
        return get_agreement(self.request.user, uuid, Action.CHANGE)

    def render_page(self, agreement, form):
        return render(self.request, self.template_name, {
            "agreement": agreement if agreement.pk else None, "form": form, "nav": NAV,
            "error_count": len(form.errors), "error_forms": [form],
            "negotiating": agreement.status == S.NEGOTIATION and agreement.pk is not None,
        })

    def get(self, request, uuid=None):
        agreement = self.prepare(uuid)
        return self.render_page(agreement, AgreementForm(instance=agreement, user=request.user))

    def post(self, request, uuid=None):
        agreement = self.prepare(uuid)
        creating = agreement.pk is None
        form = AgreementForm(request.POST, instance=agreement, user=request.user)
        if not form.is_valid():
            return self.render_page(agreement, form)
        withdrawn = 0
        with transaction.atomic():
            agreement = form.save(commit=False)
            agreement.stamp(request.user)
            agreement.save()
            form.save_m2m()
            if not creating and form.has_changed() and locked(agreement).status == S.NEGOTIATION:
                withdrawn = lifecycle.withdraw_confirmations(agreement)
        if creating:
            messages.success(request, gettext("Vereinbarung „%(title)s“ angelegt (Entwurf). Als Nächstes die Parteien "
                                              "hinzufügen.") % {"title": agreement.title})
        else:
            messages.success(request, gettext("Vereinbarung „%(title)s“ gespeichert.") % {"title": agreement.title})
        if withdrawn:
            messages.warning(request, gettext("Die Vereinbarung wurde während der Verhandlung geändert: die "
                                              "Parteien müssen sie erneut bestätigen."))
        return redirect(detail_url(agreement))


# --- Parties -------------------------------------------------------------------------------------


class PartyEditView(LoginRequiredMixin, View):
    """Add a party (no pk; planners, in draft or negotiation) or edit one
    (planners everything but the organisation; the party's own editors its
    responsibilities and reachability)."""

    template_name = "cooperation/agreements/party_form.html"

    def prepare(self, uuid, pk):
        user = self.request.user
        agreement = get_agreement(user, uuid)
        if pk is None:
            require_planner(user, AgreementParty)
            return agreement, AgreementParty(agreement=agreement), False
        party = AgreementParty.objects.for_user(user, Action.CHANGE).filter(agreement=agreement, pk=pk) \
            .select_related("organization").first()
        if party is None:
            if agreement.parties.filter(pk=pk).exists():
                raise PermissionDenied(PARTY_DENIED)
            raise Http404
        return agreement, party, not AgreementParty.objects.can_add(user)

    def make_form(self, agreement, party, limited, data=None):
        return PartyForm(data, instance=party, agreement=agreement, user=self.request.user, limited=limited)

    def render_page(self, agreement, party, form, limited):
        return render(self.request, self.template_name, {
            "agreement": agreement, "party": party if party.pk else None, "form": form, "limited": limited,
            "nav": NAV, "error_count": len(form.errors), "error_forms": [form],
            "negotiating": agreement.status == S.NEGOTIATION,
        })

    def refuse_status(self, agreement):
        messages.error(self.request, gettext("Parteien werden nur im Entwurf oder während der Verhandlung "
                                             "hinzugefügt oder entfernt; die Vereinbarung ist „%(status)s“.") % {
            "status": agreement.get_status_display()})
        return redirect(detail_url(agreement, "parteien"))

    def get(self, request, uuid, pk=None):
        agreement, party, limited = self.prepare(uuid, pk)
        if party.pk is None and agreement.status not in PARTY_STATUSES:
            return self.refuse_status(agreement)
        return self.render_page(agreement, party, self.make_form(agreement, party, limited), limited)

    def post(self, request, uuid, pk=None):
        agreement, party, limited = self.prepare(uuid, pk)
        creating = party.pk is None
        withdrawn = 0
        with transaction.atomic():
            agreement = locked(agreement)  # shares are checked against the other parties under this lock
            if creating and agreement.status not in PARTY_STATUSES:
                return self.refuse_status(agreement)
            form = self.make_form(agreement, party, limited, request.POST)
            if not form.is_valid():
                return self.render_page(agreement, party, form, limited)
            party = form.save()
            if creating and agreement.status == S.NEGOTIATION:
                withdrawn = lifecycle.withdraw_confirmations(agreement)
        org = party.organization.name
        if creating:
            messages.success(request, gettext("%(org)s ist jetzt Partei der Vereinbarung.") % {"org": org})
        else:
            messages.success(request, gettext("Angaben von %(org)s gespeichert.") % {"org": org})
        if withdrawn:
            messages.warning(request, gettext("Weil sich die Parteien während der Verhandlung geändert haben, "
                                              "wurden alle Bestätigungen zurückgesetzt."))
        return redirect(detail_url(agreement, "parteien"))


class PartyDeleteView(LoginRequiredMixin, View):
    """GET asks, POST removes a party (planners, in draft or negotiation; in
    negotiation every confirmation is withdrawn)."""

    template_name = "cooperation/agreements/party_confirm_delete.html"

    def prepare(self, uuid, pk):
        user = self.request.user
        agreement = get_agreement(user, uuid)
        party = AgreementParty.objects.for_user(user, Action.DELETE).filter(agreement=agreement, pk=pk) \
            .select_related("organization").first()
        if party is None:
            if agreement.parties.filter(pk=pk).exists():
                raise PermissionDenied(PLANNERS_ONLY)
            raise Http404
        return agreement, party

    def refuse_status(self, agreement):
        messages.error(self.request, gettext("Parteien werden nur im Entwurf oder während der Verhandlung "
                                             "hinzugefügt oder entfernt; die Vereinbarung ist „%(status)s“.") % {
            "status": agreement.get_status_display()})
        return redirect(detail_url(agreement, "parteien"))

    def get(self, request, uuid, pk):
        agreement, party = self.prepare(uuid, pk)
        if agreement.status not in PARTY_STATUSES:
            return self.refuse_status(agreement)
        return render(request, self.template_name, {"agreement": agreement, "party": party, "nav": NAV,
                                                    "negotiating": agreement.status == S.NEGOTIATION})

    def post(self, request, uuid, pk):
        agreement, party = self.prepare(uuid, pk)
        withdrawn = 0
        with transaction.atomic():
            agreement = locked(agreement)
            if agreement.status not in PARTY_STATUSES:
                return self.refuse_status(agreement)
            party.delete()
            if agreement.status == S.NEGOTIATION:
                withdrawn = lifecycle.withdraw_confirmations(agreement)
        messages.success(request, gettext("%(org)s ist nicht mehr Partei der Vereinbarung.") % {
            "org": party.organization.name})
        if withdrawn:
            messages.warning(request, gettext("Weil sich die Parteien während der Verhandlung geändert haben, "
                                              "wurden alle Bestätigungen zurückgesetzt."))
        return redirect(detail_url(agreement, "parteien"))


# --- Escalation steps ----------------------------------------------------------------------------


class EscalationStepCreateView(LoginRequiredMixin, View):
    template_name = "cooperation/agreements/step_form.html"

    def prepare(self, uuid):
        agreement = get_agreement(self.request.user, uuid)
        require_planner(self.request.user, EscalationStep)
        return agreement

    def render_page(self, agreement, form):
        return render(self.request, self.template_name, {
            "agreement": agreement, "form": form, "nav": NAV, "error_count": len(form.errors), "error_forms": [form],
            "steps": list(agreement.escalation_steps.order_by("order"))})

    def get(self, request, uuid):
        agreement = self.prepare(uuid)
        return self.render_page(agreement, EscalationStepForm(agreement=agreement))

    def post(self, request, uuid):
        agreement = self.prepare(uuid)
        with transaction.atomic():
            agreement = locked(agreement)  # two planners adding "step 3" at once: one of them is told
            form = EscalationStepForm(request.POST, agreement=agreement)
            if not form.is_valid():
                return self.render_page(agreement, form)
            step = form.save()
        messages.success(request, gettext("Stufe %(order)s (%(who)s) hinzugefügt.") % {
            "order": step.order, "who": step.handled_by})
        return redirect(detail_url(agreement, "konfliktverfahren"))


class EscalationStepDeleteView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request, uuid, pk):
        agreement = get_agreement(request.user, uuid)
        step = EscalationStep.objects.for_user(request.user, Action.DELETE).filter(agreement=agreement, pk=pk).first()
        if step is None:
            if agreement.escalation_steps.filter(pk=pk).exists():
                raise PermissionDenied(PLANNERS_ONLY)
            raise Http404
        with transaction.atomic():
            step.delete()
        messages.success(request, gettext("Stufe %(order)s entfernt.") % {"order": step.order})
        return redirect(detail_url(agreement, "konfliktverfahren"))


# --- Documents -----------------------------------------------------------------------------------


def may_upload(agreement, user) -> bool:
    """Planners, and editors of an organisation that is a party."""
    if AgreementDocument.objects.can_add(user):
        return True
    return agreement.parties.filter(organization_id__in=access.organization_ids(user, editor=True)).exists()


class DocumentUploadView(LoginRequiredMixin, View):
    template_name = "cooperation/agreements/document_form.html"

    def prepare(self, uuid):
        agreement = get_agreement(self.request.user, uuid)
        if not may_upload(agreement, self.request.user):
            raise PermissionDenied(UPLOAD_DENIED)
        return agreement

    def render_page(self, agreement, form):
        return render(self.request, self.template_name, {
            "agreement": agreement, "form": form, "nav": NAV, "error_count": len(form.errors), "error_forms": [form]})

    def get(self, request, uuid):
        agreement = self.prepare(uuid)
        return self.render_page(agreement, DocumentForm())

    def post(self, request, uuid):
        agreement = self.prepare(uuid)
        form = DocumentForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(agreement, form)
        data = form.cleaned_data
        document = document_service.add_document(agreement, data["file"], title=data["title"], kind=data["kind"],
                                                 user=request.user)
        messages.success(request, gettext("Dokument „%(title)s“ hochgeladen.") % {"title": document.title})
        return redirect(detail_url(agreement, "dokumente"))


def visible_document(user, uuid, document_uuid, action=Action.VIEW) -> AgreementDocument:
    """A document of a visible agreement; 404 outside the user's view, 403 if
    seen but not allowed for ``action``."""
    return scoped_object(AgreementDocument, user, action, PLANNERS_ONLY, agreement__uuid=uuid, uuid=document_uuid)


class DocumentDownloadView(LoginRequiredMixin, View):
    """The file, as an attachment with its original name and the type found on
    upload; only for who sees the agreement (else 404)."""

    def get(self, request, uuid, document_uuid):
        document = visible_document(request.user, uuid, document_uuid)
        try:
            handle = document.file.open("rb")
        except (FileNotFoundError, OSError):
            raise Http404(gettext("Die Datei ist nicht mehr vorhanden.")) from None
        response = FileResponse(handle, as_attachment=True, filename=document.original_name,
                                content_type=document.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class DocumentDeleteView(LoginRequiredMixin, View):
    template_name = "cooperation/agreements/document_confirm_delete.html"

    def get(self, request, uuid, document_uuid):
        document = visible_document(request.user, uuid, document_uuid, Action.DELETE)
        return render(request, self.template_name, {"agreement": document.agreement, "document": document, "nav": NAV})

    def post(self, request, uuid, document_uuid):
        document = visible_document(request.user, uuid, document_uuid, Action.DELETE)
        agreement, title = document.agreement, document.title
        with transaction.atomic():
            document_service.delete_document(document)
        messages.success(request, gettext("Dokument „%(title)s“ gelöscht.") % {"title": title})
        return redirect(detail_url(agreement, "dokumente"))


# --- Outcome goals -------------------------------------------------------------------------------


class GoalEditView(LoginRequiredMixin, View):
    """Add (no pk) or edit an outcome goal (planners)."""

    template_name = "cooperation/agreements/goal_form.html"

    def prepare(self, uuid, pk):
        user = self.request.user
        agreement = get_agreement(user, uuid)
        if pk is None:
            require_planner(user, Goal)
            return agreement, Goal(agreement=agreement)
        goal = scoped_object(Goal, user, Action.CHANGE, PLANNERS_ONLY, agreement=agreement, pk=pk)
        return agreement, goal

    def render_page(self, agreement, goal, form):
        return render(self.request, self.template_name, {
            "agreement": agreement, "goal": goal if goal.pk else None, "form": form, "nav": NAV,
            "error_count": len(form.errors), "error_forms": [form]})

    def get(self, request, uuid, pk=None):
        agreement, goal = self.prepare(uuid, pk)
        return self.render_page(agreement, goal, GoalForm(instance=goal, agreement=agreement, user=request.user))

    def post(self, request, uuid, pk=None):
        agreement, goal = self.prepare(uuid, pk)
        creating = goal.pk is None
        form = GoalForm(request.POST, instance=goal, agreement=agreement, user=request.user)
        if not form.is_valid():
            return self.render_page(agreement, goal, form)
        with transaction.atomic():
            goal = form.save(commit=False)
            goal.stamp(request.user)
            goal.save()
        text = gettext("Wirkungsziel „%(title)s“ angelegt.") if creating else gettext(
            "Wirkungsziel „%(title)s“ gespeichert.")
        messages.success(request, text % {"title": goal.title})
        return redirect(detail_url(agreement, "wirkungsziele"))


class GoalDeleteView(LoginRequiredMixin, View):
    template_name = "cooperation/agreements/goal_confirm_delete.html"

    def prepare(self, uuid, pk):
        agreement = get_agreement(self.request.user, uuid)
        goal = scoped_object(Goal, self.request.user, Action.DELETE, PLANNERS_ONLY, agreement=agreement, pk=pk)
        return agreement, goal

    def get(self, request, uuid, pk):
        agreement, goal = self.prepare(uuid, pk)
        return render(request, self.template_name, {"agreement": agreement, "goal": goal, "nav": NAV})

    def post(self, request, uuid, pk):
        agreement, goal = self.prepare(uuid, pk)
        title = goal.title
        with transaction.atomic():
            goal.delete()
        messages.success(request, gettext("Wirkungsziel „%(title)s“ gelöscht.") % {"title": title})
        return redirect(detail_url(agreement, "wirkungsziele"))

