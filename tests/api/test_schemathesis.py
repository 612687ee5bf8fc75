"""Schemathesis against the API's own OpenAPI schema (/api/v1/schema/).

Every operation of the schema is called with generated requests (valid ones
and ones that break the schema) as two callers: a planner's write token (no
organisation) and provider A's write token (an editor of ``org_a``, limited
to it). Each response must

* not be a server error (5xx),
* have a documented status code,
* have a documented content type,
* and a body that matches the documented schema for that status.

The app runs in-process (WSGI) on the test's own database connection; each
request runs in a savepoint that is rolled back afterwards, so every request
sees the same seeded world (and nothing written survives the test). Path
parameters, foreign keys in bodies and filter values are drawn partly from the
seeded world, so requests reach real objects and not only 404/400.

Bounded and reproducible: ``FUZZ_EXAMPLES`` examples per operation and kind
(valid / schema-breaking; default 5, so CI stays under 20 minutes), derandomized, no example database; the
same cases every run (only the seeded keys differ). ``FUZZ_ONLY=<regex>`` runs
the operations whose label ("GET /api/v1/regions/") matches, ``FUZZ_SHOW=1``
prints the operations that never answered 2xx. Schema-breaking requests are made
where there is something to break besides the path (query parameters or a body).

Nothing is excluded. The schema documents what is special: CSV/XLSX exports
and GeoJSON as their own media types, file downloads by type, errors (400, 401,
403, 404, 409, 415, 429) for every operation (core.api.schema).
"""

import datetime
import logging
import os
import re
import time
import traceback
from decimal import Decimal as D

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.client import ClientHandler
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.conftest import client_for
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    ConflictCaseFactory,
    EscalationStepFactory,
    FieldOfActionFactory,
    GoalFactory,
    ImportRunFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    LocationFactory,
    MeetingFactory,
    MeetingTaskFactory,
    NeedReportFactory,
    NetworkFactory,
    NetworkMemberFactory,
    PlanningParticipantFactory,
    PlanningProcessFactory,
    ServiceFactory,
    TargetGroupFactory,
    issue_token,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSV = b"region_code;indicator;period;value\r\nP11;kinder;2023;3\r\n"


class _RolledBack(Exception):
    """Leaves the request's savepoint with a rollback."""


class InProcessApp:
    """The Django app as a WSGI application on the test's database connection
    (Django's test ``ClientHandler``: no connection is closed between requests),
    each request in a savepoint that is rolled back."""

    def __init__(self):
        self.handler = ClientHandler(enforce_csrf_checks=True)
        self.calls, self.seconds = 0, 0.0

    def __call__(self, environ, start_response):
        from django.core.cache import cache

        self.calls += 1
        started = time.monotonic()
        try:
            with transaction.atomic():
                response = self.handler(environ)
                raise _RolledBack
        except _RolledBack:
            pass
        finally:
            cache.clear()  # the test's own cache (see ``world``): no throttling counts, nothing of rolled-back data
            self.seconds += time.monotonic() - started
        headers = [*response.items(), *(("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values())]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        if response.streaming:
            return [b"".join(response.streaming_content)]
        return [response.content]


def seed(tree, levels, field, planner, org_a, org_b, provider_editor_a, provider_editor_b):
    """A small but complete world: regions with a boundary, indicators with
    values, an index, offerings and locations of A and B, an agreement (A lead, B
    partner) with steps, a goal and a document, networks, meetings and tasks,
    need reports, a planning process, a conflict, a budget with an adopted run,
    shares, expenditures, notifications and an import."""
    from budgets.models import AllocationRule, Budget, Expenditure, ProviderShare, RuleTerm
    from budgets.providers import recompute
    from budgets.services import adopt, run_allocation
    from cooperation import models as m
    from cooperation.documents import add_document
    from core.notifications import notify
    from regions.indices import save_definition

    tree["P11"].set_boundary({"type": "Polygon", "coordinates": [[[13.30, 52.50], [13.40, 52.50], [13.40, 52.56],
                                                                   [13.30, 52.56], [13.30, 52.50]]]})
    tree["P11"].save()
    kjh = FieldOfActionFactory(key="t-kjh", name="Kinder- und Jugendhilfe")
    need = IndicatorFactory(key="kinder", name="Kinder", rollup="none")
    people = IndicatorFactory(key="einwohner", name="Einwohner", rollup="sum")
    for code, value in (("P11", 1), ("P12", 1), ("P21", 2)):
        IndicatorValueFactory(indicator=need, region=tree[code], period="2022", value=value)
        IndicatorValueFactory(indicator=people, region=tree[code], period="2022", value=1000 * value)
    index = save_definition(None, {"key": "sozialindex", "name": "Sozialindex", "kind": "status",
                                   "scope_level": levels["planungsraum"]},
                            [{"indicator": need}], [{"label": "mittel", "lower": None, "upper": None}])

    group = TargetGroupFactory(key="familien", name="Familien")
    loc_a = LocationFactory(organization=org_a, latitude=D("52.520000"), longitude=D("13.350000"), region=tree["P11"])
    loc_b = LocationFactory(organization=org_b, latitude=D("52.400000"), longitude=D("13.500000"))
    svc_a = ServiceFactory(organization=org_a, name="Erziehungsberatung A", fields=[kjh], target_groups=[group],
                           regions=[tree["P11"]], locations=[loc_a], age_min=0, age_max=27, capacity=10, free_places=2,
                           free_places_reported_at=datetime.date(2026, 1, 5))
    ServiceFactory(organization=org_b, name="Jugendtreff B", fields=[kjh], regions=[tree["P21"]],
                   locations=[loc_b])

    agreement = AgreementFactory(title="Vereinbarung A+B", regions=[tree["P11"], tree["P21"]], fields=[kjh],
                                 services=[svc_a], valid_from=datetime.date(2026, 1, 1))
    AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead")
    AgreementPartyFactory(agreement=agreement, organization=org_b, role="partner")
    step = EscalationStepFactory(agreement=agreement, order=1, handled_by="Sozialraumteam", days=14)
    GoalFactory(agreement=agreement, indicator=need, region=tree["P11"], target_value=3, title="Mehr Kinder erreicht")
    add_document(agreement, SimpleUploadedFile("vertrag.pdf", PDF, content_type="application/pdf"),
                 title="Vertrag", kind="contract", user=planner)

    network = NetworkFactory(name="Netz Nord", coordinator=org_a, regions=[tree["P11"]], fields=[kjh])
    NetworkMemberFactory(network=network, organization=org_b)
    EscalationStepFactory(agreement=None, network=network, order=1, handled_by="Koordination")
    conference = NetworkFactory(name="Fallkonferenz Nord", kind="case_conference", coordinator=org_a)
    meeting = MeetingFactory(network=network, attendees=[org_a, org_b])
    MeetingFactory(network=conference, attendees=[org_a])
    MeetingTaskFactory(meeting=meeting, responsible=org_b, title="Protokoll verschicken")

    report = NeedReportFactory(reporter=org_a, region=tree["P11"], field=kjh, title="Wartelisten")
    NeedReportFactory(reporter=org_b, region=tree["P21"], field=kjh, title="Jugendraum fehlt")
    process = PlanningProcessFactory(title="Planung Nord", regions=[tree["P11"]], fields=[kjh])
    process.need_reports.set([report])
    PlanningParticipantFactory(process=process, organization=org_a)
    PlanningParticipantFactory(process=process, organization=org_b)
    m.SwotEntry.objects.create(process=process, organization=org_a, quadrant="strength", text="Vernetzung")
    m.PlanningDecision.objects.create(process=process, decided_on=datetime.date(2026, 3, 1), text="Streetwork",
                                      agreement=agreement, responsible=org_a)
    ConflictCaseFactory(agreement=agreement, raised_by=org_b, subject="Hausbesuche", step=step,
                        step_started=datetime.date(2026, 11, 1), step_due=datetime.date(2026, 11, 15))

    budget = Budget.objects.create(name="Jugendhilfe", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                   target_level=levels["planungsraum"], total=D("1000.00"), split_mode="percent",
                                   case_specific=D(70), case_overarching=D(10), preventive=D(20))
    rule = AllocationRule.objects.create(budget=budget, part="all")
    RuleTerm.objects.create(rule=rule, kind="indicator", weight=D(1), indicator=need)
    first = run_allocation(budget.pk)
    adopt(first, planner)
    budget.total = D("1200.00")
    budget.save()
    run_allocation(budget.pk, "budget_change")
    ProviderShare.objects.create(budget=budget, region=tree["P11"], part="case_specific", organization=org_a,
                                 share=D(40))
    recompute(budget.pk)
    Expenditure.objects.create(budget=budget, region=tree["P11"], part="case_specific", category="Personal",
                               booking_date=datetime.date(2027, 3, 15), amount=D("120.50"), organization=org_a)

    notify([planner, provider_editor_a], "reminder", "fuzz-1", "Bitte Angebote bestätigen", url="/angebote/")
    ImportRunFactory(created_by=planner)
    return {"index": index, "budget": budget}


@pytest.fixture
def world(tree, levels, field, planner, org_a, org_b, provider_editor_a, provider_editor_b, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # a private cache, cleared after every request (no throttling counts, nothing of rolled-back data)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "schemathesis"}}
    return seed(tree, levels, field, planner, org_a, org_b, provider_editor_a, provider_editor_b)


def load_schema(known):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", InProcessApp())
    loaded.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    known.register(loaded)
    return loaded


class Known:
    """Keys of the seeded world, mixed into the generated requests: path
    parameters (the objects of each route), foreign keys in bodies and filter
    values. Hypothesis picks between the generated value and these, so both
    "does not exist" and "exists" paths are taken."""

    # body / query name → kind of key
    NAMES = {
        "organization": "org", "coordinator": "org", "responsible": "org", "reporter": "org", "attendees": "org",
        "region": "region", "regions": "region", "scope_region": "region", "scope_ancestor": "region",
        "region_code": "region", "ancestor": "region", "region_ancestor": "region", "code": "region",
        "level": "level", "target_level": "level", "scope_level": "level",
        "field": "field", "fields": "field", "case_fields": "field",
        "indicator": "indicator", "indicators": "indicator", "weight_indicator": "indicator",
        "exclude_indicator": "indicator", "factor_indicator": "indicator",
        "indices": "index", "target_groups": "group", "target_group": "group",
        "agreement": "agreement", "network": "network", "meeting": "meeting", "process": "process",
        "need_reports": "need", "services": "service", "locations": "location",
        "budget": "budget", "run": "run", "a": "run", "b": "run", "user": "user",
        "period": "period", "period_from": "period", "period_to": "period", "metric": "metric",
    }
    # names whose keys depend on the route
    BY_ROUTE = {
        "parent": {"regions": "region", "organizations": "org", "fields-of-action": "field", "target-groups": "group"},
        "kind": {"imports": "import_kind"},
    }

    def __init__(self, world):
        from budgets.models import AllocationRun
        from cooperation import models as m
        from core.models import FieldOfAction
        from regions.models import CompositeIndex, Indicator, Region, RegionLevel
        from sozialraum.api import router

        def keys(queryset, name):
            return [str(v) for v in queryset.order_by("pk").values_list(name, flat=True)[:6]]

        runs = keys(AllocationRun.objects.all(), "pk")
        budget = world["budget"]
        self.values = {
            "org": keys(m.Organization.objects.all(), "uuid"),
            "region": keys(Region.objects.all(), "code"),
            "level": keys(RegionLevel.objects.all(), "key"),
            "field": ["t-kjh", "test-feld"],
            "indicator": keys(Indicator.objects.all(), "key"),
            "index": keys(CompositeIndex.objects.all(), "key"),
            "group": keys(m.TargetGroup.objects.all(), "key"),
            "agreement": keys(m.Agreement.objects.all(), "uuid"),
            "network": keys(m.Network.objects.all(), "uuid"),
            "meeting": keys(m.Meeting.objects.all(), "uuid"),
            "process": keys(m.PlanningProcess.objects.all(), "uuid"),
            "need": keys(m.NeedReport.objects.all(), "uuid"),
            "service": keys(m.Service.objects.all(), "uuid"),
            "location": keys(m.Location.objects.all(), "uuid"),
            "budget": [budget.pk],
            "run": [int(r) for r in runs],
            "user": ["planner", "provider_a", "provider_b"],
            "period": ["2022", "2022-12-31"],
            "metric": ["indicator:kinder", "index:sozialindex", f"budget:{budget.pk}",
                       f"delta:{runs[0]}:{runs[-1]}"],
            "import_kind": ["indicator_values", "regions"],
        }
        assert FieldOfAction.objects.filter(key__in=self.values["field"]).count() == 2
        # path parameters: the objects of each route, by its lookup field
        self.routes = {}
        for prefix, viewset, _basename in router.registry:
            model = getattr(viewset, "model", None)
            if model is not None:
                self.routes[prefix] = keys(model.objects.all(), viewset.lookup_field or "pk")

    @staticmethod
    def collection(context) -> str:
        return context.operation.path.removeprefix("/api/v1/").split("/", 1)[0]

    def kind(self, context, name):
        if name in self.BY_ROUTE:
            return self.BY_ROUTE[name].get(self.collection(context))
        return self.NAMES.get(name)

    def choose(self, original, values):
        if not values:
            return st.just(original)
        if isinstance(original, list):
            return st.one_of(st.just(original), st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
        if isinstance(original, int) and not isinstance(original, bool):
            values = [int(v) for v in values if str(v).lstrip("-").isdigit()] or values
        return st.sampled_from([original, *values])

    def mixed(self, context, mapping, kinds):
        if not isinstance(mapping, dict):
            return st.just(mapping)
        return st.fixed_dictionaries({
            name: self.choose(value, self.values.get(kinds(name), [])) for name, value in mapping.items()
        })

    def register(self, loaded):
        known = self

        @loaded.hook
        def flatmap_path_parameters(context, path_parameters):
            keys = known.routes.get(known.collection(context), [])
            if not isinstance(path_parameters, dict):
                return st.just(path_parameters)
            return st.fixed_dictionaries({name: st.sampled_from([value, *keys])
                                          for name, value in path_parameters.items()})

        @loaded.hook
        def flatmap_query(context, query):
            return known.mixed(context, query, lambda name: known.kind(context, name))

        @loaded.hook
        def flatmap_body(context, body):
            strategy = known.mixed(context, body, lambda name: known.kind(context, name))
            if isinstance(body, dict) and "file" in body:  # uploads: also a valid file
                upload = PDF if known.collection(context) == "agreement-documents" else CSV
                strategy = strategy.flatmap(lambda b: st.sampled_from([b, {**b, "file": upload}]))
            return strategy


def fuzz(operation, mode, headers, checks, statuses):
    """Run the examples of one operation in one generation mode; the first
    failure (shrunk) is raised. The status codes answered are added to ``statuses``."""

    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call_and_validate(headers=headers, checks=checks)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    try:
        run()
    except Unsatisfiable:
        # nothing breaks the schema here (e.g. only a free-text path parameter): no negative examples
        if mode.value != "negative":
            raise


@pytest.mark.fuzz
class TestSchemathesis:
    # share of the operations answering 2xx at least once: the requests reach real objects
    # (measured: planner 0.86, provider A 0.5 — most writes are planners' business; a broken token
    # or lookup would show as 401/404 only)
    MIN_SUCCEEDING = {"planner": 0.8, "provider_a": 0.4}

    @pytest.mark.parametrize("persona", ["planner", "provider_a"])
    def test_every_operation(self, persona, world, planner, provider_editor_a, org_a, caplog):
        from schemathesis import checks as registry
        from schemathesis.generation import GenerationMode

        caplog.set_level(logging.ERROR, logger="django.request")  # 4xx are expected; 5xx keep their traceback
        caplog.set_level(logging.WARNING, logger="sozialraum.security")  # a line per token use
        if persona == "planner":
            secret = issue_token(planner, scope="write", name="Fuzz Planung")
        else:
            secret = issue_token(provider_editor_a, organization=org_a, scope="write", name="Fuzz Träger A")
        headers = {"Authorization": f"Token {secret}"}
        checks = [getattr(registry, name) for name in CHECKS]
        loaded = load_schema(Known(world))
        only = re.compile(os.environ.get("FUZZ_ONLY", ""))  # to rerun some operations by hand
        failures, statuses, timings = {}, {}, {}
        for result in loaded.get_all_operations():
            operation = result.ok()
            if not only.search(operation.label):
                continue
            statuses[operation.label] = answered = {}
            modes = [GenerationMode.POSITIVE]
            if len(operation.query) or len(operation.body):  # something to break besides the path
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                started = time.monotonic()
                try:
                    fuzz(operation, mode, headers, checks, answered)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported below
                    failures[f"{operation.label} ({mode.value})"] = exc
                timings[f"{operation.label} {mode.value}"] = time.monotonic() - started
        app = loaded.app
        succeeding = sum(any(200 <= code < 300 for code in answered) for answered in statuses.values())
        slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:3]
        print(f"\n{persona}: {len(statuses)} operations, {EXAMPLES} examples per operation and mode, "
              f"{app.calls} requests ({app.seconds:.0f} s in the app), {succeeding} operations answered 2xx; "
              "slowest: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest))
        if os.environ.get("FUZZ_SHOW"):
            print({label: answered for label, answered in statuses.items() if not any(200 <= c < 300 for c in answered)})
        assert not failures, "\n\n".join(f"=== {label}\n{report(exc)}" for label, exc in failures.items())
        if not only.pattern:
            assert len(statuses) > 200  # every operation of the schema (210 when this was written)
            unauthorised = sorted(label for label, answered in statuses.items() if 401 in answered)
            assert not unauthorised, unauthorised  # the token works for every request
            assert succeeding >= self.MIN_SUCCEEDING[persona] * len(statuses), succeeding


def report(exc) -> str:
    text = "".join(traceback.format_exception_only(exc)) if not hasattr(exc, "exceptions") else str(exc)
    notes = "\n".join(getattr(exc, "__notes__", []))
    return (text + "\n" + notes)[:3000]


class TestFoundByTheFuzzer:
    """What Schemathesis found, pinned as plain requests (the fuzzer finds each
    only with some luck): every one was a 500 or an answer the schema did not
    describe."""

    API = "/api/v1"

    @pytest.fixture
    def api(self, world, planner):
        return client_for(planner)

    def test_a_key_with_a_dot_is_the_apis_json_404(self, api):
        for url in ("/api/v1/services/abc./", "/api/v1/budgets/1.5/", "/api/v1/regions/no.such/"):
            response = api.get(url)
            assert response.status_code == 404 and response["Content-Type"] == "application/json", url
            assert "detail" in response.json()

    def test_geojson_errors_are_json_and_lists_of_regions_are_arrays(self, api):
        response = api.get(f"{self.API}/regions/NOPE/", {"format": "geojson"})
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert api.get(f"{self.API}/regions/P11/ancestors/").json()[-1]["code"] == "D1"
        assert isinstance(api.get(f"{self.API}/regions/locate/", {"lon": "13.35", "lat": "52.52"}).json(), list)
        feature = api.get(f"{self.API}/regions/P11/", {"format": "geojson"}).json()
        assert feature["type"] == "Feature" and feature["properties"]["parent"] == "D1"

    @pytest.mark.parametrize("url, name", [("/organizations/", "modified_after"), ("/services/", "modified_after"),
                                           ("/agreements/", "modified_after"), ("/meetings/", "after")])
    def test_an_impossible_utc_offset_is_a_400(self, api, url, name):
        # PostgreSQL answered "time zone displacement out of range" (500) beyond ±15:59
        response = api.get(f"{self.API}{url}", {name: "1696-06-15T13:56:26+19:44"})
        assert response.status_code == 400 and name in response.json()
        assert api.get(f"{self.API}{url}", {name: "2026-06-15T13:56:26+14:00"}).status_code == 200

    def test_an_indicator_cannot_weight_itself(self, api):
        response = api.patch(f"{self.API}/indicators/einwohner/",
                             {"rollup": "weighted_mean", "weight_indicator": "einwohner"}, format="json")
        assert response.status_code == 400 and "weight_indicator" in response.json()  # was an IntegrityError

    @pytest.mark.parametrize("body", [1.5, ["run"], {"run": "abc"}, {}])
    def test_adopt_takes_an_object_with_a_run_number(self, api, world, body):
        response = api.post(f"{self.API}/budgets/{world['budget'].pk}/adopt/", body, format="json")
        assert response.status_code == 400  # a number as body: "'float' object has no attribute 'get'" (500)

    def test_budget_actions_refuse_with_a_message(self, world, provider_editor_a):
        response = client_for(provider_editor_a).post(f"{self.API}/budgets/{world['budget'].pk}/recompute/")
        assert response.status_code == 403 and response.json()["detail"]  # was an empty body

    @pytest.mark.parametrize("month", ["99999-01", "²⁰²⁷-03", "0000-01", "2027-13"])
    def test_expenditure_month_filter(self, api, month):
        response = api.get(f"{self.API}/expenditures/", {"month": month})
        assert response.status_code == 400 and "month" in response.json()  # "year 99999 is out of range" (500)
        assert api.get(f"{self.API}/expenditures/", {"month": "2027-03"}).json()["count"] == 1

    def test_coordinates_too_long_to_round(self, api, org_a):
        response = api.post(f"{self.API}/locations/", {
            "organization": str(org_a.uuid), "street": "Weg 1", "postal_code": "10115", "city": "Berlin",
            "latitude": "1e30", "longitude": "13.4"}, format="json")
        assert response.status_code == 400 and "latitude" in response.json()  # decimal.InvalidOperation (500)

    @pytest.mark.parametrize("options", ['{"profile": "\\u0000"}', '{"profile": 1e999}', '{"profile": NaN}'])
    def test_import_options_postgresql_cannot_store(self, api, options):
        upload = SimpleUploadedFile("werte.csv", CSV, content_type="text/csv")
        response = api.post(f"{self.API}/imports/", {"kind": "indicator_values", "file": upload, "options": options},
                            format="multipart")
        assert response.status_code == 400 and "options" in response.json()  # jsonb refused it (500)

    def test_map_data_with_a_nul_character(self, api):
        response = api.get(f"{self.API}/map-data/", {"level": "planungsraum\x00", "metric": "indicator:kinder"})
        assert response.status_code == 400 and "level" in response.json()  # ValueError from psycopg (500)

    def test_two_bounds_for_one_region(self, api, world):
        response = api.post(f"{self.API}/allocation-rules/", {
            "budget": world["budget"].pk, "part": "preventive", "terms": [{"kind": "equal", "weight": "1"}],
            "bounds": [{"region": "P11", "cap": "10.00"}, {"region": "P11", "cap": "20.00"}]}, format="json")
        assert response.status_code == 400 and "bounds" in response.json()  # an IntegrityError (500)

    def test_a_meeting_in_the_year_261(self, api):
        from cooperation.models import Network

        network = Network.objects.get(name="Netz Nord")
        response = api.post(f"{self.API}/meetings/", {"network": str(network.uuid),
                                                     "starts_at": "0261-10-03T21:27:42Z"}, format="json")
        # its local time had an offset in seconds (+00:53:28), which is no valid date-time in the answer
        assert response.status_code == 400 and "starts_at" in response.json()
