"""The planner overview in a real browser: the map is drawn from the API, its
level and metric switch, hover/focus details, a region link, the map and a
table downloaded; the budget charts are drawn from the utilisation API."""

import csv
import io

import pytest

from tests.test_overview import city  # noqa: F401 - the fixture: boundaries, residents, an adopted budget

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class TestMap:
    def test_switch_focus_follow_and_export(self, page_for, planner, city):  # noqa: F811
        page = page_for(planner)
        page.goto("/uebersicht/karte/")
        page.select_option("#id_ebene", "planungsraum")
        page.select_option("#id_kennzahl", "indicator:quote")
        with page.expect_navigation():
            page.get_by_role("button", name="Karte zeigen").click()
        regions = page.locator("figure.choropleth svg a.choropleth-region")
        regions.first.wait_for()
        assert regions.count() == 3
        # the fill of each region is its class colour from /api/v1/map-data/ (three values, three classes)
        fills = page.eval_on_selector_all("figure.choropleth svg a path", "els => els.map(e => e.getAttribute('fill'))")
        assert len(set(fills)) == 3 and all(f.startswith("#") for f in fills)
        # the legend from the API: one entry per class with its count, and "no value"
        legend = page.locator("figure.choropleth .map-legend li").all_inner_texts()
        assert legend == ["2,5\u00a0%: 1 Raum", "7,5\u00a0%: 1 Raum", "12,0\u00a0%: 1 Raum", "schraffiert: kein Wert"]
        # keyboard focus shows the value
        page.locator("a.choropleth-region[data-code='P21']").focus()
        assert page.locator(".choropleth__details").inner_text() == "Süd-Mitte (P21): 12,0\u00a0%, Klasse 12,0\u00a0%"
        # the SVG download holds the drawn map with its legend as text
        with page.expect_download() as info:
            page.get_by_role("button", name="als SVG").click()
        svg = open(info.value.path(), encoding="utf-8").read()
        assert svg.startswith("<svg") and svg.count("<path") == 3 and "schraffiert = kein Wert" in svg
        with page.expect_download() as info:
            page.get_by_role("button", name="als PNG").click()
        assert open(info.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        # the table's CSV
        with page.expect_download() as info:
            page.locator("#table-karte ~ .export-links, .export-links").get_by_role("link", name="CSV").first.click()
        rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8-sig").read()), delimiter=";"))
        assert rows[0][:2] == ["region", "code"] and len(rows) == 4
        # a region is a link to its page
        with page.expect_navigation():
            page.locator("a.choropleth-region[data-code='P21']").click()
        assert page.url.endswith("/raeume/P21/")


class TestBudgetCharts:
    def test_drawn_from_the_utilisation_api(self, page_for, viewer, city):  # noqa: F811
        page = page_for(viewer)
        page.goto("/uebersicht/budget/")
        page.locator("figure[data-chart='spending'] svg polyline").first.wait_for()
        assert page.locator("figure[data-chart='spending'] svg polyline").count() == 2  # plan and spent
        page.locator("figure[data-chart='regions'] svg rect.chart__bar--spent").first.wait_for()
        # one bar pair per region plus the legend's pair
        assert page.locator("figure[data-chart='regions'] svg rect.chart__bar--allocated").count() == 3 + 1


class TestRegionProfile:
    def test_locations_map_and_print_layout(self, page_for, planner, city, org_a):  # noqa: F811
        from decimal import Decimal as D

        from tests.factories import LocationFactory

        LocationFactory(organization=org_a, name="Haus am Park", latitude=D("52.5"), longitude=D("13.5"))
        LocationFactory(organization=org_a, name="Anderswo", latitude=D("52.5"), longitude=D("15.5"))  # in P21
        page = page_for(planner)
        page.goto("/raeume/P11/profil/")
        points = page.locator("figure.pointmap svg circle")
        points.first.wait_for()
        assert points.count() == 1  # only the location inside P11, as in the table
        assert page.locator("#table-standorte tbody tr").count() == 1
        print_button = page.get_by_role("button", name="Profil drucken")
        assert print_button.is_visible()
        page.emulate_media(media="print")
        assert not page.locator("nav.main-nav").is_visible() and not print_button.is_visible()
        assert not page.locator(".export-links").first.is_visible()
        assert page.locator("#table-indikatoren").is_visible()
