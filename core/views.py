"""Base class-based views used by every app, and the import pages.

Rows always come from ``Model.objects.for_user(request.user, action)``; no view
filters by permission by hand. Lists filter with the same FilterSet class the
API uses.
"""

import json
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.shortcuts import redirect
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, DetailView, FormView, ListView, UpdateView
from django_filters.filterset import filterset_factory

from . import audit
from .access import Action
from .filtersets import FieldOfActionFilterSet
from .forms import FieldOfActionForm, ImportForm, kind_choices
from .imports import registry
from .models import FIELD_OF_ACTION_MAX_LEVELS, FieldOfAction, ImportRun
from .services import submit_import

PAGE_SIZE = 50


class ScopedQuerysetMixin:
    """``get_queryset`` from ``model.objects.for_user(user, action)``; subclasses
    refine it with ``scoped_queryset`` (select_related, defer, annotations)."""

    model = None
    action = Action.VIEW
    #: navigation area of the page (highlighted in the main navigation)
    nav = ""

    def scoped_queryset(self, qs):
        return qs

    def get_queryset(self):
        return self.scoped_queryset(self.model.objects.for_user(self.request.user, self.action))

    def get_context_data(self, **kwargs):
        kwargs.setdefault("nav", self.nav)
        return super().get_context_data(**kwargs)


class ScopedListView(LoginRequiredMixin, ScopedQuerysetMixin, ListView):
    """A paginated list of what the user may see, filtered by ``filterset_class``
    (the FilterSet the API uses) or, lacking one, ``filterset_fields``."""

    filterset_class = None
    filterset_fields = None
    paginate_by = PAGE_SIZE

    def get_filterset_class(self):
        if self.filterset_class is not None:
            return self.filterset_class
        if self.filterset_fields:
            return filterset_factory(self.model, fields=self.filterset_fields)
        return None

    def get_filterset(self, queryset):
        filterset_class = self.get_filterset_class()
        if filterset_class is None:
            return None
        return filterset_class(self.request.GET or None, queryset=queryset, request=self.request)

    def get_queryset(self):
        qs = super().get_queryset()
        self.filterset = self.get_filterset(qs)
        if self.filterset is None:
            return qs
        if self.filterset.is_bound and not self.filterset.is_valid():
            return qs.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        filterset = getattr(self, "filterset", None)
        kwargs.setdefault("filter", filterset)
        kwargs.setdefault("filter_form", filterset.form if filterset is not None else None)
        kwargs.setdefault("filter_active", bool(filterset is not None and filterset.is_bound))
        kwargs.setdefault("page_query", query.urlencode())
        return super().get_context_data(**kwargs)


class ScopedDetailView(LoginRequiredMixin, ScopedQuerysetMixin, DetailView):
    """One object the user may see; anything outside their scope is 404."""


# --- Change history ---------------------------------------------------------------

MAX_VALUE_CHARS = 120
EVENT_LABELS = {"insert": _("angelegt"), "update": _("geändert"), "delete": _("gelöscht")}
# Bookkeeping, not content: who/when is shown per event already.
HIDDEN_HISTORY_FIELDS = {"id", "created_at", "updated_at", "created_by", "updated_by"}


def _history_field(model, name: str):
    """The model field recorded under ``name`` (a name or attname, e.g. level_id);
    None if the model no longer has it."""
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _shown(field) -> bool:
    # Non-editable fields are derived (paths, bounding boxes, centroids): the
    # change of their source is shown instead — except the workflow fields a
    # model names in ``history_workflow_fields`` (status, phase, confirmation:
    # not editable in forms, yet their changes are what the history is for).
    if field is None:
        return True
    if field.name in getattr(field.model, "history_workflow_fields", ()):
        return True
    return field.name not in HIDDEN_HISTORY_FIELDS and field.editable


def _display_value(field, value, related: dict):
    if value is None or value == "":
        return "–"
    if field is not None:
        if field.is_relation:
            return related.get((field.name, value), f"#{value}")
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(field, (models.DecimalField, models.FloatField, models.IntegerField)):
            try:
                number = Decimal(str(value))
            except (InvalidOperation, ValueError):
                return str(value)
            places = getattr(field, "decimal_places", None)
            return number_format(number, decimal_pos=places, force_grouping=True)
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    if isinstance(value, (dict, list)):
        return _("(strukturierte Daten)")
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        return text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _related_labels(model, events) -> dict:
    """{(field name, pk): str(object)} for the foreign keys in ``events``: one
    query per related model, however many events there are."""
    wanted: dict = {}
    for event in events:
        for name, old, new in event["changes"]:
            field = _history_field(model, name)
            if field is not None and field.is_relation and field.many_to_one and _shown(field):
                wanted.setdefault(field, set()).update(v for v in (old, new) if v is not None)
    labels = {}
    for field, pks in wanted.items():
        for obj in field.related_model._base_manager.filter(pk__in=pks):
            labels[(field.name, obj.pk)] = str(obj)
    return labels


def history_rows(obj, limit: int = 50) -> list[dict]:
    """``core.audit.history`` prepared for display: field labels, foreign keys by
    name, numbers and choices formatted, derived and structured values kept
    short (a boundary is not printed in full)."""
    model = type(obj)
    events = audit.history(obj, limit=limit)
    related = _related_labels(model, events)
    rows = []
    for event in events:
        changes = []
        for name, old, new in event["changes"]:
            field = _history_field(model, name)
            if not _shown(field):
                continue
            if event["label"] == "insert" and new in (None, ""):
                continue  # an insert lists the fields it set
            changes.append(
                {
                    "field": str(field.verbose_name) if field is not None else name,
                    "old": _display_value(field, old, related),
                    "new": _display_value(field, new, related),
                }
            )
        rows.append({**event, "label": EVENT_LABELS.get(event["label"], event["label"]), "changes": changes})
    return rows


# --- Imports ----------------------------------------------------------------------


SUMMARY_LABELS = {
    "created": _("angelegt"),
    "updated": _("geändert"),
    "unchanged": _("unverändert"),
    "total": _("insgesamt"),
    "values_read": _("Werte gelesen"),
    "missing": _("leere Zellen (kein Wert)"),
    "rollups_written": _("Aggregate geschrieben"),
    "rollups_removed": _("Aggregate entfernt"),
    "periods": _("Zeiträume"),
    "indicators": _("Indikatoren"),
    "repaired": _("reparierte Geometrien"),
    "locations_created": _("Standorte angelegt"),
    "locations_updated": _("Standorte geändert"),
}
MAX_SHOWN_ERRORS = 1000


def kind_label(kind: str) -> str:
    try:
        return registry.get(kind).label or kind
    except KeyError:
        return kind


class ImportRunListView(ScopedListView):
    model = ImportRun
    filterset_fields = ["kind", "status"]
    template_name = "core/importrun_list.html"
    nav = "imports"

    def scoped_queryset(self, qs):
        return qs.select_related("created_by").defer("errors", "options")

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        fields["kind"].widget = forms.Select(choices=[("", _("alle")), *kind_choices()])
        fields["status"].empty_label = _("alle")
        fields["status"].choices = ImportRun.Status.choices  # rebuilds django-filter's iterator with that label
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for run in context["object_list"]:
            run.kind_label = kind_label(run.kind)
        context["can_add"] = ImportRun.objects.can_add(self.request.user)
        return context


class ImportCreateView(LoginRequiredMixin, FormView):
    """Upload a file for import (planners only)."""

    form_class = ImportForm
    template_name = "core/importrun_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not ImportRun.objects.can_add(request.user):
            raise PermissionDenied(_("Nur die Planung darf Dateien importieren."))
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        initial = super().get_initial()
        if self.request.GET.get("kind") in registry.kinds():
            initial["kind"] = self.request.GET["kind"]
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        run = submit_import(
            user=self.request.user, kind=data["kind"], uploaded_file=data["file"], options=data["options"],
            dry_run=data["dry_run"],
        )
        if run.sending.sent is False:  # the background service (Redis) is unreachable: sent again later
            messages.warning(self.request, _("Die Datei ist gespeichert. Die Verarbeitung startet, sobald der "
                                             "Hintergrunddienst wieder erreichbar ist."))
        return redirect("import-detail", pk=run.pk)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("nav", "imports")
        return super().get_context_data(**kwargs)


class ImportRunDetailView(ScopedDetailView):
    model = ImportRun
    template_name = "core/importrun_detail.html"
    nav = "imports"
    refresh_seconds = 3

    def scoped_queryset(self, qs):
        return qs.select_related("created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.object
        in_progress = run.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING)
        context.update(
            kind_label=kind_label(run.kind),
            options_json=json.dumps(run.options, ensure_ascii=False, sort_keys=True) if run.options else "",
            in_progress=in_progress,
            # An automatic refresh can be switched off (WCAG 2.2.1, timing adjustable).
            auto_refresh=in_progress and self.request.GET.get("aktualisieren") != "aus",
            refresh_seconds=self.refresh_seconds,
            summary_items=[
                (SUMMARY_LABELS.get(k, k), v) for k, v in run.summary.items() if not isinstance(v, (list, dict))
            ],
            summary_lists=[(SUMMARY_LABELS.get(k, k), v) for k, v in run.summary.items() if isinstance(v, list) and v],
            shown_errors=run.errors[:MAX_SHOWN_ERRORS],
            hidden_errors=max(run.error_count - min(len(run.errors), MAX_SHOWN_ERRORS), 0),
        )
        return context


# --- Fields of action (Handlungsfelder) ----------------------------------------------


def _field_choices(user) -> list[tuple[str, str]]:
    """(key, indented name) of every field the user sees, as a tree."""
    rows = FieldOfAction.objects.for_user(user, Action.VIEW).tree_order().values_list("key", "name", "depth")
    return [(key, "\u2003" * depth + name) for key, name, depth in rows]


class FieldOfActionListView(ScopedListView):
    """The taxonomy as an indented tree with legal bases; filtered by the API's
    FilterSet. Three queries: the choices of the "within" filter, the count and
    the rows (tree-ordered, parents joined)."""

    model = FieldOfAction
    filterset_class = FieldOfActionFilterSet
    template_name = "core/fieldofaction_list.html"
    nav = "fields_of_action"
    paginate_by = 500  # a taxonomy is small; pages would cut the tree

    def scoped_queryset(self, qs):
        return qs.select_related("parent").tree_order()

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        for name in ("parent", "depth", "key"):
            fields.pop(name)  # API only; the page offers search, "within" and status
        fields["ancestor"].label = _("innerhalb von")
        fields["ancestor"].help_text = _("Das Handlungsfeld mit allen Unterbereichen.")
        fields["ancestor"].widget = forms.Select(choices=[("", _("alle")), *_field_choices(self.request.user)])
        fields["active"].widget = forms.Select(choices=[("", _("egal")), ("true", _("ja")), ("false", _("nein"))])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        shown = {f.pk for f in context["object_list"]}
        for f in context["object_list"]:
            f.indent_em = f"{f.depth * 1.5:.1f}"
            # a filtered list may leave out the parent: name it then
            f.parent_hidden = f.parent_id is not None and f.parent_id not in shown
        context["can_add"] = FieldOfAction.objects.can_add(self.request.user)
        return context


class FieldOfActionDetailView(ScopedDetailView):
    model = FieldOfAction
    slug_field = "key"
    slug_url_kwarg = "key"
    template_name = "core/fieldofaction_detail.html"
    nav = "fields_of_action"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        field = self.object
        visible = FieldOfAction.objects.for_user(self.request.user, Action.VIEW)
        subtree = list(visible.subtree(field, include_self=False).tree_order())
        for f in subtree:
            f.indent_em = f"{(f.depth - field.depth - 1) * 1.5:.1f}"
        context.update(
            ancestors=list(visible.ancestors(field)),
            subfields=subtree,
            can_change=FieldOfAction.objects.for_user(self.request.user, Action.CHANGE).filter(pk=field.pk).exists(),
            max_depth=FIELD_OF_ACTION_MAX_LEVELS - 1,
            history=history_rows(field),
        )
        return context


class FieldOfActionEditMixin(LoginRequiredMixin):
    model = FieldOfAction
    form_class = FieldOfActionForm
    template_name = "core/fieldofaction_form.html"

    def form_valid(self, form):
        form.instance.stamp(self.request.user)
        response = super().form_valid(form)
        messages.success(self.request, _("Handlungsfeld „%(name)s“ gespeichert.") % {"name": self.object.name})
        return response

    def get_context_data(self, **kwargs):
        kwargs.setdefault("nav", "fields_of_action")
        return super().get_context_data(**kwargs)


class FieldOfActionCreateView(FieldOfActionEditMixin, CreateView):
    """A new field of action (planners without a region limit)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not FieldOfAction.objects.can_add(request.user):
            raise PermissionDenied(_("Nur die Planung ohne Raumbeschränkung darf Handlungsfelder anlegen."))
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        initial = super().get_initial()
        parent = self.request.GET.get("parent")
        if parent:
            initial["parent"] = FieldOfAction.objects.filter(key=parent).values_list("pk", flat=True).first()
        return initial


class FieldOfActionUpdateView(FieldOfActionEditMixin, UpdateView):
    """Change a field of action: 404 if the user cannot see it, 403 if they
    see it but may not change it."""

    slug_field = "key"
    slug_url_kwarg = "key"

    def get_queryset(self):
        return FieldOfAction.objects.for_user(self.request.user, Action.VIEW).select_related("parent")

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        if not FieldOfAction.objects.for_user(self.request.user, Action.CHANGE).filter(pk=obj.pk).exists():
            raise PermissionDenied(_("Nur die Planung ohne Raumbeschränkung darf Handlungsfelder ändern."))
        return obj
