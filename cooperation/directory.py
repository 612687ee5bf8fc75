"""The service directory (Angebotsfinder): the search page, the public page of
one offering and the tool "In welchem Sozialraum liegt …?".

Server-rendered, usable without JavaScript, no third-party requests (no map
tiles, no geocoder). What a visitor sees comes only from
``Service.objects.directory_for(user)``; the search is the API's
``ServiceFilterSet`` as it is, the page only gives its form fields friendlier
widgets (selects of the catalogues, checkboxes).

Catalogues read directly (not through ``for_user``): the region tree, the region
levels and the fields of action. They are public reference data (official names
of social spaces and the city's field taxonomy) that the public directory
needs to offer its filters; nothing in them depends on the visitor.
"""

import hashlib
import math
import re
from dataclasses import dataclass, field
from html import escape as html_escape

import numpy as np
from django import forms
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.db.models import CharField, Count, Exists, Max, OuterRef, Prefetch, Subquery
from django.db.models.functions import Cast
from django.forms.utils import flatatt
from django.http import QueryDict
from django.template.defaultfilters import floatformat
from django.urls import NoReverseMatch, reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView, ListView, TemplateView
from rest_framework.exceptions import ValidationError as ApiValidationError

from core.access import Action
from core.models import FieldOfAction
from regions.maps import (
    CACHE_SECONDS,
    CHILD,
    CONTEXT,
    CURRENT,
    LIGHT_FIELDS,
    WIDTH,
    MapRegion,
    Projection,
    path_data,
    regions_for_map,
)
from regions.models import Region, RegionLevel

from . import access
from .choices import Accessibility, AccessMode, Language, LegalBasis, ServiceStatus
from .filtersets import ServiceFilterSet, parse_point
from .models import Location, Organization, Service, TargetGroup

PAGE_SIZE = 20
INDENT = "\u00a0\u00a0\u00a0"  # no-break spaces: a select keeps them
MAX_ADDRESS_POINTS = 5
MAX_STREET_HINTS = 10


# --- Access ------------------------------------------------------------------------


def is_staff(user) -> bool:
    """Staff with a role (planner, region lead, viewer) or a superuser: they see
    offerings in every status and may filter by status."""
    return user.is_authenticated and (user.is_superuser or access.is_staff_reader(user))


class DirectoryAccessMixin:
    """Anonymous visitors only when the directory is public (``DIRECTORY_PUBLIC``);
    otherwise to the login page. What anyone sees is ``directory_for(user)``."""

    nav = "directory"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated and not settings.DIRECTORY_PUBLIC:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def visible_services(self):
        return Service.objects.directory_for(self.request.user)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("nav", self.nav)
        return super().get_context_data(**kwargs)


# --- The search form ---------------------------------------------------------------


class FlagCheckbox(forms.CheckboxInput):
    """A checkbox for a yes/no filter: ticked sends ``true``; unticked means
    "no filter" (None), not "no" — the FilterSet reads False as "without"."""

    def __init__(self, attrs=None):
        super().__init__(attrs, check_test=lambda v: str(v).lower() in ("true", "1", "on"))

    def format_value(self, value):
        return "true"

    def value_from_datadict(self, data, files, name):
        return data.get(name) if name in data else None


def _html(value) -> str:
    """``conditional_escape(value)`` as text: safe strings as they are,
    everything else escaped (the same characters as Django's ``escape``)."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html_escape(str(value))


def render_options(choices) -> str:
    """The ``<option>``s (and ``<optgroup>``s) of ``choices``, none selected:
    the same HTML as ``format_html`` per option gave, built with plain string
    operations (the region select of a large city has over 10,000 options)."""
    parts = []
    for key, label in choices:
        if isinstance(label, (list, tuple)):
            inner = "".join([f'<option value="{_html(v)}">{_html(lab)}</option>' for v, lab in label])
            parts.append(f'<optgroup label="{_html(key)}">{inner}</optgroup>')
        else:
            parts.append(f'<option value="{_html(key)}">{_html(label)}</option>')
    return "".join(parts)


def mark_selected(options: str, selected) -> str:
    """``options`` (from :func:`render_options`) with the first option whose
    value is one of ``selected`` marked ``selected``."""
    first = end = -1
    for value in selected:
        tag = f'<option value="{_html(value)}"'
        pos = options.find(tag + ">")
        if pos >= 0 and (first < 0 or pos < first):
            first, end = pos, pos + len(tag)
    if first < 0:
        return options
    return options[:end] + " selected" + options[end:]


class FastSelect(forms.Select):
    """A select rendered in Python rather than with a template per option: the
    region select of a city like Berlin has some 750 options (the benchmark
    city 11,000). Its options come from ``choices`` or, already rendered (e.g.
    from the cache, without normalising a long list of choices first), from
    ``rendered_options``."""

    rendered_options: str | None = None

    def render(self, name, value, attrs=None, renderer=None):
        selected = {str(v) for v in self.format_value(value)}
        options = self.rendered_options if self.rendered_options is not None else render_options(self.choices)
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)),
                           mark_safe(mark_selected(options, selected)))


def field_choices():
    """The active fields of action in tree order, sub-fields indented."""
    rows = FieldOfAction.objects.filter(active=True).tree_order().values_list("key", "name", "depth")
    return [("", gettext("alle Handlungsfelder"))] + [
        (key, INDENT * depth + ("– " if depth else "") + name) for key, name, depth in rows
    ]


def target_group_choices(user):
    """Target groups, parents before their sub-groups (indented)."""
    groups = list(TargetGroup.objects.for_user(user, Action.VIEW).values_list("pk", "key", "name", "parent_id"))
    children: dict = {}
    for pk, key, name, parent_id in groups:
        children.setdefault(parent_id, []).append((pk, key, name))
    known = {pk for pk, *_rest in groups}
    out = [("", gettext("alle Zielgruppen"))]

    def walk(parent_id, depth):
        for pk, key, name in children.get(parent_id, []):
            out.append((key, INDENT * depth + ("– " if depth else "") + name))
            walk(pk, depth + 1)

    walk(None, 0)
    # groups whose parent is not visible: at the top
    for parent_id in children:
        if parent_id is not None and parent_id not in known:
            walk(parent_id, 0)
    return out


def region_choices():
    """Every region, grouped by level (one optgroup per level, e.g. 12 Bezirke,
    58 Prognoseräume, 143 Bezirksregionen, 542 Planungsräume), sorted by name;
    below the second level the label names the region at the first level below
    the top (e.g. the Bezirk), so equal names stay distinguishable. Also the
    labels by code and the :func:`regions_version` of what was read."""
    rows = list(
        Region.objects.order_by("level__rank", "name", "code").values_list(
            "pk", "code", "name", "path", "depth", "level__rank", "level__name", "level__name_plural",
            "updated_at", "level_id", "level__updated_at",
        )
    )
    names = {pk: name for pk, _c, name, *_rest in rows}
    groups: dict = {}
    labels: dict = {}
    for _pk, code, name, path, depth, rank, level_name, level_plural, *_changes in rows:
        label = f"{name} ({code})"
        if depth >= 2:
            first = path.strip("/").split("/")[1]
            if first.isdigit() and int(first) in names:
                label = f"{label} – {names[int(first)]}"
        groups.setdefault(rank, (level_plural or level_name, []))[1].append((code, label))
        labels[code] = label
    version = _regions_version(
        len(rows), max((r[8] for r in rows), default=None), len({r[9] for r in rows}),
        max((r[10] for r in rows), default=None),
    )
    return [("", gettext("alle Sozialräume"))] + list(groups.values()), labels, version


def _regions_version(*values) -> str:
    return _digest("|".join("" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
                            for v in values))


def regions_version() -> str:
    """Changes whenever the region select can change: the number and the last
    change of the regions and of the levels they use (renames, moves, imports
    and level renames stamp ``updated_at``; deletions change the number)."""
    row = Region.objects.aggregate(
        regions=Count("pk"), last=Max("updated_at"), levels=Count("level", distinct=True),
        levels_last=Max("level__updated_at"),
    )
    return _regions_version(row["regions"], row["last"], row["levels"], row["levels_last"])


REGION_CACHE_SECONDS = CACHE_SECONDS


def region_options() -> tuple[str, str]:
    """The rendered options of the region select and the cache key of their
    labels (:class:`RegionLabels`). Reading and rendering some 11,000 regions
    took longer than the rest of the page, so they are cached with their
    :func:`regions_version` (per language: the empty choice's label). One query
    either way: the version when cached, the regions (and from them the
    version) when not; a stale entry costs both."""
    key = f"directory-regions:{get_language() or ''}"
    cached = cache.get(key)
    if cached is not None:
        version, options = cached
        if version == regions_version():
            return options, f"{key}:{version}:labels"
    choices, labels, version = region_choices()
    options = render_options(choices)
    cache.set_many({key: (version, options), f"{key}:{version}:labels": labels}, REGION_CACHE_SECONDS)
    return options, f"{key}:{version}:labels"


class RegionLabels:
    """The labels of the regions by code, as :func:`region_choices` gives
    them, read from the cache only when needed (a region filter is in use)."""

    def __init__(self, key: str):
        self.key, self.labels = key, None

    def get(self, code, default=None):
        if self.labels is None:
            self.labels = cache.get(self.key)
            if self.labels is None:  # evicted: read again
                self.labels = region_choices()[1]
        return self.labels.get(code, default)


def organization_choices(visible):
    """Organisations with at least one offering in the directory."""
    orgs = Organization.objects.filter(
        Exists(visible.filter(organization_id=OuterRef("pk")))
    ).order_by("name", "pk").values_list(Cast("uuid", CharField()), "name")  # the uuid as text, as str() gives it
    return [("", gettext("alle Träger"))] + list(orgs)


# (widget, label, help text) per filter of ServiceFilterSet, for the page
FORM_FIELDS = {
    "q": (
        lambda: forms.TextInput(attrs={"type": "search"}),
        _("Suchbegriff"),
        _("Sucht in Name, Stichworten und Beschreibung der Angebote (auch gebeugte Formen: „Beratungen“ findet "
          "„Beratung“) und im Namen des Trägers. Mehrere Wörter müssen alle vorkommen; „or“ zwischen zwei Wörtern "
          "sucht eines davon, ein Minus davor schließt ein Wort aus."),
    ),
    "field": (FastSelect, _("Handlungsfeld"), _("schließt die Unterbereiche ein")),
    "target_group": (FastSelect, _("Zielgruppe"), _("schließt die Untergruppen ein")),
    "age": (
        lambda: forms.NumberInput(attrs={"min": 0, "max": 120, "step": 1, "inputmode": "numeric"}),
        _("Alter (Jahre)"),
        _("Angebote, deren Altersgrenzen dieses Alter einschließen"),
    ),
    "setting": (forms.CheckboxSelectMultiple, _("Form der Hilfe (Setting)"), ""),
    "work_mode": (forms.CheckboxSelectMultiple, _("Arbeitsweise"), ""),
    "status": (forms.CheckboxSelectMultiple, _("Status"), _("ohne Auswahl: jeder Status")),
    "region": (
        FastSelect,
        _("Sozialraum"),
        _("Angebote, die dort, in einem Teilraum, in einem übergeordneten Raum oder stadtweit tätig sind, "
          "und Angebote mit einem Standort darin"),
    ),
    "point": (
        lambda: forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        _("im Sozialraum des Punkts"),
        _("Breitengrad,Längengrad (WGS84), z. B. 52.52,13.40 – wie „Sozialraum“ für den Raum, in dem der Punkt liegt"),
    ),
    "near": (
        lambda: forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        _("in der Nähe von"),
        _("Breitengrad,Längengrad (WGS84), z. B. 52.52,13.40; Angebote mit einem Standort im Umkreis"),
    ),
    "radius": (
        lambda: forms.NumberInput(attrs={"min": "0.1", "max": "200", "step": "0.1", "inputmode": "decimal"}),
        _("Umkreis (km)"),
        _("nur mit „in der Nähe von“; ohne Angabe 2 km"),
    ),
    "free_places": (FlagCheckbox, _("nur Angebote mit freien Plätzen"), ""),
    "organization": (FastSelect, _("Träger / Organisation"), ""),
    "modified_after": (lambda: forms.DateInput(attrs={"type": "date"}), _("geändert nach dem"), ""),
}

# the form's groups (fieldset legends) and their fields; "more" is folded away
FIELD_GROUPS = [
    ("topic", _("Thema und Zielgruppe"), ["field", "target_group", "age"]),
    ("kind", _("Art der Hilfe"), ["setting", "work_mode", "free_places"]),
    ("place", _("Ort"), ["region", "near", "radius"]),
    ("more", _("Weitere Filter"), ["point", "organization", "modified_after", "status"]),
]


def build_filterset(request, queryset, *, staff: bool):
    """``ServiceFilterSet`` bound to the query string, with the page's widgets.
    The status filter is offered to staff only (others see active offerings
    anyway, provider staff also their own)."""
    filterset = ServiceFilterSet(request.GET or None, queryset=queryset, request=request)
    if not staff:
        filterset.filters.pop("status", None)
    form = filterset.form
    for name, (widget, label, help_text) in FORM_FIELDS.items():
        if name not in form.fields:
            continue
        form_field = form.fields[name]
        form_field.widget = widget()
        form_field.label = label
        form_field.help_text = help_text
    for name in ("setting", "work_mode", "status"):
        if name in form.fields:  # a replaced widget does not know the field's choices yet
            form.fields[name].widget.choices = form.fields[name].choices
    return filterset


def apply_filterset(filterset):
    """Filter with the FilterSet. A malformed point makes the FilterSet raise a
    DRF ``ValidationError`` while filtering: it becomes an error of that form
    field (the next filter run then reports the next malformed point). Any
    error: no results — a silently ignored filter would mislead."""
    if not filterset.is_bound:
        return filterset.qs
    form = filterset.form
    filterset.is_valid()
    queryset = None
    for _attempt in range(len(filterset.filters) + 1):
        try:
            queryset = filterset.filter_queryset(filterset.queryset.all())
            break
        except ApiValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {None: exc.detail}
            stop = False
            for name, messages in detail.items():
                if name not in form.fields:
                    name, stop = None, True
                for message in messages if isinstance(messages, list) else [messages]:
                    form.add_error(name, str(message))
            if stop:
                break
    if form.errors or queryset is None:
        return filterset.queryset.none()
    return queryset


def clean_query(querydict, drop=("page",)) -> QueryDict:
    """The query string without empty values and the keys in ``drop``."""
    out = QueryDict(mutable=True)
    for key, values in querydict.lists():
        if key in drop:
            continue
        values = [v for v in values if v.strip()]
        if values:
            out.setlist(key, values)
    return out


@dataclass
class ActiveFilter:
    label: str
    value: str
    remove_query: str


def active_filters(form, query: QueryDict, labels: dict) -> list[ActiveFilter]:
    """The filters in use (valid ones), each with the query string without it."""
    data = getattr(form, "cleaned_data", {})
    out = []

    def without(key, value=None, also=()):
        q = query.copy()
        if value is None:
            q.pop(key, None)
        else:
            q.setlist(key, [v for v in q.getlist(key) if v != value])
        for other in also:
            q.pop(other, None)
        return q.urlencode()

    for name, bound in ((n, form[n]) for n in form.fields):
        if name not in query or name not in data or name == "radius":
            continue
        value = data[name]
        if value in (None, "", []):
            continue
        title = str(bound.label)
        if name in ("setting", "work_mode", "status"):
            choices = dict(form.fields[name].choices)
            for v in value:
                out.append(ActiveFilter(title, str(choices.get(v, v)), without(name, v)))
            continue
        if name in ("field", "target_group", "region", "organization"):
            choices = labels.get(name, {})
            text = str(value).strip()
            display = choices.get(text, text)
            out.append(ActiveFilter(title, display.replace(INDENT, "").lstrip("– "), without(name)))
            continue
        if name == "free_places":
            out.append(ActiveFilter(gettext("Freie Plätze"), gettext("mit freien Plätzen") if value
                                    else gettext("ohne freie Plätze"), without(name)))
            continue
        if name == "near":
            radius = data.get("radius") or ServiceFilterSet.DEFAULT_RADIUS_KM
            text = gettext("%(point)s, Umkreis %(radius)s km") % {"point": value.strip(), "radius": floatformat(radius, -1)}
            out.append(ActiveFilter(title, text, without(name, also=("radius",))))
            continue
        if name == "age":
            text = ngettext("%(age)s Jahr", "%(age)s Jahre", int(value)) % {"age": int(value)}
            out.append(ActiveFilter(title, text, without(name)))
            continue
        if name == "modified_after":
            out.append(ActiveFilter(title, formats.date_format(value, "SHORT_DATE_FORMAT"), without(name)))
            continue
        out.append(ActiveFilter(title, f"„{str(value).strip()}“" if name == "q" else str(value).strip(),
                                without(name)))
    return out


# --- Result details -----------------------------------------------------------------


def age_text(service) -> str:
    low, high = service.age_min, service.age_max
    if low is None and high is None:
        return gettext("ohne Altersgrenze")
    if low is None:
        return gettext("bis %(high)s Jahre") % {"high": high}
    if high is None:
        return gettext("ab %(low)s Jahren") % {"low": low}
    return gettext("%(low)s–%(high)s Jahre") % {"low": low, "high": high}


def choice_labels(values, choices) -> str:
    """The labels of a list of choice keys (an ArrayField), in the stored order."""
    labels = dict(choices.choices)
    return ", ".join(str(labels.get(v, v)) for v in values or [])


def service_prefetches():
    """Everything a result shows, in one query per relation however many results."""
    return [
        Prefetch("fields", queryset=FieldOfAction.objects.only("pk", "key", "name", "path").order_by("path")),
        Prefetch("target_groups", queryset=TargetGroup.objects.only("pk", "key", "name", "order")),
        Prefetch("regions", queryset=Region.objects.only("pk", "code", "name", "path").order_by("path")),
        Prefetch(
            "locations",
            queryset=Location.objects.select_related("region").only(
                "pk", "name", "street", "postal_code", "city", "latitude", "longitude", "organization_id",
                "region__id", "region__code", "region__name",
            ).order_by("name", "street", "pk"),
        ),
    ]


# --- The map of the results ------------------------------------------------------------


@dataclass
class DirectoryMap:
    svg: str
    points_shown: int = 0
    points_outside: int = 0
    without_point: int = 0
    roles: set = field(default_factory=set)
    region_name: str = ""


def location_label(location) -> str:
    """"Familienzentrum, Am Markt 3, 12043 Berlin" (the name only if there is one)."""
    place = f"{location.postal_code} {location.city}".strip()
    return ", ".join(part for part in (location.name, location.street, place) if part)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def background_regions(region) -> list[MapRegion]:
    """The outlines behind the points: the chosen region with its sub-regions (or
    its neighbours, or the region above it: ``regions_for_map``); without a
    chosen region the city's top level with boundaries (e.g. the Bezirke)."""
    everything = Region.objects.all()
    if region is not None:
        return regions_for_map(region, everything)
    with_boundary = everything.exclude(boundary=None)
    depth = with_boundary.order_by("depth").values("depth")[:1]
    return [
        MapRegion(
            pk=row["pk"], code=row["code"], name=row["name"], role=CHILD, area_m2=row["area_m2"],
            centroid_lon=row["centroid_lon"], centroid_lat=row["centroid_lat"],
            bbox=(row["bbox_min_lon"], row["bbox_min_lat"], row["bbox_max_lon"], row["bbox_max_lat"]),
            updated_at=row["updated_at"],
        )
        for row in with_boundary.filter(depth=Subquery(depth)).order_by("code").values(*LIGHT_FIELDS)
        if row["bbox_min_lon"] is not None
    ]


def _background(regions: list[MapRegion]):
    """(bounds, height, [(role, label, path data)]) — cached by the regions' last
    change, so boundaries are loaded only when one changed."""
    key = "directory-map:" + _digest(
        "|".join([get_language() or ""] + [
            f"{r.pk}:{r.role}:{r.updated_at.isoformat() if r.updated_at else ''}" for r in regions
        ])
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    boxes = [r.bbox for r in regions if r.bbox is not None]
    if not boxes:
        return None
    bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    projection = Projection(bounds)
    boundaries = dict(Region.objects.filter(pk__in=[r.pk for r in regions]).values_list("pk", "boundary"))
    order = {CONTEXT: 0, CHILD: 1, CURRENT: 2}
    paths = []
    for r in sorted(regions, key=lambda r: (order.get(r.role, 0), r.code)):
        if boundaries.get(r.pk):
            d = path_data(boundaries[r.pk], projection)
            if d:
                paths.append((r.role, f"{r.name} ({r.code})", d))
    cached = (bounds, projection.height, paths)
    cache.set(key, cached, CACHE_SECONDS)
    return cached


def directory_map(region, services, centre=None) -> DirectoryMap | None:
    """Inline SVG: region outlines and the locations of ``services`` (the current
    page) as circles, numbered like the result list; ``centre`` (lat, lon) of a
    proximity search as a square. Points outside the outlines' frame are not
    drawn but counted. None when no region has a boundary."""
    regions = background_regions(region)
    background = _background(regions) if regions else None
    if background is None:
        return None
    bounds, height, paths = background
    min_lon, min_lat, max_lon, max_lat = bounds
    projection = Projection(bounds)

    def inside(lat, lon):
        return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat

    def xy(lat, lon):
        x, y = projection(np.array([[lon, lat]], dtype=float))[0]
        return round(float(x), 1), round(float(y), 1)

    grouped: dict = {}
    result = DirectoryMap(svg="", roles={role for role, _l, _d in paths},
                          region_name=region.name if region is not None else "")
    for service in services:
        located = [loc for loc in service.locations.all() if loc.latitude is not None and loc.longitude is not None]
        if not located:
            result.without_point += 1
        for loc in located:
            lat, lon = float(loc.latitude), float(loc.longitude)
            if not inside(lat, lon):
                result.points_outside += 1
                continue
            grouped.setdefault((lat, lon), []).append(
                f"{service.list_number}. {service.name} – {location_label(loc)}"
            )
    result.points_shown = sum(len(v) for v in grouped.values())

    title_id, desc_id = "ergebniskarte-titel", "ergebniskarte-beschreibung"
    title = gettext("Karte: Standorte der Angebote auf dieser Seite")
    description = gettext(
        "Umrisse der Sozialräume mit den Standorten der Angebote dieser Seite als Kreise. "
        "Die Ergebnisliste enthält dieselben Angebote mit ihren Adressen."
    )
    out = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="map directory-map" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="{}" aria-describedby="{}" preserveAspectRatio="xMidYMid meet">',
            WIDTH, height, title_id, desc_id,
        ),
        format_html('<title id="{}">{}</title><desc id="{}">{}</desc>', title_id, title, desc_id, description),
    ]
    has_children = any(role == CHILD for role, _l, _d in paths)
    for role, label, d in paths:
        modifier = " directory-map__region--outline" if role == CURRENT and has_children else ""
        out.append(format_html(
            '<g class="map-region map-{}{}"><title>{}</title>'
            '<path d="{}" fill-rule="evenodd" vector-effect="non-scaling-stroke"/></g>',
            role, modifier, label, mark_safe(d),
        ))
    if centre is not None and inside(*centre):
        x, y = xy(*centre)
        out.append(format_html(
            '<rect class="directory-map__centre" x="{}" y="{}" width="14" height="14"><title>{}</title></rect>',
            round(x - 7, 1), round(y - 7, 1), gettext("Suchpunkt („in der Nähe von“)"),
        ))
    out.append(format_html_join(
        "", '<circle class="directory-map__point" cx="{}" cy="{}" r="7"><title>{}</title></circle>',
        ((*xy(lat, lon), "; ".join(labels)) for (lat, lon), labels in grouped.items()),
    ))
    out.append("</svg>")
    result.svg = mark_safe("".join(str(part) for part in out))
    return result


# --- Views --------------------------------------------------------------------------------


class DirectoryView(DirectoryAccessMixin, ListView):
    """``/angebotsfinder/``: the search form and the results (20 per page), sorted
    by relevance for a search term, by distance for "in der Nähe von", else by
    name; a map of the page's locations with the list as its alternative."""

    template_name = "cooperation/directory.html"
    paginate_by = PAGE_SIZE
    context_object_name = "services"

    def get_queryset(self):
        user = self.request.user
        self.staff = is_staff(user)
        self.visible = self.visible_services()
        base = self.visible.select_related("organization").defer("search").prefetch_related(*service_prefetches())
        self.filterset = build_filterset(self.request, base, staff=self.staff)
        return apply_filterset(self.filterset)

    def paginate_queryset(self, queryset, page_size):
        """Sorts only the ids of the matching offerings to find the page (a
        subquery), then reads the page's offerings with everything they show —
        instead of sorting every matching offering with all its columns to keep
        20. Still one query (and one per relation)."""
        paginator, page, ids, is_paginated = super().paginate_queryset(queryset.values("pk"), page_size)
        services = list(queryset.filter(pk__in=ids))  # the filters' order and annotations (distance) again
        page.object_list = services
        return paginator, page, services, is_paginated

    def choices(self):
        form = self.filterset.form
        fields = field_choices()
        groups = target_group_choices(self.request.user)
        regions, region_labels_key = region_options()
        orgs = organization_choices(self.visible)
        form.fields["field"].widget.choices = fields
        form.fields["target_group"].widget.choices = groups
        form.fields["region"].widget.rendered_options = regions
        form.fields["organization"].widget.rendered_options = render_options(orgs)
        return {
            "field": dict(fields), "target_group": dict(groups), "region": RegionLabels(region_labels_key),
            "organization": dict(orgs),
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = self.filterset.form
        labels = self.choices()
        query = clean_query(self.request.GET)
        data = getattr(form, "cleaned_data", {}) if self.filterset.is_bound else {}
        ok = not form.errors
        near = data.get("near", "").strip() if ok else ""
        if near:
            sort = "distance"
        elif ok and data.get("q", "").strip():
            sort = "relevance"
        else:
            sort = "name"
        page = context["page_obj"]
        services = list(context["services"])
        start = page.start_index() if page is not None else 1
        for number, service in enumerate(services, start=start):
            service.list_number = number
            service.age_text = age_text(service)
            service.distance_text = distance_text(getattr(service, "distance", None))
        groups = []
        for key, legend, names in FIELD_GROUPS:
            bound = [form[name] for name in names if name in form.fields]
            if bound:
                groups.append({
                    "key": key, "legend": legend, "fields": bound,
                    "open": any(b.errors or b.name in query for b in bound),
                })
        context.update(
            form=form,
            groups=groups,
            errors=[(form[name] if name in form.fields else None, error)
                    for name, errs in form.errors.items() for error in errs],
            active=active_filters(form, query, labels) if ok else [],
            sort=sort,
            services=services,
            page_query=query.urlencode(),
            search_query=clean_query(self.request.GET, drop=()).urlencode(),
            staff=self.staff,
            map=self.result_map(data if ok else {}, services, near),
        )
        return context

    def result_map(self, data, services, near):
        region = None
        code = (data.get("region") or "").strip()
        if code:
            region = Region.objects.filter(code=code).first()
        centre = None
        if near:
            try:
                centre = parse_point(near, "near")
            except ApiValidationError:
                centre = None
        return directory_map(region, services, centre)


class DirectoryServiceView(DirectoryAccessMixin, DetailView):
    """``/angebotsfinder/angebot/<uuid>/``: what the directory shows of one
    offering. 404 unless ``directory_for`` lists it for the visitor."""

    template_name = "cooperation/directory_service.html"
    context_object_name = "service"
    slug_field = "uuid"
    slug_url_kwarg = "uuid"

    def get_queryset(self):
        return self.visible_services().select_related("organization").defer("search").prefetch_related(
            *service_prefetches()
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        service = self.object
        user = self.request.user
        back = QueryDict(self.request.GET.get("suche", ""))
        back_query = clean_query(back, drop=()).urlencode()  # the search and its page
        manage_url = None
        if user.is_authenticated and Service.objects.for_user(user, Action.VIEW).filter(pk=service.pk).exists():
            try:
                manage_url = reverse("service-detail", kwargs={"uuid": service.uuid})
            except NoReverseMatch:
                manage_url = None
        for loc in service.locations.all():
            if loc.latitude is not None and loc.longitude is not None:
                loc.point = f"{float(loc.latitude):.6f},{float(loc.longitude):.6f}"
        context.update(
            age_text=age_text(service),
            back_url=reverse("directory") + (f"?{back_query}" if back_query else ""),
            has_search=bool(back_query),
            manage_url=manage_url,
            inactive=service.status != ServiceStatus.ACTIVE,
            lists=[
                (gettext("Zugang"), choice_labels(service.access_modes, AccessMode)),
                (gettext("Sprachen"), choice_labels(service.languages, Language)),
                (gettext("Barrierefreiheit"), choice_labels(service.accessibility, Accessibility)),
                (gettext("Rechtsgrundlagen"), choice_labels(service.legal_bases, LegalBasis)),
            ],
        )
        return context


# --- "In welchem Sozialraum liegt …?" --------------------------------------------------------


class CoordinateField(forms.FloatField):
    """A decimal degree; a decimal comma is accepted (52,52)."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace("°", "")
            if value.count(",") == 1 and "." not in value:
                value = value.replace(",", ".")
        return super().to_python(value)


class CoordinatesForm(forms.Form):
    lat = CoordinateField(label=_("Breitengrad"), min_value=-90, max_value=90,
                          help_text=_("in Grad (WGS84), z. B. 52.520008"))
    lon = CoordinateField(label=_("Längengrad"), min_value=-180, max_value=180,
                          help_text=_("in Grad (WGS84), z. B. 13.404954"))


class AddressForm(forms.Form):
    street = forms.CharField(label=_("Straße und Hausnummer"), max_length=200, help_text=_("z. B. Musterstr. 12"))
    postal_code = forms.RegexField(
        label=_("PLZ"), regex=r"^\s*\d{4,5}\s*$", max_length=7,
        error_messages={"invalid": _("Postleitzahl mit 4 oder 5 Ziffern.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )

    def clean_postal_code(self):
        return self.cleaned_data["postal_code"].strip()


_STREET_WORD = re.compile(r"strasse\b|str\.")
_HOUSE_NUMBER = re.compile(r"\s*\d+\s*[a-z]?(\s*[-–/]\s*\d*\s*[a-z]?)?\s*$")


def normalise_street(text: str, *, number: bool = True) -> str:
    """A comparable form of "street and number": case-insensitive, "ß" = "ss",
    "Straße"/"Strasse"/"Str." alike, spaces, hyphens and dots ignored
    ("Karl-Marx-Straße 5a" = "karl marx str. 5 A"). ``number=False`` drops a
    trailing house number (for "same street" hints)."""
    text = text.casefold().strip()
    text = _STREET_WORD.sub("str", text)
    if not number:
        text = _HOUSE_NUMBER.sub("", text)
    return re.sub(r"[\W_]+", "", text)


@dataclass
class RegionChain:
    lat: float
    lon: float
    regions: list  # from the top to the deepest region with a boundary
    deeper_levels: list  # level names below it without boundaries there

    @property
    def point(self) -> str:
        return f"{self.lat:.6f},{self.lon:.6f}"

    @property
    def deepest(self):
        return self.regions[-1] if self.regions else None


def region_chain(lat: float, lon: float, levels) -> RegionChain:
    """The regions containing the point: the deepest one with a boundary and
    every region above it (also those without a boundary)."""
    deepest = Region.objects.containing_point(lon, lat).defer("boundary").first()
    if deepest is None:
        return RegionChain(lat, lon, [], [])
    chain = list(Region.objects.ancestors(deepest, include_self=True).select_related("level").defer("boundary"))
    rank = chain[-1].level.rank
    return RegionChain(lat, lon, chain, [lv.name for lv in levels if lv.rank > rank])


class DirectoryLocateView(DirectoryAccessMixin, TemplateView):
    """``/angebotsfinder/sozialraum-finden/``: which social space a point lies in
    — by coordinates, or by an address already known from the locations of
    offerings in the directory (no geocoder: nothing leaves the server)."""

    template_name = "cooperation/directory_locate.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        coords = CoordinatesForm(params if ("lat" in params or "lon" in params) else None, auto_id="koord_%s")
        address = AddressForm(params if ("street" in params or "postal_code" in params) else None,
                              auto_id="adresse_%s")
        levels = list(RegionLevel.objects.order_by("rank"))
        context.update(coords_form=coords, address_form=address, levels=levels)
        if coords.is_bound and coords.is_valid():
            context["coords_result"] = region_chain(coords.cleaned_data["lat"], coords.cleaned_data["lon"], levels)
        if address.is_bound and address.is_valid():
            context.update(self.lookup_address(address.cleaned_data["street"], address.cleaned_data["postal_code"],
                                               levels))
        context["default_radius"] = floatformat(ServiceFilterSet.DEFAULT_RADIUS_KM, -1)
        return context

    def known_locations(self, postal_code):
        """Locations with coordinates of offerings the visitor may see in the
        directory, in that postal code."""
        through = Service.locations.through.objects.filter(
            location_id=OuterRef("pk"), service__in=self.visible_services()
        )
        return Location.objects.filter(
            Exists(through), postal_code=postal_code, latitude__isnull=False, longitude__isnull=False,
        ).select_related("region").only(
            "pk", "name", "street", "postal_code", "city", "latitude", "longitude", "organization_id",
            "region__id", "region__code", "region__name",
        ).order_by("street", "pk")

    def lookup_address(self, street, postal_code, levels) -> dict:
        wanted, wanted_street = normalise_street(street), normalise_street(street, number=False)
        exact, same_street = [], []
        for loc in self.known_locations(postal_code):
            if normalise_street(loc.street) == wanted:
                exact.append(loc)
            elif wanted_street and normalise_street(loc.street, number=False) == wanted_street:
                same_street.append(loc)
        points: dict = {}
        for loc in exact:
            points.setdefault((float(loc.latitude), float(loc.longitude)), loc)
        results = [
            {"location": loc, "chain": region_chain(lat, lon, levels)}
            for (lat, lon), loc in list(points.items())[:MAX_ADDRESS_POINTS]
        ]
        hints: dict = {}
        for loc in same_street:
            hints.setdefault(normalise_street(loc.street), loc)
        return {
            "address_results": results,
            "address_hints": list(hints.values())[:MAX_STREET_HINTS],
            "address_searched": True,
        }


def distance_text(km) -> str:
    """1,2 km (one decimal; metres below 1 km)."""
    if km is None or (isinstance(km, float) and math.isnan(km)):
        return ""
    if km < 1:
        return gettext("%(m)s m") % {"m": formats.number_format(int(round(km * 1000, -1)), force_grouping=True)}
    return gettext("%(km)s km") % {"km": formats.number_format(round(km, 1), 1)}
