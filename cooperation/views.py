"""Pages of organisations and their service offerings (German UI).

- "Meine Angebote": provider staff keep the offerings of their organisations
  current — create, edit, duplicate, close, delete, confirm as current (one or
  all shown);
- an offering's page with all its data, locations with their regions and the
  change history;
- organisations: list (the API's ``OrganizationFilterSet``), page (branches,
  locations, offerings, members for planners, history), create (planners) and
  edit (planners; provider editors their own organisation without kind and
  parent); memberships managed by planners on the organisation's page;
- offerings not confirmed for a while, so planners can follow up.

Access only through ``for_user`` querysets: what a user does not see is 404;
what they see but may not change is 403 (a viewer, a provider's reader). Every
save that touches several rows (offering, its relations, a new location) runs
in one transaction.
"""

import uuid as uuid_module

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, Prefetch, ProtectedError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from core.access import Action
from core.models import FieldOfAction
from core.views import ScopedDetailView, ScopedListView, history_rows
from regions.models import Region

from . import access
from .choices import Accessibility, AccessMode, Language, LegalBasis, ServiceStatus
from .filtersets import OrganizationFilterSet, ServiceFilterSet
from .forms import (
    MULTI_SELECT_HELP,
    LocationForm,
    MembershipForm,
    MembershipRoleForm,
    NewLocationForm,
    OrganizationForm,
    ServiceCloseForm,
    ServiceForm,
)
from .models import Location, Membership, Organization, Service, TargetGroup

ASKED_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED)
SERVICE_PAGE_SIZE = 50

SERVICE_CHANGE_DENIED = _("Sie dürfen dieses Angebot lesen, aber nicht ändern.")
ORGANIZATION_CHANGE_DENIED = _("Sie dürfen diese Organisation lesen, aber nicht ändern.")
MEMBERS_DENIED = _("Nur die Planung verwaltet die Mitglieder einer Organisation.")


# --- Helpers ---------------------------------------------------------------------------------


def scoped_object(model, user, action: str, denied_message, **lookup):
    """The object from ``model.objects.for_user(user, action)``. Outside the
    user's view it is 404; visible but not allowed for ``action`` it is 403."""
    obj = model.objects.for_user(user, action).filter(**lookup).first()
    if obj is None:
        if action != Action.VIEW and model.objects.for_user(user, Action.VIEW).filter(**lookup).exists():
            raise PermissionDenied(denied_message)
        raise Http404
    return obj


def get_service(user, uuid, action=Action.CHANGE) -> Service:
    return scoped_object(Service, user, action, SERVICE_CHANGE_DENIED, uuid=uuid)


def get_organization(user, uuid, action=Action.VIEW) -> Organization:
    return scoped_object(Organization, user, action, ORGANIZATION_CHANGE_DENIED, uuid=uuid)


def safe_next(request, default: str) -> str:
    """The ``next`` of a POST (a page of this site) or ``default``."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def choice_labels(choices, keys) -> list[str]:
    labels = dict(choices)
    return [str(labels.get(k, k)) for k in keys]


def region_code_choices(user) -> list:
    """Region codes grouped by level for a filter select (one query)."""
    groups: dict[str, list] = {}
    for code, name, level in Region.objects.for_user(user, Action.VIEW).order_by("level__rank", "name", "code") \
            .values_list("code", "name", "level__name"):
        groups.setdefault(level, []).append((code, f"{name} ({code})"))
    return [("", _("alle Räume")), *groups.items()]


def location_region_text(location) -> str:
    """What the editor is told about the region of a saved location."""
    if location.latitude is None or location.longitude is None:
        return gettext("Ohne Koordinaten wird kein Sozialraum bestimmt.")
    if location.region_id is None:
        return gettext("Sozialraum: keiner gefunden – der Punkt liegt in keinem Raum mit hinterlegter Grenze.")
    return gettext("Sozialraum: %(region)s") % {"region": f"{location.region.name} ({location.region.code})"}


# --- My offerings ----------------------------------------------------------------------------


class MyServicesView(ScopedListView):
    """The offerings of the organisations the user keeps current (as editor).
    Planners, who may change everything, get a note and their own
    organisations' offerings if they are members somewhere."""

    model = Service
    action = Action.CHANGE
    filterset_class = ServiceFilterSet
    template_name = "cooperation/my_services.html"
    nav = "services"
    paginate_by = SERVICE_PAGE_SIZE

    def scoped_queryset(self, qs):
        editor_of = access.organization_ids(self.request.user, editor=True)
        return qs.filter(organization_id__in=editor_of).select_related("organization").order_by(
            "organization__name", "name", "pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        for name in list(fields):
            if name not in ("q", "status"):
                fields.pop(name)
        fields["q"].label = _("Suche (Name, Stichworte, Beschreibung)")
        fields["status"].help_text = MULTI_SELECT_HELP
        fields["status"].widget.attrs["size"] = len(ServiceStatus.choices)
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = context["object_list"]
        user = self.request.user
        editor_of = access.organization_ids(user, editor=True)
        context.update(
            is_planner_note=access.is_planner(user),
            has_organizations=bool(editor_of),
            can_add=Service.objects.can_add(user),
            confirmable=[s for s in rows if s.status in ASKED_STATUSES],
            unconfirmed_count=sum(1 for s in rows if s.needs_confirmation),
        )
        return context


class ServicesUnconfirmedView(ScopedListView):
    """Offerings not confirmed as current within SERVICE_CONFIRMATION_MONTHS
    (active or temporarily closed), oldest confirmation first, with their
    organisation and its contact channels (staff see all, provider staff
    their own)."""

    model = Service
    filterset_class = ServiceFilterSet
    template_name = "cooperation/services_unconfirmed.html"
    nav = "services"
    paginate_by = SERVICE_PAGE_SIZE

    def scoped_queryset(self, qs):
        return qs.unconfirmed().select_related("organization").order_by(
            F("last_confirmed_at").asc(nulls_first=True), "created_at", "pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        for name in list(fields):
            if name not in ("q", "region"):
                fields.pop(name)
        fields["q"].label = _("Suche (Angebot oder Organisation)")
        fields["region"].label = _("Sozialraum")
        fields["region"].widget = forms.Select(choices=region_code_choices(self.request.user))
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = context["object_list"]
        changeable = set(
            Service.objects.for_user(self.request.user, Action.CHANGE).filter(pk__in=[s.pk for s in rows])
            .values_list("pk", flat=True)
        ) if rows else set()
        for s in rows:
            s.can_change = s.pk in changeable
        context["confirmable"] = [s for s in rows if s.can_change]
        context["confirmation_months"] = settings.SERVICE_CONFIRMATION_MONTHS
        return context


# --- One offering ----------------------------------------------------------------------------


class ServiceDetailView(ScopedDetailView):
    model = Service
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/service_detail.html"
    nav = "services"

    def scoped_queryset(self, qs):
        return qs.select_related("organization", "organization__parent").prefetch_related(
            Prefetch("fields", queryset=FieldOfAction.objects.select_related("parent").order_by("path")),
            Prefetch("target_groups", queryset=TargetGroup.objects.select_related("parent")),
            Prefetch("regions", queryset=Region.objects.select_related("level").defer("boundary")
                     .order_by("level__rank", "name")),
            Prefetch("locations", queryset=Location.objects.select_related("region").defer("region__boundary")),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        service = self.object
        user = self.request.user
        context.update(
            can_change=Service.objects.for_user(user, Action.CHANGE).filter(pk=service.pk).exists(),
            can_delete=Service.objects.for_user(user, Action.DELETE).filter(pk=service.pk).exists(),
            legal_bases=choice_labels(LegalBasis.choices, service.legal_bases),
            languages=choice_labels(Language.choices, service.languages),
            accessibility=choice_labels(Accessibility.choices, service.accessibility),
            access_modes=choice_labels(AccessMode.choices, service.access_modes),
            asked=service.status in ASKED_STATUSES,
            history=history_rows(service),
        )
        return context


class ServiceEditView(LoginRequiredMixin, View):
    """Create (no uuid) or edit an offering with all its fields, its relations
    and optionally a new location of its organisation, saved together."""

    template_name = "cooperation/service_form.html"
    choose_template_name = "cooperation/service_choose_organization.html"

    def prepare(self, uuid):
        user = self.request.user
        self.organizations = Organization.objects.for_user(user, Action.CHANGE)
        if uuid is None:
            if not Service.objects.can_add(user):
                raise PermissionDenied(_("Sie dürfen keine Angebote anlegen."))
            self.can_move = True
            return Service()
        service = get_service(user, uuid, Action.CHANGE)
        self.can_move = access.is_planner(user)
        return service

    def chosen_organization(self):
        """On a new offering: the organisation from ``?organisation=<uuid>``,
        or the only one the user may change."""
        wanted = self.request.GET.get("organisation")
        if wanted:
            try:
                return self.organizations.filter(uuid=uuid_module.UUID(wanted)).first()
            except ValueError:
                return None
        only = list(self.organizations.order_by()[:2])
        return only[0] if len(only) == 1 else None

    def make_forms(self, service, location_org, data=None):
        form = ServiceForm(
            data, instance=service, user=self.request.user, organizations=self.organizations,
            can_move=self.can_move, location_org=location_org,
            initial={"organization": location_org} if service.pk is None and location_org else None,
        )
        return form, NewLocationForm(data)

    def render_page(self, service, form, location_form):
        return render(self.request, self.template_name, {
            "service": service if service.pk else None,
            "form": form, "location_form": location_form, "field_groups": form.field_groups(),
            "fields_bf": form["fields"], "error_forms": [form, location_form],
            "location_org": form.location_org, "nav": "services",
            "error_count": len(form.errors) + len(location_form.errors),
            "multi_select_help": MULTI_SELECT_HELP,
        })

    def get(self, request, uuid=None):
        service = self.prepare(uuid)
        location_org = service.organization if service.pk else self.chosen_organization()
        if service.pk is None and location_org is None:
            return render(request, self.choose_template_name, {
                "organizations": self.organizations.select_related("parent").only("uuid", "name", "parent__name"),
                "invalid": bool(request.GET.get("organisation")), "nav": "services",
            })
        form, location_form = self.make_forms(service, location_org)
        return self.render_page(service, form, location_form)

    def post(self, request, uuid=None):
        service = self.prepare(uuid)
        creating = service.pk is None
        location_org = service.organization if not creating else self.chosen_organization()
        form, location_form = self.make_forms(service, location_org, request.POST)
        if not (form.is_valid() and location_form.is_valid()):
            return self.render_page(service, form, location_form)
        with transaction.atomic():
            service = form.save(commit=False)
            service.stamp(request.user)
            if form.cleaned_data.get("confirm"):
                service.last_confirmed_at = timezone.now()
            service.save()
            form.save_m2m()
            new_location = None
            if location_form.has_changed():
                new_location = location_form.save(commit=False)
                new_location.organization = service.organization
                new_location.stamp(request.user)
                new_location.save()
                service.locations.add(new_location)
        if creating:
            messages.success(request, gettext("Angebot „%(name)s“ angelegt.") % {"name": service.name})
        else:
            messages.success(request, gettext("Angebot „%(name)s“ gespeichert.") % {"name": service.name})
        if new_location is not None:
            messages.info(request, gettext("Neuer Standort „%(location)s“ angelegt. %(region)s") % {
                "location": new_location, "region": location_region_text(new_location)})
        return redirect("service-detail", uuid=service.uuid)


class ServiceDuplicateView(LoginRequiredMixin, View):
    """POST: a copy named "… (Kopie)" with the same relations, then its form."""

    def post(self, request, uuid):
        original = get_service(request.user, uuid, Action.CHANGE)
        copy = original.duplicate(request.user, confirmed=False)
        messages.success(request, gettext("Kopie „%(name)s“ angelegt. Bitte die Angaben anpassen und speichern.")
                         % {"name": copy.name})
        return redirect("service-update", uuid=copy.uuid)


class ServiceCloseView(LoginRequiredMixin, TemplateView):
    """GET: ask how the offering is closed; POST: set that status."""

    template_name = "cooperation/service_close.html"

    def get(self, request, uuid):
        service = get_service(request.user, uuid, Action.CHANGE)
        initial = {"status": service.status if service.status != ServiceStatus.ACTIVE
                   else ServiceStatus.TEMPORARILY_CLOSED}
        return self.render_to_response({"service": service, "form": ServiceCloseForm(initial=initial),
                                        "nav": "services"})

    def post(self, request, uuid):
        service = get_service(request.user, uuid, Action.CHANGE)
        form = ServiceCloseForm(request.POST)
        if not form.is_valid():
            return self.render_to_response({"service": service, "form": form, "nav": "services",
                                            "error_count": len(form.errors), "error_forms": [form]})
        service.status = form.cleaned_data["status"]
        service.stamp(request.user)
        service.save(update_fields=["status", "updated_at", "updated_by"])
        messages.success(request, gettext("Angebot „%(name)s“ ist jetzt „%(status)s“.") % {
            "name": service.name, "status": service.get_status_display()})
        return redirect("service-detail", uuid=service.uuid)


class ServiceConfirmView(LoginRequiredMixin, View):
    """POST: "noch aktuell" — record that the offering was confirmed now."""

    def post(self, request, uuid):
        service = get_service(request.user, uuid, Action.CHANGE)
        service.last_confirmed_at = timezone.now()
        service.stamp(request.user)
        service.save(update_fields=["last_confirmed_at", "updated_at", "updated_by"])
        messages.success(request, gettext("Angebot „%(name)s“ als aktuell bestätigt.") % {"name": service.name})
        return redirect(safe_next(request, reverse("service-detail", kwargs={"uuid": service.uuid})))


class ServiceFreePlacesView(LoginRequiredMixin, View):
    """POST ``free_places``: report the offering's free places as of today
    (empty: unknown). Refused with a message when not a whole number or above
    the capacity."""

    def post(self, request, uuid):
        service = get_service(request.user, uuid, Action.CHANGE)
        back = safe_next(request, reverse("service-detail", kwargs={"uuid": service.uuid}))
        text = request.POST.get("free_places", "").strip()
        if text and not text.isdigit():
            messages.error(request, gettext("Freie Plätze für „%(name)s“: bitte eine ganze Zahl ab 0 angeben.")
                           % {"name": service.name})
            return redirect(back)
        free = int(text) if text else None
        if free is not None and service.capacity is not None and free > service.capacity:
            messages.error(request, gettext("Freie Plätze für „%(name)s“: höchstens %(capacity)s (die Plätze des "
                                            "Angebots).") % {"name": service.name, "capacity": service.capacity})
            return redirect(back)
        service.free_places = free
        service.free_places_reported_at = timezone.localdate() if free is not None else None
        service.stamp(request.user)
        service.save(update_fields=["free_places", "free_places_reported_at", "updated_at", "updated_by"])
        messages.success(request, gettext("Freie Plätze für „%(name)s“ gespeichert.") % {"name": service.name})
        return redirect(back)


class ServicesConfirmView(LoginRequiredMixin, View):
    """POST: confirm every offering listed in ``service`` (the rows shown)
    that the user may change and that is active or temporarily closed."""

    def post(self, request):
        wanted = []
        for value in request.POST.getlist("service"):
            try:
                wanted.append(uuid_module.UUID(value))
            except ValueError:
                continue
        now = timezone.now()
        count = 0
        if wanted:
            count = (
                Service.objects.for_user(request.user, Action.CHANGE)
                .filter(uuid__in=wanted, status__in=ASKED_STATUSES)
                .update(last_confirmed_at=now, updated_at=now, updated_by=request.user)
            )
        if count:
            messages.success(request, ngettext("%(count)d Angebot als aktuell bestätigt.",
                                               "%(count)d Angebote als aktuell bestätigt.", count) % {"count": count})
        else:
            messages.warning(request, gettext("Kein Angebot bestätigt."))
        return redirect(safe_next(request, reverse("my-services")))


class ServiceDeleteView(LoginRequiredMixin, TemplateView):
    """GET asks, POST deletes (the change history keeps the deleted row).
    Closing ("eingestellt") is usually the better choice."""

    template_name = "cooperation/service_confirm_delete.html"

    def get(self, request, uuid):
        service = get_service(request.user, uuid, Action.DELETE)
        return self.render_to_response({"service": service, "nav": "services"})

    def post(self, request, uuid):
        service = get_service(request.user, uuid, Action.DELETE)
        name = service.name
        try:
            with transaction.atomic():
                service.delete()
        except ProtectedError:
            messages.error(request, gettext("Angebot „%(name)s“ wird noch verwendet und kann nicht gelöscht werden; "
                                            "bitte stattdessen schließen.") % {"name": name})
            return redirect("service-detail", uuid=service.uuid)
        messages.success(request, gettext("Angebot „%(name)s“ gelöscht.") % {"name": name})
        return redirect("my-services")


# --- Organisations ---------------------------------------------------------------------------


class OrganizationListView(ScopedListView):
    model = Organization
    filterset_class = OrganizationFilterSet
    template_name = "cooperation/organization_list.html"
    nav = "organizations"

    def scoped_queryset(self, qs):
        # Meta.ordering is not applied to GROUP BY queries: order explicitly.
        return qs.select_related("parent").annotate(service_count=Count("services")).order_by("name", "pk")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        fields["region"].label = _("aktiv im Raum (mit Teilräumen)")
        fields["region"].widget = forms.Select(choices=region_code_choices(self.request.user))
        for name in ("kind", "umbrella"):
            fields[name].help_text = MULTI_SELECT_HELP
            fields[name].widget.attrs["size"] = 5
        # API filters, kept working from links (branches of an organisation)
        fields["parent"].widget = forms.HiddenInput()
        fields["modified_after"].widget = forms.HiddenInput()
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        parent = None
        if self.filterset.is_bound and self.filterset.is_valid() and self.filterset.form.cleaned_data.get("parent"):
            parent = Organization.objects.for_user(self.request.user, Action.VIEW).filter(
                uuid=self.filterset.form.cleaned_data["parent"]).only("uuid", "name").first()
        context.update(can_add=Organization.objects.can_add(self.request.user), parent_filter=parent)
        return context


class OrganizationDetailView(ScopedDetailView):
    model = Organization
    slug_field = "uuid"
    slug_url_kwarg = "uuid"
    template_name = "cooperation/organization_detail.html"
    nav = "organizations"

    def scoped_queryset(self, qs):
        return qs.select_related("parent").prefetch_related(
            Prefetch("regions", queryset=Region.objects.select_related("level").defer("boundary")
                     .order_by("level__rank", "name")),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        org = self.object
        user = self.request.user
        can_change = Organization.objects.for_user(user, Action.CHANGE).filter(pk=org.pk).exists()
        manage_members = Membership.objects.can_add(user)
        members = []
        if manage_members:
            for membership in Membership.objects.for_user(user, Action.VIEW).filter(organization=org) \
                    .select_related("user").order_by("user__username"):
                members.append({"membership": membership,
                                "form": MembershipRoleForm(initial={"role": membership.role},
                                                           prefix=f"m{membership.pk}")})
        context.update(
            can_change=can_change,
            can_add_service=can_change and Service.objects.can_add(user),
            branches=list(Organization.objects.for_user(user, Action.VIEW).filter(parent=org).only(
                "uuid", "name", "kind")),
            locations=list(Location.objects.for_user(user, Action.VIEW).filter(organization=org)
                           .select_related("region").defer("region__boundary")),
            services=list(Service.objects.for_user(user, Action.VIEW).filter(organization=org)
                          .only("uuid", "name", "status", "last_confirmed_at", "created_at").order_by("name", "pk")),
            manage_members=manage_members,
            members=members,
            history=history_rows(org),
        )
        if manage_members:
            context.setdefault("membership_form", MembershipForm(organization=org))
            context["membership_forms"] = [context["membership_form"]]
            context["membership_error_count"] = len(context["membership_form"].errors)
        return context


class OrganizationEditView(LoginRequiredMixin, View):
    """Create (planners) or edit an organisation (planners; provider editors
    their own, without kind and parent)."""

    template_name = "cooperation/organization_form.html"

    def prepare(self, uuid):
        user = self.request.user
        if uuid is None:
            if not Organization.objects.can_add(user):
                raise PermissionDenied(_("Nur die Planung darf Organisationen anlegen."))
            return Organization()
        return get_organization(user, uuid, Action.CHANGE)

    def make_form(self, org, data=None):
        return OrganizationForm(data, instance=org, user=self.request.user, full=access.is_planner(self.request.user))

    def render_page(self, org, form):
        return render(self.request, self.template_name, {
            "organization": org if org.pk else None, "form": form, "nav": "organizations",
            "error_count": len(form.errors), "error_forms": [form],
        })

    def get(self, request, uuid=None):
        org = self.prepare(uuid)
        return self.render_page(org, self.make_form(org))

    def post(self, request, uuid=None):
        org = self.prepare(uuid)
        creating = org.pk is None
        form = self.make_form(org, request.POST)
        if not form.is_valid():
            return self.render_page(org, form)
        with transaction.atomic():
            org = form.save(commit=False)
            org.stamp(request.user)
            org.save()
            form.save_m2m()
        text = gettext("Organisation „%(name)s“ angelegt.") if creating else gettext(
            "Organisation „%(name)s“ gespeichert.")
        messages.success(request, text % {"name": org.name})
        return redirect("organization-detail", uuid=org.uuid)


# --- Locations ---------------------------------------------------------------------------------

LOCATION_CHANGE_DENIED = _("Sie dürfen diesen Standort sehen, aber nicht ändern.")


class LocationEditView(LoginRequiredMixin, View):
    """Edit a location of an organisation (planners; its provider editors): the
    address and the point; the region found from the point is shown after saving."""

    template_name = "cooperation/location_form.html"

    def render_page(self, location, form):
        return render(self.request, self.template_name, {
            "location": location, "organization": location.organization, "form": form, "nav": "organizations",
            "error_count": len(form.errors), "error_forms": [form],
            "service_count": location.services.count(),
        })

    def get(self, request, uuid):
        location = scoped_object(Location, request.user, Action.CHANGE, LOCATION_CHANGE_DENIED, uuid=uuid)
        return self.render_page(location, LocationForm(instance=location))

    def post(self, request, uuid):
        location = scoped_object(Location, request.user, Action.CHANGE, LOCATION_CHANGE_DENIED, uuid=uuid)
        form = LocationForm(request.POST, instance=location)
        if not form.is_valid():
            return self.render_page(location, form)
        with transaction.atomic():
            location = form.save(commit=False)
            location.stamp(request.user)
            location.save()
        messages.success(request, gettext("Standort „%(name)s“ gespeichert. %(region)s") % {
            "name": str(location), "region": location_region_text(location)})
        return redirect("organization-detail", uuid=location.organization.uuid)


class LocationDeleteView(LoginRequiredMixin, TemplateView):
    """GET asks, POST deletes a location; the offerings given there lose it
    (they stay, with their other locations)."""

    template_name = "cooperation/location_confirm_delete.html"

    def get(self, request, uuid):
        location = scoped_object(Location, request.user, Action.DELETE, LOCATION_CHANGE_DENIED, uuid=uuid)
        return self.render_to_response({
            "location": location, "organization": location.organization, "nav": "organizations",
            "services": list(location.services.only("uuid", "name").order_by("name")),
        })

    def post(self, request, uuid):
        location = scoped_object(Location, request.user, Action.DELETE, LOCATION_CHANGE_DENIED, uuid=uuid)
        org_uuid, name = location.organization.uuid, str(location)
        with transaction.atomic():
            location.delete()
        messages.success(request, gettext("Standort „%(name)s“ gelöscht.") % {"name": name})
        return redirect("organization-detail", uuid=org_uuid)


# --- Memberships (planners) ------------------------------------------------------------------


class MembershipMixin(LoginRequiredMixin):
    """POST only. The organisation must be visible (404), the user a planner
    (403), a membership one of that organisation they may change (404)."""

    http_method_names = ["post"]

    def get_organization(self, uuid) -> Organization:
        org = get_organization(self.request.user, uuid, Action.VIEW)
        if not Membership.objects.can_add(self.request.user):
            raise PermissionDenied(MEMBERS_DENIED)
        return org

    def get_membership(self, org, pk) -> Membership:
        membership = Membership.objects.for_user(self.request.user, Action.CHANGE).filter(
            pk=pk, organization=org).select_related("user").first()
        if membership is None:
            raise Http404
        return membership

    def members_url(self, org) -> str:
        return reverse("organization-detail", kwargs={"uuid": org.uuid}) + "#mitglieder"


class MembershipCreateView(MembershipMixin, View):
    def post(self, request, uuid):
        org = self.get_organization(uuid)
        form = MembershipForm(request.POST, organization=org)
        if not form.is_valid():
            view = OrganizationDetailView()
            view.setup(request, uuid=uuid)
            view.object = view.get_object()
            context = view.get_context_data(object=view.object, membership_form=form)
            return render(request, view.template_name, context)
        membership = Membership.objects.create(user=form.cleaned_data["user"], organization=org,
                                               role=form.cleaned_data["role"])
        messages.success(request, gettext("%(user)s gehört jetzt zu „%(org)s“ (%(role)s).") % {
            "user": membership.user.username, "org": org.name, "role": membership.get_role_display()})
        return redirect(self.members_url(org))


class MembershipUpdateView(MembershipMixin, View):
    def post(self, request, uuid, pk):
        org = self.get_organization(uuid)
        membership = self.get_membership(org, pk)
        form = MembershipRoleForm(request.POST, prefix=f"m{membership.pk}")
        if not form.is_valid():
            messages.error(request, gettext("Rolle von %(user)s nicht geändert: %(error)s") % {
                "user": membership.user.username, "error": " ".join(form.errors.get("role", []))})
            return redirect(self.members_url(org))
        membership.role = form.cleaned_data["role"]
        membership.save(update_fields=["role"])
        messages.success(request, gettext("Rolle von %(user)s: %(role)s.") % {
            "user": membership.user.username, "role": membership.get_role_display()})
        return redirect(self.members_url(org))


class MembershipDeleteView(MembershipMixin, View):
    def post(self, request, uuid, pk):
        org = self.get_organization(uuid)
        membership = self.get_membership(org, pk)
        username = membership.user.username
        membership.delete()
        messages.success(request, gettext("%(user)s gehört nicht mehr zu „%(org)s“.") % {
            "user": username, "org": org.name})
        return redirect(self.members_url(org))
