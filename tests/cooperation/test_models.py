"""Organisations, memberships, offerings and locations: access per persona,
constraints, region lookup, and the shared FilterSet of the directory."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from cooperation.filtersets import ServiceFilterSet
from cooperation.models import Location, Membership, Organization, Service
from core.access import Action
from tests.factories import (
    FieldOfActionFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    ServiceFactory,
    TargetGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SQUARE = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [14.0, 52.0], [14.0, 53.0], [13.0, 53.0], [13.0, 52.0]]]}
WEST = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [13.5, 52.0], [13.5, 53.0], [13.0, 53.0], [13.0, 52.0]]]}


@pytest.fixture
def offerings(org_a, org_b):
    return {
        "a1": ServiceFactory(organization=org_a, name="Erziehungsberatung Nord"),
        "a2": ServiceFactory(organization=org_a, name="Familiencafé", status="inactive"),
        "b1": ServiceFactory(organization=org_b, name="Schuldnerberatung"),
    }


def names(qs):
    return sorted(qs.values_list("name", flat=True))


class TestAccess:
    def test_staff_read_everything_planners_change_everything(self, offerings, planner, viewer, region_lead):
        for user in (planner, viewer, region_lead):
            assert Service.objects.for_user(user, Action.VIEW).count() == 3
            assert Organization.objects.for_user(user, Action.VIEW).count() == 2
        assert Service.objects.for_user(planner, Action.CHANGE).count() == 3
        assert not Service.objects.for_user(viewer, Action.CHANGE).exists()
        assert not Organization.objects.for_user(region_lead, Action.CHANGE).exists()

    def test_provider_editor_sees_and_changes_only_its_own(self, offerings, provider_editor_a, org_a):
        assert names(Service.objects.for_user(provider_editor_a, Action.VIEW)) == ["Erziehungsberatung Nord",
                                                                                  "Familiencafé"]
        assert names(Service.objects.for_user(provider_editor_a, Action.CHANGE)) == ["Erziehungsberatung Nord",
                                                                                    "Familiencafé"]
        assert list(Organization.objects.for_user(provider_editor_a, Action.CHANGE)) == [org_a]
        assert not Organization.objects.for_user(provider_editor_a, Action.DELETE).exists()
        assert Service.objects.can_add(provider_editor_a) and not Organization.objects.can_add(provider_editor_a)

    def test_provider_viewer_reads_but_does_not_change(self, offerings, org_b):
        user = UserFactory(username="b_reader")
        MembershipFactory(user=user, organization=org_b, role="viewer")
        assert names(Service.objects.for_user(user, Action.VIEW)) == ["Schuldnerberatung"]
        assert not Service.objects.for_user(user, Action.CHANGE).exists()
        assert not Service.objects.can_add(user)

    def test_branches_belong_to_their_provider(self, org_a, provider_editor_a, provider_editor_b):
        branch = OrganizationFactory(name="Träger A – Kita Sonnenschein", parent=org_a)
        service = ServiceFactory(organization=branch)
        assert Service.objects.for_user(provider_editor_a, Action.CHANGE).filter(pk=service.pk).exists()
        assert not Service.objects.for_user(provider_editor_b, Action.VIEW).filter(pk=service.pk).exists()

    def test_memberships_cannot_be_escalated_by_providers(self, provider_editor_a, planner):
        assert list(Membership.objects.for_user(provider_editor_a, Action.VIEW)) == list(
            Membership.objects.filter(user=provider_editor_a))
        assert not Membership.objects.for_user(provider_editor_a, Action.CHANGE).exists()
        assert not Membership.objects.can_add(provider_editor_a) and Membership.objects.can_add(planner)

    def test_anonymous_sees_nothing_through_for_user(self, offerings):
        from django.contrib.auth.models import AnonymousUser

        assert not Service.objects.for_user(AnonymousUser(), Action.VIEW).exists()


class TestDirectoryScope:
    def test_anonymous_only_active_and_only_when_public(self, offerings):
        from django.contrib.auth.models import AnonymousUser

        with override_settings(DIRECTORY_PUBLIC=True):
            assert names(Service.objects.directory_for(AnonymousUser())) == ["Erziehungsberatung Nord",
                                                                             "Schuldnerberatung"]
        with override_settings(DIRECTORY_PUBLIC=False):
            assert not Service.objects.directory_for(AnonymousUser()).exists()

    def test_planners_see_every_status_providers_their_own(self, offerings, planner, provider_editor_b,
                                                           provider_editor_a):
        assert Service.objects.directory_for(planner).count() == 3
        assert names(Service.objects.directory_for(provider_editor_b)) == ["Erziehungsberatung Nord",
                                                                           "Schuldnerberatung"]
        assert "Familiencafé" in names(Service.objects.directory_for(provider_editor_a))


class TestConstraints:
    def test_age_range_and_free_places(self, org_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceFactory(organization=org_a, age_min=12, age_max=6)
        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceFactory(organization=org_a, capacity=5, free_places=6, free_places_reported_at=datetime.date.today())
        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceFactory(organization=org_a, capacity=5, free_places=2)  # undated
        service = Service(organization=org_a, name="X", age_min=12, age_max=6, capacity=5, free_places=6)
        with pytest.raises(ValidationError) as e:
            service.full_clean()
        assert set(e.value.message_dict) >= {"age_max", "free_places", "free_places_reported_at"}

    def test_no_cycles_in_the_parent_chain(self, org_a):
        branch = OrganizationFactory(parent=org_a)
        org_a.parent = branch
        with pytest.raises(ValidationError) as e:
            org_a.full_clean()
        assert "parent" in e.value.message_dict

    def test_location_gets_its_region_from_the_point(self, tree, org_a):
        tree["D1"].set_boundary(SQUARE)
        tree["P11"].set_boundary(WEST)
        for region in (tree["D1"], tree["P11"]):
            region.save()
        location = LocationFactory(organization=org_a, latitude=D("52.5"), longitude=D("13.25"))
        assert location.region == tree["P11"]  # the deepest region containing the point
        location.longitude = D("13.75")
        location.save()
        assert location.region == tree["D1"]
        location.latitude = location.longitude = None
        location.save()
        assert location.region is None

    def test_unconfirmed_offerings(self, org_a, settings):
        settings.SERVICE_CONFIRMATION_MONTHS = 12
        old = ServiceFactory(organization=org_a, name="alt")
        Service.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
        confirmed = ServiceFactory(organization=org_a, name="bestätigt", last_confirmed_at=timezone.now())
        ServiceFactory(organization=org_a, name="eingestellt", status="defunct")
        assert names(Service.objects.unconfirmed()) == ["alt"]
        assert Service.objects.get(pk=old.pk).needs_confirmation and not confirmed.needs_confirmation


class TestServiceFilterSet:
    def filtered(self, **params):
        fs = ServiceFilterSet(params, queryset=Service.objects.all())
        assert fs.is_valid(), fs.errors
        return fs.qs

    def test_german_full_text_search(self, org_a):
        ServiceFactory(organization=org_a, name="Beratung für Erziehungsfragen", description="Hilfe bei Konflikten.")
        ServiceFactory(organization=org_a, name="Seniorentreff", description="Kaffee und Kuchen.")
        # the german configuration stems "Beratungen" → "berat"
        assert names(self.filtered(q="Beratungen")) == ["Beratung für Erziehungsfragen"]
        assert names(self.filtered(q="Konflikt")) == ["Beratung für Erziehungsfragen"]
        assert names(self.filtered(q="Träger A")) == ["Beratung für Erziehungsfragen", "Seniorentreff"]  # org name

    def test_parts_of_compounds_are_found_after_the_full_text_hits(self, org_a):
        ServiceFactory(organization=org_a, name="Erziehungsberatung Süd", description="")
        ServiceFactory(organization=org_a, name="Beratung für Eltern", description="")
        ServiceFactory(organization=org_a, name="Treffpunkt", keywords="Schuldnerberatung, Geld", description="")
        found = [s.name for s in self.filtered(q="beratung")]
        assert found[0] == "Beratung für Eltern"  # the full-text hit ranks first
        assert sorted(found[1:]) == ["Erziehungsberatung Süd", "Treffpunkt"]

    def test_field_with_sub_fields_and_target_group(self, org_a):
        parent = FieldOfActionFactory(key="test-jugend", name="Jugend")
        child = FieldOfActionFactory(key="test-jugend-arbeit", name="Jugendarbeit", parent=parent)
        kids = TargetGroupFactory(key="test-kinder")
        small = TargetGroupFactory(key="test-kleine", parent=kids)
        ServiceFactory(organization=org_a, name="Jugendclub", fields=[child], target_groups=[small])
        ServiceFactory(organization=org_a, name="Anderes")
        assert names(self.filtered(field="test-jugend")) == ["Jugendclub"]
        assert names(self.filtered(target_group="test-kinder")) == ["Jugendclub"]
        assert not self.filtered(field="gibt-es-nicht").exists()

    def test_age(self, org_a):
        ServiceFactory(organization=org_a, name="Kita", age_min=1, age_max=6)
        ServiceFactory(organization=org_a, name="für alle")
        assert names(self.filtered(age=4)) == ["Kita", "für alle"]
        assert names(self.filtered(age=30)) == ["für alle"]

    def test_region_with_sub_and_super_regions_and_city_wide(self, tree, org_a):
        ServiceFactory(organization=org_a, name="in P11", regions=[tree["P11"]])
        ServiceFactory(organization=org_a, name="in D1", regions=[tree["D1"]])
        ServiceFactory(organization=org_a, name="in P21", regions=[tree["P21"]])
        ServiceFactory(organization=org_a, name="stadtweit", city_wide=True)
        assert names(self.filtered(region="P11")) == ["in D1", "in P11", "stadtweit"]
        assert names(self.filtered(region="D1")) == ["in D1", "in P11", "stadtweit"]
        assert names(self.filtered(region="D2")) == ["in P21", "stadtweit"]

    def test_point_and_proximity(self, tree, org_a):
        tree["P11"].set_boundary(WEST)
        tree["P11"].save()
        near = LocationFactory(organization=org_a, latitude=D("52.500000"), longitude=D("13.400000"))
        far = LocationFactory(organization=org_a, latitude=D("52.600000"), longitude=D("13.400000"))  # 11.1 km
        ServiceFactory(organization=org_a, name="nah", locations=[near])
        ServiceFactory(organization=org_a, name="fern", locations=[far])
        ServiceFactory(organization=org_a, name="in P11", regions=[tree["P11"]])
        assert names(self.filtered(point="52.5,13.2")) == ["fern", "in P11", "nah"]  # both locations lie in P11
        assert not self.filtered(point="52.5,13.9").exists()  # no region with a boundary there …
        ServiceFactory(organization=org_a, name="stadtweit", city_wide=True)
        assert names(self.filtered(point="52.5,13.9")) == ["stadtweit"]  # … but city-wide offerings serve it
        nearby = list(self.filtered(near="52.501,13.401", radius=2))
        assert [s.name for s in nearby] == ["nah"] and 0.1 < nearby[0].distance < 0.2
        assert [s.name for s in self.filtered(near="52.5,13.4", radius=20)] == ["nah", "fern"]

    def test_bad_point_is_a_clear_error(self):
        from rest_framework.exceptions import ValidationError as ApiValidationError

        fs = ServiceFilterSet({"near": "Berlin"}, queryset=Service.objects.all())
        with pytest.raises(ApiValidationError) as e:
            list(fs.qs)
        assert "Breitengrad,Längengrad" in str(e.value.detail["near"][0])

    def test_free_places(self, org_a):
        today = datetime.date.today()
        ServiceFactory(organization=org_a, name="frei", capacity=10, free_places=2, free_places_reported_at=today)
        ServiceFactory(organization=org_a, name="voll", capacity=10, free_places=0, free_places_reported_at=today)
        assert names(self.filtered(free_places=True)) == ["frei"]


def test_location_region_is_not_set_by_hand(tree, org_a):
    location = Location(organization=org_a, street="Weg 1", postal_code="10115", city="Berlin", region=tree["P12"])
    location.save()
    assert location.region is None  # no point, no region


class TestNavigation:
    def test_offerings_area_per_persona(self, client, provider_editor_a, planner, viewer, settings):
        from django.test import Client

        def nav(user):
            c = Client()
            if user is not None:
                c.force_login(user)
            return c.get("/angebotsfinder/").content.decode()

        settings.DIRECTORY_PUBLIC = True
        assert 'href="/organisationen/meine-angebote/"' in nav(provider_editor_a)
        assert 'href="/organisationen/meine-angebote/"' in nav(planner)
        assert 'href="/organisationen/meine-angebote/"' not in nav(viewer)
        anonymous = nav(None)
        assert 'class="main-nav__heading" href="/angebotsfinder/" aria-current="page">Angebotsfinder' in anonymous
        assert "/organisationen/" not in anonymous


class TestExports:
    def test_needs_confirmation_filter_matches_the_unconfirmed_list(self, org_a, settings):
        settings.SERVICE_CONFIRMATION_MONTHS = 12
        old = ServiceFactory(organization=org_a, name="alt")
        Service.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
        ServiceFactory(organization=org_a, name="frisch")
        fs = ServiceFilterSet({"needs_confirmation": "true"}, queryset=Service.objects.all())
        assert names(fs.qs) == names(Service.objects.unconfirmed()) == ["alt"]
        fs = ServiceFilterSet({"needs_confirmation": "false"}, queryset=Service.objects.all())
        assert names(fs.qs) == ["frisch"]

    def test_list_pages_link_to_their_file_exports(self, planner, provider_editor_a, org_a):
        from django.test import Client

        client = Client()
        client.force_login(planner)
        html = client.get("/organisationen/?kind=provider").content.decode()
        assert 'href="/api/v1/organizations/?format=xlsx&amp;kind=provider"' in html
        assert 'href="/api/v1/organizations/?format=csv&amp;kind=provider"' in html
        html = client.get("/organisationen/angebote/zu-bestaetigen/").content.decode()
        assert 'href="/api/v1/services/?format=xlsx&amp;needs_confirmation=true"' in html
        client.force_login(provider_editor_a)
        assert 'href="/api/v1/services/?format=csv"' in client.get("/organisationen/meine-angebote/").content.decode()
        # the export itself: the provider gets its own offerings only
        ServiceFactory(organization=org_a, name="Eigenes")
        ServiceFactory(name="Fremdes")
        csv_text = client.get("/api/v1/services/?format=csv").content.decode("utf-8-sig")
        assert "Eigenes" in csv_text and "Fremdes" not in csv_text


def test_directory_links_to_the_export_for_signed_in_users(planner, org_a, settings):
    from django.test import Client

    settings.DIRECTORY_PUBLIC = True
    ServiceFactory(organization=org_a, name="Familienberatung")
    client = Client()
    assert "format=xlsx" not in client.get("/angebotsfinder/?q=Beratung").content.decode()  # no API for anonymous
    client.force_login(planner)
    html = client.get("/angebotsfinder/?q=Beratung").content.decode()
    assert 'href="/api/v1/services/?format=xlsx&amp;q=Beratung"' in html
    rows = client.get("/api/v1/services/?format=csv&q=Beratung").content.decode("utf-8-sig").splitlines()
    assert len(rows) == 2 and "Familienberatung" in rows[1]
