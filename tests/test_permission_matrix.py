"""The permission matrix: every route of the URL conf (HTML pages, the REST API
with every method and custom action, the HSDS API, the schema and docs), each
method, as each of eight personas, against an explicit expected-outcome table.

The routes are not listed by hand: Django's URL resolver is walked
(``discover_routes``) and every route must have an entry in ``TABLE``; a new
route without one fails ``TestTable`` naming it, and so does an entry for a
route that no longer exists, or whose methods differ from the view's. Skipped
with a reason: the Django admin (its own staff login, checked once in
``TestAdmin``), i18n's ``set_language`` (Django's own view, no access rule), and
the DRF format-suffix twins of API routes (``…\\.(?P<format>…)``: the same view
and name as the plain route, checked there).

Personas (tests/conftest.py's, built in tests/matrix_world.py): anonymous,
viewer, provider_a, provider_b (editors of org_a / org_b), region_lead (of D1),
planner; and two integration tokens — ``read_token`` (a planner's read-only
token without organisation) and ``write_token`` (provider A's write token for
org_a). Tokens authenticate only the API: on a page a token request is
anonymous, so a page's token columns are its anonymous column. On the API, a
read token acts as the planner for safe methods and is refused (403) every
unsafe one; the write token acts as provider A's editor. These defaults are
derived per entry (``page``/``api``) and can be overridden.

Outcome classes (``classify``): ``OK`` a 2xx answer; ``ALLOWED`` "not refused"
— 2xx, a redirect elsewhere than the login, 400 (the empty payload is invalid:
the persona got past every access check), 409 (the object is in use) or 415
(the route takes an upload, not JSON) — used for unsafe methods; ``REDIRECT`` a
redirect elsewhere than the login; ``LOGIN`` a redirect to the login page;
``ADMIN_LOGIN`` to the admin's; ``400``, ``401``, ``403``, ``404`` and ``405``
match exactly. With a real payload (``Entry.data``): ``CHANGED`` the request
changed rows, ``UNCHANGED`` it was answered and changed none (a form or
serializer refusing an object outside the user's scope). A 500 never matches.

Every URL is filled with a real object of the world — provider A's (private
where the model can be), in P11 inside the region lead's D1 — so one request per
persona shows A's rights, B's 404 and the staff roles' split. A route may have
variants (a tuple of entries): another object (in D2, outside the region lead's
subtree; an inactive offering), a query (the search) or a payload (creating
something in A's organisation as B).

Two probes beyond the status: a refused request (401, 403, 404, 405, a login
redirect, 400) must not have changed any row, bookkeeping aside (the session,
a token's last use) — statements are watched with ``execute_wrapper``; and no
answer to provider B or to an anonymous visitor may show any of provider A's
private markers (``world.private_markers``: titles of A's private agreement,
network, need report …, A's spending) — the leak probe, ZIP exports included.
``TestProbes`` shows both probes can fail.

Every request runs in a savepoint that is rolled back, so a DELETE by an allowed
persona changes nothing for the next; one world per module
(``django_db_blocker``); the cache is cleared before each request (API
throttling counts). Real bugs not fixed yet are listed in ``KNOWN_BUGS`` (strict
xfail: the route fails again once fixed, until its entry is removed).
"""

import io
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.generic.edit import ProcessFormView
from rest_framework.test import APIClient

from . import matrix_world

# (the mark makes pytest-django create the test database; each test runs in a savepoint of the module's world)
pytestmark = pytest.mark.django_db

# --- outcome classes ---------------------------------------------------------------------

OK, ALLOWED, REDIRECT, LOGIN, ADMIN_LOGIN = "OK", "ALLOWED", "REDIRECT", "LOGIN", "ADMIN_LOGIN"
# with a real payload (Entry.data): the request changed rows; or it was answered (any way but a 5xx or the
# login page) and changed none — e.g. a form or serializer that refuses an object outside the user's scope
CHANGED, UNCHANGED = "CHANGED", "UNCHANGED"
R400, R401, R403, R404, R405 = 400, 401, 403, 404, 405
REFUSALS = {LOGIN, ADMIN_LOGIN, R401, R403, R404, R405}

PERSONAS = ("anonymous", "viewer", "provider_a", "provider_b", "region_lead", "planner", "read_token",
            "write_token")
SESSION_PERSONAS = ("viewer", "provider_a", "provider_b", "region_lead", "planner")
TOKENS = ("read_token", "write_token")
SAFE = {"GET", "HEAD", "OPTIONS"}


def classify(response) -> str | int:
    status = response.status_code
    if 200 <= status < 300:
        return OK
    if status in (301, 302, 303, 307, 308):
        location = response.headers.get("Location", "")
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.split("?")[0] == reverse("login"):
            return LOGIN
        return REDIRECT
    return status


def matches(expected, observed) -> bool:
    if expected == ALLOWED:
        return observed in (OK, REDIRECT, 400, 409, 415)
    return expected == observed


# --- route discovery -----------------------------------------------------------------------

# Prefixes not walked, with the reason.
SKIPPED_PREFIXES = {
    "admin/": "Django admin: its own staff login (TestAdmin checks that no persona gets in)",
    "i18n/": "Django's set_language (language cookie, no access rule)",
    "static/": "static files",
    "media/": "no media is served",
}
FORMAT_SUFFIX = re.compile(r"\(\?P<format>")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Route:
    name: str
    pattern: str
    api: bool
    methods: tuple[str, ...] | None  # None: a function view (methods come from the table)


def _view_methods(callback) -> tuple[str, ...] | None:
    actions = getattr(callback, "actions", None)
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if actions:  # a DRF viewset route: the router's method → action mapping (custom actions included) …
        # … less what the viewset does not answer at all (e.g. indicator values: no PUT/PATCH)
        return tuple(sorted(m.upper() for m in actions if m in cls.http_method_names))
    if cls is None:
        return None
    found = []
    for method in METHODS:
        handler = getattr(cls, method, None)
        if handler is None or method not in cls.http_method_names:
            continue
        if method == "put" and handler is ProcessFormView.put:
            continue  # Django's form views answer PUT as POST: the same code path, checked as POST
        found.append(method.upper())
    return tuple(found)


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}{pattern.namespace}:"
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern, namespace


def discover_routes() -> dict[str, Route]:
    """Every concrete route outside SKIPPED_PREFIXES, by (namespaced) URL name."""
    routes: dict[str, Route] = {}
    for path, pattern, namespace in _walk(get_resolver().url_patterns):
        if path.startswith(tuple(SKIPPED_PREFIXES)):
            continue
        if FORMAT_SUFFIX.search(path) or "<drf_format_suffix:format>" in path:
            continue  # the ".json"/".csv" twin of the plain route: same view, same name
        name = f"{namespace}{pattern.name}" if pattern.name else f"(unnamed) /{path}"
        assert name not in routes, f"two routes named {name}: /{routes[name].pattern} and /{path}"
        routes[name] = Route(name=name, pattern=path, api=path.startswith("api/"),
                             methods=_view_methods(pattern.callback))
    return routes


# --- the expected-outcome table -------------------------------------------------------------------


def who(default, **overrides) -> dict:
    """Expected outcomes of the five signed-in personas (``default`` for each
    not named), optionally ``anonymous`` and the tokens."""
    unknown = set(overrides) - set(PERSONAS)
    assert not unknown, unknown
    return {**dict.fromkeys(SESSION_PERSONAS, default), **overrides}


@dataclass
class Entry:
    api: bool
    kwargs: Callable | None  # world → URL kwargs
    expect: dict  # METHOD → persona → outcome
    query: str = ""
    note: str = ""
    data: Callable | None = None  # world → the payload of unsafe methods (default: empty)


def _complete(api: bool, method: str, row: dict) -> dict:
    row = dict(row)
    row.setdefault("anonymous", R401 if api else LOGIN)
    if api:
        row.setdefault("read_token", row["planner"] if method in SAFE else R403)
        row.setdefault("write_token", row["provider_a"])
    else:  # tokens authenticate only the API: on a page the request is anonymous
        for token in TOKENS:
            row.setdefault(token, row["anonymous"])
    return row


def page(kwargs=None, query="", note="", data=None, **methods) -> Entry:
    return Entry(False, kwargs, {m: _complete(False, m, row) for m, row in methods.items()}, query, note, data)


def api(kwargs=None, query="", note="", data=None, **methods) -> Entry:
    return Entry(True, kwargs, {m: _complete(True, m, row) for m, row in methods.items()}, query, note, data)


# Groups of expectations, declared once (anonymous and tokens follow from page/api).
PUBLIC = who(OK, anonymous=OK)
SIGNED_IN = who(OK)  # read for every signed-in user
SIGNED_IN_ACT = who(ALLOWED)  # every signed-in user may act (on their own things)
STAFF = who(OK, provider_a=R403, provider_b=R403)  # staff with a role: planner, region lead, viewer
PLANNER = who(R403, planner=OK)  # planner-only page or read
PLANNER_ACT = who(R403, planner=ALLOWED)  # planner-only write
PROVIDER_STAFF = who(R403, provider_a=OK, provider_b=OK)  # pages for staff of a Träger
ANY_EDITOR_ACT = who(R403, planner=ALLOWED, provider_a=ALLOWED, provider_b=ALLOWED)  # planners and any editor create
# provider A's object (private): staff and A read it, B does not know it exists
A_READ = who(OK, provider_b=R404)
A_READ_PLANNER_WRITES = who(R403, planner=ALLOWED, provider_b=R404)  # A sees it, only planners change it
A_READ_PLANNER_PAGE = who(R403, planner=OK, provider_b=R404)  # … its form page
A_WRITES = who(R403, planner=ALLOWED, provider_a=ALLOWED, provider_b=R404)  # A's editors and planners change it
A_WRITES_PAGE = who(R403, planner=OK, provider_a=OK, provider_b=R404)  # … its form page
OUTSIDE_D1 = who(OK, region_lead=R404)  # something in D2: outside the region lead's subtree
# a real payload creating something in A's organisation (or A's network, process, agreement): planners and
# A's editors create it; B's request is answered (400) and changes nothing; staff without the right 403
IN_ORG_A = who(R403, planner=CHANGED, provider_a=CHANGED, provider_b=UNCHANGED)
# REST route groups
CATALOGUE = {"GET": SIGNED_IN, "POST": PLANNER_ACT}  # list of a city-wide catalogue (planners write)
CATALOGUE_ITEM = {"GET": SIGNED_IN, "PUT": PLANNER_ACT, "PATCH": PLANNER_ACT, "DELETE": PLANNER_ACT}


def item(read, write, delete=None) -> dict:
    """A REST detail route: GET, PUT, PATCH and DELETE."""
    return {"GET": read, "PUT": write, "PATCH": write, "DELETE": write if delete is None else delete}


def listing(create) -> dict:
    """A REST list route: GET (every signed-in user, rows filtered) and POST."""
    return {"GET": SIGNED_IN, "POST": create}


def lookup(world, dotted: str):
    """``world.<a>.<b>`` (attributes or dict keys), e.g. ``regions.P11.code``."""
    value = world
    for part in dotted.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def kw(**getters) -> Callable:
    """URL kwargs from the world: ``kw(uuid="service_a.uuid")``."""

    def kwargs(world):
        out = {}
        for name, dotted in getters.items():
            out[name] = lookup(world, dotted)
        return out

    return kwargs


def hsds_taxonomy(world):
    from cooperation.hsds import taxonomies

    return {"id": str(taxonomies.TAXONOMIES[0].id)}


def hsds_term(world):
    from cooperation.hsds import taxonomies

    return {"id": str(next(iter(taxonomies.all_terms())).id)}


A_SERVICE = kw(uuid="service_a.uuid")
BUDGET = kw(pk="budget.pk")
AGREEMENT = kw(uuid="agreement.uuid")
NETWORK = kw(uuid="network.uuid")
PROCESS = kw(uuid="process.uuid")

TABLE: dict[str, Entry | tuple[Entry, ...]] = {  # a tuple: variants (other objects) of one route
    # --- sozialraum: home, dashboards, search, provider staff's page -----------------------------
    "home": page(GET=SIGNED_IN),
    "health": page(GET=PUBLIC, note="load balancers' check, no data"),
    "overview-map": page(GET=STAFF),
    "overview-budget": page(GET=STAFF),
    "overview-coverage": page(GET=STAFF),
    # searching for words of A's private agreement and network: the leak probe sees whether B finds them
    "search": (page(GET=SIGNED_IN), page(query="q=Vereinbarung", GET=SIGNED_IN),
               page(query="q=Netzwerk", GET=SIGNED_IN)),
    "my-provider": page(GET=PROVIDER_STAFF),
    "region-profile": (page(kw(code="regions.P11.code"), GET=SIGNED_IN),
                       page(kw(code="regions.P21.code"), GET=OUTSIDE_D1)),
    # --- core: login, accessibility, privacy, imports, fields of action, notifications ----------
    "login": page(GET=PUBLIC, POST=PUBLIC, note="POST without credentials: the form again (200)"),
    # new (issue 7, second factor): without a password step just before, the code page sends back to the login
    "login-second-factor": page(GET=who(LOGIN, anonymous=LOGIN), POST=who(LOGIN, anonymous=LOGIN),
                                note="no pending login: back to the login page, for everyone"),
    "account": page(GET=SIGNED_IN, POST=SIGNED_IN_ACT, note="Mein Konto: one's own account (new, issue 7)"),
    "logout": page(POST=who(LOGIN, anonymous=LOGIN), note="logging out leads to the login page, for everyone"),
    "accessibility": page(GET=PUBLIC),
    "privacy-notice": page(GET=PUBLIC),
    "privacy-account-list": page(GET=PLANNER),
    "privacy-account-export": page(kw(pk="other_user.pk"), GET=PLANNER),
    "privacy-account-erase": page(kw(pk="other_user.pk"), GET=PLANNER, POST=PLANNER_ACT),
    "import-list": page(GET=SIGNED_IN),
    "import-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "import-detail": page(kw(pk="import_run.pk"), GET=who(R404, planner=OK), note="a run is its author's"),
    "field-of-action-list": page(GET=SIGNED_IN),
    "field-of-action-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "field-of-action-detail": page(kw(key="field.key"), GET=SIGNED_IN),
    "field-of-action-update": page(kw(key="field.key"), GET=PLANNER, POST=PLANNER_ACT),
    "notification-list": page(GET=SIGNED_IN),
    "notification-read": page(kw(pk="notification_a.pk"), POST=who(R404, provider_a=ALLOWED),
                              note="provider A's notification: nobody else's"),
    "notification-read-all": page(POST=SIGNED_IN_ACT),
    # --- regions ------------------------------------------------------------------------------------
    "region-list": page(GET=SIGNED_IN),
    "region-detail": (page(kw(code="regions.P11.code"), GET=SIGNED_IN),
                      page(kw(code="regions.P21.code"), GET=OUTSIDE_D1)),
    "indicator-list": page(GET=SIGNED_IN),
    "indicator-detail": page(kw(key="kinder.key"), GET=SIGNED_IN),
    "index-list": page(GET=SIGNED_IN),
    "index-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "index-detail": page(kw(key="index.key"), GET=SIGNED_IN),
    "index-edit": page(kw(key="index.key"), GET=PLANNER, POST=PLANNER_ACT),
    "index-compute": page(kw(key="index.key"), POST=PLANNER_ACT),
    # --- organisations and offerings --------------------------------------------------------------
    "organization-list": page(GET=SIGNED_IN),
    "organization-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "organization-detail": page(kw(uuid="org_a.uuid"), GET=A_READ),
    "organization-update": page(kw(uuid="org_a.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "membership-create": page(kw(uuid="org_a.uuid"), POST=A_READ_PLANNER_WRITES),
    "membership-update": page(kw(uuid="org_a.uuid", pk="membership_a.pk"), POST=A_READ_PLANNER_WRITES),
    "membership-delete": page(kw(uuid="org_a.uuid", pk="membership_a.pk"), POST=A_READ_PLANNER_WRITES),
    "my-services": page(GET=SIGNED_IN),
    "service-create": page(GET=who(R403, planner=OK, provider_a=OK, provider_b=OK),
                           POST=ANY_EDITOR_ACT),
    "services-unconfirmed": page(GET=SIGNED_IN),
    "services-confirm": page(POST=SIGNED_IN_ACT),
    "service-detail": page(A_SERVICE, GET=A_READ),
    "service-update": page(A_SERVICE, GET=A_WRITES_PAGE, POST=A_WRITES),
    "service-duplicate": page(A_SERVICE, POST=A_WRITES),
    "service-close": page(A_SERVICE, GET=A_WRITES_PAGE, POST=A_WRITES),
    "service-confirm": page(A_SERVICE, POST=A_WRITES),
    "service-free-places": page(A_SERVICE, POST=A_WRITES),
    "service-delete": page(A_SERVICE, GET=A_WRITES_PAGE, POST=A_WRITES),
    "location-update": page(kw(uuid="location_a.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "location-delete": page(kw(uuid="location_a.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    # --- the service directory (Angebotsfinder): signed-in users unless DIRECTORY_PUBLIC ----------
    "directory": page(GET=SIGNED_IN),
    "directory-service": (page(A_SERVICE, GET=SIGNED_IN, note="an active offering: listed for everyone"),
                          page(kw(uuid="service_a_inactive.uuid"), GET=A_READ,
                               note="an inactive one: staff and its own provider only")),
    "directory-locate": page(GET=SIGNED_IN),
    # --- agreements (private, A leads it, under negotiation) ------------------------------------------
    "agreement-list": page(GET=SIGNED_IN),
    "agreement-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "agreement-detail": page(AGREEMENT, GET=A_READ),
    "agreement-update": page(AGREEMENT, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "agreement-transition": page(AGREEMENT, POST=A_WRITES, note="the lead party's editors move it too"),
    "agreement-party-create": page(AGREEMENT, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "agreement-party-update": page(kw(uuid="agreement.uuid", pk="party_a.pk"), GET=A_WRITES_PAGE, POST=A_WRITES,
                                   note="a party's editors keep its responsibilities current"),
    "agreement-party-delete": page(kw(uuid="agreement.uuid", pk="party_a.pk"), GET=A_READ_PLANNER_PAGE,
                                   POST=A_READ_PLANNER_WRITES),
    "agreement-party-confirm": page(kw(uuid="agreement.uuid", pk="party_a.pk"),
                                    POST=who(R403, provider_a=ALLOWED, provider_b=R404),
                                    note="only the party's own editors confirm for it, not planners"),
    "agreement-step-create": page(AGREEMENT, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "agreement-step-delete": page(kw(uuid="agreement.uuid", pk="agreement_step.pk"), POST=A_READ_PLANNER_WRITES),
    "agreement-document-create": page(AGREEMENT, GET=A_WRITES_PAGE, POST=A_WRITES,
                                      note="planners and the parties' editors upload documents"),
    "agreement-document-download": page(kw(uuid="agreement.uuid", document_uuid="document.uuid"), GET=A_READ),
    "agreement-document-delete": page(kw(uuid="agreement.uuid", document_uuid="document.uuid"),
                                      GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "agreement-goal-create": page(AGREEMENT, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "agreement-goal-update": page(kw(uuid="agreement.uuid", pk="goal.pk"), GET=A_READ_PLANNER_PAGE,
                                  POST=A_READ_PLANNER_WRITES),
    "agreement-goal-delete": page(kw(uuid="agreement.uuid", pk="goal.pk"), GET=A_READ_PLANNER_PAGE,
                                  POST=A_READ_PLANNER_WRITES),
    # --- networks (private, coordinated by A) ----------------------------------------------------------
    "network-list": page(GET=SIGNED_IN),
    "network-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "network-detail": page(NETWORK, GET=A_READ),
    "network-update": page(NETWORK, GET=A_WRITES_PAGE, POST=A_WRITES),
    "network-delete": page(NETWORK, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "network-member-create": page(NETWORK, POST=A_WRITES),
    "network-member-update": page(kw(uuid="network.uuid", pk="network_member_a.pk"), POST=A_WRITES),
    "network-member-delete": page(kw(uuid="network.uuid", pk="network_member_a.pk"), POST=A_WRITES),
    "network-step-create": page(NETWORK, POST=A_WRITES),
    "network-step-delete": page(kw(uuid="network.uuid", pk="network_step.pk"), POST=A_WRITES),
    "meeting-create": page(kw(network_uuid="network.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "meeting-detail": page(kw(uuid="meeting.uuid"), GET=A_READ),
    "meeting-update": page(kw(uuid="meeting.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "meeting-delete": page(kw(uuid="meeting.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "meeting-task-list": page(GET=SIGNED_IN),
    "meeting-task-create": page(kw(uuid="meeting.uuid"), POST=A_WRITES),
    "meeting-task-done": page(kw(pk="task.pk"), POST=A_WRITES),
    "meeting-task-reopen": page(kw(pk="task.pk"), POST=A_WRITES),
    # --- need reports (A's, new), planning processes (A participates), conflicts -------------------
    "needreport-list": page(GET=SIGNED_IN),
    "needreport-create": (page(GET=who(R403, planner=OK, provider_a=OK, provider_b=OK), POST=ANY_EDITOR_ACT),
                          page(POST=IN_ORG_A, note="reporting for A: planners and A's editors, not B",
                               data=lambda w: {"reporter": w.org_a.pk, "region": w.regions["P11"].pk,
                                               "field": w.field.pk, "title": "Neu", "description": "Wartelisten."})),
    "needreport-detail": page(kw(uuid="need_report.uuid"), GET=A_READ),
    "needreport-update": page(kw(uuid="need_report.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "needreport-delete": page(kw(uuid="need_report.uuid"), GET=A_WRITES_PAGE, POST=A_WRITES),
    "needreport-triage": page(kw(uuid="need_report.uuid"), POST=A_READ_PLANNER_WRITES),
    "planning-list": page(GET=SIGNED_IN),
    "planning-create": page(GET=PLANNER, POST=PLANNER_ACT),
    "planning-detail": page(PROCESS, GET=A_READ),
    "planning-update": page(PROCESS, GET=A_READ_PLANNER_PAGE, POST=A_READ_PLANNER_WRITES),
    "planning-phase": page(PROCESS, POST=A_READ_PLANNER_WRITES),
    "planning-close": page(PROCESS, POST=A_READ_PLANNER_WRITES),
    "planning-participant-create": page(PROCESS, POST=A_READ_PLANNER_WRITES),
    "planning-participant-delete": page(kw(uuid="process.uuid", pk="participant_a.pk"), POST=A_READ_PLANNER_WRITES),
    "planning-swot-create": page(PROCESS, POST=A_WRITES, note="participants add to the SWOT analysis"),
    "planning-swot-delete": page(kw(uuid="process.uuid", pk="swot_a.pk"), POST=A_WRITES),
    "planning-decision-create": page(PROCESS, POST=A_READ_PLANNER_WRITES),
    "planning-decision-delete": page(kw(uuid="process.uuid", pk="decision.pk"), POST=A_READ_PLANNER_WRITES),
    "conflict-list": page(GET=SIGNED_IN),
    "conflict-create": page(GET=who(R403, planner=OK, provider_a=OK, provider_b=R404),
                            POST=who(R403, planner=ALLOWED, provider_a=ALLOWED, provider_b=R404),
                            query="vereinbarung={agreement.uuid}",
                            note="under A's agreement: its parties' editors and planners; B does not see it"),
    "conflict-detail": page(kw(uuid="conflict.uuid"), GET=A_READ),
    "conflict-escalate": page(kw(uuid="conflict.uuid"), POST=A_READ_PLANNER_WRITES),
    "conflict-close": page(kw(uuid="conflict.uuid"), POST=A_READ_PLANNER_WRITES),
    "region-cooperation": (page(kw(code="regions.P11.code"), GET=SIGNED_IN),
                           page(kw(code="regions.P21.code"), GET=OUTSIDE_D1)),
    # --- budgets: read by every signed-in user who sees the scope region (provider staff too: the budget
    # and its allocation are public figures); provider staff see only their own organisation's spending
    "budget-list": page(GET=SIGNED_IN),
    "my-provider-budget": page(GET=PROVIDER_STAFF),
    "budget-detail": page(BUDGET, GET=SIGNED_IN),
    "budget-providers": page(BUDGET, GET=who(OK, provider_a=R404, provider_b=R404),
                             note="every provider's Trägerbudget: staff; provider staff see theirs on my-provider-budget"),
    "budget-provider-share-create": page(BUDGET, POST=PLANNER_ACT),
    "budget-provider-share-delete": page(kw(pk="budget.pk", share_pk="share_a.pk"), POST=PLANNER_ACT),
    "budget-explanation": page(BUDGET, GET=SIGNED_IN),
    "budget-recompute": page(BUDGET, POST=PLANNER_ACT),
    "budget-run-status": page(BUDGET, GET=SIGNED_IN),
    "budget-adopt": page(kw(pk="budget.pk", run_pk="run.pk"), POST=PLANNER_ACT),
    "budget-export-csv": page(BUDGET, GET=SIGNED_IN),
    "budget-export-xlsx": page(BUDGET, GET=SIGNED_IN),
    "budget-export-fdp": page(BUDGET, GET=SIGNED_IN),
    "budget-compare": page(BUDGET, GET=SIGNED_IN),
    "budget-what-if": page(BUDGET, GET=PLANNER, POST=PLANNER_ACT, note="drafting rule variants is planners' work"),
    "budget-expenditures": page(BUDGET, GET=SIGNED_IN, note="rows filtered: provider staff see their own"),
    "budget-expenditure-create": page(BUDGET, GET=PLANNER, POST=PLANNER_ACT),
    "budget-expenditure-import": page(BUDGET, GET=PLANNER, POST=PLANNER_ACT),
    # refused on the budget (visible, not changeable) before the row is looked up: 403 to B too,
    # whether the row exists or not (nothing shows)
    "budget-expenditure-update": page(kw(pk="budget.pk", expenditure_pk="expenditure_a.pk"), GET=PLANNER,
                                      POST=PLANNER_ACT),
    "budget-expenditure-delete": page(kw(pk="budget.pk", expenditure_pk="expenditure_a.pk"), GET=PLANNER,
                                      POST=PLANNER_ACT),
    "budget-utilisation": page(BUDGET, GET=who(OK, provider_a=R404, provider_b=R404)),
    # --- integration tokens ---------------------------------------------------------------------------
    "token-list": (page(GET=who(R403, planner=OK, provider_a=OK, provider_b=OK), POST=ANY_EDITOR_ACT),
                   page(POST=IN_ORG_A, note="a write token for A: planners and A's editors, not B",
                        data=lambda w: {"name": "Neu", "scope": "write", "organization": str(w.org_a.uuid)})),
    "token-revoke": page(kw(pk="spare_token.pk"), POST=who(R404, planner=ALLOWED, provider_a=ALLOWED),
                         note="A's token: planners and A's editors see (and revoke) it, nobody else"),
    # --- HSDS (read-only; signed-in users unless DIRECTORY_PUBLIC) ------------------------------------
    "hsds:root": api(GET=SIGNED_IN),
    "hsds:service-list": api(GET=SIGNED_IN),
    "hsds:service-detail": (api(kw(id="service_a.uuid"), GET=SIGNED_IN),
                            api(kw(id="service_a_inactive.uuid"), GET=A_READ)),
    "hsds:organization-list": api(GET=SIGNED_IN),
    "hsds:organization-detail": api(kw(id="org_a.uuid"), GET=SIGNED_IN,
                                    note="an organisation with an active offering is in the directory"),
    "hsds:taxonomy-list": api(GET=SIGNED_IN),
    "hsds:taxonomy-detail": api(hsds_taxonomy, GET=SIGNED_IN),
    "hsds:taxonomy-term-list": api(GET=SIGNED_IN),
    "hsds:taxonomy-term-detail": api(hsds_term, GET=SIGNED_IN),
    # --- REST API: schema and docs ---------------------------------------------------------------------
    "api:api-root": api(GET=SIGNED_IN),
    # public: they describe the API, no data (drf-spectacular's SERVE_PERMISSIONS default; the schemathesis
    # test reads the schema anonymously)
    "api-schema": api(GET=PUBLIC),
    "api-docs": api(GET=PUBLIC),
    "api-redoc": api(GET=PUBLIC),
    # --- REST API: regions, indicators, indices, imports, fields of action -----------------------------
    "api:region-level-list": api(**CATALOGUE),
    "api:region-level-detail": api(kw(pk="levels.planungsraum.pk"), **CATALOGUE_ITEM),
    "api:region-list": api(**listing(PLANNER_ACT)),
    "api:region-locate": api(query="lon=13.4&lat=52.5", GET=SIGNED_IN),
    "api:region-detail": (api(kw(code="regions.P11.code"), **item(SIGNED_IN, PLANNER_ACT)),
                          api(kw(code="regions.P21.code"), **item(OUTSIDE_D1, who(R403, planner=ALLOWED,
                                                                                  region_lead=R404)))),
    "api:region-ancestors": (api(kw(code="regions.P11.code"), GET=SIGNED_IN),
                             api(kw(code="regions.P21.code"), GET=OUTSIDE_D1)),
    "api:indicator-list": api(**CATALOGUE),
    "api:indicator-detail": api(kw(key="kinder.key"), **CATALOGUE_ITEM),
    "api:indicator-value-list": api(GET=SIGNED_IN, POST=who(R403, planner=R405),
                                    note="POST answers 405 after the access check: values come in by bulk/"),
    "api:indicator-value-bulk": api(POST=PLANNER_ACT),
    "api:indicator-value-detail": (api(kw(pk="value_p11.pk"), GET=SIGNED_IN, DELETE=PLANNER_ACT),
                                   api(kw(pk="value_p21.pk"), GET=OUTSIDE_D1,
                                       DELETE=who(R403, planner=ALLOWED, region_lead=R404))),
    "api:composite-index-list": api(**CATALOGUE),
    "api:composite-index-detail": api(kw(key="index.key"), **CATALOGUE_ITEM),
    "api:composite-index-compute": api(kw(key="index.key"), POST=PLANNER_ACT),
    "api:composite-index-results": api(kw(key="index.key"), GET=SIGNED_IN),
    "api:import-run-list": api(**listing(PLANNER_ACT)),
    "api:import-run-detail": api(kw(pk="import_run.pk"), GET=who(R404, planner=OK)),
    "api:field-of-action-list": api(**CATALOGUE),
    "api:field-of-action-detail": api(kw(key="field.key"), **CATALOGUE_ITEM),
    # --- REST API: organisations, memberships, target groups, locations, offerings ----------------------
    "api:organization-list": api(**listing(PLANNER_ACT)),
    "api:organization-detail": api(kw(uuid="org_a.uuid"), **item(A_READ, A_WRITES, A_READ_PLANNER_WRITES)),
    "api:membership-list": api(**listing(PLANNER_ACT)),
    "api:membership-detail": api(kw(pk="membership_a.pk"),
                                 **item(who(R404, planner=OK, provider_a=OK),
                                        who(R404, planner=ALLOWED, provider_a=R403)),
                                 note="provider A's own membership: everyone sees only their own"),
    "api:target-group-list": api(**CATALOGUE),
    "api:target-group-detail": api(kw(key="target_group.key"), **CATALOGUE_ITEM),
    "api:location-list": (api(**listing(ANY_EDITOR_ACT)),
                          api(POST=IN_ORG_A, data=lambda w: {"organization": str(w.org_a.uuid), "street": "Weg 1",
                                                             "postal_code": "10115", "city": "Berlin"})),
    "api:location-detail": api(kw(uuid="location_a.uuid"), **item(A_READ, A_WRITES)),
    "api:service-list": (api(**listing(ANY_EDITOR_ACT)),
                         api(POST=IN_ORG_A, data=lambda w: {"organization": str(w.org_a.uuid), "name": "Neu",
                                                            "fields": [w.field.key]})),
    "api:service-detail": (api(A_SERVICE, **item(A_READ, A_WRITES)),
                           api(A_SERVICE, PATCH=who(R403, planner=CHANGED, provider_a=UNCHANGED, provider_b=R404),
                               data=lambda w: {"organization": str(w.org_b.uuid)},
                               note="A cannot hand its offering to B; a planner can")),
    "api:service-confirm": api(A_SERVICE, POST=A_WRITES),
    "api:service-duplicate": api(A_SERVICE, POST=A_WRITES),
    # --- REST API: budgets (read as the pages) ---------------------------------------------------------
    "api:budget-list": api(**listing(PLANNER_ACT)),
    "api:budget-detail": api(BUDGET, **item(SIGNED_IN, PLANNER_ACT)),
    "api:budget-utilisation-utilisation": api(BUDGET, GET=who(OK, provider_a=R404, provider_b=R404)),
    "api:budget-adopt": api(BUDGET, POST=PLANNER_ACT),
    "api:budget-preview": api(BUDGET, GET=SIGNED_IN),
    "api:budget-recompute": api(BUDGET, POST=PLANNER_ACT),
    "api:budget-what-if": api(BUDGET, POST=PLANNER_ACT),
    "api:allocation-rule-list": api(**listing(PLANNER_ACT)),
    "api:allocation-rule-detail": api(kw(pk="rule.pk"), **item(SIGNED_IN, PLANNER_ACT)),
    "api:allocation-run-list": api(GET=SIGNED_IN),
    "api:allocation-run-compare": api(query="a={run.pk}&b={run.pk}", GET=SIGNED_IN),
    "api:allocation-run-detail": api(kw(pk="run.pk"), GET=SIGNED_IN),
    "api:expenditure-list": api(**listing(PLANNER_ACT)),
    "api:expenditure-detail": api(kw(pk="expenditure_a.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:provider-share-list": api(**listing(PLANNER_ACT)),
    "api:provider-share-detail": api(kw(pk="share_a.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:provider-allocation-list": api(GET=SIGNED_IN),
    "api:provider-allocation-detail": api(kw(pk="provider_allocation_a.pk"), GET=A_READ),
    # --- REST API: agreements and their parts -------------------------------------------------------
    "api:agreement-list": api(**listing(PLANNER_ACT)),
    "api:agreement-detail": api(AGREEMENT, **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:agreement-history": api(AGREEMENT, GET=A_READ),
    "api:agreement-transition": api(AGREEMENT, POST=A_WRITES, note="the lead party's editors move it too"),
    "api:agreement-party-list": api(**listing(PLANNER_ACT)),
    "api:agreement-party-detail": api(kw(pk="party_a.pk"), **item(A_READ, A_WRITES, A_READ_PLANNER_WRITES)),
    "api:agreement-party-confirm": api(kw(pk="party_a.pk"), POST=who(R403, planner=R400, provider_a=ALLOWED,
                                                                      provider_b=R404),
                                       note="a planner is no member of the party: the workflow refuses (400)"),
    "api:escalation-step-list": api(**listing(PLANNER_ACT)),
    "api:escalation-step-detail": api(kw(pk="agreement_step.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:agreement-document-list": api(**listing(ANY_EDITOR_ACT)),
    "api:agreement-document-detail": api(kw(uuid="document.uuid"), GET=A_READ, DELETE=A_READ_PLANNER_WRITES),
    "api:agreement-document-download": api(kw(uuid="document.uuid"), GET=A_READ),
    "api:goal-list": api(**listing(PLANNER_ACT)),
    "api:goal-detail": api(kw(pk="goal.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    # --- REST API: networks, meetings, tasks ---------------------------------------------------------
    "api:network-list": api(**listing(PLANNER_ACT)),
    "api:network-detail": api(NETWORK, **item(A_READ, A_WRITES, A_READ_PLANNER_WRITES)),
    "api:network-member-list": (api(**listing(ANY_EDITOR_ACT)),
                                api(POST=IN_ORG_A, data=lambda w: {"network": str(w.network.uuid),
                                                                   "organization": str(w.org_b.uuid), "role": "member"},
                                    note="B cannot make itself a member of A's private network")),
    "api:network-member-detail": api(kw(pk="network_member_a.pk"), **item(A_READ, A_WRITES)),
    "api:meeting-list": (api(**listing(ANY_EDITOR_ACT)),
                         api(POST=IN_ORG_A, data=lambda w: {"network": str(w.network.uuid), "place": "Rathaus",
                                                            "starts_at": "2026-12-01T10:00:00+01:00"})),
    "api:meeting-detail": api(kw(uuid="meeting.uuid"), **item(A_READ, A_WRITES)),
    "api:meeting-task-list": (api(**listing(ANY_EDITOR_ACT)),
                              api(POST=IN_ORG_A, data=lambda w: {"meeting": str(w.meeting.uuid), "title": "Protokoll",
                                                                 "responsible": str(w.org_a.uuid),
                                                                 "due": "2026-12-15"})),
    "api:meeting-task-detail": api(kw(pk="task.pk"), **item(A_READ, A_WRITES)),
    "api:meeting-task-done": api(kw(pk="task.pk"), POST=A_WRITES),
    # --- REST API: need reports, planning, conflicts ------------------------------------------------
    "api:need-report-list": (api(**listing(ANY_EDITOR_ACT)),
                             api(POST=IN_ORG_A, data=lambda w: {"reporter": str(w.org_a.uuid), "region": "P11",
                                                                "field": w.field.key, "title": "Neuer Bedarf",
                                                                "description": "Wartelisten."})),
    "api:need-report-detail": api(kw(uuid="need_report.uuid"), **item(A_READ, A_WRITES)),
    "api:need-report-triage": api(kw(uuid="need_report.uuid"), POST=A_READ_PLANNER_WRITES),
    "api:planning-process-list": api(**listing(PLANNER_ACT)),
    "api:planning-process-detail": api(PROCESS, **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:planning-process-close": api(PROCESS, POST=A_READ_PLANNER_WRITES),
    "api:planning-process-phase": api(PROCESS, POST=A_READ_PLANNER_WRITES),
    "api:planning-participant-list": api(**listing(PLANNER_ACT)),
    "api:planning-participant-detail": api(kw(pk="participant_a.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:swot-entry-list": (api(**listing(ANY_EDITOR_ACT)),
                            api(POST=IN_ORG_A, data=lambda w: {"process": str(w.process.uuid),
                                                               "organization": str(w.org_a.uuid),
                                                               "quadrant": "threat", "text": "Fachkräftemangel"})),
    "api:swot-entry-detail": api(kw(pk="swot_a.pk"), **item(A_READ, A_WRITES)),
    "api:planning-decision-list": api(**listing(PLANNER_ACT)),
    "api:planning-decision-detail": api(kw(pk="decision.pk"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:conflict-case-list": (api(**listing(ANY_EDITOR_ACT)),
                               api(POST=IN_ORG_A, data=lambda w: {"agreement": str(w.agreement.uuid),
                                                                  "organization": str(w.org_a.uuid),
                                                                  "subject": "Hausbesuche",
                                                                  "description": "Zuständigkeit strittig."})),
    "api:conflict-case-detail": api(kw(uuid="conflict.uuid"), **item(A_READ, A_READ_PLANNER_WRITES)),
    "api:conflict-case-close": api(kw(uuid="conflict.uuid"), POST=A_READ_PLANNER_WRITES),
    "api:conflict-case-escalate": api(kw(uuid="conflict.uuid"), POST=A_READ_PLANNER_WRITES),
    # --- REST API: notifications and the dashboards' map data -----------------------------------------
    "api:notification-list": api(GET=SIGNED_IN),
    "api:notification-read-all": api(POST=SIGNED_IN_ACT),
    "api:notification-detail": api(kw(pk="notification_a.pk"), GET=who(R404, provider_a=OK)),
    "api:notification-read": api(kw(pk="notification_a.pk"), POST=who(R404, provider_a=ALLOWED)),
    "api:map-data-list": api(query="level=planungsraum&metric=indicator:kinder", GET=SIGNED_IN),
}

# Methods of function views (no class to read them from).
FUNCTION_VIEW_METHODS = {"home": ("GET",), "health": ("GET",)}


# --- running requests ------------------------------------------------------------------------------

# Writes a refused request may make: the session (last activity) and a token's last use.
BOOKKEEPING = {("INSERT", "django_session"), ("UPDATE", "django_session"), ("DELETE", "django_session"),
               ("UPDATE", "cooperation_integrationtoken")}
WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([a-z0-9_]+)"?', re.IGNORECASE)


class WriteLog:
    """The tables in which the statements a request runs changed rows (an UPDATE or DELETE that
    matches no row changes nothing)."""

    def __init__(self):
        self.writes: list[tuple[str, str]] = []  # (INSERT/UPDATE/DELETE, table)

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        found = WRITE.match(sql)
        if found and context["cursor"].rowcount != 0:
            self.writes.append((found.group(1).split()[0].upper(), found.group(2)))
        return result


@dataclass
class Stats:
    requests: int = 0
    routes: int = 0
    seconds: float = 0.0
    by_outcome: Counter = field(default_factory=Counter)


STATS = Stats()


def fill(template: str, world) -> str:
    return re.sub(r"\{([A-Za-z_.0-9]+)\}", lambda match: str(lookup(world, match.group(1))), template)


# Personas who must never see provider A's private data (world.private_markers) in an answer.
LEAK_PROBED = ("anonymous", "provider_b")


def body_text(response) -> str:
    """The answer as text; a ZIP (XLSX, Fiscal Data Package) as the text of its members."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            content = b"\n".join(archive.read(name) for name in archive.namelist())
    return content.decode("utf-8", errors="replace")


def send(world, sessions, persona: str, method: str, url: str, is_api: bool, data=None):
    """One request as ``persona``, in a savepoint that is rolled back; returns
    the response and the tables it changed rows in (bookkeeping aside)."""
    headers = {}
    client = (APIClient if is_api else Client)(raise_request_exception=False)
    if persona in sessions:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = sessions[persona]
    elif persona == "read_token":
        headers["HTTP_AUTHORIZATION"] = f"Token {world.read_secret}"
    elif persona == "write_token":
        headers["HTTP_AUTHORIZATION"] = f"Token {world.write_secret}"
    cache.clear()  # no API throttle counts or cached pages carried from one request to the next
    log = WriteLog()
    with transaction.atomic():
        with connection.execute_wrapper(log):
            if method == "GET":
                response = client.get(url, **headers)
            elif method == "DELETE":
                response = client.delete(url, **headers)
            elif is_api:
                response = getattr(client, method.lower())(url, data or {}, format="json", **headers)
            else:
                response = getattr(client, method.lower())(url, data or {}, **headers)
        transaction.set_rollback(True)
    return response, [table for verb, table in log.writes if (verb, table) not in BOOKKEEPING]


def entries(name) -> list[Entry]:
    value = TABLE[name]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_route(world, sessions, name: str, route: Route, entry: Entry, personas=PERSONAS) -> list[str]:
    """Every method × persona of one route; returns the mismatches."""
    kwargs = entry.kwargs(world) if entry.kwargs else {}
    url = reverse(name, kwargs=kwargs)
    if entry.query:
        url += "?" + fill(entry.query, world)
    problems = []
    for method, row in entry.expect.items():
        for persona in personas:
            expected = row[persona]
            data = entry.data(world) if entry.data and method not in SAFE else None
            response, changed = send(world, sessions, persona, method, url, entry.api, data)
            observed = classify(response)
            STATS.requests += 1
            STATS.by_outcome[observed] += 1
            if expected in (CHANGED, UNCHANGED):
                ok = ((observed in (OK, REDIRECT) and bool(changed)) if expected == CHANGED
                      else (observed not in (LOGIN, ADMIN_LOGIN) and response.status_code < 500 and not changed))
                if not ok:
                    problems.append(f"{method} {url} as {persona}: expected {expected}, got {observed} "
                                    f"changing {sorted(set(changed)) or 'nothing'}")
                continue
            if not matches(expected, observed):
                detail = ""
                if response.status_code >= 500 and getattr(response, "exc_info", None):
                    detail = f" ({response.exc_info[1]!r})"
                elif observed == REDIRECT:
                    detail = f" → {response.headers.get('Location')}"
                problems.append(f"{method} {url} as {persona}: expected {expected}, got {observed}{detail}")
            if observed == OK and persona in LEAK_PROBED:
                text = body_text(response)
                leaked = [f"{marker!r} ({what})" for marker, what in world.private_markers.items() if marker in text]
                if leaked:
                    problems.append(f"{method} {url} as {persona}: the answer shows {', '.join(leaked)}")
            if (observed in REFUSALS or observed == 400) and changed:
                problems.append(f"{method} {url} as {persona}: refused ({observed}) but wrote to {sorted(set(changed))}")
    return problems


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """One world for the module, in a transaction rolled back at the end; its
    agreement document in a temporary MEDIA_ROOT, and a private cache (cleared
    before every request: never a shared Redis)."""
    started = time.monotonic()
    private = {"MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
               "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                      "LOCATION": "permission-matrix"}}}
    with django_db_blocker.unblock(), override_settings(**private):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = matrix_world.build()
            built.built_in = time.monotonic() - started
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
    if STATS.requests:
        print(f"\npermission matrix: {STATS.routes} routes, {STATS.requests} requests in {STATS.seconds:.1f} s "
              f"(world built in {built.built_in:.1f} s); outcomes {dict(STATS.by_outcome)}")


@pytest.fixture(scope="module")
def sessions(world):
    """A signed-in session per persona (the cookie value)."""
    keys = {}
    for persona in SESSION_PERSONAS:
        client = Client()
        client.force_login(getattr(world, persona), backend="django.contrib.auth.backends.ModelBackend")
        keys[persona] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return keys


@pytest.fixture(scope="module", autouse=True)
def quiet_logs():
    """Every refusal is written to the security log and to django.request (403/404 with a traceback);
    thousands of them would only fill the output and cost time. 500s are seen by the matrix itself."""
    import logging

    loggers = [logging.getLogger(name) for name in ("sozialraum.security", "django.request")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


# --- known access bugs --------------------------------------------------------------------------
# Routes that fail the matrix for a real bug not fixed yet: expected to fail (strict: once fixed, the
# test fails until the entry is removed here). Each reason names what is wrong.

KNOWN_BUGS: dict[str, str] = {}


# --- tests ---------------------------------------------------------------------------------------

ROUTES = discover_routes()


class TestTable:
    def test_every_route_has_an_entry_and_every_entry_a_route(self):
        missing = sorted(f"{name}: /{route.pattern}" for name, route in ROUTES.items() if name not in TABLE)
        stale = sorted(set(TABLE) - set(ROUTES))
        assert not missing, ("routes without an entry in TABLE (tests/test_permission_matrix.py):\n  "
                             + "\n  ".join(missing))
        assert not stale, f"TABLE names routes that no longer exist: {stale}"

    def test_the_methods_of_every_entry_are_those_of_its_view(self):
        wrong = []
        for name, route in ROUTES.items():
            if name not in TABLE:
                continue
            view_methods = route.methods if route.methods is not None else FUNCTION_VIEW_METHODS.get(name)
            assert view_methods is not None, f"{name}: a function view; list its methods in FUNCTION_VIEW_METHODS"
            for number, entry in enumerate(entries(name)):
                # the first entry covers every method of the view; further variants (other objects, a
                # payload) some of them
                if set(entry.expect) != set(view_methods) if number == 0 else not set(entry.expect) <= set(view_methods):
                    wrong.append(f"{name}: view answers {sorted(view_methods)}, TABLE has {sorted(entry.expect)}")
                if entry.api != route.api:
                    wrong.append(f"{name}: {'API' if route.api else 'page'} route declared with "
                                 f"{'api' if entry.api else 'page'}()")
        assert not wrong, "\n".join(wrong)


class TestMatrix:
    @pytest.mark.parametrize("name", [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])) if name in KNOWN_BUGS
        else name for name in sorted(n for n in TABLE if n in ROUTES)])
    def test_route(self, world, sessions, settings, name):
        settings.DIRECTORY_PUBLIC = False
        started = time.monotonic()
        problems = [p for entry in entries(name) for p in check_route(world, sessions, name, ROUTES[name], entry)]
        STATS.routes += 1
        STATS.seconds += time.monotonic() - started
        assert not problems, f"{name} (/{ROUTES[name].pattern}):\n  " + "\n  ".join(problems)


# With DIRECTORY_PUBLIC on, anonymous visitors use the directory and the HSDS API (active offerings only);
# every other page still asks them to log in. (route, variant index in TABLE, expected for anonymous)
PUBLIC_DIRECTORY = [
    ("directory", 0, OK), ("directory-locate", 0, OK),
    ("directory-service", 0, OK), ("directory-service", 1, R404),  # active / inactive offering
    ("hsds:root", 0, OK), ("hsds:service-list", 0, OK),
    ("hsds:service-detail", 0, OK), ("hsds:service-detail", 1, R404),
    ("hsds:organization-list", 0, OK), ("hsds:organization-detail", 0, OK),
    ("hsds:taxonomy-list", 0, OK), ("hsds:taxonomy-detail", 0, OK),
    ("hsds:taxonomy-term-list", 0, OK), ("hsds:taxonomy-term-detail", 0, OK),
    ("home", 0, LOGIN), ("service-detail", 0, LOGIN), ("api:service-list", 0, R401),
]


class TestPublicDirectory:
    def test_anonymous_visitors_use_the_directory_and_nothing_else(self, world, sessions, settings):
        settings.DIRECTORY_PUBLIC = True
        problems = []
        for name, variant, expected in PUBLIC_DIRECTORY:
            entry = entries(name)[variant]
            rows = {"GET": {"anonymous": expected}}
            problems += check_route(world, sessions, name, ROUTES[name],
                                    Entry(entry.api, entry.kwargs, rows, entry.query), personas=("anonymous",))
        assert not problems, "\n".join(problems)


class TestAdmin:
    """The admin is not in the matrix (its own staff login): no persona gets past its login."""

    @pytest.mark.parametrize("path", ["/admin/", "/admin/cooperation/organization/", "/admin/auth/user/"])
    def test_no_persona_gets_in(self, world, sessions, path):
        problems = []
        for persona in PERSONAS:
            response, _ = send(world, sessions, persona, "GET", path, is_api=False)
            if classify(response) != ADMIN_LOGIN:
                problems.append(f"GET {path} as {persona}: expected ADMIN_LOGIN, got {classify(response)}")
        assert not problems, "\n".join(problems)


class TestProbes:
    """The matrix's own probes can fail: a write is seen, a marker is found."""

    def test_a_write_is_seen(self, world, sessions):
        url = reverse("api:notification-read", kwargs={"pk": world.notification_a.pk})
        response, written = send(world, sessions, "provider_a", "POST", url, is_api=True)
        assert response.status_code == 200 and "core_notification" in written

    def test_a_refusal_writes_nothing_but_bookkeeping(self, world, sessions):
        url = reverse("api:notification-read", kwargs={"pk": world.notification_a.pk})
        response, written = send(world, sessions, "provider_b", "POST", url, is_api=True)
        assert response.status_code == 404 and not written

    def test_the_markers_show_where_they_may(self, world, sessions):
        shown = ""
        for name, kwargs in (("agreement-detail", {"uuid": world.agreement.uuid}),
                             ("network-detail", {"uuid": world.network.uuid}),
                             ("needreport-detail", {"uuid": world.need_report.uuid}),
                             ("planning-detail", {"uuid": world.process.uuid}),
                             ("conflict-detail", {"uuid": world.conflict.uuid}),
                             ("budget-expenditures", {"pk": world.budget.pk}),
                             ("my-services", {}), ("notification-list", {}), ("token-list", {}),
                             ("api:expenditure-list", {}), ("search?q=Vereinbarung", {}), ("search?q=Netzwerk", {})):
            name, _, query = name.partition("?")
            url = reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")
            response, _ = send(world, sessions, "provider_a", "GET", url, is_api=name.startswith("api:"))
            if query:
                assert any(marker in body_text(response) for marker in ("Nordlicht", "Polarstern")), query
            assert response.status_code == 200, name
            shown += body_text(response)
        missing = [marker for marker in world.private_markers if marker not in shown]
        assert not missing, f"markers provider A's pages never show (the leak probe could not see them): {missing}"
