"""The Content-Security-Policy in a real browser: on the pages that run
JavaScript (maps, charts, the run status line, Swagger UI, Redoc, DRF's
browsable API) Chromium reports no violation — no blocked inline script or
style, no blocked source — while the page does its work (the map drawn and
downloaded as SVG and PNG, the charts drawn, Swagger UI and Redoc rendered
from the schema).

Violations are collected twice: the ``securitypolicyviolation`` events of the
document (an init script, which the policy does not govern, listens from the
start) and Chromium's console messages about the policy. A first test shows
that the collector does see a violation, so a clean page is not a deaf one.
"""

import pytest
from django.urls import reverse

from tests.factories import FieldOfActionFactory, LocationFactory
from tests.test_overview import city  # noqa: F401 - the fixture: boundaries, residents, an adopted budget

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LISTEN_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI,
                               source: e.sourceFile + ':' + e.lineNumber, sample: e.sample});
});
"""


class Violations:
    """A page with the listener and the console watch; ``of(page)`` lists what
    was blocked (events and console messages), one line each."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.context.add_init_script(script=LISTEN_JS)
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"console {message.type}: {message.text}")

    def collected(self) -> list[str]:
        events = self.page.evaluate("() => window.__cspViolations || []")
        return [f"{e['directive']} blocked {e['blocked'] or '(inline)'} at {e['source']} {e['sample']!r}"
                for e in events] + self.console

    def assert_none(self, where: str, blocked_on_purpose: str = "") -> None:
        """No violation; except, with ``blocked_on_purpose``, the lines naming
        that URL, which must be there (the policy keeps doing its job)."""
        found = self.collected()
        if blocked_on_purpose:
            expected = [line for line in found if blocked_on_purpose in line]
            assert expected, f"{where}: {blocked_on_purpose} was not blocked"
            found = [line for line in found if line not in expected]
        assert not found, f"{where} ({self.page.url}): Content-Security-Policy violations:\n  " + "\n  ".join(found)


def open_page(page, path: str):
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, f"{path}: policy {policy!r}"
    return response


class TestCollector:
    def test_an_inline_style_and_script_are_blocked_and_seen(self, page_for, planner):
        """The listener is not deaf: markup with a style attribute and an inline
        script, put into a page at run time, is blocked and reported."""
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("accessibility"))
        page.evaluate("""() => {
          const box = document.createElement('div');
          box.innerHTML = '<p id="injected" style="color: rgb(255, 0, 0)">x</p>';
          document.body.appendChild(box);
          const s = document.createElement('script');
          s.textContent = 'window.__inlineRan = true;';
          document.body.appendChild(s);
        }""")
        page.wait_for_function("() => window.__cspViolations.length >= 2")
        assert page.evaluate("() => window.__inlineRan === undefined")  # the inline script did not run
        colour = page.evaluate("() => getComputedStyle(document.getElementById('injected')).color")
        assert colour != "rgb(255, 0, 0)"  # the style attribute was not applied
        directives = {line.split(" ")[0] for line in watch.collected() if not line.startswith("console")}
        assert {"style-src-attr", "script-src-elem"} <= directives, watch.collected()


class TestDashboards:
    def test_overview_map_drawn_and_downloaded(self, page_for, planner, city):  # noqa: F811
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("overview-map") + "?ebene=planungsraum&kennzahl=indicator:quote")
        page.locator("figure.choropleth svg a.choropleth-region").first.wait_for()
        page.locator("figure.choropleth .map-legend li").first.wait_for()
        with page.expect_download() as svg:
            page.get_by_role("button", name="als SVG").click()
        assert open(svg.value.path(), encoding="utf-8").read().startswith("<svg")
        # PNG: the SVG is drawn through a data: URL onto a canvas (img-src data:)
        with page.expect_download() as png:
            page.get_by_role("button", name="als PNG").click()
        assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        watch.assert_none("overview map")

    def test_budget_overview_charts(self, page_for, viewer, city):  # noqa: F811
        page = page_for(viewer)
        watch = Violations(page)
        open_page(page, reverse("overview-budget"))
        page.locator("figure[data-chart='spending'] svg polyline").first.wait_for()
        page.locator("figure[data-chart='regions'] svg rect.chart__bar--spent").first.wait_for()
        watch.assert_none("budget overview")

    def test_budget_page_with_run_status_and_charts(self, page_for, planner, city, budget):  # noqa: F811
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("budget-detail", kwargs={"pk": budget.pk}))
        page.wait_for_load_state("networkidle")
        for name in ("budget-utilisation", "budget-compare"):
            open_page(page, reverse(name, kwargs={"pk": budget.pk}))
            page.wait_for_load_state("networkidle")
        watch.assert_none("budget pages")

    def test_region_profile_point_map_and_trends(self, page_for, planner, city, org_a):  # noqa: F811
        from decimal import Decimal as D

        LocationFactory(organization=org_a, name="Haus am Park", latitude=D("52.5"), longitude=D("13.5"))
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("region-profile", kwargs={"code": "P11"}))
        page.locator("figure.pointmap svg circle").first.wait_for()
        page.locator("figure[data-chart='trends'] svg.sparkline").first.wait_for()
        watch.assert_none("region profile")

    def test_fields_of_action_tree_indented_by_the_stylesheet(self, page_for, planner):
        """The tree's indentation moved from style="…" to app.css: still indented."""
        top = FieldOfActionFactory(key="csp-feld", name="Feld")
        child = FieldOfActionFactory(key="csp-unterfeld", name="Unterfeld", parent=top)
        FieldOfActionFactory(key="csp-unterunterfeld", name="Unterunterfeld", parent=child)
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("field-of-action-list"))
        pads = page.eval_on_selector_all(
            ".tree-indent", "els => els.map(e => [e.dataset.indent, getComputedStyle(e).paddingInlineStart])")
        assert pads, "no fields of action listed"
        font = float(page.eval_on_selector(".tree-indent", "e => parseFloat(getComputedStyle(e).fontSize)"))
        for indent, padding in pads:
            assert abs(float(padding.removesuffix("px")) - float(indent) * font) < 0.5, (indent, padding)
        assert {"0.0", "1.5", "3.0"} <= {indent for indent, _ in pads}
        watch.assert_none("fields of action")


class TestApiDocumentation:
    def test_swagger_ui_renders_the_schema(self, page_for, planner):
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("api-docs"))
        page.locator(".swagger-ui .opblock").first.wait_for(timeout=30_000)
        page.locator(".swagger-ui .opblock-summary").first.click()  # an operation unfolds (React, no inline code)
        page.locator(".swagger-ui .opblock-body").first.wait_for()
        # started by static/js/swagger-ui-init.js: the schema, the settings, the CSRF token on writes
        configs = page.evaluate("""() => {
          const c = window.ui.getConfigs();
          const write = c.requestInterceptor({method: 'POST', credentials: 'same-origin', headers: {}});
          const read = c.requestInterceptor({method: 'GET', credentials: 'same-origin', headers: {}});
          return {url: c.url, deepLinking: c.deepLinking, write: write.headers, read: read.headers};
        }""")
        assert configs["url"] == reverse("api-schema") and configs["deepLinking"] is True
        token = page.context.cookies()
        csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
        assert list(configs["write"]) == ["X-CSRFTOKEN"] and len(configs["write"]["X-CSRFTOKEN"]) == len(csrf) * 2
        assert configs["read"] == {}
        watch.assert_none("Swagger UI")

    def test_redoc_renders_the_schema(self, page_for, planner):
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, reverse("api-redoc"))
        page.locator("redoc .api-content h1").first.wait_for(timeout=60_000)
        # the search runs in Redoc's worker (worker-src blob: on this page)
        page.locator("redoc input.search-input").fill("regions")
        page.locator("redoc [data-role='search:results'] li, redoc .search-results li").first.wait_for()
        page.wait_for_load_state("networkidle")
        # Redoc's footer shows Redocly's logo from their CDN: the API docs load nothing from third parties
        # (no visitor's address goes to them), so the policy blocks it; Redoc hides the image then.
        watch.assert_none("Redoc", blocked_on_purpose="https://cdn.redoc.ly/")

    def test_browsable_api(self, page_for, planner):
        page = page_for(planner)
        watch = Violations(page)
        open_page(page, "/api/v1/regions/")
        assert page.locator("#content, .content-main").first.is_visible()
        page.wait_for_load_state("networkidle")
        watch.assert_none("DRF browsable API")
