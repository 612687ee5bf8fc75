"""The server-rendered pages of regions: who sees which page, what they show,
query counts, the map's table alternative, the change history and English.

Tree (conftest): CITY ─ D1 ─ P11, P12
                     └ D2 ─ P21
"""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from core.access import Role
from regions.maps import region_map
from regions.models import Region
from tests.factories import (
    IndicatorFactory,
    IndicatorValueFactory,
    RegionFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# A small square around a point (WGS84), as GeoJSON.
def square(lon, lat, size=0.01):
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
    }


def with_boundary(region, geometry):
    region.set_boundary(geometry)
    region.save()
    return region


@pytest.fixture
def indicators(tree):
    """Residents (sum, 0 decimals) in two periods and a share (2 decimals);
    the city's and D1's values are roll-ups."""
    residents = IndicatorFactory(key="ew", name="Einwohner", unit="Personen", rollup="sum", decimals=0)
    share = IndicatorFactory(key="quote", name="Arbeitslosenquote", unit="%", rollup="none", decimals=2)
    for period, p11, p12, p21 in (("2021", 1000, 2000, 500), ("2022", 1100, 2100, 600)):
        IndicatorValueFactory(indicator=residents, region=tree["P11"], period=period, value=p11)
        IndicatorValueFactory(indicator=residents, region=tree["P12"], period=period, value=p12)
        IndicatorValueFactory(indicator=residents, region=tree["P21"], period=period, value=p21)
        IndicatorValueFactory(indicator=residents, region=tree["D1"], period=period, value=p11 + p12, is_rollup=True)
        IndicatorValueFactory(
            indicator=residents, region=tree["CITY"], period=period, value=p11 + p12 + p21, is_rollup=True
        )
    IndicatorValueFactory(indicator=share, region=tree["P11"], period="2022", value=Decimal("1234567.885"))
    IndicatorValueFactory(indicator=share, region=tree["CITY"], period="2022", value=Decimal("7.5"))
    return {"ew": residents, "quote": share}


def text(html: str) -> str:
    """Visible text: tags removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def login(client, user):
    client.force_login(user)
    return client


PAGES = ["/", "/raeume/", "/raeume/CITY/", "/raeume/P11/", "/raeume/indikatoren/", "/raeume/indikatoren/ew/"]


class TestAccess:
    @pytest.mark.parametrize("persona", ["planner", "scoped_planner", "region_lead", "viewer", "provider_editor_a"])
    @pytest.mark.parametrize("url", PAGES)
    def test_every_page_renders_for_staff_and_providers(self, request, client, indicators, persona, url):
        user = request.getfixturevalue(persona)
        if persona in ("scoped_planner",) and url == "/raeume/P11/":
            url = "/raeume/P21/"  # P11 is outside D2
        response = login(client, user).get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert '<html lang="de">' in html
        assert len(re.findall(r"<h1[ >]", html)) == 1, "one h1 per page"

    @pytest.mark.parametrize("url", PAGES)
    def test_anonymous_is_sent_to_login(self, client, indicators, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/anmelden/?next=")

    def test_login_page_renders_in_german(self, client):
        response = client.get("/anmelden/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Benutzername" in html and "Passwort" in html
        assert 'for="id_username"' in html

    def test_login_shows_error(self, client, planner):
        response = client.post("/anmelden/", {"username": "planner", "password": "falsch"})
        assert response.status_code == 200
        assert 'role="alert"' in response.content.decode()

    @pytest.mark.parametrize("code", ["P11", "P12", "D1"])
    def test_region_outside_scope_is_404(self, client, scoped_planner, code):
        assert login(client, scoped_planner).get(f"/raeume/{code}/").status_code == 404

    @pytest.mark.parametrize("code", ["CITY", "D2", "P21"])
    def test_scoped_planner_sees_subtree_and_ancestors(self, client, scoped_planner, code):
        assert login(client, scoped_planner).get(f"/raeume/{code}/").status_code == 200

    def test_region_lead_does_not_see_other_district(self, client, region_lead):
        assert login(client, region_lead).get("/raeume/P21/").status_code == 404

    def test_unknown_region_and_indicator_are_404(self, client, viewer, tree):
        login(client, viewer)
        assert client.get("/raeume/NOPE/").status_code == 404
        assert client.get("/raeume/indikatoren/nope/").status_code == 404

    def test_list_shows_only_visible_regions(self, client, scoped_planner):
        html = login(client, scoped_planner).get("/raeume/").content.decode()
        assert "Süd-Mitte" in html and "Teststadt" in html
        assert "Nord-West" not in html and "Nord-Ost" not in html

    def test_children_table_is_scoped(self, client, scoped_planner):
        html = login(client, scoped_planner).get("/raeume/CITY/").content.decode()
        assert "/raeume/D2/" in html
        assert "/raeume/D1/" not in html


class TestNavigation:
    def test_import_link_only_for_planners(self, client, planner, viewer, tree):
        assert 'href="/importe/"' in login(client, planner).get("/raeume/").content.decode()
        client.logout()
        assert 'href="/importe/"' not in login(client, viewer).get("/raeume/").content.decode()

    def test_landmarks_skip_link_and_areas(self, client, viewer, tree):
        html = login(client, viewer).get("/raeume/").content.decode()
        assert 'href="#inhalt"' in html and 'id="inhalt"' in html
        for tag in ("<header", "<nav", "<main", "<footer"):
            assert tag in html
        assert '<span class="main-nav__heading" id="nav-kooperation">Kooperation</span>' in html  # no longer planned
        assert '<a href="/kooperation/vereinbarungen/">Vereinbarungen</a>' in html
        assert '<a href="/budgets/">Sozialraumbudgets</a>' in html
        assert "Mein Trägerbudget" not in html  # only for provider staff
        # the offerings area: the directory and the organisations; "Meine Angebote" only for editors
        assert '<a href="/angebotsfinder/">Angebotsfinder</a>' in html and "/organisationen/" in html
        assert "Meine Angebote" not in html
        assert "(folgt)" not in html  # every area is there
        assert "dl-de/by-2-0" in html
        # logout is a POST form with a CSRF token
        assert re.search(r'<form class="logout-form" action="/abmelden/" method="post">\s*<input type="hidden" '
                         r'name="csrfmiddlewaretoken"', html)
        assert 'aria-current="page"' in html

    def test_html_url_names_resolve_to_the_pages(self):
        """The templates link with these names; the API router must not take them
        (sozialraum/urls.py: include the router under a namespace)."""
        assert reverse("region-list") == "/raeume/"
        assert reverse("region-detail", kwargs={"code": "P11"}) == "/raeume/P11/"
        assert reverse("indicator-list") == "/raeume/indikatoren/"
        assert reverse("indicator-detail", kwargs={"key": "ew"}) == "/raeume/indikatoren/ew/"


class TestRegionList:
    def test_filters_with_the_api_filterset(self, client, viewer, tree):
        login(client, viewer)
        html = client.get("/raeume/", {"level": "planungsraum"}).content.decode()
        assert "Nord-West" in html and "Süd-Mitte" in html and "Teststadt" not in html
        html = client.get("/raeume/", {"ancestor": "D1"}).content.decode()
        assert "Nord-West" in html and "Süd-Mitte" not in html
        html = client.get("/raeume/", {"q": "süd"}).content.decode()
        assert "Süd-Mitte" in html and "Nord-Ost" not in html
        # the filter form has labels
        assert '<label for="id_q">' in html and '<label for="id_level">' in html

    def test_area_in_german_format(self, client, viewer, tree):
        Region.objects.filter(code="P11").update(official_area_m2=Decimal("1234567890.12"))
        html = login(client, viewer).get("/raeume/", {"code": "P11"}).content.decode()
        assert "1.234,57" in html  # km²

    def test_pagination_50_per_page(self, client, viewer, tree, levels):
        for i in range(60):
            RegionFactory(code=f"X{i:03d}", name=f"Extra {i}", level=levels["planungsraum"], parent=tree["D2"])
        login(client, viewer)
        html = client.get("/raeume/", {"level": "planungsraum"}).content.decode()
        assert html.count('href="/raeume/X') <= 50
        assert "Seite 1 von 2" in html
        assert 'aria-label="Seitennavigation"' in html
        assert "level=planungsraum&amp;page=2" in html
        html2 = client.get("/raeume/", {"level": "planungsraum", "page": 2}).content.decode()
        assert "Seite 2 von 2" in html2

    def test_query_count_does_not_grow_with_rows(self, client, viewer, tree, levels, django_assert_max_num_queries):
        for i in range(80):
            RegionFactory(code=f"X{i:03d}", level=levels["planungsraum"], parent=tree["D1"])
        login(client, viewer)
        with django_assert_max_num_queries(7):
            assert client.get("/raeume/").status_code == 200


class TestRegionDetail:
    def test_breadcrumb_children_and_facts(self, client, viewer, tree):
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        breadcrumb = html[html.index('class="breadcrumb"'):html.index("</nav>", html.index('class="breadcrumb"'))]
        assert breadcrumb.index("Teststadt") < breadcrumb.index("Nord") < breadcrumb.index("Nord-West")
        assert 'aria-current="page">Nord-West<' in breadcrumb
        html = client.get("/raeume/D1/").content.decode()
        children = html[html.index('id="children-heading"'):]
        assert "/raeume/P11/" in children and "/raeume/P12/" in children

    def test_indicator_table(self, client, viewer, indicators):
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        table = html[html.index("indicator-table"):html.index("</table>", html.index("indicator-table"))]
        # periods newest first
        assert table.index(">2022<") < table.index(">2021<")
        # values with the indicator's decimals, German format, rounded half up
        assert "1.100" in table and "1.000" in table
        assert "1.234.567,89" in table
        # comparison with the city (a roll-up, marked)
        assert "Vergleich Teststadt" in table
        assert "3.800" in table and "7,50" in table
        assert "(aggregiert)" in table

    def test_rollup_marked_on_district(self, client, viewer, indicators):
        html = login(client, viewer).get("/raeume/D1/").content.decode()
        table = html[html.index("indicator-table"):html.index("</table>", html.index("indicator-table"))]
        assert "3.200" in table and "(aggregiert)" in table

    def test_at_most_four_periods(self, client, viewer, tree, indicators):
        for year in range(2015, 2021):
            IndicatorValueFactory(indicator=indicators["ew"], region=tree["P11"], period=str(year), value=year)
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        table = html[html.index("indicator-table"):html.index("</thead>", html.index("indicator-table"))]
        assert ">2022<" in table and ">2019<" in table and ">2018<" not in table

    def test_query_count_pinned(self, client, viewer, tree, indicators, levels, django_assert_max_num_queries):
        with_boundary(tree["D1"], square(13.0, 52.0, 0.02))
        with_boundary(tree["P11"], square(13.0, 52.0))
        with_boundary(tree["P12"], square(13.01, 52.0))
        login(client, viewer)
        with django_assert_max_num_queries(16):
            assert client.get("/raeume/D1/").status_code == 200
        # more children, indicators and values cost no more queries
        for i in range(20):
            child = RegionFactory(code=f"X{i:03d}", level=levels["planungsraum"], parent=tree["D1"])
            with_boundary(child, square(13.0 + i * 0.001, 52.01, 0.001))
            ind = IndicatorFactory(key=f"extra{i}")
            IndicatorValueFactory(indicator=ind, region=tree["D1"], period="2022", value=i)
            IndicatorValueFactory(indicator=ind, region=tree["CITY"], period="2022", value=i)
        with django_assert_max_num_queries(16):
            assert client.get("/raeume/D1/").status_code == 200


class TestMap:
    def test_map_and_table_alternative(self, client, viewer, tree):
        with_boundary(tree["D1"], square(13.0, 52.0, 0.02))
        with_boundary(tree["P11"], square(13.0, 52.0))
        with_boundary(tree["P12"], square(13.01, 52.0))
        html = login(client, viewer).get("/raeume/D1/").content.decode()
        svg = html[html.index("<svg"):html.index("</svg>")]
        assert re.search(r'role="(img|group)" aria-labelledby="karte-\d+-title"', svg)
        assert "<title" in svg and "<desc" in svg
        # one link per child region, focusable, with a title; the current region is not a link
        assert svg.count('<a href="/raeume/P11/"') == 1 and svg.count('<a href="/raeume/P12/"') == 1
        assert 'href="/raeume/D1/"' not in svg
        assert "<title>Nord-West (P11)</title>" in svg
        assert "map-current" in svg
        # no JavaScript, no external resources
        assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
        # the table behind the map
        table = html[html.index("Tabelle zur Karte"):]
        table = table[:table.index("</table>")]
        table = text(table)
        for expected in ("Nord (D1) dieser Raum", "Nord-West (P11) untergeordneter Raum", "Nord-Ost (P12)",
                         "Fläche (km²)", "Schwerpunkt", "° N"):
            assert expected in table

    def test_single_region_is_an_image_with_hatch(self, tree, viewer):
        with_boundary(tree["P21"], square(13.2, 52.4))
        data = region_map(Region.objects.get(code="P21"), Region.objects.for_user(viewer, "view"))
        assert 'role="img"' in data.svg and "url(#karte-" in data.svg
        assert [r.code for r in data.rows] == ["P21"]

    def test_region_without_boundary_shows_its_container(self, tree, viewer):
        with_boundary(tree["D2"], square(13.2, 52.4, 0.05))
        data = region_map(Region.objects.get(code="P21"), Region.objects.for_user(viewer, "view"))
        assert [(r.code, r.role) for r in data.rows] == [("D2", "ancestor")]

    def test_city_without_boundary_shows_its_districts(self, tree, viewer):
        with_boundary(tree["D1"], square(13.0, 52.0))
        with_boundary(tree["D2"], square(13.1, 52.0))
        data = region_map(Region.objects.get(code="CITY"), Region.objects.for_user(viewer, "view"))
        assert sorted(r.code for r in data.rows) == ["D1", "D2"]

    def test_map_is_scoped(self, tree, scoped_planner):
        with_boundary(tree["D1"], square(13.0, 52.0))
        with_boundary(tree["D2"], square(13.1, 52.0))
        data = region_map(Region.objects.get(code="CITY"), Region.objects.for_user(scoped_planner, "view"))
        assert [r.code for r in data.rows] == ["D2"]
        assert "/raeume/D1/" not in data.svg

    def test_path_data_is_small(self, tree, viewer):
        # a detailed circle-ish ring of 5,000 points is simplified
        import math

        ring = [[13 + 0.05 * math.cos(t / 800), 52 + 0.03 * math.sin(t / 800)] for t in range(5027)]
        ring.append(ring[0])
        with_boundary(tree["P21"], {"type": "Polygon", "coordinates": [ring]})
        data = region_map(Region.objects.get(code="P21"), Region.objects.for_user(viewer, "view"))
        assert len(data.svg) < 20_000

    def test_no_boundary_anywhere(self, client, viewer, tree):
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        assert "<svg" not in html
        assert "keine Grenze hinterlegt" in html


class TestHistory:
    def test_change_via_api_shows_old_and_new_value(self, client, planner, viewer, tree):
        login(client, planner)
        response = client.patch("/api/v1/regions/P11/", {"name": "Nordwest-Kiez"}, content_type="application/json")
        assert response.status_code == 200, response.content
        client.logout()
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        history = html[html.index('id="history-heading"'):]
        assert re.search(r"<th scope=\"row\">Name</th>\s*<td>Nord-West</td>\s*<td>Nordwest-Kiez</td>", history)
        assert "geändert" in history
        assert "planner" in history

    def test_change_via_orm_shows_parent_by_name(self, client, viewer, tree):
        region = Region.objects.get(code="P12")
        region.parent = tree["D2"]
        region.save()
        html = login(client, viewer).get("/raeume/P12/").content.decode()
        history = html[html.index('id="history-heading"'):]
        assert re.search(r"übergeordneter Raum</th>\s*<td>Nord \(D1\)</td>\s*<td>Süd \(D2\)</td>", history)

    def test_boundary_is_not_printed_in_full(self, client, viewer, tree):
        with_boundary(tree["P11"], square(13.0, 52.0))
        html = login(client, viewer).get("/raeume/P11/").content.decode()
        history = html[html.index('id="history-heading"'):]
        assert "(strukturierte Daten)" in history
        assert "coordinates" not in history
        assert "bbox" not in history.lower()


class TestIndicatorPages:
    def test_list_filter(self, client, viewer, indicators):
        login(client, viewer)
        html = client.get("/raeume/indikatoren/", {"q": "arbeitslos"}).content.decode()
        assert "Arbeitslosenquote" in html and ">Einwohner<" not in html

    def test_detail_values_per_level_newest_period(self, client, viewer, indicators):
        login(client, viewer)
        html = client.get("/raeume/indikatoren/ew/").content.decode()
        assert "Personen" in html
        values = html[html.index('id="values-heading"'):]
        # default: the level below the top (districts), newest period
        assert "Zeitraum 2022" in values
        assert "3.200" in values and "/raeume/D1/" in values
        html = client.get("/raeume/indikatoren/ew/", {"level": "planungsraum", "period": "2021"}).content.decode()
        values = html[html.index('id="values-heading"'):]
        assert "Zeitraum 2021" in values
        assert "1.000" in values and "2.000" in values and "/raeume/D1/" not in values
        assert '<option value="planungsraum" selected>' in values

    def test_detail_values_are_scoped(self, client, scoped_planner, indicators):
        html = login(client, scoped_planner).get("/raeume/indikatoren/ew/", {"level": "planungsraum"}).content.decode()
        values = html[html.index('id="values-heading"'):]
        assert "/raeume/P21/" in values and "/raeume/P11/" not in values


class TestEnglish:
    def test_german_by_default_whatever_the_browser_says(self, client, viewer, indicators):
        html = login(client, viewer).get("/raeume/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert '<html lang="de">' in html and "Zum Inhalt springen" in html

    def test_english_when_chosen(self, client, viewer, indicators):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = login(client, viewer).get("/raeume/").content.decode()
        assert '<html lang="en">' in html
        assert "Skip to content" in html
        assert "Social spaces" in html
        assert "Needs" in html

    def test_set_language_switches_to_english(self, client, viewer, indicators):
        login(client, viewer)
        response = client.post("/i18n/setlang/", {"language": "en", "next": "/raeume/P11/"})
        assert response.status_code == 302
        html = client.get("/raeume/P11/").content.decode()
        assert "Change history" in html
        assert "1,234,567.89" in html  # English number format
        response = client.post("/i18n/setlang/", {"language": "de", "next": "/raeume/P11/"})
        html = client.get("/raeume/P11/").content.decode()
        assert "Änderungsverlauf" in html and "1.234.567,89" in html

    def test_login_page_in_english(self, client):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = client.get("/anmelden/").content.decode()
        assert "Log in" in html and "Username" in html


def test_superuser_and_unrelated_role_user(client, tree):
    """A user with a role limited to P12 sees P12 and its ancestors only."""
    user = UserFactory(username="lead_p12")
    RoleAssignmentFactory(user=user, role=Role.REGION_LEAD, region=tree["P12"])
    login(client, user)
    assert client.get("/raeume/P12/").status_code == 200
    assert client.get("/raeume/D1/").status_code == 200
    assert client.get("/raeume/P11/").status_code == 404
