"""``for_user`` per persona and model: the one place that decides who sees and
changes what (DESIGN.md, Access model).

Tree (conftest): CITY ─ D1 ─ P11, P12
                     └ D2 ─ P21
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from core.access import Action, Role, has_role
from core.models import ImportRun
from regions import access
from regions.models import Indicator, IndicatorValue, Region, RegionLevel, RoleAssignment
from tests.factories import ImportRunFactory, IndicatorFactory, IndicatorValueFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db

ALL = {"CITY", "D1", "D2", "P11", "P12", "P21"}
NONE = set()
D1_VIEW = {"CITY", "D1", "P11", "P12"}
D2_VIEW = {"CITY", "D2", "P21"}
D2_SUBTREE = {"D2", "P21"}

PERSONAS = ["planner", "scoped_planner", "region_lead", "viewer", "provider_editor_a", "provider_editor_b",
            "anonymous", "anonymous_none", "inactive_planner", "superuser"]

# persona → (regions visible, regions changeable)
REGION_SCOPE = {
    "planner": (ALL, ALL),
    "scoped_planner": (D2_VIEW, D2_SUBTREE),
    "region_lead": (D1_VIEW, NONE),
    "viewer": (ALL, NONE),
    "provider_editor_a": (ALL, NONE),
    "provider_editor_b": (ALL, NONE),
    "anonymous": (NONE, NONE),
    "anonymous_none": (NONE, NONE),
    "inactive_planner": (NONE, NONE),
    "superuser": (ALL, ALL),
}

# persona → (sees all catalogue rows, may change them) for Indicator and RegionLevel
CATALOGUE_SCOPE = {
    "planner": (True, True),
    "scoped_planner": (True, False),  # a district planner does not edit the city-wide catalogue
    "region_lead": (True, False),
    "viewer": (True, False),
    "provider_editor_a": (True, False),
    "provider_editor_b": (True, False),
    "anonymous": (False, False),
    "anonymous_none": (False, False),
    "inactive_planner": (False, False),
    "superuser": (True, True),
}


@pytest.fixture
def world(tree, personas, scoped_planner, superuser, inactive_planner):
    users = dict(personas)
    users.update(scoped_planner=scoped_planner, superuser=superuser, inactive_planner=inactive_planner,
                 anonymous=AnonymousUser(), anonymous_none=None)
    ew = IndicatorFactory(key="ew", rollup="sum")
    share = IndicatorFactory(key="share", rollup="weighted_mean", weight_indicator=ew)
    for region in tree.values():
        IndicatorValueFactory(indicator=ew, region=region, period="2022", value=100)
        IndicatorValueFactory(indicator=share, region=region, period="2022", value="12.5")
    runs = {
        "planner": ImportRunFactory(created_by=users["planner"]),
        "scoped_planner": ImportRunFactory(created_by=scoped_planner),
        "provider_editor_a": ImportRunFactory(created_by=users["provider_editor_a"]),
        "anonymous": ImportRunFactory(created_by=None),
    }
    return {"users": users, "runs": runs, "tree": tree}


def region_codes(qs):
    return set(qs.values_list("code", flat=True))


def value_codes(qs):
    codes = list(qs.values_list("region__code", flat=True))
    return set(codes)


@pytest.mark.parametrize("persona", PERSONAS)
class TestRegion:
    def test_view(self, world, persona):
        user = world["users"][persona]
        assert region_codes(Region.objects.for_user(user, Action.VIEW)) == REGION_SCOPE[persona][0]

    def test_change_and_delete(self, world, persona):
        user = world["users"][persona]
        expected = REGION_SCOPE[persona][1]
        assert region_codes(Region.objects.for_user(user, Action.CHANGE)) == expected
        assert region_codes(Region.objects.for_user(user, Action.DELETE)) == expected

    def test_changeable_is_visible(self, world, persona):
        user = world["users"][persona]
        changeable = region_codes(Region.objects.for_user(user, Action.CHANGE))
        assert changeable <= region_codes(Region.objects.for_user(user, Action.VIEW))

    def test_scope_composes_with_other_filters(self, world, persona):
        user = world["users"][persona]
        visible = REGION_SCOPE[persona][0]
        qs = Region.objects.filter(level__key="planungsraum").for_user(user, Action.VIEW)
        assert region_codes(qs) == visible & {"P11", "P12", "P21"}


@pytest.mark.parametrize("persona", PERSONAS)
class TestIndicatorValue:
    def test_view(self, world, persona):
        user = world["users"][persona]
        qs = IndicatorValue.objects.for_user(user, Action.VIEW)
        assert value_codes(qs) == REGION_SCOPE[persona][0]
        assert qs.count() == 2 * len(REGION_SCOPE[persona][0])

    def test_change(self, world, persona):
        user = world["users"][persona]
        assert value_codes(IndicatorValue.objects.for_user(user, Action.CHANGE)) == REGION_SCOPE[persona][1]
        assert value_codes(IndicatorValue.objects.for_user(user, Action.DELETE)) == REGION_SCOPE[persona][1]


@pytest.mark.parametrize("model", [Indicator, RegionLevel])
@pytest.mark.parametrize("persona", PERSONAS)
class TestCatalogues:
    def test_view(self, world, persona, model):
        user = world["users"][persona]
        sees_all, _ = CATALOGUE_SCOPE[persona]
        expected = model.objects.count() if sees_all else 0
        assert expected > 0 or not sees_all
        assert model.objects.for_user(user, Action.VIEW).count() == expected

    def test_change(self, world, persona, model):
        user = world["users"][persona]
        _, changes = CATALOGUE_SCOPE[persona]
        expected = model.objects.count() if changes else 0
        assert model.objects.for_user(user, Action.CHANGE).count() == expected
        assert model.objects.for_user(user, Action.DELETE).count() == expected


@pytest.mark.parametrize("persona", PERSONAS)
class TestRoleAssignment:
    def test_view(self, world, persona):
        user = world["users"][persona]
        qs = RoleAssignment.objects.for_user(user, Action.VIEW)
        if persona in ("planner", "superuser"):
            assert qs.count() == RoleAssignment.objects.count()
        elif persona in ("anonymous", "anonymous_none", "inactive_planner"):
            assert qs.count() == 0
        else:  # only one's own assignments
            assert set(qs.values_list("user_id", flat=True)) <= {user.pk}
            assert qs.count() == RoleAssignment.objects.filter(user=user).count()

    def test_change(self, world, persona):
        user = world["users"][persona]
        qs = RoleAssignment.objects.for_user(user, Action.CHANGE)
        if persona in ("planner", "superuser"):
            assert qs.count() == RoleAssignment.objects.count()
        else:  # nobody else grants or edits roles, not even their own
            assert qs.count() == 0


@pytest.mark.parametrize("persona", PERSONAS)
class TestImportRun:
    def test_view(self, world, persona):
        user = world["users"][persona]
        runs = world["runs"]
        qs = ImportRun.objects.for_user(user, Action.VIEW)
        if persona in ("planner", "superuser"):
            assert set(qs) == set(runs.values())  # planners without a region limit see every run
        elif persona in ("anonymous", "anonymous_none", "inactive_planner"):
            assert qs.count() == 0  # not even runs without an author
        else:
            assert set(qs) == ({runs[persona]} if persona in runs else set())

    def test_change_only_own(self, world, persona):
        user = world["users"][persona]
        runs = world["runs"]
        qs = ImportRun.objects.for_user(user, Action.CHANGE)
        if persona == "superuser":
            assert qs.count() == len(runs)
        elif persona in ("anonymous", "anonymous_none", "inactive_planner"):
            assert qs.count() == 0
        else:
            assert set(qs) == ({runs[persona]} if persona in runs else set())


class TestCanAdd:
    @pytest.mark.parametrize("persona, region, indicator, level, role, run", [
        ("planner", True, True, True, True, True),
        ("scoped_planner", True, False, False, False, True),
        ("region_lead", False, False, False, False, False),
        ("viewer", False, False, False, False, False),
        ("provider_editor_a", False, False, False, False, False),
        ("superuser", True, True, True, True, True),
    ])
    def test_can_add(self, world, persona, region, indicator, level, role, run):
        user = world["users"][persona]
        assert Region.objects.can_add(user) is region
        assert IndicatorValue.objects.can_add(user) is region
        assert Indicator.objects.can_add(user) is indicator
        assert RegionLevel.objects.can_add(user) is level
        assert RoleAssignment.objects.can_add(user) is role
        assert ImportRun.objects.can_add(user) is run

    # regression: can_add was a classmethod, which QuerySet.as_manager() does not copy
    @pytest.mark.parametrize("model", [Region, IndicatorValue, Indicator, RegionLevel, RoleAssignment, ImportRun])
    def test_manager_exposes_can_add(self, world, model):
        assert model.objects.can_add(world["users"]["planner"]) is True

    def test_inactive_has_no_role(self, world):
        assert not has_role(world["users"]["inactive_planner"], Role.PLANNER)
        assert not has_role(world["users"]["anonymous"], Role.PLANNER)


class TestScopeDetails:
    def test_unknown_action_refused(self, world):
        with pytest.raises(ValueError):
            Region.objects.for_user(world["users"]["planner"], "publish")

    def test_scopes_loaded_once_per_user_object(self, world, django_assert_num_queries):
        user = world["users"]["scoped_planner"]
        access.forget(user)
        with django_assert_num_queries(1):
            access.scopes(user)
            access.scopes(user)
        with django_assert_num_queries(2):  # the scope query (cached) is not repeated per queryset
            list(Region.objects.for_user(user, Action.VIEW))
            list(IndicatorValue.objects.for_user(user, Action.CHANGE))

    def test_two_scoped_roles_union(self, world):
        tree = world["tree"]
        user = world["users"]["region_lead"]  # region lead of D1
        RoleAssignmentFactory(user=user, role=Role.PLANNER, region=tree["P21"])
        access.forget(user)
        assert region_codes(Region.objects.for_user(user, Action.VIEW)) == D1_VIEW | {"D2", "P21"}
        assert region_codes(Region.objects.for_user(user, Action.CHANGE)) == {"P21"}

    def test_unscoped_viewer_plus_scoped_planner(self, world):
        tree = world["tree"]
        user = world["users"]["viewer"]
        RoleAssignmentFactory(user=user, role=Role.PLANNER, region=tree["D1"])
        access.forget(user)
        assert region_codes(Region.objects.for_user(user, Action.VIEW)) == ALL
        assert region_codes(Region.objects.for_user(user, Action.CHANGE)) == {"D1", "P11", "P12"}

    def test_new_region_below_scope_becomes_visible(self, world, levels):
        from tests.factories import RegionFactory

        user = world["users"]["scoped_planner"]
        RegionFactory(code="P22", level=levels["planungsraum"], parent=world["tree"]["D2"])
        assert "P22" in region_codes(Region.objects.for_user(user, Action.CHANGE))
