"""Every HTML page, checked by axe-core for WCAG 2.1 level A and AA (the rules
BITV 2.0 asks for), as each role of the demo city sees it.

The pages are not listed by hand: Django's URL resolver is walked and every
route outside the API, the admin and static files must either be in ``PAGES``
(URL name → how to fill its path arguments from the demo data for a user) or
in ``EXCLUDED`` (with the reason: file downloads, JSON, POST-only actions,
logout). A new route in neither fails the test by name, so a new page cannot
go unchecked.

Each role's test loads the demo (``manage.py load_demo``, 6–8 s) once, signs in
as that role's demo login and opens every mapped page; a page the role is
refused (403, 404, a redirect) is not that role's page and is skipped, but the
planner, who may do everything, must open every page except the few meant for
provider staff. Every checked page is photographed (full page) to
``E2E_SCREENSHOT_DIR`` (default tests/e2e/screenshots/) as
``<role>--<url-name>.png``; CI keeps the folder as an artefact. The test fails
after all pages were visited, listing every page's violations.
"""

import datetime
import importlib
import time
from decimal import Decimal
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from budgets.models import Budget, Expenditure
from cooperation.access import organization_ids
from cooperation.choices import AgreementStatus
from cooperation.models import (
    Agreement,
    AgreementDocument,
    AgreementParty,
    ConflictCase,
    Goal,
    Location,
    Meeting,
    Membership,
    NeedReport,
    Network,
    Organization,
    PlanningProcess,
    Service,
)
from core.access import Action
from core.models import FieldOfAction, ImportRun, Notification
from regions.models import CompositeIndex, Indicator, Region

pytestmark = pytest.mark.e2e

# role → demo login (sozialraum/management/commands/load_demo.py, DEMO_USERS)
ROLES = {
    "planner": "planung",
    "region_lead": "sozialraumleitung",  # region lead of Bezirk 08 (Neukölln)
    "viewer": "lesezugriff",
    "provider_editor": "traeger-a",  # editor of one fictional Träger and its branches
}

# Routes below these prefixes are not pages: the REST and HSDS APIs (JSON, with
# their own schema tests), the Django admin (Django's own templates) and files.
NOT_PAGES = ("api/", "admin/", "static/", "media/")

# Routes that are no HTML page a user opens with GET. Each entry names why.
EXCLUDED = {
    # JSON, not HTML
    "health": "JSON health check for load balancers",
    "budget-run-status": "JSON polled by static/js/run-status.js",
    # file downloads and exports
    "budget-export-csv": "CSV download",
    "budget-export-xlsx": "XLSX download",
    "budget-export-fdp": "Fiscal Data Package (ZIP) download",
    "agreement-document-download": "serves an uploaded document (PDF, DOCX …)",
    "privacy-account-export": "JSON download (an account's personal data)",
    # ends the session (a POST form in the header; checked pages stay signed in)
    "logout": "logout",
    # POST-only actions: buttons on the pages checked here, no page of their own
    "set_language": "POST-only (language switch in the footer)",
    "index-compute": "POST-only",
    "services-confirm": "POST-only",
    "service-duplicate": "POST-only",
    "service-confirm": "POST-only",
    "service-free-places": "POST-only",
    "membership-create": "POST-only",
    "membership-update": "POST-only",
    "membership-delete": "POST-only",
    "token-revoke": "POST-only",
    "login-second-factor": "a step of the login only for an account with a second factor (tests/core/test_security.py)",
    "agreement-transition": "POST-only",
    "agreement-party-confirm": "POST-only",
    "agreement-step-delete": "POST-only",
    "meeting-task-done": "POST-only",
    "meeting-task-reopen": "POST-only",
    "meeting-task-create": "POST-only",
    "network-member-create": "POST-only",
    "network-member-update": "POST-only",
    "network-member-delete": "POST-only",
    "network-step-create": "POST-only",
    "network-step-delete": "POST-only",
    "needreport-triage": "POST-only",
    "planning-phase": "POST-only",
    "planning-close": "POST-only",
    "planning-participant-create": "POST-only",
    "planning-participant-delete": "POST-only",
    "planning-swot-create": "POST-only",
    "planning-swot-delete": "POST-only",
    "planning-decision-create": "POST-only",
    "planning-decision-delete": "POST-only",
    "conflict-escalate": "POST-only",
    "conflict-close": "POST-only",
    "notification-read": "POST-only",
    "notification-read-all": "POST-only",
    "budget-provider-share-create": "POST-only",
    "budget-provider-share-delete": "POST-only",
    "budget-recompute": "POST-only",
    "budget-adopt": "POST-only",
}


# --- how to fill a route's path arguments for a user ---------------------------------
# Each function gets the signed-in user and returns the URL kwargs of an object
# that user may see (or change, for edit pages), or None when there is none.


def first(model, user, action=Action.VIEW, **filters):
    return model.objects.for_user(user, action).filter(**filters).order_by("pk").first()


def none(user):
    return {}


def by(model, kwarg, field, action=Action.VIEW, prefer=None, where=None):
    """kwargs ``{kwarg: obj.<field>}`` of the first object ``user`` may see or
    change (among those matching ``where``); ``prefer`` (filters) picks a
    richer one when it is visible."""
    where = where or {}

    def kwargs(user):
        obj = ((first(model, user, action, **where, **prefer) if prefer else None)
               or first(model, user, action, **where))
        return None if obj is None else {kwarg: getattr(obj, field)}

    return kwargs


def in_agreement(model, action, kwarg, field="pk", where=None):
    def kwargs(user):
        obj = first(model, user, action, **(where or {}))
        return None if obj is None else {"uuid": obj.agreement.uuid, kwarg: getattr(obj, field)}

    return kwargs


def conflict_create(user):
    """A conflict is raised under an agreement the user's organisation is a
    party to (``?vereinbarung=``); others get a 403 page explaining that."""
    orgs = organization_ids(user)
    agreement = first(Agreement, user, parties__organization__in=orgs) or first(Agreement, user)
    return None if agreement is None else {"?": {"vereinbarung": agreement.uuid}}


def in_budget(action=Action.VIEW):
    def kwargs(user):
        expenditure = first(Expenditure, user, action)
        return None if expenditure is None else {"pk": expenditure.budget_id, "expenditure_pk": expenditure.pk}

    return kwargs


def meeting_create(user):
    network = first(Network, user, Action.CHANGE)
    return None if network is None else {"network_uuid": network.uuid}


def budget(user):
    obj = first(Budget, user)
    return None if obj is None else {"pk": obj.pk}


def other_account(user):
    """Another active account (the erase confirmation page of one's own is a refusal)."""
    other = (get_user_model().objects.filter(is_active=True, is_superuser=False).exclude(pk=user.pk)
             .order_by("pk").first())
    return None if other is None else {"pk": other.pk}


NEUKOELLN = {"code": "08"}  # a Bezirk with boundary, map and the region lead's scope
# parties are added and removed only while an agreement is a draft or negotiated
PARTIES_OPEN = {"status__in": [AgreementStatus.DRAFT, AgreementStatus.NEGOTIATION]}

PAGES = {
    # home, search, provider staff's overview
    "home": none,
    "search": none,
    "my-provider": none,
    # overviews (dashboards)
    "overview-map": none,
    "overview-budget": none,
    "overview-coverage": none,
    # core
    "login": none,
    "accessibility": none,
    "import-list": none,
    "import-create": none,
    "import-detail": by(ImportRun, "pk", "pk"),
    "field-of-action-list": none,
    "field-of-action-create": none,
    "field-of-action-detail": by(FieldOfAction, "key", "key", prefer={"key": "kjh"}),
    "field-of-action-update": by(FieldOfAction, "key", "key", Action.CHANGE, prefer={"key": "kjh"}),
    "notification-list": none,
    # data protection: the privacy notice; staff accounts, export and erasure (planners)
    "privacy-notice": none,
    "privacy-account-list": none,
    "privacy-account-erase": other_account,
    # integration tokens (planners, provider editors), the own account
    "token-list": none,
    "account": none,
    # regions
    "region-list": none,
    "region-detail": by(Region, "code", "code", prefer=NEUKOELLN),
    "region-profile": by(Region, "code", "code", prefer=NEUKOELLN),
    "indicator-list": none,
    "indicator-detail": by(Indicator, "key", "key", prefer={"key": "ew_unter18"}),
    "index-list": none,
    "index-create": none,
    "index-detail": by(CompositeIndex, "key", "key"),
    "index-edit": by(CompositeIndex, "key", "key", Action.CHANGE),
    # organisations and offerings
    "organization-list": none,
    "organization-create": none,
    "organization-detail": by(Organization, "uuid", "uuid", prefer={"parent": None, "branches__isnull": False}),
    "organization-update": by(Organization, "uuid", "uuid", Action.CHANGE),
    "my-services": none,
    "service-create": none,
    "services-unconfirmed": none,
    "service-detail": by(Service, "uuid", "uuid"),
    "service-update": by(Service, "uuid", "uuid", Action.CHANGE),
    "service-close": by(Service, "uuid", "uuid", Action.CHANGE),
    "service-delete": by(Service, "uuid", "uuid", Action.DELETE),
    "location-update": by(Location, "uuid", "uuid", Action.CHANGE),
    "location-delete": by(Location, "uuid", "uuid", Action.DELETE),
    # the service directory
    "directory": none,
    "directory-service": by(Service, "uuid", "uuid", prefer={"status": "active"}),
    "directory-locate": none,
    # agreements
    "agreement-list": none,
    "agreement-create": none,
    "agreement-detail": by(Agreement, "uuid", "uuid"),
    "agreement-update": by(Agreement, "uuid", "uuid", Action.CHANGE),
    "agreement-party-create": by(Agreement, "uuid", "uuid", Action.CHANGE, where=PARTIES_OPEN),
    "agreement-party-update": in_agreement(AgreementParty, Action.CHANGE, "pk"),
    "agreement-party-delete": in_agreement(AgreementParty, Action.DELETE, "pk",
                                           where={f"agreement__{k}": v for k, v in PARTIES_OPEN.items()}),
    "agreement-step-create": by(Agreement, "uuid", "uuid", Action.CHANGE),
    "agreement-document-create": by(Agreement, "uuid", "uuid", Action.CHANGE),
    "agreement-document-delete": in_agreement(AgreementDocument, Action.DELETE, "document_uuid", "uuid"),
    "agreement-goal-create": by(Agreement, "uuid", "uuid", Action.CHANGE),
    "agreement-goal-update": in_agreement(Goal, Action.CHANGE, "pk"),
    "agreement-goal-delete": in_agreement(Goal, Action.DELETE, "pk"),
    # networks and meetings
    "network-list": none,
    "network-create": none,
    "network-detail": by(Network, "uuid", "uuid"),
    "network-update": by(Network, "uuid", "uuid", Action.CHANGE),
    "network-delete": by(Network, "uuid", "uuid", Action.DELETE),
    "meeting-task-list": none,
    "meeting-create": meeting_create,
    "meeting-detail": by(Meeting, "uuid", "uuid"),
    "meeting-update": by(Meeting, "uuid", "uuid", Action.CHANGE),
    "meeting-delete": by(Meeting, "uuid", "uuid", Action.DELETE),
    # need reports, planning processes, conflict cases, who cooperates with whom
    "needreport-list": none,
    "needreport-create": none,
    "needreport-detail": by(NeedReport, "uuid", "uuid"),
    "needreport-update": by(NeedReport, "uuid", "uuid", Action.CHANGE),
    "needreport-delete": by(NeedReport, "uuid", "uuid", Action.DELETE),
    "planning-list": none,
    "planning-create": none,
    "planning-detail": by(PlanningProcess, "uuid", "uuid"),
    "planning-update": by(PlanningProcess, "uuid", "uuid", Action.CHANGE),
    "conflict-list": none,
    "conflict-create": conflict_create,
    "conflict-detail": by(ConflictCase, "uuid", "uuid"),
    "region-cooperation": by(Region, "code", "code", prefer=NEUKOELLN),
    # budgets
    "budget-list": none,
    "my-provider-budget": none,
    "budget-detail": budget,
    "budget-providers": budget,
    "budget-explanation": budget,
    "budget-compare": budget,
    "budget-what-if": budget,
    "budget-expenditures": budget,
    "budget-expenditure-create": budget,
    "budget-expenditure-import": budget,
    "budget-expenditure-update": in_budget(Action.CHANGE),
    "budget-expenditure-delete": in_budget(Action.DELETE),
    "budget-utilisation": budget,
}

# Pages for provider staff: the planner (a member of no organisation) is refused them.
PROVIDER_STAFF_ONLY = {"my-provider", "my-provider-budget", "conflict-create"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def page_routes() -> list[str]:
    """The URL names of every route outside the API, the admin and static files;
    fails naming each route that is neither in PAGES nor in EXCLUDED, and each
    entry of either that names no route any more."""
    names, unknown = [], []
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith(NOT_PAGES):
            continue
        if pattern.name is None or not (pattern.name in PAGES or pattern.name in EXCLUDED):
            unknown.append(f"{pattern.name or '(unnamed)'}: /{route}")
            continue
        if pattern.name in EXCLUDED and EXCLUDED[pattern.name] == "POST-only":
            view = getattr(pattern.callback, "view_class", None)
            assert view is None or not hasattr(view, "get"), (
                f"{pattern.name} (/{route}) is excluded as POST-only but its view answers GET: map it in PAGES")
        names.append(pattern.name)
    assert not unknown, (
        "routes neither checked by axe (PAGES in tests/e2e/test_axe_pages.py) nor excluded with a reason "
        "(EXCLUDED there):\n  " + "\n  ".join(unknown))
    stale = sorted((set(PAGES) | set(EXCLUDED)) - set(names))
    assert not stale, f"PAGES/EXCLUDED name routes that no longer exist: {stale}"
    return [name for name in names if name in PAGES]


# The data migrations' seed data (fields of action, target groups): the flush
# after every browser (transactional) test empties those tables too, and the
# demo needs them. Their functions skip what is there. (serialized_rollback
# restored them when this file ran alone, but not in the whole suite.)
DATA_MIGRATIONS = ("core.migrations.0003_default_fields_of_action", "cooperation.migrations.0002_default_target_groups")


def restore_migration_data():
    for module in DATA_MIGRATIONS:
        importlib.import_module(module).load(django_apps, None)


@pytest.fixture
def demo(eager_celery):
    """The demo city (``load_demo``), plus what it has none of but pages show:
    an expenditure (booked to the demo Träger A in Neukölln), an agreement
    document (metadata only; its download is not a page) and a notification for
    every demo login."""
    started = time.monotonic()
    restore_migration_data()
    call_command("load_demo", "--force", stdout=StringIO())
    users = {role: get_user_model().objects.get(username=login) for role, login in ROLES.items()}
    provider_org = Membership.objects.filter(user=users["provider_editor"]).first().organization
    demo_budget = Budget.objects.order_by("pk").first()
    Expenditure.objects.create(
        budget=demo_budget, region=Region.objects.get(code="08"), organization=provider_org, part="preventive",
        category="Honorare", booking_date=datetime.date(demo_budget.fiscal_year, 3, 15), amount=Decimal("1250.00"),
        text="Elternabende (Prüfung Barrierefreiheit)",
    )
    agreement = (Agreement.objects.filter(parties__organization=provider_org).order_by("pk").first()
                 or Agreement.objects.order_by("pk").first())
    AgreementDocument.objects.create(agreement=agreement, title="Vertragstext", file="axe/vertrag.pdf",
                                     original_name="vertrag.pdf", content_type="application/pdf", size=12345)
    for user in users.values():
        Notification.objects.create(user=user, kind="agreement-review", event_key=f"axe:{user.pk}",
                                    title=f"Überprüfung fällig: {agreement.title}",
                                    text="Die Vereinbarung ist bis zum 1. März zu überprüfen.",
                                    url=reverse("agreement-detail", kwargs={"uuid": agreement.uuid}))
    print(f"\ndemo loaded in {time.monotonic() - started:.1f} s")
    return users


@pytest.fixture
def routes() -> list[str]:
    """The mapped page routes; asked for before ``demo`` so that an unmapped
    route fails the test at once, before the demo is loaded."""
    return page_routes()


def check_role(page, axe, role: str, user, routes: list[str]) -> None:
    """Opens every mapped page ``user`` may see, runs axe on it; fails at the
    end with every page's violations (and anything the planner was refused)."""
    started = time.monotonic()
    # The Axe helper injects axe-core into a page that lacks it; registering the
    # script once for the whole context brings it along with every page instead
    # (saves ~0.2 s a page over some 250 pages).
    page.context.add_init_script(path=str(axe.script))
    reports, refused, checked, not_html = [], [], [], []
    for name in routes:
        kwargs = PAGES[name](user)
        if kwargs is None:
            refused.append(f"{name} (no object)")
            continue
        query = kwargs.pop("?", None)
        path = reverse(name, kwargs=kwargs) + (f"?{urlencode(query)}" if query else "")
        response = page.goto(path)
        assert response is not None, f"{name}: no response for {path}"
        if response.status >= 500:
            reports.append(f"{role} – {name} ({path}): HTTP {response.status}")
            continue
        opened = response.status == 200 and page.url.endswith(path) and response.request.redirected_from is None
        if not opened:
            refused.append(f"{name} ({response.status}{' → ' + page.url if not page.url.endswith(path) else ''})")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            not_html.append(f"{name} ({path}): {response.headers.get('content-type')}")
            continue
        checked.append(name)
        report = axe.check(page, role, name)
        if report:
            reports.append(report)
    print(f"\n{role}: {len(checked)} pages checked in {time.monotonic() - started:.1f} s; "
          f"not this role's: {', '.join(refused) or 'none'}")
    assert not not_html, f"{role}: mapped pages that are not HTML (exclude them with a reason):\n" + "\n".join(not_html)
    if role == "planner":
        missed = [entry for entry in refused if entry.split(" ")[0] not in PROVIDER_STAFF_ONLY]
        assert not missed, f"the planner may open every page, but was refused: {missed}"
    assert checked, f"{role}: no page opened"
    if reports:
        pytest.fail(f"WCAG 2.1 A/AA violations (axe-core) on {len(reports)} of {len(checked)} pages "
                    f"as {role}:\n\n" + "\n\n".join(reports), pytrace=False)


class TestAxePages:
    @pytest.mark.django_db(transaction=True)
    @pytest.mark.parametrize("role", list(ROLES))
    def test_every_page_of_the_role(self, role, axe, page_for, routes, demo):
        check_role(page_for(demo[role]), axe, role, demo[role], routes)

    @pytest.mark.django_db(transaction=True)
    def test_anonymous_pages(self, axe, page_for):
        page = page_for(None)
        reports = []
        for name in ("login", "accessibility", "privacy-notice"):
            response = page.goto(reverse(name))
            assert response is not None and response.status == 200, f"{name}: {response and response.status}"
            reports.append(axe.check(page, "anonymous", name))
        reports = [r for r in reports if r]
        if reports:
            pytest.fail("WCAG 2.1 A/AA violations (axe-core):\n\n" + "\n\n".join(reports), pytrace=False)


class TestRouteList:
    def test_every_route_is_checked_or_excluded_with_a_reason(self):
        """Fast, without a browser: the same walk the page tests do."""
        names = page_routes()
        assert {"home", "region-detail", "budget-detail", "directory"} <= set(names)
