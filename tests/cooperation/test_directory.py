"""The service directory (Angebotsfinder) under /angebotsfinder/: every filter
of ServiceFilterSet through the page, German full-text search, ordering,
access (public or not, active offerings only for anonymous visitors), errors
shown next to their field, the tool "In welchem Sozialraum liegt …?", the map,
pagination and a query count independent of the number of results.

Geography (conftest tree, boundaries set here):
    CITY (no boundary)
      ├─ D1 "Nord"  lon 13.0–13.5, lat 52.5–52.7
      │    ├─ P11 "Nord-West"  lon 13.0–13.25 (boundary)
      │    └─ P12 "Nord-Ost"   (no boundary)
      └─ D2 "Süd"   lon 13.0–13.5, lat 52.3–52.5
           └─ P21 "Süd-Mitte"  (no boundary)
"""

import datetime
import re
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from cooperation.directory import FastSelect, mark_selected, normalise_street, render_options
from cooperation.filtersets import ServiceFilterSet
from cooperation.models import Service
from tests.factories import (
    FieldOfActionFactory,
    LocationFactory,
    MembershipFactory,
    RegionFactory,
    ServiceFactory,
    TargetGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/angebotsfinder/"
LOCATE_URL = "/angebotsfinder/sozialraum-finden/"


def box(min_lon, min_lat, max_lon, max_lat):
    return {"type": "Polygon", "coordinates": [[[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat],
                                                [min_lon, max_lat], [min_lon, min_lat]]]}


@pytest.fixture
def public(settings):
    settings.DIRECTORY_PUBLIC = True


@pytest.fixture
def geo(tree):
    for code, geometry in (("D1", box(13.0, 52.5, 13.5, 52.7)), ("D2", box(13.0, 52.3, 13.5, 52.5)),
                           ("P11", box(13.0, 52.5, 13.25, 52.7))):
        tree[code].set_boundary(geometry)
        tree[code].save()
    return tree


@pytest.fixture
def planner_client(client, planner):
    client.force_login(planner)
    return client


def service(name, description="", **kwargs):
    """An offering whose text is only what the test says (the factory's default
    description mentions "Beratung", which would match every search)."""
    return ServiceFactory(name=name, description=description, **kwargs)


def names(response):
    assert response.status_code == 200
    return [s.name for s in response.context["services"]]


def html(response):
    return response.content.decode()


# --- Access -------------------------------------------------------------------------


class TestAccess:
    def test_anonymous_is_sent_to_the_login_when_the_directory_is_not_public(self, client, settings, org_a):
        settings.DIRECTORY_PUBLIC = False
        offering = service("Jugendclub", organization=org_a)
        for url in (URL, reverse("directory-service", kwargs={"uuid": offering.uuid}), LOCATE_URL):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login") + "?next=")

    def test_signed_in_users_may_search_when_it_is_not_public(self, client, settings, provider_editor_b, org_a):
        settings.DIRECTORY_PUBLIC = False
        service("Jugendclub", organization=org_a)
        client.force_login(provider_editor_b)
        assert names(client.get(URL)) == ["Jugendclub"]

    def test_anonymous_visitors_see_only_active_offerings(self, client, public, org_a):
        service("Jugendclub", organization=org_a)
        closed = service("Familiencafé", organization=org_a, status="inactive")
        service("Schuldnerberatung", organization=org_a, status="temporarily closed")
        response = client.get(URL)
        assert names(response) == ["Jugendclub"]
        assert 'name="status"' not in html(response)  # no status filter for them
        assert names(client.get(URL, {"status": "inactive"})) == ["Jugendclub"]  # the parameter is ignored
        assert client.get(reverse("directory-service", kwargs={"uuid": closed.uuid})).status_code == 404

    def test_planners_see_every_status_marked_and_filter_by_it(self, planner_client, public, org_a):
        service("Jugendclub", organization=org_a)
        closed = service("Familiencafé", organization=org_a, status="inactive")
        response = planner_client.get(URL)
        assert names(response) == ["Familiencafé", "Jugendclub"]
        page = html(response)
        assert 'name="status"' in page
        assert re.search(r'Familiencafé</a> <span class="badge directory-status">inaktiv</span>', page)
        assert names(planner_client.get(URL, {"status": "inactive"})) == ["Familiencafé"]
        assert names(planner_client.get(URL, {"status": ["inactive", "active"]})) == ["Familiencafé", "Jugendclub"]
        detail = planner_client.get(reverse("directory-service", kwargs={"uuid": closed.uuid}))
        assert detail.status_code == 200 and "Dieses Angebot ist derzeit nicht aktiv." in html(detail)

    def test_provider_staff_see_their_own_inactive_offerings_without_a_status_filter(
        self, client, public, org_a, org_b, provider_editor_a
    ):
        service("A aktiv", organization=org_a)
        service("A inaktiv", organization=org_a, status="inactive")
        service("B inaktiv", organization=org_b, status="inactive")
        client.force_login(provider_editor_a)
        response = client.get(URL)
        assert names(response) == ["A aktiv", "A inaktiv"]
        assert 'name="status"' not in html(response)


# --- Text search -------------------------------------------------------------------------


class TestTextSearch:
    def test_german_stemming_finds_inflected_forms(self, client, public, org_a):
        service("Beratung für Erziehungsfragen", "Hilfe bei Konflikten in der Familie.", organization=org_a)
        service("Seniorentreff", "Kaffee und Kuchen.", organization=org_a)
        assert names(client.get(URL, {"q": "Beratungen"})) == ["Beratung für Erziehungsfragen"]
        assert names(client.get(URL, {"q": "Konflikt"})) == ["Beratung für Erziehungsfragen"]
        assert names(client.get(URL, {"q": "Familien"})) == ["Beratung für Erziehungsfragen"]

    def test_compound_words_are_not_split(self, client, public, org_a):
        """PostgreSQL's ``german`` text search configuration stems words with the
        Snowball stemmer but has no compound splitting (that would need an ispell
        or hunspell dictionary with compound rules): "Erziehungsberatung" becomes
        the single lexeme 'erziehungsberat', "Beratung für Erziehungsfragen" the
        lexemes 'berat' and 'erziehungsfrag'. So the full-text search alone would
        not find "Erziehungsberatung" for "Beratung"; the FilterSet therefore also
        matches the search text as a substring of the name and the keywords, and
        those hits rank after the full-text hits. "Erziehungsberatung" still does
        not find "Beratung für Erziehungsfragen" (no lexeme and no substring in
        common); keywords ("Stichworte") make an offering findable under other
        words."""
        service("Erziehungsberatung Nord", "", organization=org_a)
        service("Beratung für Erziehungsfragen", "", organization=org_a)
        service("Familienzentrum", "", keywords="Erziehungsberatung, Beratung", organization=org_a)
        found = names(client.get(URL, {"q": "Beratung"}))
        assert found[:2] == ["Beratung für Erziehungsfragen", "Familienzentrum"]  # full-text hits first
        assert found[2:] == ["Erziehungsberatung Nord"]  # the substring of the compound
        assert names(client.get(URL, {"q": "Erziehungsberatung"})) == ["Erziehungsberatung Nord", "Familienzentrum"]
        assert names(client.get(URL, {"q": "Erziehungsberatungen"})) == ["Erziehungsberatung Nord",
                                                                         "Familienzentrum"]
        assert names(client.get(URL, {"q": "Erziehung Beratung"})) == []  # 'erzieh' is not 'erziehungsfrag'

    def test_results_are_ranked_by_relevance(self, client, public, org_a):
        # the name (weight A) counts more than the description (weight B); both
        # rank above the alphabetical order
        service("Arbeitslosentreff", "Offener Treff, einmal im Monat auch Beratung.", organization=org_a)
        service("Zentrum für Beratung", "Beratung zu Schulden, Beratung zu Miete.", organization=org_a)
        service("Seniorentreff", "Kaffee.", organization=org_a)
        response = client.get(URL, {"q": "Beratung"})
        assert names(response) == ["Zentrum für Beratung", "Arbeitslosentreff"]
        assert "sortiert nach Relevanz" in html(response)
        assert "sortiert nach Name" in html(client.get(URL))

    def test_search_syntax_and_organisation_name(self, client, public, org_a, org_b):
        service("Schuldnerberatung", "Hilfe bei Schulden.", organization=org_b)
        service("Mieterberatung", "Hilfe bei Mietschulden.", organization=org_a)
        assert names(client.get(URL, {"q": "Hilfe -Schulden"})) == ["Mieterberatung"]
        assert names(client.get(URL, {"q": "Schuldnerberatung or Mieterberatung"})) == ["Mieterberatung",
                                                                                         "Schuldnerberatung"]
        assert names(client.get(URL, {"q": "gGmbH"})) == ["Schuldnerberatung"]  # Träger B gGmbH


# --- Every other filter ----------------------------------------------------------------------


class TestFilters:
    def test_field_of_action_with_sub_fields_as_an_indented_select(self, client, public, org_a):
        parent = FieldOfActionFactory(key="test-jugend", name="Testjugend")
        child = FieldOfActionFactory(key="test-jugend-club", name="Testjugendclubs", parent=parent)
        service("Jugendclub", organization=org_a, fields=[child])
        service("Seniorentreff", organization=org_a, fields=[FieldOfActionFactory(key="test-alter", name="Alter")])
        response = client.get(URL, {"field": "test-jugend"})
        assert names(response) == ["Jugendclub"]
        page = html(response)
        assert '<option value="test-jugend" selected>Testjugend</option>' in page
        assert '<option value="test-jugend-club">\u00a0\u00a0\u00a0– Testjugendclubs</option>' in page
        assert "Handlungsfeld: <strong>Testjugend</strong>" in page  # the active filter by name
        assert names(client.get(URL, {"field": "test-jugend-club"})) == ["Jugendclub"]

    def test_target_group_with_sub_groups(self, client, public, org_a):
        kids = TargetGroupFactory(key="test-kinder", name="Testkinder")
        small = TargetGroupFactory(key="test-kleine", name="Testkleine", parent=kids)
        service("Kita-Beratung", organization=org_a, target_groups=[small])
        service("Seniorentreff", organization=org_a, target_groups=[TargetGroupFactory(key="test-alte")])
        response = client.get(URL, {"target_group": "test-kinder"})
        assert names(response) == ["Kita-Beratung"]
        assert '<option value="test-kleine">\u00a0\u00a0\u00a0– Testkleine</option>' in html(response)
        assert "Testkleine" in html(response)  # shown in the result

    def test_age(self, client, public, org_a):
        service("Kita", organization=org_a, age_min=1, age_max=6)
        service("Jugendclub", organization=org_a, age_min=12)
        service("für alle", organization=org_a)
        assert names(client.get(URL, {"age": "4"})) == ["Kita", "für alle"]
        response = client.get(URL, {"age": "30"})
        assert names(response) == ["Jugendclub", "für alle"]
        page = html(response)
        assert "ab 12 Jahren" in page and "ohne Altersgrenze" in page
        assert "1–6 Jahre" in html(client.get(URL))

    def test_setting_and_work_mode_as_checkboxes(self, client, public, org_a):
        service("Tagesgruppe", organization=org_a, setting="semi_residential", work_mode="case_specific")
        service("Wohngruppe", organization=org_a, setting="residential", work_mode="case_specific")
        service("Stadtteiltreff", organization=org_a, setting="open", work_mode="case_unspecific")
        response = client.get(URL, {"setting": ["semi_residential", "residential"]})
        assert names(response) == ["Tagesgruppe", "Wohngruppe"]
        page = html(response)
        assert '<input type="checkbox" name="setting" value="residential"' in page
        assert re.search(r'<fieldset class="field field--group" id="id_setting"[^>]*>\s*<legend>', page)
        # removing one value of a multiple filter keeps the other
        assert 'href="/angebotsfinder/?setting=residential"' in page
        assert names(client.get(URL, {"work_mode": "case_unspecific"})) == ["Stadtteiltreff"]
        assert names(client.get(URL, {"setting": "residential", "work_mode": "case_unspecific"})) == []

    def test_region_with_sub_regions_regions_above_and_city_wide(self, client, public, tree, org_a):
        service("in P11", organization=org_a, regions=[tree["P11"]])
        service("in D1", organization=org_a, regions=[tree["D1"]])
        service("in P21", organization=org_a, regions=[tree["P21"]])
        service("stadtweit", organization=org_a, city_wide=True)
        located = LocationFactory(organization=org_a, latitude=D("52.6"), longitude=D("13.1"))
        service("mit Standort", organization=org_a, locations=[located])
        assert names(client.get(URL, {"region": "P11"})) == ["in D1", "in P11", "stadtweit"]
        assert names(client.get(URL, {"region": "D2"})) == ["in P21", "stadtweit"]
        response = client.get(URL, {"region": "D1"})
        assert names(response) == ["in D1", "in P11", "stadtweit"]
        page = html(response)
        # grouped by level; below the top level the Bezirk names the region's place
        assert '<optgroup label="Bezirk">' in page and '<optgroup label="Planungsraum">' in page
        assert '<option value="P11">Nord-West (P11) – Nord</option>' in page
        assert '<option value="D1" selected>Nord (D1)</option>' in page

    def test_region_of_a_location(self, client, public, geo, org_a):
        located = LocationFactory(organization=org_a, latitude=D("52.6"), longitude=D("13.1"))  # in P11
        service("mit Standort", organization=org_a, locations=[located])
        assert names(client.get(URL, {"region": "P11"})) == ["mit Standort"]
        assert names(client.get(URL, {"region": "D2"})) == []

    def test_point_finds_the_social_space_it_lies_in(self, client, public, geo, org_a):
        service("in P11", organization=org_a, regions=[geo["P11"]])
        service("in D2", organization=org_a, regions=[geo["D2"]])
        assert names(client.get(URL, {"point": "52.6,13.1"})) == ["in P11"]
        assert names(client.get(URL, {"point": "52.4,13.1"})) == ["in D2"]
        assert names(client.get(URL, {"point": "48.1,11.5"})) == []  # in no region with a boundary

    def test_near_orders_by_distance_within_the_radius(self, client, public, org_a):
        def at(name, lat):
            location = LocationFactory(organization=org_a, latitude=D(lat), longitude=D("13.1"))
            return service(name, organization=org_a, locations=[location])

        at("A fern", "52.645")  # 5.0 km north of the search point
        at("B mittel", "52.6135")  # 1.5 km
        at("C nah", "52.6045")  # 0.5 km
        service("ohne Standort", organization=org_a)
        response = client.get(URL, {"near": "52.6,13.1", "radius": "2"})
        assert names(response) == ["C nah", "B mittel"]
        distances = [s.distance for s in response.context["services"]]
        assert 0.49 < distances[0] < 0.51 and 1.49 < distances[1] < 1.51
        page = html(response)
        assert "<dd>500 m</dd>" in page and "<dd>1,5 km</dd>" in page
        assert "sortiert nach Entfernung" in page
        assert "52.6,13.1, Umkreis 2 km" in page  # the active filter
        assert names(client.get(URL, {"near": "52.6,13.1"})) == ["C nah", "B mittel"]  # 2 km by default
        assert names(client.get(URL, {"near": "52.6,13.1", "radius": "10"})) == ["C nah", "B mittel", "A fern"]
        # with a search term, distance still decides the order
        assert names(client.get(URL, {"near": "52.6,13.1", "radius": "10", "q": "mittel or fern"})) == [
            "B mittel", "A fern"]

    def test_free_places_with_their_report_date(self, client, public, org_a):
        service("frei", organization=org_a, capacity=10, free_places=3,
                free_places_reported_at=datetime.date(2025, 3, 14))
        service("voll", organization=org_a, capacity=10, free_places=0,
                free_places_reported_at=datetime.date(2025, 3, 14))
        service("unbekannt", organization=org_a)
        response = client.get(URL, {"free_places": "true"})
        assert names(response) == ["frei"]
        page = html(response)
        assert "3 freie Plätze (gemeldet am 14.03.2025)" in page
        assert re.search(r'<input type="checkbox" name="free_places" value="true"[^>]* checked', page)
        # an unticked box is no filter at all (not "without free places")
        assert names(client.get(URL)) == ["frei", "unbekannt", "voll"]

    def test_organisation_as_a_select(self, client, public, org_a, org_b):
        service("von A", organization=org_a)
        service("von B", organization=org_b)
        service("B inaktiv", organization=org_b, status="inactive")
        response = client.get(URL, {"organization": str(org_b.uuid)})
        assert names(response) == ["von B"]
        assert f'<option value="{org_b.uuid}" selected>Träger B gGmbH</option>' in html(response)

    def test_modified_after(self, client, public, org_a):
        old = service("alt", organization=org_a)
        service("neu", organization=org_a)
        Service.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=400))
        since = (timezone.localdate() - datetime.timedelta(days=30)).isoformat()
        assert names(client.get(URL, {"modified_after": since})) == ["neu"]

    def test_active_filters_can_be_removed_one_by_one(self, client, public, tree, org_a):
        service("Treff", organization=org_a, regions=[tree["P11"]], setting="open")
        response = client.get(URL, {"q": "Treff", "region": "P11", "setting": "open", "age": "", "page": "1"})
        assert names(response) == ["Treff"]
        page = html(response)
        assert "Suchbegriff: <strong>„Treff“</strong>" in page
        assert "Sozialraum: <strong>Nord-West (P11) – Nord</strong>" in page
        # each link drops its filter, empty parameters and the page number
        assert 'href="/angebotsfinder/?region=P11&amp;setting=open">entfernen' in page
        assert 'href="/angebotsfinder/?q=Treff&amp;setting=open">entfernen' in page
        assert 'href="/angebotsfinder/?q=Treff&amp;region=P11">entfernen' in page

    def test_the_form_is_labelled_and_grouped(self, client, public):
        page = html(client.get(URL))
        assert 'role="search"' in page
        for legend in ("Thema und Zielgruppe", "Art der Hilfe", "Ort", "Form der Hilfe (Setting)", "Arbeitsweise"):
            assert f"<legend>{legend}</legend>" in page
        for name in ("q", "field", "target_group", "age", "region", "near", "radius", "point", "organization",
                     "modified_after", "free_places"):
            assert f'<label for="id_{name}">' in page
        assert re.search(r'<p class="result-count" role="status">0 Angebote gefunden', page)


# --- Errors ---------------------------------------------------------------------------------------


class TestErrors:
    def test_a_malformed_point_is_a_message_next_to_its_field(self, client, public, org_a):
        service("Treff", organization=org_a)
        response = client.get(URL, {"near": "Berlin"})
        assert response.status_code == 200
        assert names(response) == []
        page = html(response)
        assert re.search(r'<ul class="errorlist" id="id_near_error"><li>Punkt als „Breitengrad,Längengrad“ angeben',
                         page)
        assert re.search(r'<input type="text" name="near" value="Berlin"[^>]*aria-invalid="true"', page)
        assert '<a href="#id_near">in der Nähe von</a>' in page  # the summary links to the field
        assert "<title>Fehler: Angebotsfinder" in page
        assert "Keine Suche: Die Angaben enthalten Fehler" in page

    def test_every_malformed_point_is_reported(self, client, public):
        response = client.get(URL, {"point": "91,13", "near": "52.5;13.4"})
        errors = response.context["form"].errors
        assert "Breitengrad −90 bis 90" in errors["point"][0]
        assert "Breitengrad,Längengrad" in errors["near"][0]

    def test_form_errors(self, client, public):
        response = client.get(URL, {"age": "alt", "radius": "500", "near": "52.5,13.4", "modified_after": "gestern"})
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"age", "radius", "modified_after"}
        assert names(response) == []


# --- Pagination and query count ----------------------------------------------------------------------------


class TestPagination:
    def test_twenty_per_page_and_the_filters_are_kept(self, client, public, org_a):
        for i in range(45):
            service(f"Treff {i:02d}", organization=org_a, setting="open")
        service("anders", organization=org_a)
        response = client.get(URL, {"setting": "open"})
        assert names(response) == [f"Treff {i:02d}" for i in range(20)]
        page = html(response)
        assert "45 Angebote gefunden, hier 1 bis 20" in page
        assert 'href="?setting=open&amp;page=2" rel="next"' in page
        assert '<ol class="directory-results" start="1">' in page
        last = client.get(URL, {"setting": "open", "page": "3"})
        assert names(last) == [f"Treff {i:02d}" for i in range(40, 45)]
        assert '<ol class="directory-results" start="41">' in html(last)
        assert client.get(URL, {"setting": "open", "page": "4"}).status_code == 404

    @pytest.mark.parametrize("count", [5, 40])
    def test_query_count_does_not_grow_with_the_results(self, client, public, geo, org_a, count,
                                                        django_assert_max_num_queries):
        field = FieldOfActionFactory(key="test-feld", name="Testfeld")
        group = TargetGroupFactory(key="test-gruppe", name="Testgruppe")
        for i in range(count):
            location = LocationFactory(organization=org_a, latitude=D("52.6"), longitude=D("13.1") + D(i) / 1000)
            service(f"Treff {i:02d}", "Offener Treff", organization=org_a, fields=[field], target_groups=[group],
                    regions=[geo["P11"]], locations=[location])
        cache.clear()  # the map's outlines: measured uncached
        params = {"q": "Treff", "region": "D1", "field": "test-feld", "near": "52.6,13.1", "radius": "50"}
        with django_assert_max_num_queries(14):
            response = client.get(URL, params)
        assert len(names(response)) == min(count, 20)


# --- The map ----------------------------------------------------------------------------------------------


class TestMap:
    def test_locations_as_circles_over_the_outlines_with_the_list_as_alternative(self, client, public, geo, org_a):
        inside = LocationFactory(organization=org_a, street="Hauptstraße 1", latitude=D("52.6"), longitude=D("13.1"))
        outside = LocationFactory(organization=org_a, latitude=D("48.1"), longitude=D("11.5"))
        service("Treff", organization=org_a, locations=[inside])
        service("Fernes Angebot", organization=org_a, locations=[outside])
        service("Ohne Ort", organization=org_a)
        page = html(client.get(URL))
        svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
        assert svg.count("<circle") == 1
        assert re.search(r"<circle [^>]*><title>3\. Treff – Standort \d+, Hauptstraße 1", svg)  # numbered as listed
        assert svg.count('class="map-region map-child"') == 2  # the city's top level with boundaries: D1, D2
        assert "1 Standort in der Karte." in page
        assert "1 Standort liegt außerhalb des Kartenausschnitts." in page
        assert "1 Angebot ohne Standort mit Koordinaten." in page
        assert "Die Ergebnisliste oben enthält dieselben Angebote" in page

    def test_the_chosen_region_frames_the_map(self, client, public, geo, org_a):
        location = LocationFactory(organization=org_a, latitude=D("52.6"), longitude=D("13.1"))
        service("Treff", organization=org_a, locations=[location])
        svg = re.search(r"<svg .*?</svg>", html(client.get(URL, {"region": "D1", "near": "52.6,13.1"})), re.S).group(0)
        assert 'class="map-region map-current directory-map__region--outline"' in svg  # D1 over its P11
        assert 'class="map-region map-child"' in svg
        assert "Süd (D2)" not in svg
        assert 'class="directory-map__centre"' in svg

    def test_no_map_without_boundaries(self, client, public, tree, org_a):
        service("Treff", organization=org_a)
        assert "<svg" not in html(client.get(URL))


# --- The page of one offering -------------------------------------------------------------------------------


class TestServicePage:
    def test_public_information(self, client, public, tree, org_a):
        location = LocationFactory(organization=org_a, name="Familienzentrum", street="Am Markt 3",
                                   latitude=D("52.6"), longitude=D("13.1"))
        offering = service(
            "Familiencafé", "Offener Treff für Eltern.\n\nJeden Dienstag.", organization=org_a, city_wide=True,
            locations=[location], opening_hours="Di 10–12 Uhr", email="cafe@example.org", phone="+49 30 1234567",
            languages=["de", "tr"], access_modes=["walk_in"], age_min=0, age_max=6,
        )
        url = reverse("directory-service", kwargs={"uuid": offering.uuid})
        assert url == f"/angebotsfinder/angebot/{offering.uuid}/"
        page = html(client.get(url, {"suche": "q=Treff&page=2&age="}))
        assert "<h1>Familiencafé" in page
        for text in ("Offener Treff für Eltern.", "Di 10–12 Uhr", "cafe@example.org", "Deutsch, Türkisch",
                     "ohne Anmeldung (offene Sprechstunde)", "0–6 Jahre", "stadtweit", "Am Markt 3",
                     "Weitere Angebote in der Nähe"):
            assert text in page
        assert 'href="/angebotsfinder/?q=Treff&amp;page=2">Zurück zu den Suchergebnissen' in page
        assert 'href="/angebotsfinder/?near=52.600000%2C13.100000"' in page

    def test_results_link_to_it_with_the_search(self, client, public, org_a):
        offering = service("Familiencafé", organization=org_a)
        page = html(client.get(URL, {"q": "Familiencafé"}))
        # the search's query string as one parameter (so encoded twice)
        assert f'href="/angebotsfinder/angebot/{offering.uuid}/?suche=q%3DFamiliencaf%25C3%25A9"' in page

    def test_unknown_or_invisible_is_404(self, client, public, org_a, provider_editor_b):
        closed = service("Familiencafé", organization=org_a, status="inactive")
        client.force_login(provider_editor_b)
        assert client.get(reverse("directory-service", kwargs={"uuid": closed.uuid})).status_code == 404
        assert client.get("/angebotsfinder/angebot/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- "In welchem Sozialraum liegt …?" -------------------------------------------------------------------------


class TestLocate:
    def test_coordinates_give_the_region_chain_with_directory_links(self, client, public, geo):
        response = client.get(LOCATE_URL, {"lat": "52,6", "lon": "13.1"})  # a decimal comma is fine
        chain = response.context["coords_result"]
        assert [r.code for r in chain.regions] == ["CITY", "D1", "P11"]
        page = html(response)
        assert '<a href="/angebotsfinder/?region=P11">Nord-West</a>' in page
        assert '<a href="/angebotsfinder/?region=D1">Nord</a>' in page
        assert 'href="/angebotsfinder/?near=52.600000%2C13.100000"' in page

    def test_the_deepest_region_with_a_boundary_and_the_levels_below_it(self, client, public, geo):
        response = client.get(LOCATE_URL, {"lat": "52.6", "lon": "13.4"})  # in D1, in P12 which has no boundary
        assert [r.code for r in response.context["coords_result"].regions] == ["CITY", "D1"]
        assert "Für tiefere Ebenen (Planungsraum) sind in Nord keine Grenzen hinterlegt." in html(response)
        response = client.get(LOCATE_URL, {"lat": "48.1", "lon": "11.5"})
        assert "liegt in keinem Sozialraum mit hinterlegter Grenze" in html(response)

    def test_bad_coordinates(self, client, public, geo):
        response = client.get(LOCATE_URL, {"lat": "95", "lon": "Berlin"})
        assert response.status_code == 200
        assert set(response.context["coords_form"].errors) == {"lat", "lon"}
        assert "coords_result" not in response.context

    def test_a_known_address_is_found_however_it_is_written(self, client, public, geo, org_a):
        location = LocationFactory(organization=org_a, street="Karl-Marx-Straße 5a", postal_code="12043",
                                   latitude=D("52.6"), longitude=D("13.1"))
        service("Treff", organization=org_a, locations=[location])
        for street in ("karl-marx-str. 5a", "Karl Marx Strasse 5 A", "KARL-MARX-STRASSE 5a"):
            response = client.get(LOCATE_URL, {"street": street, "postal_code": "12043"})
            results = response.context["address_results"]
            assert [r["location"].pk for r in results] == [location.pk], street
            assert [r.code for r in results[0]["chain"].regions] == ["CITY", "D1", "P11"]
        assert '<a href="/angebotsfinder/?region=P11">Nord-West</a>' in html(response)
        # another postal code: not this address
        response = client.get(LOCATE_URL, {"street": "Karl-Marx-Str. 5a", "postal_code": "10115"})
        assert response.context["address_results"] == []
        assert "nicht als Standort bekannt" in html(response)

    def test_same_street_is_only_a_hint(self, client, public, geo, org_a):
        location = LocationFactory(organization=org_a, street="Karl-Marx-Straße 5", postal_code="12043",
                                   latitude=D("52.6"), longitude=D("13.1"))
        service("Treff", organization=org_a, locations=[location])
        response = client.get(LOCATE_URL, {"street": "Karl-Marx-Str. 99", "postal_code": "12043"})
        assert response.context["address_results"] == []
        assert [loc.pk for loc in response.context["address_hints"]] == [location.pk]
        assert "Eine Straße kann durch mehrere Sozialräume führen." in html(response)

    def test_only_addresses_the_visitor_may_see_in_the_directory(self, client, public, geo, org_a, planner):
        location = LocationFactory(organization=org_a, street="Am Markt 3", postal_code="12043",
                                   latitude=D("52.6"), longitude=D("13.1"))
        service("geschlossen", organization=org_a, status="inactive", locations=[location])
        params = {"street": "Am Markt 3", "postal_code": "12043"}
        assert client.get(LOCATE_URL, params).context["address_results"] == []
        client.force_login(planner)
        assert len(client.get(LOCATE_URL, params).context["address_results"]) == 1

    def test_the_page_explains_its_limits(self, client, public):
        page = html(client.get(LOCATE_URL))
        assert "Es wird kein Geokodierdienst gefragt" in page
        assert "nur gefunden, wenn sie schon als Standort eines Angebots" in page


def test_normalise_street():
    assert normalise_street("Karl-Marx-Straße 5a") == normalise_street("karl marx str. 5 A") == "karlmarxstr5a"
    assert normalise_street("Straße des 17. Juni 100") == normalise_street("Str. des 17. Juni 100")
    assert normalise_street("Musterstr. 12", number=False) == normalise_street("Musterstraße 7", number=False)
    assert normalise_street("Straßenbahnweg 1") != normalise_street("Str.enbahnweg 1")


def test_provider_viewer_memberships_do_not_widen_the_public_view(client, public, org_a):
    """A provider's viewer sees the same as anonymous visitors plus their own organisation's offerings."""
    user = UserFactory(username="reader_a")
    MembershipFactory(user=user, organization=org_a, role="viewer")
    service("eigenes inaktives", organization=org_a, status="inactive")
    client.force_login(user)
    assert names(client.get(URL)) == ["eigenes inaktives"]







# --- Rendering the selects fast, caching the region select ------------------------------------------------


def options_as_before(choices, selected):
    """The options as the select rendered them before (``format_html`` per
    option): the reference for :func:`cooperation.directory.render_options`."""
    done = False

    def option(val, label):
        nonlocal done
        mark = not done and str(val) in selected
        done = done or mark
        return format_html('<option value="{}"{}>{}</option>', val, mark_safe(" selected") if mark else "", label)

    parts = []
    for key, label in choices:
        if isinstance(label, (list, tuple)):
            inner = "".join(option(v, lab) for v, lab in label)
            parts.append(format_html('<optgroup label="{}">{}</optgroup>', key, mark_safe(inner)))
        else:
            parts.append(option(key, label))
    return "".join(parts)


class TestSelects:
    CHOICES = [
        ("", "alle"),
        ("a&b", 'Müller & Söhne <GmbH> "Zitat" \'x\''),
        (7, "eine Zahl"),
        ("safe", mark_safe("<b>schon sicher</b>")),
        ("lazy", gettext_lazy("Suchbegriff")),
        ("Ebene <1>", [("x1", "\u00a0\u00a0\u00a0– eingerückt"), ("a&b", "doppelt (nur die erste gilt)")]),
        ("Ebene 2", [("7", "noch einmal 7"), ('q"', "Anführungszeichen im Wert")]),
    ]

    @pytest.mark.parametrize("selected", [set(), {""}, {"a&b"}, {"7"}, {"x1"}, {'q"'}, {"fehlt"}, {"x1", "7"}])
    def test_options_as_before(self, selected):
        assert mark_selected(render_options(self.CHOICES), selected) == options_as_before(self.CHOICES, selected)

    def test_widget_with_rendered_options(self):
        plain, rendered = FastSelect(choices=self.CHOICES), FastSelect()
        rendered.rendered_options = render_options(self.CHOICES)
        for value in (None, "", "a&b", "x1", "fehlt"):
            assert rendered.render("f", value, {"id": "id_f"}) == plain.render("f", value, {"id": "id_f"})
        assert plain.render("f", "x1").startswith('<select name="f">')


def region_select(page):
    return re.search(r'<select name="region".*?</select>', page, re.S).group(0)


class TestRegionSelectCache:
    def region_rows_read(self, client, params=None):
        """The page, and whether it read the regions for the select (not cached)."""
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, params or {})
        assert response.status_code == 200
        return html(response), any('"regions_regionlevel"."name_plural"' in q["sql"] for q in ctx.captured_queries)

    def test_cached_and_renewed_when_the_regions_change(self, client, public, tree, levels, org_a):
        cache.clear()
        service("Treff", organization=org_a)
        page, read = self.region_rows_read(client)
        assert read and '<option value="P11">Nord-West (P11) – Nord</option>' in page
        again, read = self.region_rows_read(client)
        assert not read and region_select(again) == region_select(page)  # from the cache
        tree["P11"].name = "Nordwest"
        tree["P11"].save()
        page, read = self.region_rows_read(client)
        assert read and '<option value="P11">Nordwest (P11) – Nord</option>' in page
        tree["D1"].name = "Norden"  # the district names its sub-regions
        tree["D1"].save()
        assert '<option value="P12">Nord-Ost (P12) – Norden</option>' in self.region_rows_read(client)[0]
        new = RegionFactory(code="P13", name="Neu", level=levels["planungsraum"], parent=tree["D2"])
        assert '<option value="P13">Neu (P13) – Süd</option>' in self.region_rows_read(client)[0]
        new.delete()
        assert 'value="P13"' not in self.region_rows_read(client)[0]
        tree["P12"].parent = tree["D2"]  # moved to the other district
        tree["P12"].save()
        assert '<option value="P12">Nord-Ost (P12) – Süd</option>' in self.region_rows_read(client)[0]
        levels["planungsraum"].name_plural = "Planungsräume"
        levels["planungsraum"].save()
        page, read = self.region_rows_read(client)
        assert read and '<optgroup label="Planungsräume">' in page
        assert not self.region_rows_read(client)[1]

    def test_selected_region_and_its_label_from_the_cache(self, client, public, tree, org_a):
        cache.clear()
        service("Treff", organization=org_a, regions=[tree["P11"]])
        self.region_rows_read(client)  # fills the cache
        page, read = self.region_rows_read(client, {"region": "P11"})
        assert not read
        assert '<option value="P11" selected>Nord-West (P11) – Nord</option>' in page
        assert "Sozialraum: <strong>Nord-West (P11) – Nord</strong>" in page
        # the labels evicted, the options kept (works with every cache backend: LocMem, Redis)
        from django.utils.translation import get_language

        version, _options = cache.get(f"directory-regions:{get_language() or ''}")
        assert cache.delete(f"directory-regions:{get_language() or ''}:{version}:labels")
        page, _read = self.region_rows_read(client, {"region": "P11"})
        assert "Sozialraum: <strong>Nord-West (P11) – Nord</strong>" in page


class TestPageOrder:
    def test_pages_follow_the_search_order(self, client, public, org_a):
        """The page's ids are sorted first and its offerings read afterwards:
        the pages together are the whole result in the search's order."""
        for i in range(25):
            service(f"Angebot {i:02d}", "Beratung " * (i % 4), organization=org_a, keywords="Beratung" if i % 3 else "")
        service("Beratung Beratung", "Beratung", organization=org_a)
        params = {"q": "Beratung"}
        expected = list(ServiceFilterSet(params, queryset=Service.objects.all()).qs.values_list("name", flat=True))
        pages = names(client.get(URL, params)) + names(client.get(URL, {**params, "page": "2"}))
        assert pages == expected and len(expected) > 20
