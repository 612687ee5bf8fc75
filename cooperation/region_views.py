""""Wer kooperiert mit wem?" — the cooperation in one region (German UI).

For a region the user may see: the active networks and the agreements in
negotiation, active or suspended whose regions lie inside it or contain it
(``touching_region``), as far as the user sees them; a matrix organisation ×
network/agreement with each organisation's role and its number of partners;
the same as a server-rendered SVG picture (no JavaScript); the outcome goals
set for the region and the regions below it with their attainment; and the
need reports from there.

A fixed number of queries, however many organisations take part.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext, ngettext
from django.views.generic import TemplateView

from core.access import Action
from regions.models import Region
from regions.views import format_period, format_value

from .choices import AgreementStatus, NetworkRole, PartyRole
from .conflict_views import url_for
from .filtersets import touching_region
from .goals import attainments
from .models import Agreement, AgreementParty, Goal, NeedReport, Network, NetworkMember, Organization

SHOWN_AGREEMENT_STATUSES = (AgreementStatus.NEGOTIATION, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)
MAX_NEED_REPORTS = 50

# the picture: beyond these numbers it is no longer readable
MAX_GRAPH_ORGANIZATIONS = 40
MAX_GRAPH_COLUMNS = 40
GRAPH_WIDTH = 960
GRAPH_LEFT_X = 380  # the organisations' dots
GRAPH_RIGHT_X = 580  # the networks' and agreements' marks
GRAPH_TOP = 44
GRAPH_ROW = 26
GRAPH_LABEL_CHARS = 42

# roles by their code (network and party roles do not share codes)
ROLE_LABELS = {**dict(NetworkRole.choices), **dict(PartyRole.choices)}
STRONG_ROLES = {NetworkRole.COORDINATION, PartyRole.LEAD}


@dataclass
class Column:
    """A network or an agreement: one column of the matrix."""

    key: str
    kind: str  # "network" | "agreement"
    name: str
    kind_label: str
    status_label: str
    url: str
    organizations: set = field(default_factory=set)


@dataclass
class Row:
    organization: Organization
    url: str
    cells: list
    involvements: int
    partners: int


def shorten(text: str, limit: int = GRAPH_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cooperation_matrix(user, region):
    """(columns, rows, roles) for the networks and agreements touching ``region``
    that ``user`` sees; ``roles[(organisation pk, column key)]`` lists the role codes."""
    agreements = list(
        touching_region(Agreement.objects.for_user(user, Action.VIEW), "regions", region.code)
        .filter(status__in=SHOWN_AGREEMENT_STATUSES).only("uuid", "title", "kind", "status").order_by("title", "pk")
    )
    networks = list(
        touching_region(Network.objects.for_user(user, Action.VIEW), "regions", region.code)
        .filter(active=True).select_related("coordinator").only("uuid", "name", "kind", "coordinator")
        .order_by("name", "pk")
    )
    columns: dict[str, Column] = {}
    organizations: dict[int, Organization] = {}
    roles: dict[tuple[int, str], list[str]] = defaultdict(list)

    def add(org, key, role):
        organizations.setdefault(org.pk, org)
        columns[key].organizations.add(org.pk)
        if role not in roles[org.pk, key]:
            roles[org.pk, key].append(role)

    for network in networks:
        key = f"n{network.pk}"
        columns[key] = Column(key, "network", network.name, network.get_kind_display(), "",
                              url_for("network-detail", uuid=network.uuid))
        if network.coordinator is not None:
            add(network.coordinator, key, NetworkRole.COORDINATION)
    for agreement in agreements:
        key = f"a{agreement.pk}"
        status = "" if agreement.status == AgreementStatus.ACTIVE else agreement.get_status_display()
        columns[key] = Column(key, "agreement", agreement.title, agreement.get_kind_display(), status,
                              url_for("agreement-detail", uuid=agreement.uuid))
    org_fields = ("organization__uuid", "organization__name")
    if networks:
        for member in NetworkMember.objects.for_user(user, Action.VIEW).filter(
                network_id__in=[n.pk for n in networks]).select_related("organization").only(
                "network", "role", *org_fields).order_by():
            add(member.organization, f"n{member.network_id}", member.role)
    if agreements:
        for party in AgreementParty.objects.for_user(user, Action.VIEW).filter(
                agreement_id__in=[a.pk for a in agreements]).select_related("organization").only(
                "agreement", "role", *org_fields).order_by():
            add(party.organization, f"a{party.agreement_id}", party.role)
    for codes in roles.values():
        if NetworkRole.COORDINATION in codes and NetworkRole.MEMBER in codes:
            codes.remove(NetworkRole.MEMBER)  # coordinating includes taking part
    return list(columns.values()), organizations, roles


def matrix_rows(user, columns, organizations, roles) -> list[Row]:
    linkable = set(Organization.objects.for_user(user, Action.VIEW).filter(pk__in=list(organizations))
                   .values_list("pk", flat=True)) if organizations else set()
    rows = []
    for org in sorted(organizations.values(), key=lambda o: (o.name.casefold(), o.pk)):
        cells = [", ".join(str(ROLE_LABELS.get(code, code)) for code in roles.get((org.pk, c.key), ()))
                 for c in columns]
        partners = set()
        for c in columns:
            if org.pk in c.organizations:
                partners |= c.organizations
        partners.discard(org.pk)
        rows.append(Row(org, url_for("organization-detail", uuid=org.uuid) if org.pk in linkable else "",
                        cells, sum(1 for cell in cells if cell), len(partners)))
    return rows


def graph(columns: list[Column], rows: list[Row], roles) -> dict:
    """Coordinates of the SVG picture: organisations left, networks and
    agreements right, a line per involvement (thick for coordination and the
    lead). At most MAX_GRAPH_* of each side, the most involved first; the
    organisations ordered by the mean position of their partners' columns,
    which keeps lines from crossing where it can."""
    drawn_columns = sorted(columns, key=lambda c: -len(c.organizations))[:MAX_GRAPH_COLUMNS]
    drawn_columns = [c for c in columns if c in drawn_columns]  # back in table order
    position = {c.key: i for i, c in enumerate(drawn_columns)}
    candidates = [r for r in rows if any(r.organization.pk in c.organizations for c in drawn_columns)]
    candidates = sorted(candidates, key=lambda r: (-r.involvements, r.organization.name.casefold()))
    drawn_rows = candidates[:MAX_GRAPH_ORGANIZATIONS]

    def barycentre(row):
        places = [position[c.key] for c in drawn_columns if row.organization.pk in c.organizations]
        return sum(places) / len(places)

    drawn_rows.sort(key=lambda r: (barycentre(r), r.organization.name.casefold()))
    n = max(len(drawn_rows), len(drawn_columns), 1)
    span = n * GRAPH_ROW

    def y(i, count):
        return round(GRAPH_TOP + (i + 0.5) * span / count, 1)

    left = {r.organization.pk: {"x": GRAPH_LEFT_X, "y": y(i, len(drawn_rows)), "label": shorten(r.organization.name),
                                "name": r.organization.name}
            for i, r in enumerate(drawn_rows)}
    right = {c.key: {"x": GRAPH_RIGHT_X, "y": y(i, len(drawn_columns)), "label": shorten(c.name), "name": c.name,
                     "kind": c.kind, "rect_x": GRAPH_RIGHT_X - 7, "rect_y": round(y(i, len(drawn_columns)) - 7, 1)}
             for i, c in enumerate(drawn_columns)}
    lines = []
    for org_pk, a in left.items():
        for key, b in right.items():
            codes = roles.get((org_pk, key))
            if codes:
                lines.append({"x1": a["x"], "y1": a["y"], "x2": b["x"], "y2": b["y"], "kind": b["kind"],
                              "strong": any(code in STRONG_ROLES for code in codes)})
    height = GRAPH_TOP + span + 16
    return {
        "width": GRAPH_WIDTH, "height": height, "frame_width": GRAPH_WIDTH - 1, "frame_height": height - 1,
        "left_x": GRAPH_LEFT_X, "right_x": GRAPH_RIGHT_X,
        "left_label_x": GRAPH_LEFT_X - 12, "right_label_x": GRAPH_RIGHT_X + 12,
        "organizations": list(left.values()), "columns": list(right.values()), "lines": lines,
        "hidden_organizations": len(candidates) - len(drawn_rows),
        "hidden_columns": len(columns) - len(drawn_columns),
        "unconnected_organizations": len(rows) - len(candidates),
    }


def graph_summary(picture: dict, rows: list[Row]) -> str:
    networks = sum(1 for c in picture["columns"] if c["kind"] == "network")
    agreements = len(picture["columns"]) - networks
    parts = [gettext("Verbindungsbild: links %(orgs)s, rechts %(networks)s und %(agreements)s, dazwischen %(lines)s "
                     "(eine Linie je Beteiligung, dick bei Koordination oder Federführung).") % {
        "orgs": ngettext("%(n)d Organisation", "%(n)d Organisationen", len(picture["organizations"]))
        % {"n": len(picture["organizations"])},
        "networks": ngettext("%(n)d Netzwerk", "%(n)d Netzwerke", networks) % {"n": networks},
        "agreements": ngettext("%(n)d Vereinbarung", "%(n)d Vereinbarungen", agreements) % {"n": agreements},
        "lines": ngettext("%(n)d Linie", "%(n)d Linien", len(picture["lines"])) % {"n": len(picture["lines"])},
    }]
    if rows:
        best = sorted(rows, key=lambda r: (-r.partners, r.organization.name.casefold()))[0]
        if best.partners:
            parts.append(gettext("Die meisten Partner hat %(name)s (%(n)d).") % {
                "name": best.organization.name, "n": best.partners})
    if picture["hidden_organizations"]:
        parts.append(ngettext(
            "%(n)d weitere Organisation ist nicht gezeichnet, damit das Bild lesbar bleibt.",
            "%(n)d weitere Organisationen sind nicht gezeichnet, damit das Bild lesbar bleibt.",
            picture["hidden_organizations"]) % {"n": picture["hidden_organizations"]})
    if picture["hidden_columns"]:
        parts.append(ngettext(
            "%(n)d weiteres Netzwerk bzw. weitere Vereinbarung ist nicht gezeichnet.",
            "%(n)d weitere Netzwerke bzw. Vereinbarungen sind nicht gezeichnet.",
            picture["hidden_columns"]) % {"n": picture["hidden_columns"]})
    parts.append(gettext("Die Tabelle „Wer kooperiert mit wem?“ oben enthält dieselben Angaben vollständig."))
    return " ".join(parts)


def goal_rows(user, region) -> list[dict]:
    goals = list(
        Goal.objects.for_user(user, Action.VIEW).filter(region__path__startswith=region.path)
        .select_related("indicator", "region", "agreement").defer("region__boundary", "agreement__goals")
        .order_by("target_date", "title", "pk")
    )
    results = attainments(goals)
    rows = []
    for goal in goals:
        att = results[goal.pk]
        decimals, unit = goal.indicator.decimals, goal.indicator.unit

        def value(v, decimals=decimals, unit=unit):
            return "" if v is None else f"{format_value(v, decimals)}{' ' + unit if unit else ''}"

        rows.append({
            "goal": goal, "attainment": att,
            "agreement_url": url_for("agreement-detail", uuid=goal.agreement.uuid),
            "baseline": value(att.baseline), "baseline_period": format_period(att.baseline_period or ""),
            "target": value(att.target), "current": value(att.current),
            "current_period": format_period(att.current_period or ""),
            "progress": "" if att.progress is None else gettext("%(percent)s %% des Wegs zum Zielwert") % {
                "percent": floatformat(att.progress, 1)},
        })
    return rows


def need_report_rows(user, region):
    qs = (NeedReport.objects.for_user(user, Action.VIEW).filter(region__path__startswith=region.path)
          .select_related("reporter", "region", "field")
          .only("uuid", "title", "status", "created_at", "reporter__name", "region__code", "region__name",
                "field__name")
          .order_by("-created_at", "pk"))
    rows = list(qs[:MAX_NEED_REPORTS + 1])
    total = qs.count() if len(rows) > MAX_NEED_REPORTS else len(rows)
    rows = rows[:MAX_NEED_REPORTS]
    for report in rows:
        report.url = url_for("needreport-detail", uuid=report.uuid)
    return rows, total


class RegionCooperationView(LoginRequiredMixin, TemplateView):
    template_name = "cooperation/region_cooperation.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        region = (Region.objects.for_user(user, Action.VIEW).filter(code=self.kwargs["code"])
                  .select_related("level").defer("boundary").first())
        if region is None:
            raise Http404
        columns, organizations, roles = cooperation_matrix(user, region)
        rows = matrix_rows(user, columns, organizations, roles)
        picture = graph(columns, rows, roles)
        needs, need_total = need_report_rows(user, region)
        needreport_list = url_for("needreport-list")
        context.update(
            region=region, columns=columns, rows=rows,
            network_count=sum(1 for c in columns if c.kind == "network"),
            agreement_count=sum(1 for c in columns if c.kind == "agreement"),
            graph=picture, graph_summary=graph_summary(picture, rows),
            goals=goal_rows(user, region),
            need_reports=needs, need_total=need_total, need_more=need_total - len(needs),
            needreport_list_url=f"{needreport_list}?region={region.code}" if needreport_list else "",
            max_need_reports=MAX_NEED_REPORTS, nav="regions",
        )
        return context
