"""The Angebotsfinder (/angebotsfinder/) in a real browser, as an anonymous
visitor of the public directory: the accessibility duty (BITV 2.0 / WCAG 2.1
AA) — the whole search by keyboard, the result count as a status message,
headings per result, errors tied to their field, the map as an image with a
name beside the list, named form controls, the page language, no third-party
requests and text contrast.

Geography (conftest tree): D1 "Nord" lon 13.0–13.5, lat 52.5–52.7 with P11
"Nord-West" (its western half); D2 "Süd" lat 52.3–52.5.
"""

import re

import pytest

from tests.factories import FieldOfActionFactory, LocationFactory, ServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

URL = "/angebotsfinder/"
SEARCH_TERM = "Familienberatung"


def box(min_lon, min_lat, max_lon, max_lat):
    return {"type": "Polygon", "coordinates": [[[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat],
                                                [min_lon, max_lat], [min_lon, min_lat]]]}


@pytest.fixture
def directory(settings, tree, org_a, org_b):
    """The public directory with boundaries (so the map is drawn) and offerings:
    two match "Familienberatung" + field "Stadtteilarbeit (Test)" + ambulant;
    one is residential, one in another field, one inactive (never public), one
    matches no search term."""
    settings.DIRECTORY_PUBLIC = True
    for code, geometry in (("D1", box(13.0, 52.5, 13.5, 52.7)), ("D2", box(13.0, 52.3, 13.5, 52.5)),
                           ("P11", box(13.0, 52.5, 13.25, 52.7))):
        tree[code].set_boundary(geometry)
        tree[code].save()
    neighbourhood = FieldOfActionFactory(key="e2e-stadtteil", name="Stadtteilarbeit (Test)")
    youth = FieldOfActionFactory(key="e2e-jugend", name="Jugendtreffs (Test)")
    north = LocationFactory(organization=org_a, name="Familienzentrum", latitude="52.600000", longitude="13.100000")
    south = LocationFactory(organization=org_b, name="Kiezladen", latitude="52.400000", longitude="13.300000")

    def offering(name, org, field, **kwargs):
        return ServiceFactory(name=name, description="", organization=org, fields=[field], **kwargs)

    return {
        "market": offering("Familienberatung am Markt", org_a, neighbourhood, setting="ambulant",
                           locations=[north], regions=[tree["P11"]]),
        "kiez": offering("Familienberatung im Kiez", org_b, neighbourhood, setting="ambulant", locations=[south]),
        "residential": offering("Familienberatung im Wohnheim", org_a, neighbourhood, setting="residential",
                                locations=[north]),
        "youth": offering("Familienberatung für Jugendliche", org_b, youth, setting="ambulant", locations=[south]),
        "closed": offering("Familienberatung geschlossen", org_a, neighbourhood, setting="ambulant",
                           status="inactive", locations=[north]),
        "club": offering("Jugendclub Nord", org_a, youth, setting="open", locations=[north]),
        "fields": {"neighbourhood": neighbourhood, "youth": youth},
    }


def result_count(page) -> int:
    """The number the status line announces (it must be the page's only status)."""
    status = page.get_by_role("status")
    assert status.count() == 1
    match = re.search(r"(\d+) Angebote? gefunden", status.inner_text())
    assert match, status.inner_text()
    return int(match.group(1))


def result_names(page) -> list[str]:
    """The names in the result list, read from each result's heading (exactly one per result)."""
    results = page.locator("ol.directory-results > li")
    names = []
    for i in range(results.count()):
        headings = results.nth(i).get_by_role("heading")
        assert headings.count() == 1, f"result {i + 1} has {headings.count()} headings"
        assert headings.first.evaluate("h => h.tagName") == "H3"
        names.append(headings.first.inner_text().strip())
    return names


def active_filter_labels(page) -> list[str]:
    return [text.split(":")[0].strip() for text in page.locator(".directory-active__list li > span").all_inner_texts()]


def remove_filter_by_keyboard(page, a11y, label: str) -> None:
    """From the search button, Tab to the filter's "entfernen" link and follow it with Enter."""
    page.get_by_role("button", name="Suchen").focus()
    a11y.tab_to(page, f"el.tagName === 'A' && el.textContent.includes('– {label}:')", limit=20)
    assert page.evaluate("document.activeElement.textContent.trim().startsWith('entfernen')")
    with page.expect_navigation():
        page.keyboard.press("Enter")


class TestSearchByKeyboard:
    def test_the_whole_search_and_the_removal_of_filters_work_with_the_keyboard(self, page_for, directory, a11y):
        page = page_for()
        page.goto(URL)
        # Tab from the top of the page to the search field, type the term
        a11y.tab_to(page, "el.id === 'id_q'", limit=15)
        page.keyboard.type(SEARCH_TERM)
        # the next stop is the Handlungsfeld select: choose with the arrow keys
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "id_field"
        wanted = directory["fields"]["neighbourhood"].key
        for _press in range(80):
            if page.evaluate("document.activeElement.value") == wanted:
                break
            page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.value") == wanted
        # on to the checkbox "ambulant" (Form der Hilfe), tick it with Space
        a11y.tab_to(page, "el.name === 'setting' && el.value === 'ambulant'", limit=10)
        page.keyboard.press("Space")
        assert page.evaluate("document.activeElement.checked") is True
        # on to the search button, submit with Enter
        a11y.tab_to(page, "el.tagName === 'BUTTON' && el.textContent.trim() === 'Suchen'", limit=30)
        with page.expect_navigation():
            page.keyboard.press("Enter")

        assert f"q={SEARCH_TERM}" in page.url and f"field={wanted}" in page.url and "setting=ambulant" in page.url
        assert result_count(page) == 2
        assert sorted(result_names(page)) == ["Familienberatung am Markt", "Familienberatung im Kiez"]
        assert "sortiert nach Relevanz" in page.get_by_role("status").inner_text()
        assert active_filter_labels(page) == ["Suchbegriff", "Handlungsfeld", "Form der Hilfe (Setting)"]

        # the "entfernen" links of the active filters, by keyboard
        remove_filter_by_keyboard(page, a11y, "Handlungsfeld")
        assert active_filter_labels(page) == ["Suchbegriff", "Form der Hilfe (Setting)"]
        assert result_count(page) == 3
        assert "Familienberatung für Jugendliche" in result_names(page)

        remove_filter_by_keyboard(page, a11y, "Form der Hilfe (Setting)")
        assert active_filter_labels(page) == ["Suchbegriff"]
        assert result_count(page) == 4
        names = result_names(page)
        assert len(names) == 4 and "Familienberatung im Wohnheim" in names
        assert "Familienberatung geschlossen" not in names  # inactive: never public

    def test_a_malformed_point_is_an_error_tied_to_its_field(self, page_for, directory, a11y):
        page = page_for()
        page.goto(URL)
        page.locator("#id_near").focus()
        page.keyboard.type("Berlin")
        with page.expect_navigation():
            page.keyboard.press("Enter")  # implicit submission from the text field

        assert page.title().startswith("Fehler: ")
        near = page.locator("#id_near")
        assert near.get_attribute("aria-invalid") == "true"
        described = (near.get_attribute("aria-describedby") or "").split()
        assert "id_near_error" in described
        for element_id in described:  # every reference resolves
            assert page.locator(f"#{element_id}").count() == 1, element_id
        message = page.locator("#id_near_error")
        assert message.is_visible()
        assert message.inner_text().strip() == "Punkt als „Breitengrad,Längengrad“ angeben, z. B. 52.52,13.40."
        # the summary above the form names the field and leads to it
        summary = page.locator("#directory-errors")
        assert summary.is_visible()
        link = summary.get_by_role("link", name="in der Nähe von")
        assert link.get_attribute("href") == "#id_near"
        assert "Punkt als „Breitengrad,Längengrad“ angeben" in summary.inner_text()
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_near'")
        # no search was run, and the status says why
        assert page.get_by_role("status").inner_text().startswith("Keine Suche: Die Angaben enthalten Fehler")
        assert page.locator("ol.directory-results").count() == 0


class TestPage:
    def test_map_list_names_language_and_no_third_party_requests(self, page_for, directory, live_server, a11y):
        page = page_for()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(URL)
        page.wait_for_load_state("networkidle")

        assert page.evaluate("document.documentElement.lang") == "de"
        # the list of results, and the map as one image with a name and a description
        assert result_count(page) == 5
        assert len(result_names(page)) == 5
        assert page.locator("ol.directory-results").is_visible()
        maps = page.locator("svg.directory-map")
        assert maps.count() == 1
        assert maps.get_attribute("role") == "img"
        assert page.get_by_role("img", name="Karte: Standorte der Angebote auf dieser Seite").count() == 1
        description = maps.evaluate(
            "svg => (svg.getAttribute('aria-describedby') || '').split(/\\s+/)"
            ".map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim()"
        )
        assert "Die Ergebnisliste enthält dieselben Angebote" in description
        # every form control has an accessible name (the folded "Weitere Filter" opened)
        assert page.locator("details.directory-form__more").count() == 1
        unnamed = a11y.unnamed_controls(page)
        assert not unnamed, "form controls without an accessible name:\n" + "\n".join(unnamed)
        # nothing but the live server was asked
        assert requests
        foreign = [u for u in requests if not u.startswith(live_server.url + "/") and not u.startswith("data:")]
        assert not foreign, f"requests to other hosts: {foreign}"

    def test_the_error_page_has_named_controls_and_no_third_party_requests(self, page_for, directory, live_server,
                                                                           a11y):
        page = page_for()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(URL + "?near=Berlin&radius=abc&age=-3")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == "de"
        for name in ("near", "radius", "age"):
            assert page.locator(f"#id_{name}").get_attribute("aria-invalid") == "true", name
        unnamed = a11y.unnamed_controls(page)
        assert not unnamed, "form controls without an accessible name:\n" + "\n".join(unnamed)
        foreign = [u for u in requests if not u.startswith(live_server.url + "/") and not u.startswith("data:")]
        assert not foreign, f"requests to other hosts: {foreign}"


class TestContrast:
    def test_results_with_active_filters_and_map(self, page_for, directory, a11y):
        page = page_for()
        page.goto(URL + f"?q={SEARCH_TERM}&setting=ambulant&region=P11")
        assert page.locator(".directory-active__list li").count() == 3
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        a11y.assert_contrast(page, "Angebotsfinder, Ergebnisse mit aktiven Filtern")

    def test_error_state(self, page_for, directory, a11y):
        page = page_for()
        page.goto(URL + "?near=Berlin")
        assert page.locator("#directory-errors").is_visible()
        a11y.assert_contrast(page, "Angebotsfinder, Fehler im Formular")

    def test_public_offering_page(self, page_for, directory, a11y):
        page = page_for()
        page.goto(f"/angebotsfinder/angebot/{directory['market'].uuid}/?suche=q%3D{SEARCH_TERM}")
        assert page.get_by_role("heading", level=1).inner_text().startswith("Familienberatung am Markt")
        a11y.assert_contrast(page, "Angebotsfinder, Seite eines Angebots")
