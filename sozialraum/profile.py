"""The region profile (like Berlin's Bezirksregionenprofile): one printable page
per social space — indicators against the city and their trend, index classes,
offerings by field with a map of their locations, networks and agreements
active there, the budget allocation with its parts and spending, outcome goals
and reported needs. Every table is downloadable (``?export=``); the map of
locations and the trend lines are drawn by static/js/dashboard.js from
``/api/v1/``. At most 20 queries."""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Exists, OuterRef, Q, Sum, Value
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from budgets.choices import Part
from budgets.models import Allocation, Budget, Expenditure
from cooperation.choices import AgreementKind, AgreementStatus, NetworkKind, ServiceStatus
from cooperation.filtersets import touches
from cooperation.models import Agreement, Location, Network, Service
from cooperation.region_views import goal_rows, need_report_rows
from core.access import Action
from core.models import FieldOfAction
from core.tables import DECIMAL, INT, MONEY, PERCENT, Cell, Column, DataTable, tables_response
from regions.models import IndexResult, IndicatorValue, Region
from regions.views import format_period, format_value

from . import dashboard

MAX_LOCATIONS = 300
SHOWN_AGREEMENTS = (AgreementStatus.NEGOTIATION, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)


def difference(value: Decimal, decimals: int, unit: str) -> str:
    """+3,37 Pp. (percentage points for a percentage), −0,50 Personen."""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    unit = _("Pp.") if unit == "%" else unit
    return f"{sign}{format_value(abs(value), decimals)}" + (f"\u00a0{unit}" if unit else "")


def indicator_table(user, region: Region, city: Region | None) -> tuple[DataTable, list]:
    """Newest value, trend since the period before and the comparison with the
    city (for shares and means: the city's value and the difference; for counts:
    the region's share of the city); and (key, name and unit) of the indicators
    with more than one period, for the trend lines."""
    compare = city is not None and city.pk != region.pk
    both = list(IndicatorValue.objects.for_user(user, Action.VIEW)
                .filter(region__in=[region.pk, city.pk] if compare else [region.pk])
                .select_related("indicator").only("region_id", "period", "value", "indicator__key", "indicator__name",
                                                  "indicator__unit", "indicator__decimals", "indicator__rollup")
                .order_by("indicator__name", "indicator__key", "-period"))
    values = [v for v in both if v.region_id == region.pk]
    city_values = {(v.indicator_id, v.period): v.value for v in both if v.region_id != region.pk}
    series: dict[int, list] = {}
    for v in values:
        series.setdefault(v.indicator_id, []).append(v)
    rows, trends = [], []
    for ind_id, vs in series.items():
        ind, newest = vs[0].indicator, vs[0]
        previous = vs[1] if len(vs) > 1 else None
        change = None if previous is None else newest.value - previous.value
        trend = "" if change is None else (_("gestiegen") if change > 0 else _("gesunken") if change < 0 else
                                           _("gleich"))
        city_value = city_values.get((ind_id, newest.period))
        comparison, share = None, None
        if city_value is not None and compare:
            if ind.rollup == "sum":
                share = (newest.value * 100 / city_value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) \
                    if city_value else None
            else:
                comparison = city_value
        unit = f"\u00a0{ind.unit}" if ind.unit else ""
        rows.append([
            Cell(ind.name, reverse("indicator-detail", args=[ind.key])), format_period(newest.period),
            f"{format_value(newest.value, ind.decimals)}{unit}",
            "" if comparison is None else f"{format_value(comparison, ind.decimals)}{unit}",
            "" if comparison is None else difference(newest.value - comparison, ind.decimals, ind.unit),
            share,
            "" if previous is None else _("%(trend)s seit %(period)s (%(before)s)") % {
                "trend": trend, "period": format_period(previous.period),
                "before": f"{format_value(previous.value, ind.decimals)}{unit}"},
        ])
        if len(vs) > 1:
            trends.append((ind.key, {"name": ind.name, "unit": ind.unit}))
    table = DataTable(
        key="indikatoren", caption=_("Indikatoren von %(name)s im Vergleich zur Stadt") % {"name": region.name},
        columns=[Column("indicator", _("Indikator")), Column("period", _("Stand")), Column("value", _("Wert")),
                 Column("city", _("Stadt")), Column("difference", _("Abstand zur Stadt")),
                 Column("share_of_city", _("Anteil an der Stadt"), PERCENT), Column("trend", _("Entwicklung"))],
        rows=rows, empty=_("Für diesen Raum liegen keine Indikatorwerte vor."),
    )
    return table, trends


def index_table(user, region: Region) -> DataTable:
    results = (IndexResult.objects.for_user(user, Action.VIEW).filter(region=region).select_related("index")
               .only("period", "status", "value", "class_label", "reason", "index__key", "index__name")
               .order_by("index__name", "-period"))
    rows, seen = [], set()
    for r in results:
        if r.index_id in seen:
            continue  # the newest period of each index
        seen.add(r.index_id)
        rows.append([Cell(r.index.name, reverse("index-detail", args=[r.index.key])),
                     format_period(r.period), r.class_label or r.reason or r.get_status_display(), r.value])
    return DataTable(key="index", caption=_("Indexklassen von %(name)s") % {"name": region.name},
                     columns=[Column("index", _("Index")), Column("period", _("Stand")),
                              Column("class", _("Klasse")), Column("value", _("Indexwert"), DECIMAL, decimals=2)],
                     rows=rows, empty=_("Für diesen Raum ist kein Index berechnet."))


def offering_table(user, region: Region) -> DataTable:
    """Active offerings for the region (itself, a region inside, one containing
    it, or city-wide) by top-level field of action."""
    serving = (Service.objects.for_user(user, Action.VIEW).filter(status=ServiceStatus.ACTIVE)
               .filter(Q(city_wide=True) | touches(Service, "regions", region)))
    services = list(serving.values_list("pk", "capacity"))
    capacity = dict(services)
    fields = {f.pk: f for f in FieldOfAction.objects.filter(parent__isnull=True, active=True)}
    count, places = defaultdict(set), defaultdict(int)
    for sid, path in Service.fields.through.objects.filter(service_id__in=serving.values("pk")).values_list(
            "service_id", "fieldofaction__path"):
        top = int(path.split("/", 1)[0])
        if top in fields and sid not in count[top]:
            count[top].add(sid)
            places[top] += capacity[sid] or 0
    rows = [[Cell(f.name, f"{reverse('directory')}?field={f.key}&region={region.code}"), len(count[pk]), places[pk]]
            for pk, f in sorted(fields.items(), key=lambda kv: (kv[1].order, kv[1].name)) if count[pk]]
    return DataTable(key="angebote", caption=_("Aktive Angebote für %(name)s nach Handlungsfeld") % {"name": region.name},
                     columns=[Column("field", _("Handlungsfeld")), Column("offerings", _("Angebote"), INT),
                              Column("places", _("Plätze"), INT)],
                     rows=rows, footer=[_("zusammen (ein Angebot kann in mehreren Feldern zählen)"), len(services),
                                        sum(c or 0 for c in capacity.values())] if rows else None,
                     empty=_("Keine aktiven Angebote für diesen Raum."))


def location_table(user, region: Region) -> DataTable:
    """The locations in the region; more than MAX_LOCATIONS (a whole city) are
    not listed (nor drawn): the table then says how many there are."""
    locations = list(Location.objects.for_user(user, Action.VIEW).filter(region__path__startswith=region.path)
                     .select_related("organization", "region")
                     .only("uuid", "name", "street", "postal_code", "city", "latitude", "longitude",
                           "organization__uuid", "organization__name", "region__code", "region__name")
                     .order_by("organization__name", "street", "pk")[:MAX_LOCATIONS + 1])
    too_many = len(locations) > MAX_LOCATIONS
    if too_many:
        locations = []
    rows = [[Cell(loc.organization.name, reverse("organization-detail", args=[loc.organization.uuid])),
             loc.name, f"{loc.street}, {loc.postal_code} {loc.city}", loc.region.name if loc.region_id else "",
             loc.latitude, loc.longitude] for loc in locations]
    return DataTable(key="standorte", caption=_("Standorte in %(name)s") % {"name": region.name},
                     columns=[Column("organization", _("Träger")), Column("name", _("Bezeichnung")),
                              Column("address", _("Anschrift")), Column("region", _("Raum")),
                              Column("latitude", _("Breitengrad"), DECIMAL, decimals=5),
                              Column("longitude", _("Längengrad"), DECIMAL, decimals=5)],
                     rows=rows, empty=_("Mehr als %(max)s Standorte – zu viele für eine Liste; der Angebotsfinder zeigt "
                                        "sie auf seiner Karte.") % {"max": MAX_LOCATIONS} if too_many else
                     _("Keine erfassten Standorte in diesem Raum."))


def cooperation_table(user, region: Region) -> DataTable:
    agreements = (Agreement.objects.for_user(user, Action.VIEW).filter(status__in=SHOWN_AGREEMENTS)
                  .filter(touches(Agreement, "regions", region))
                  .values_list(Value("agreement"), "uuid", "title", "kind", "status"))
    networks = (Network.objects.for_user(user, Action.VIEW).filter(active=True)
                .filter(touches(Network, "regions", region))
                .values_list(Value("network"), "uuid", "name", "kind", Value("active")))
    network_kinds, agreement_kinds = dict(NetworkKind.choices), dict(AgreementKind.choices)
    rows = []
    for what, uuid, name, kind, status in sorted(networks.union(agreements, all=True), key=lambda r: (r[0] != "network",
                                                                                                     r[2], str(r[1]))):
        if what == "network":
            rows.append([Cell(name, reverse("network-detail", args=[uuid])), _("Netzwerk"), network_kinds.get(kind, kind),
                         _("aktiv")])
        else:
            rows.append([Cell(name, reverse("agreement-detail", args=[uuid])), _("Vereinbarung"),
                         agreement_kinds.get(kind, kind), AgreementStatus(status).label])
    return DataTable(key="kooperation", caption=_("Netzwerke und Vereinbarungen in %(name)s") % {"name": region.name},
                     columns=[Column("name", _("Name")), Column("type", _("Typ")), Column("kind", _("Art")),
                              Column("status", _("Status"))],
                     rows=rows, empty=_("Keine Netzwerke und Vereinbarungen für diesen Raum."))


def budget_table(user, region: Region, ancestor_ids: list[int], requested_year: str | None):
    """The allocation of the region (and the regions inside it) by the adopted
    runs of the year's budgets, by part, with spending."""
    budgets = list(Budget.objects.for_user(user, Action.VIEW).filter(
        Q(scope_region_id__in=ancestor_ids) | Q(scope_region__path__startswith=region.path))
        .with_adopted_run().select_related("field").only("name", "fiscal_year", "field__name").order_by("name"))
    years = sorted({b.fiscal_year for b in budgets}, reverse=True)
    year = dashboard.choose_year(years, requested_year)
    budgets = [b for b in budgets if b.fiscal_year == year]
    inside = Q(region__path__startswith=region.path)
    allocations = (Allocation.objects.filter(inside, run_id__in=[b.adopted_run_id for b in budgets if b.adopted_run_id])
                   .values("run__budget_id", "part").annotate(s=Sum("amount")).order_by()
                   .values_list(Value("allocated"), "run__budget_id", "part", "s"))
    # the spending the user may see (provider staff: their own organisation's, as everywhere)
    spending = (Expenditure.objects.for_user(user, Action.VIEW).filter(inside, budget__in=[b.pk for b in budgets])
                .values("budget_id", "part").annotate(s=Sum("amount")).order_by()
                .values_list(Value("spent"), "budget_id", "part", "s"))
    sums = {"allocated": defaultdict(lambda: Decimal("0.00")), "spent": defaultdict(lambda: Decimal("0.00"))}
    for what, budget_id, part, amount in (allocations.union(spending, all=True) if budgets else []):
        sums[what][(budget_id, part)] += amount
    allocated, spent = sums["allocated"], sums["spent"]
    rows = []
    for b in budgets:
        for part in Part:
            a = allocated[(b.pk, part.value)] if b.adopted_run_id else None
            s = spent[(b.pk, part.value)]
            rows.append([Cell(b.name, reverse("budget-detail", args=[b.pk])), part.label, a, s,
                         None if a is None else a - s,
                         None if not a else (s * 100 / a).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)])
    table = DataTable(key="budget", caption=_("Budget %(year)s für %(name)s nach Teilen") % {
        "year": year, "name": region.name},
        columns=[Column("budget", _("Budget")), Column("part", _("Teil")), Column("allocated", _("zugewiesen"), MONEY),
                 Column("spent", _("ausgegeben"), MONEY), Column("remaining", _("verbleibend"), MONEY),
                 Column("percent", _("ausgeschöpft"), PERCENT)],
        rows=rows, empty=_("Kein Budget für diesen Raum in diesem Jahr."))
    return table, years, year


def goal_table(goals: list[dict]) -> DataTable:
    rows = [[Cell(g["goal"].title, g["agreement_url"]), g["goal"].indicator.name, g["goal"].region.name,
             g["baseline"], g["target"], g["current"], str(g["attainment"].status_label), g["progress"]]
            for g in goals]
    return DataTable(key="ziele", caption=_("Wirkungsziele"),
                     columns=[Column("goal", _("Ziel")), Column("indicator", _("Indikator")),
                              Column("region", _("Raum")), Column("baseline", _("Ausgangswert")),
                              Column("target", _("Zielwert")), Column("current", _("aktuell")),
                              Column("status", _("Stand")), Column("progress", _("Fortschritt"))],
                     rows=rows, empty=_("Keine Wirkungsziele für diesen Raum."))


def need_table(reports) -> DataTable:
    rows = [[Cell(r.title, r.url), r.reporter.name, r.region.name, r.field.name if r.field_id else "",
             r.get_status_display(), r.created_at.date()] for r in reports]
    return DataTable(key="bedarfe", caption=_("Bedarfsmeldungen"),
                     columns=[Column("title", _("Titel")), Column("reporter", _("gemeldet von")),
                              Column("region", _("Raum")), Column("field", _("Handlungsfeld")),
                              Column("status", _("Status")), Column("reported", _("gemeldet am"), "date")],
                     rows=rows, empty=_("Keine Bedarfsmeldungen für diesen Raum."))


class RegionProfileView(LoginRequiredMixin, TemplateView):
    template_name = "sozialraum/region_profile.html"

    def get(self, request, code):
        user = request.user
        visible = Region.objects.for_user(user, Action.VIEW)
        # the region and its ancestors in one query (an ancestor's path is a prefix of the region's)
        found = list(visible.filter(Q(code=code) | Exists(Region.objects.filter(code=code, path__startswith=OuterRef(
            "path")))).select_related("level", "parent", "lead").defer("boundary", "parent__boundary").order_by("depth"))
        region = next((r for r in found if r.code == code), None)
        if region is None:
            raise Http404
        ancestors = [r for r in found if r.pk != region.pk]
        city = ancestors[0] if ancestors and ancestors[0].depth == 0 else (region if region.depth == 0 else None)
        indicators, trends = indicator_table(user, region, city)
        budget, years, year = budget_table(user, region, region.ancestor_ids, request.GET.get("jahr"))
        goals = goal_rows(user, region)
        needs, need_total = need_report_rows(user, region)
        tables = [indicators, index_table(user, region), offering_table(user, region),
                  location_table(user, region), cooperation_table(user, region), budget,
                  goal_table(goals), need_table(needs)]
        drawn = next((r for r in [region, *reversed(ancestors)] if r.bbox_min_lon is not None), None)
        context = self.get_context_data(
            region=region, ancestors=ancestors, city=city, tables={t.key: t for t in tables}, trend_names=dict(trends),
            years=years, year=year, need_total=need_total, need_more=need_total - len(needs),
            map_region=drawn, nav="regions",
        )
        return tables_response(request, tables, f"raumprofil-{region.code}", lambda: self.render_to_response(context))
