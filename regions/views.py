"""Pages of the regions app: social spaces and indicators (German UI).

Thin views: rows come from ``for_user`` through the core base views, lists
filter with the API's FilterSets, and each page loads what it shows in a
fixed number of queries.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Prefetch, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.views import View

from core.access import Action
from core.views import ScopedDetailView, ScopedListView, history_rows

from .choices import IndexResultStatus
from .filtersets import CompositeIndexFilterSet, IndicatorFilterSet, RegionFilterSet
from .forms import CompositeIndexForm, IndexClassFormSet, IndexComponentFormSet, IndexComputeForm
from .indices import definition_changed, enqueue_compute
from .maps import region_map
from .models import (
    CompositeIndex,
    IndexComponent,
    IndexResult,
    Indicator,
    IndicatorValue,
    Region,
    RegionLevel,
    number_text,
)

MAX_PERIODS = 4


def format_value(value, decimals: int) -> str:
    """A value rounded half-up to the indicator's decimals, in the active
    language's number format (German: 1.234.567,89)."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-int(decimals))
    return floatformat(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), f"{int(decimals)}g")


def format_period(period: str) -> str:
    """'2022' → 2022; '2022-06' → 06/2022; '2022-06-30' → 30.06.2022 (localised)."""
    if len(period) == 10:
        try:
            return date_format(date.fromisoformat(period), "SHORT_DATE_FORMAT")
        except ValueError:
            return period
    if len(period) == 7:
        return f"{period[5:7]}/{period[:4]}"
    return period


def area_km2():
    m2 = Coalesce(F("official_area_m2"), F("area_m2"))
    return ExpressionWrapper(m2 / Value(Decimal(1_000_000)), output_field=DecimalField(max_digits=20, decimal_places=6))


# --- Regions ---------------------------------------------------------------------


class RegionListView(ScopedListView):
    model = Region
    filterset_class = RegionFilterSet
    template_name = "regions/region_list.html"
    nav = "regions"

    def scoped_queryset(self, qs):
        return qs.select_related("level", "parent").defer("boundary", "parent__boundary").annotate(area_km2=area_km2())

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        fields = filterset.form.fields
        levels = RegionLevel.objects.for_user(self.request.user, Action.VIEW).values_list("key", "name")
        fields["level"].widget = forms.Select(choices=[("", _("alle Ebenen")), *levels])
        fields["has_boundary"].widget = forms.Select(
            choices=[("", _("egal")), ("true", _("ja")), ("false", _("nein"))]
        )
        return filterset


class RegionDetailView(ScopedDetailView):
    model = Region
    slug_field = "code"
    slug_url_kwarg = "code"
    template_name = "regions/region_detail.html"
    nav = "regions"

    def scoped_queryset(self, qs):
        return qs.select_related("level", "parent", "lead")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        region = self.object
        visible = Region.objects.for_user(self.request.user, Action.VIEW)
        ancestors = list(visible.ancestors(region).select_related("level").defer("boundary"))
        children = list(
            visible.filter(parent_id=region.pk).select_related("level").defer("boundary").annotate(area_km2=area_km2())
        )
        top = ancestors[0] if ancestors and ancestors[0].depth == 0 else None
        context.update(
            ancestors=ancestors,
            children=children,
            top_region=top,
            area_km2=_area_km2(region),
            map=region_map(region, visible),
            history=history_rows(region),
            **self.indicator_table(region, top),
        )
        return context

    def indicator_table(self, region, top) -> dict:
        user = self.request.user
        values_qs = IndicatorValue.objects.for_user(user, Action.VIEW).filter(
            indicator__in=Indicator.objects.for_user(user, Action.VIEW)
        )
        values = list(
            values_qs.filter(region=region)
            .select_related("indicator")
            .only("period", "value", "is_rollup", "indicator__key", "indicator__name", "indicator__unit",
                  "indicator__decimals")
            .order_by("indicator__name", "indicator__key", "-period")
        )
        periods = sorted({v.period for v in values}, reverse=True)[:MAX_PERIODS]
        by_indicator: dict[int, dict] = {}
        for v in values:
            row = by_indicator.get(v.indicator_id)
            if row is None:
                # values come newest first per indicator: the first one is the newest
                row = by_indicator[v.indicator_id] = {"indicator": v.indicator, "newest": v.period, "cells": {}}
            row["cells"][v.period] = v
        comparison = {}
        if top is not None and by_indicator:
            for v in values_qs.filter(
                region=top, indicator_id__in=list(by_indicator), period__in={r["newest"] for r in by_indicator.values()}
            ).only("indicator_id", "period", "value", "is_rollup"):
                comparison[(v.indicator_id, v.period)] = v
        rows = []
        for ind_id, row in by_indicator.items():
            ind = row["indicator"]
            cells = []
            for p in periods:
                v = row["cells"].get(p)
                cells.append(
                    {"text": format_value(v.value, ind.decimals), "rollup": v.is_rollup} if v is not None else None
                )
            cmp = comparison.get((ind_id, row["newest"]))
            rows.append(
                {
                    "indicator": ind,
                    "cells": cells,
                    "newest": format_period(row["newest"]),
                    "comparison": (
                        {"text": format_value(cmp.value, ind.decimals), "rollup": cmp.is_rollup} if cmp else None
                    ),
                }
            )
        return {
            "periods": [format_period(p) for p in periods],
            "indicator_rows": rows,
            "has_rollups": any(v.is_rollup for v in values),
        }


def _area_km2(region):
    m2 = region.official_area_m2 if region.official_area_m2 is not None else region.area_m2
    return None if m2 is None else Decimal(m2) / Decimal(1_000_000)


# --- Indicators --------------------------------------------------------------------


class IndicatorListView(ScopedListView):
    model = Indicator
    filterset_class = IndicatorFilterSet
    template_name = "regions/indicator_list.html"
    nav = "indicators"

    def scoped_queryset(self, qs):
        return qs.select_related("weight_indicator")


class IndicatorDetailView(ScopedDetailView):
    """The definition, and the values of one level in one period (newest by
    default), chosen with GET parameters ``level`` and ``period``."""

    model = Indicator
    slug_field = "key"
    slug_url_kwarg = "key"
    template_name = "regions/indicator_detail.html"
    nav = "indicators"

    def scoped_queryset(self, qs):
        return qs.select_related("weight_indicator")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        indicator = self.object
        user = self.request.user
        values_qs = IndicatorValue.objects.for_user(user, Action.VIEW).filter(indicator=indicator)
        levels = list(RegionLevel.objects.for_user(user, Action.VIEW))
        pairs = set(values_qs.values_list("region__level__key", "period").distinct())
        level_keys = {lk for lk, _p in pairs}
        levels_with_values = [lv for lv in levels if lv.key in level_keys]
        level = next((lv for lv in levels_with_values if lv.key == self.request.GET.get("level")), None)
        if level is None and levels_with_values:
            # default: the first level below the top that has values (e.g. districts of a city)
            level = levels_with_values[1] if len(levels_with_values) > 1 else levels_with_values[0]
        periods = sorted({p for lk, p in pairs if level is not None and lk == level.key}, reverse=True)
        period = self.request.GET.get("period")
        if period not in periods:
            period = periods[0] if periods else None
        rows = []
        if level is not None and period is not None:
            for v in (
                values_qs.filter(region__level=level, period=period)
                .select_related("region")
                .only("value", "is_rollup", "region__code", "region__name")
                .order_by("region__code")
            ):
                rows.append({"region": v.region, "text": format_value(v.value, indicator.decimals),
                             "rollup": v.is_rollup})
        context.update(
            levels=levels_with_values,
            level=level,
            periods=[(p, format_period(p)) for p in periods],
            period=period,
            period_label=format_period(period) if period else "",
            value_rows=rows,
            has_rollups=any(r["rollup"] for r in rows),
            history=history_rows(indicator),
        )
        return context


# --- Composite indices ---------------------------------------------------------------


class CompositeIndexListView(ScopedListView):
    model = CompositeIndex
    filterset_class = CompositeIndexFilterSet
    template_name = "regions/compositeindex_list.html"
    nav = "indices"

    def scoped_queryset(self, qs):
        return qs.select_related("scope_level", "scope_ancestor", "result_indicator").annotate(
            component_count=Count("components", distinct=True)
        ).order_by("name", "key")  # Meta.ordering is not applied to GROUP BY queries

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        levels = RegionLevel.objects.for_user(self.request.user, Action.VIEW).values_list("key", "name")
        filterset.form.fields["scope_level"].widget = forms.Select(choices=[("", _("alle Ebenen")), *levels])
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = CompositeIndex.objects.can_add(self.request.user)
        return context


class CompositeIndexDetailView(ScopedDetailView):
    """The definition, and the results of one period (newest by default, GET
    ``period``): computed regions with value and class, and separately the
    excluded regions and those with missing values."""

    model = CompositeIndex
    slug_field = "key"
    slug_url_kwarg = "key"
    template_name = "regions/compositeindex_detail.html"
    nav = "indices"

    def scoped_queryset(self, qs):
        return qs.select_related(
            "scope_level", "scope_ancestor", "exclude_indicator", "result_indicator"
        ).prefetch_related(Prefetch("components", queryset=IndexComponent.objects.select_related("indicator")),
                           "classes")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        index = self.object
        user = self.request.user
        results = IndexResult.objects.for_user(user, Action.VIEW).filter(index=index)
        periods = index.result_periods()
        period = self.request.GET.get("period")
        if period not in periods:
            period = periods[0] if periods else None
        ok, excluded, missing = [], [], []
        if period is not None:
            for r in results.filter(period=period).select_related("region").only(
                "status", "value", "class_label", "reason", "missing", "region__code", "region__name"
            ).order_by("region__code"):
                {IndexResultStatus.OK: ok, IndexResultStatus.EXCLUDED: excluded}.get(r.status, missing).append(r)
        classes = list(index.classes.all())
        counts = {}
        for r in ok:
            counts[r.class_label] = counts.get(r.class_label, 0) + 1
        can_change = CompositeIndex.objects.for_user(user, Action.CHANGE).filter(pk=index.pk).exists()
        context.update(
            components=[{"component": c, "weight": number_text(c.weight)} for c in index.components.all()],
            exclude_below_text=number_text(index.exclude_below) if index.exclude_below is not None else "",
            classes=[{"cls": c, "interval": c.interval_text(), "count": counts.get(c.label, 0)} for c in classes],
            unclassed=counts.get("", 0),
            periods=[(p, format_period(p)) for p in periods],
            period=period,
            period_label=format_period(period) if period else "",
            ok_rows=[{"result": r, "text": format_value(r.value, index.result_indicator.decimals)} for r in ok],
            excluded_rows=excluded,
            missing_rows=missing,
            can_change=can_change,
            compute_form=IndexComputeForm(initial={"period": period}) if can_change else None,
            input_periods=index.input_periods() if can_change else [],
            history=history_rows(index),
        )
        return context


class CompositeIndexEditView(LoginRequiredMixin, View):
    """Create (no key in the URL) or edit an index: the index fields and inline
    formsets for components and classes, saved together (planners)."""

    template_name = "regions/compositeindex_form.html"

    def get_index(self, key):
        if key is None:
            if not CompositeIndex.objects.can_add(self.request.user):
                raise PermissionDenied(_("Nur die Planung darf Indizes anlegen."))
            return CompositeIndex()
        index = CompositeIndex.objects.for_user(self.request.user, Action.VIEW).filter(key=key).first()
        if index is None:
            raise Http404
        if not CompositeIndex.objects.for_user(self.request.user, Action.CHANGE).filter(pk=index.pk).exists():
            raise PermissionDenied(_("Nur die Planung darf Indizes ändern."))
        return index

    def render_page(self, index, form, components, classes):
        return render(self.request, self.template_name, {
            "index": index if index.pk else None, "form": form, "components": components, "classes": classes,
            "nav": "indices",
            "error_count": len(form.errors) + sum(len(e) for e in components.errors) + sum(len(e) for e in classes.errors)
            + len(components.non_form_errors()) + len(classes.non_form_errors()),
        })

    def get(self, request, key=None):
        index = self.get_index(key)
        return self.render_page(
            index, CompositeIndexForm(instance=index), IndexComponentFormSet(instance=index, prefix="components"),
            IndexClassFormSet(instance=index, prefix="classes"),
        )

    def post(self, request, key=None):
        index = self.get_index(key)
        creating = index.pk is None
        form = CompositeIndexForm(request.POST, instance=index)
        components = IndexComponentFormSet(request.POST, instance=index, prefix="components")
        classes = IndexClassFormSet(request.POST, instance=index, prefix="classes")
        if not (form.is_valid() and components.is_valid() and classes.is_valid()):
            return self.render_page(index, form, components, classes)
        with transaction.atomic():
            index = form.save(commit=False)
            index.stamp(request.user)
            index.save()
            for formset in (components, classes):
                formset.instance = index
                for obj in formset.save(commit=False):
                    obj.stamp(request.user)
                    obj.save()
                for obj in formset.deleted_objects:
                    obj.delete()
            if not creating:
                definition_changed(index)
        messages.success(request, _("Index „%(name)s“ gespeichert.") % {"name": index.name})
        return redirect("index-detail", key=index.key)


class CompositeIndexComputeView(LoginRequiredMixin, View):
    """POST: enqueue the computation of one period ("Neu berechnen", planners)."""

    def post(self, request, key):
        index = CompositeIndex.objects.for_user(request.user, Action.VIEW).filter(key=key).first()
        if index is None:
            raise Http404
        if not CompositeIndex.objects.for_user(request.user, Action.CHANGE).filter(pk=index.pk).exists():
            raise PermissionDenied(_("Nur die Planung darf Indizes berechnen."))
        form = IndexComputeForm(request.POST)
        if not form.is_valid():
            for error in form.errors.get("period", []):
                messages.error(request, error)
            return redirect("index-detail", key=index.key)
        period = form.cleaned_data["period"]
        enqueue_compute(index.pk, [period])
        messages.success(request, _("Berechnung für den Zeitraum %(period)s gestartet.") % {
            "period": format_period(period)
        })
        return redirect(f"{reverse('index-detail', kwargs={'key': index.key})}?period={period}")
