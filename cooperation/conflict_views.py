"""Pages of conflict cases (German UI): the list, raising a case under an
agreement or a network, a case's page with its procedure, history and the
buttons to move it on ("Nächste Stufe") or close it ("Abschließen").

Rows only through ``ConflictCase.objects.for_user``: provider staff see the
cases under agreements their organisation is a party to and in networks it
belongs to or coordinates (a public agreement or network does not open its
conflicts). The workflow is ``cooperation.conflicts``; its German
``ConflictError`` messages are shown as they are.
"""

import uuid as uuid_module

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from core.access import Action
from core.views import ScopedDetailView, ScopedListView, history_rows

from . import conflicts
from .choices import ConflictStatus
from .conflict_forms import ConflictCaseForm, ConflictCloseForm
from .filtersets import ConflictCaseFilterSet
from .models import Agreement, ConflictCase, Network, Organization
from .views import scoped_object

CONFLICT_CHANGE_DENIED = _("Diesen Konfliktfall dürfen Sie lesen, aber nicht bearbeiten. Konfliktfälle unter einer "
                           "Vereinbarung führt die Planung, die eines Netzwerks seine Koordination.")
OWNER_PARAMS = {"vereinbarung": Agreement, "netzwerk": Network}


def url_for(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs or None)


def owner_url(owner) -> str:
    name = "agreement-detail" if isinstance(owner, Agreement) else "network-detail"
    return url_for(name, uuid=owner.uuid)


def owner_label(owner) -> str:
    return gettext("Vereinbarung") if isinstance(owner, Agreement) else gettext("Netzwerk")


def organization_urls(user, organizations) -> dict[int, str]:
    """{pk: page URL} of those ``organizations`` the user may open (one query)."""
    organizations = {o.pk: o for o in organizations}
    if not organizations:
        return {}
    visible = Organization.objects.for_user(user, Action.VIEW).filter(pk__in=list(organizations))
    return {pk: url_for("organization-detail", uuid=organizations[pk].uuid)
            for pk in visible.values_list("pk", flat=True)}


def mark_overdue(cases, today=None) -> None:
    """``case.overdue``: open and its step's deadline has passed."""
    today = today or timezone.localdate()
    for case in cases:
        case.overdue = case.status == ConflictStatus.OPEN and case.step_due is not None and case.step_due < today


# --- List -------------------------------------------------------------------------------


class ConflictCaseListView(ScopedListView):
    """The conflict cases the user sees, filtered by the API's FilterSet
    (status, agreement, network, overdue)."""

    model = ConflictCase
    filterset_class = ConflictCaseFilterSet
    template_name = "cooperation/conflicts/conflict_list.html"
    nav = "conflicts"

    def scoped_queryset(self, qs):
        return qs.select_related("agreement", "network", "raised_by", "step").defer(
            "description", "outcome", "agreement__goals", "network__description")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        visible = ConflictCase.objects.for_user(self.request.user, Action.VIEW)
        # only agreements and networks with a case the user sees (a public
        # agreement's title is no secret, that it has conflicts may be)
        agreements = visible.filter(agreement__isnull=False).order_by("agreement__title").values_list(
            "agreement__uuid", "agreement__title").distinct()
        networks = visible.filter(network__isnull=False).order_by("network__name").values_list(
            "network__uuid", "network__name").distinct()
        fields["status"].widget = forms.CheckboxSelectMultiple(choices=fields["status"].choices)
        fields["agreement"].label = _("Vereinbarung")
        fields["agreement"].widget = forms.Select(choices=[("", _("alle")), *agreements])
        fields["network"].label = _("Netzwerk")
        fields["network"].widget = forms.Select(choices=[("", _("alle")), *networks])
        fields["overdue"].widget = forms.Select(choices=[("", _("egal")), ("true", _("ja")), ("false", _("nein"))])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = context["object_list"]
        mark_overdue(rows)
        links = organization_urls(self.request.user, [case.raised_by for case in rows])
        for case in rows:
            case.owner_url = owner_url(case.owner)
            case.raised_by_url = links.get(case.raised_by_id, "")
        return context


# --- Raise ------------------------------------------------------------------------------


class ConflictCaseCreateView(LoginRequiredMixin, View):
    """Raise a conflict under ``?vereinbarung=<uuid>`` or ``?netzwerk=<uuid>``.
    The agreement or network must be visible to the user (else 404); the
    user must work for one of its parties or members (else 403, explained)."""

    template_name = "cooperation/conflicts/conflict_form.html"
    denied_template_name = "cooperation/conflicts/conflict_denied.html"

    def get_owner(self):
        for param, model in OWNER_PARAMS.items():
            value = self.request.GET.get(param)
            if value:
                try:
                    key = uuid_module.UUID(value)
                except ValueError:
                    raise Http404 from None
                owner = model.objects.for_user(self.request.user, Action.VIEW).filter(uuid=key).first()
                if owner is None:
                    raise Http404
                return owner
        raise Http404(gettext("Ein Konflikt wird zu einer Vereinbarung oder einem Netzwerk eingebracht."))

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.owner = self.get_owner()
        self.organizations = conflicts.eligible_organizations(self.owner, request.user)
        if not self.organizations:
            return render(request, self.denied_template_name, {
                "owner": self.owner, "owner_url": owner_url(self.owner), "owner_label": owner_label(self.owner),
                "is_agreement": isinstance(self.owner, Agreement), "nav": "conflicts",
            }, status=403)
        return super().dispatch(request, *args, **kwargs)

    def make_form(self, data=None):
        queryset = Organization.objects.filter(pk__in=[o.pk for o in self.organizations]).order_by("name")
        initial = {"organization": self.organizations[0]} if len(self.organizations) == 1 else None
        return ConflictCaseForm(data, organizations=queryset, initial=initial)

    def render_page(self, form):
        return render(self.request, self.template_name, {
            "form": form, "owner": self.owner, "owner_url": owner_url(self.owner),
            "owner_label": owner_label(self.owner), "steps": conflicts.steps_of(self.owner),
            "error_count": len(form.errors), "error_forms": [form], "nav": "conflicts",
        })

    def get(self, request):
        return self.render_page(self.make_form())

    def post(self, request):
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.render_page(form)
        data = form.cleaned_data
        try:
            case = conflicts.raise_conflict(self.owner, data["organization"], subject=data["subject"],
                                            description=data["description"], user=request.user)
        except conflicts.ConflictError as error:
            form.add_error(None, str(error))
            return self.render_page(form)
        messages.success(request, gettext("Konfliktfall „%(subject)s“ eingebracht.") % {"subject": case.subject})
        return redirect("conflict-detail", uuid=case.uuid)


# --- One case ---------------------------------------------------------------------------


def detail_context(case, user, close_form=None) -> dict:
    """What the case's page shows (also when the closing form comes back with errors)."""
    mark_overdue([case])
    steps = conflicts.steps_of(case)
    is_open = case.status == ConflictStatus.OPEN
    can_change = is_open and ConflictCase.objects.for_user(user, Action.CHANGE).filter(pk=case.pk).exists()
    next_step = conflicts.next_step(case) if is_open else None
    close_form = close_form or ConflictCloseForm()
    return {
        "case": case, "object": case, "owner": case.owner, "owner_url": owner_url(case.owner),
        "owner_label": owner_label(case.owner),
        "raised_by_url": organization_urls(user, [case.raised_by]).get(case.raised_by_id, ""),
        "steps": steps, "next_step": next_step, "is_open": is_open, "can_change": can_change,
        "close_form": close_form, "error_count": len(close_form.errors), "error_forms": [close_form],
        "history": history_rows(case), "nav": "conflicts",
    }


class ConflictCaseDetailView(ScopedDetailView):
    model = ConflictCase
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/conflicts/conflict_detail.html"
    nav = "conflicts"

    def scoped_queryset(self, qs):
        return qs.select_related("agreement", "network", "raised_by", "step", "created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(detail_context(self.object, self.request.user))
        return context


def changeable_case(user, uuid) -> ConflictCase:
    """The case for a change: 404 outside the user's view, 403 if seen but not theirs to handle."""
    return scoped_object(ConflictCase, user, Action.CHANGE, CONFLICT_CHANGE_DENIED, uuid=uuid)


class ConflictEscalateView(LoginRequiredMixin, View):
    """POST: to the next step of the procedure, with a new deadline."""

    def post(self, request, uuid):
        case = changeable_case(request.user, uuid)
        try:
            case = conflicts.escalate(case, request.user)
        except conflicts.ConflictError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, gettext("Der Konfliktfall ist jetzt in Stufe %(order)s (%(handled_by)s), "
                                              "Frist bis %(due)s.") % {
                "order": case.step.order, "handled_by": case.step.handled_by,
                "due": date_format(case.step_due, "SHORT_DATE_FORMAT")})
        return redirect("conflict-detail", uuid=case.uuid)


class ConflictCloseView(LoginRequiredMixin, View):
    """POST: close as resolved, mediated or without agreement, with the outcome.
    Errors come back on the case's page next to their fields."""

    template_name = "cooperation/conflicts/conflict_detail.html"

    def post(self, request, uuid):
        case = changeable_case(request.user, uuid)
        form = ConflictCloseForm(request.POST)
        if form.is_valid():
            try:
                case = conflicts.close(case, form.cleaned_data["status"], form.cleaned_data["outcome"], request.user)
            except conflicts.ConflictError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, gettext("Konfliktfall „%(subject)s“ abgeschlossen: %(status)s.") % {
                    "subject": case.subject, "status": case.get_status_display()})
                return redirect("conflict-detail", uuid=case.uuid)
        case = ConflictCase.objects.select_related("agreement", "network", "raised_by", "step", "created_by").get(
            pk=case.pk)
        return render(request, self.template_name, detail_context(case, request.user, close_form=form))
