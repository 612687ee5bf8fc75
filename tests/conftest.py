"""Shared fixtures: a small city tree and the personas of DESIGN.md.

Tree (levels land → bezirk → planungsraum):
    CITY "Teststadt"
      ├─ D1 "Nord"  ├─ P11, P12
      └─ D2 "Süd"   └─ P21
Personas: planner (everywhere), region_lead (of D1), viewer (everywhere),
provider editors A and B (editors of the organisations ``org_a`` and ``org_b``;
no role in the region tree), anonymous.
"""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from core.access import Role

from .factories import RegionFactory, RegionLevelFactory, RoleAssignmentFactory, UserFactory

BERLIN_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "berlin"


@pytest.fixture
def berlin_dir():
    if not (BERLIN_DIR / "lor_2021.csv").is_file():
        pytest.skip(f"Berlin open data not found at {BERLIN_DIR} (a user's clone has no ../shared; CI has it)")
    return BERLIN_DIR


@pytest.fixture
def levels(db):
    return {
        "land": RegionLevelFactory(key="land", name="Land", rank=0),
        "bezirk": RegionLevelFactory(key="bezirk", name="Bezirk", rank=1),
        "planungsraum": RegionLevelFactory(key="planungsraum", name="Planungsraum", rank=2),
    }


@pytest.fixture
def tree(levels):
    city = RegionFactory(code="CITY", name="Teststadt", level=levels["land"])
    d1 = RegionFactory(code="D1", name="Nord", level=levels["bezirk"], parent=city)
    d2 = RegionFactory(code="D2", name="Süd", level=levels["bezirk"], parent=city)
    p11 = RegionFactory(code="P11", name="Nord-West", level=levels["planungsraum"], parent=d1)
    p12 = RegionFactory(code="P12", name="Nord-Ost", level=levels["planungsraum"], parent=d1)
    p21 = RegionFactory(code="P21", name="Süd-Mitte", level=levels["planungsraum"], parent=d2)
    return {"CITY": city, "D1": d1, "D2": d2, "P11": p11, "P12": p12, "P21": p21}


@pytest.fixture
def planner(db):
    user = UserFactory(username="planner")
    RoleAssignmentFactory(user=user, role=Role.PLANNER, region=None)
    return user


@pytest.fixture
def region_lead(tree):
    user = UserFactory(username="region_lead")
    RoleAssignmentFactory(user=user, role=Role.REGION_LEAD, region=tree["D1"])
    return user


@pytest.fixture
def scoped_planner(tree):
    """A planner limited to district D2 (one municipality of several)."""
    user = UserFactory(username="planner_d2")
    RoleAssignmentFactory(user=user, role=Role.PLANNER, region=tree["D2"])
    return user


@pytest.fixture
def viewer(db):
    user = UserFactory(username="viewer")
    RoleAssignmentFactory(user=user, role=Role.VIEWER, region=None)
    return user


@pytest.fixture
def org_a(db):
    from .factories import OrganizationFactory

    return OrganizationFactory(name="Träger A e. V.")


@pytest.fixture
def org_b(db):
    from .factories import OrganizationFactory

    return OrganizationFactory(name="Träger B gGmbH", umbrella="diakonie", legal_form="ggmbh")


@pytest.fixture
def provider_editor_a(org_a):
    from .factories import MembershipFactory

    user = UserFactory(username="provider_a")
    MembershipFactory(user=user, organization=org_a, role="editor")
    return user


@pytest.fixture
def provider_editor_b(org_b):
    from .factories import MembershipFactory

    user = UserFactory(username="provider_b")
    MembershipFactory(user=user, organization=org_b, role="editor")
    return user


@pytest.fixture
def api():
    return APIClient()


def client_for(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def personas(planner, region_lead, viewer, provider_editor_a, provider_editor_b):
    return {
        "planner": planner,
        "region_lead": region_lead,
        "viewer": viewer,
        "provider_editor_a": provider_editor_a,
        "provider_editor_b": provider_editor_b,
        "anonymous": None,
    }


# --- more personas and helpers (tests/regions, tests/core) ------------------------


@pytest.fixture
def superuser(db):
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def inactive_planner(db):
    """An unscoped planner whose account was deactivated: sees nothing."""
    user = UserFactory(username="planner_inactive", is_active=False)
    RoleAssignmentFactory(user=user, role=Role.PLANNER, region=None)
    return user


@pytest.fixture
def eager_celery(settings):
    """Force Celery tasks to run in-process (also when REDIS_URL is set): the Django
    setting and the already configured app; restored afterwards."""
    from sozialraum.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture(scope="session", autouse=True)
def celery_configured_from_real_settings():
    """Celery reads Django's settings lazily, once. Load them before any test
    overrides a setting, so no override leaks into the app for later tests."""
    from sozialraum.celery import app

    app.conf.task_always_eager  # noqa: B018 - the read loads the configuration


@pytest.fixture
def field(db):
    """A field of action (Handlungsfeld) for budgets."""
    from core.models import FieldOfAction

    return FieldOfAction.objects.get_or_create(key="test-feld", defaults={"name": "Testfeld"})[0]


@pytest.fixture
def budget(tree, levels, field):
    """1000 € over P11, P12, P21 by need ("kinder") 1:1:2, split 70/10/20 %, one rule for all parts."""
    from decimal import Decimal as D

    from budgets.choices import RulePart, SplitMode, TermKind
    from budgets.models import AllocationRule, Budget, RuleTerm

    from .factories import IndicatorFactory, IndicatorValueFactory

    need = IndicatorFactory(key="kinder", name="Kinder", rollup="none")
    for code, value in (("P11", 1), ("P12", 1), ("P21", 2)):
        IndicatorValueFactory(indicator=need, region=tree[code], period="2022", value=value)
    budget = Budget.objects.create(name="Jugendhilfe", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                   target_level=levels["planungsraum"], total=D("1000.00"),
                                   split_mode=SplitMode.PERCENT, case_specific=D(70), case_overarching=D(10),
                                   preventive=D(20))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=rule, kind=TermKind.INDICATOR, weight=D(1), indicator=need)
    return budget


@pytest.fixture
def security_log():
    """The security log's events (core.security) written during the test, as
    dicts, in order. The logger does not propagate to the root (caplog)."""
    import logging

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(level=logging.DEBUG)
            self.events = []

        def emit(self, record):
            self.events.append(dict(record.security))

    logger = logging.getLogger("sozialraum.security")
    handler, before = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.events
    logger.removeHandler(handler)
    logger.setLevel(before)
