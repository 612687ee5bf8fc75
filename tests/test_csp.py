"""The Content-Security-Policy and the markup it allows.

- Every response carries the strict policy (HTML pages, the API, errors, the
  API documentation, whose Redoc page adds only hashes and blob: workers),
  never with 'unsafe-inline' or 'unsafe-eval'.
- No page has inline code the policy would block: every HTML page of the demo
  city (the routes tests/e2e/test_axe_pages.py walks, by the same PAGES map)
  is rendered with the test client and parsed; an inline <script> (other than
  a JSON data block), a <style> element, a style="…" attribute, an on…=
  handler or a javascript: URL fails the test, naming the page and the tag.
- The templates and scripts on disk are searched for the same, so a branch no
  walked page takes cannot hide any.

tests/e2e/test_csp_browser.py checks the same in Chromium (violation reports).
"""

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.e2e.test_axe_pages import PAGES, PROVIDER_STAFF_ONLY, demo, page_routes  # noqa: F401 - demo: fixture
from tests.factories import FieldOfActionFactory

ROOT = Path(settings.BASE_DIR)

# The policy of every response (sozialraum/settings/base.py), directive → sources.
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "*")


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy header"
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in policy, f"{name} twice in {header!r}"
        policy[name] = sources
    return policy


def assert_safe(policy: dict[str, list[str]], where: str) -> None:
    unsafe = {name: [s for s in sources if s in UNSAFE] for name, sources in policy.items()}
    unsafe = {name: found for name, found in unsafe.items() if found}
    assert not unsafe, f"{where}: unsafe sources {unsafe}"


# --- finding inline code in HTML ---------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects, with line numbers, what a policy without 'unsafe-inline'
    blocks: inline <script> (JSON data blocks are no scripts), <style>,
    style="…", on…= handlers, javascript: URLs; and scripts or stylesheets from
    another host (the policy allows only this server's)."""

    DATA_TYPES = {"application/json", "application/ld+json"}
    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script_src: tuple[int, str] | None = None  # an open <script src>: (line, text inside)

    def _report(self, what: str, tag: str, attrs) -> None:
        shown = " ".join(f'{k}="{v}"' if v is not None else k for k, v in attrs)[:120]
        self.found.append(f"line {self.getpos()[0]}: {what}: <{tag} {shown}>")

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "script":
            values = dict(attrs)
            data_block = (values.get("type") or "").split(";")[0].strip().lower() in self.DATA_TYPES
            if "src" in values:
                self._script_src = (self.getpos()[0], "")
            elif not data_block:
                self._report("inline script", tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_data(self, data):
        if self._script_src is not None:
            self._script_src = (self._script_src[0], self._script_src[1] + data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script_src is not None:
            line, text = self._script_src
            if text.strip():
                self.found.append(f"line {line}: code inside a <script src>")
            self._script_src = None

    def _check(self, tag, attrs):
        if tag == "style":
            self._report("<style> element", tag, attrs)
        for name, value in attrs:
            name = name.lower()
            if name == "style":
                self._report("style attribute", tag, attrs)
            elif name.startswith("on"):
                self._report(f"event handler {name}", tag, attrs)
            elif name in self.URL_ATTRIBUTES and value and re.sub(r"\s", "", value).lower().startswith("javascript:"):
                self._report("javascript: URL", tag, attrs)
        values = dict(attrs)
        if tag == "script" and values.get("src") and not values["src"].startswith("/"):
            self._report("script from another host", tag, attrs)
        if (tag == "link" and "stylesheet" in (values.get("rel") or "").lower()
                and not (values.get("href") or "").startswith("/")):
            self._report("stylesheet from another host", tag, attrs)


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def check_page(client, path: str, offenders: list[str], *, status: int = 200) -> bool:
    """GETs ``path``; for an HTML answer with ``status``: checks its policy and
    its markup (offenders are appended). False when the page was not opened."""
    response = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml")
    if response.status_code != status or "text/html" not in response.headers.get("Content-Type", ""):
        return False
    policy = policy_of(response)
    if policy != STRICT:
        offenders.append(f"{path}: policy {policy}")
    offenders.extend(f"{path} {found}" for found in inline_code(response.content.decode()))
    return True


class TestInlineCodeFinder:
    """The finder itself: it sees each kind of inline code and lets JSON data
    blocks and scripts from this server pass (so a clean page means clean)."""

    def test_each_kind_is_found(self):
        html = """<!DOCTYPE html><html><head>
<style>p { color: red }</style>
<link rel="stylesheet" href="https://cdn.example.org/x.css">
<script>alert(1)</script>
<script type="text/javascript">alert(2)</script>
<script src="/static/js/ok.js">alert(3)</script>
<script src="https://cdn.example.org/x.js"></script>
</head><body>
<p style="color: red">x</p>
<button onclick="go()">x</button>
<svg><rect onload="go()" /></svg>
<a href=" JavaScript:go()">x</a>
<form action="javascript:go()"></form>
</body></html>"""
        found = inline_code(html)
        kinds = [f.split(": ", 1)[1].split(":")[0] for f in found]
        assert kinds == [
            "<style> element", "stylesheet from another host", "inline script", "inline script",
            "code inside a <script src>", "script from another host", "style attribute", "event handler onclick",
            "event handler onload", "javascript", "javascript",
        ], found
        assert found[0].startswith("line 2:")

    def test_data_blocks_and_own_files_pass(self):
        html = """<html><head><link rel="stylesheet" href="/static/css/app.css">
<script src="/static/js/dashboard.js" defer></script></head>
<body><script id="names" type="application/json">{"a": "<b>"}</script>
<p class="x" data-indent="1.5" hidden>one</p><a href="/raeume/">Räume</a></body></html>"""
        assert inline_code(html) == []


@pytest.mark.django_db
class TestPolicyHeader:
    def test_html_page(self, planner):
        client = Client()
        client.force_login(planner)
        response = client.get(reverse("home"))
        assert response.status_code == 200
        assert policy_of(response) == STRICT

    def test_api_responses(self, planner):
        client = Client()
        client.force_login(planner)
        for path, accept in (("/api/v1/regions/", "application/json"), ("/api/v1/schema/", "application/json"),
                             ("/api/v1/regions/", "text/html"), ("/api/hsds/services/", "application/json")):
            response = client.get(path, HTTP_ACCEPT=accept)
            assert response.status_code == 200, (path, accept, response.status_code)
            assert policy_of(response) == STRICT, (path, accept)
        anonymous = Client().get("/api/v1/regions/", HTTP_ACCEPT="application/json")
        assert anonymous.status_code in (401, 403) and policy_of(anonymous) == STRICT

    def test_error_pages_and_health(self, planner):
        client = Client()
        for response in (client.get("/gibt-es-nicht/"), client.get(reverse("health")),
                         client.get(reverse("login"))):
            assert policy_of(response) == STRICT, response.request["PATH_INFO"]
        client.force_login(planner)
        assert policy_of(client.get("/raeume/gibt-es-nicht/")) == STRICT

    def test_api_documentation(self, planner):
        client = Client()
        client.force_login(planner)
        swagger = client.get(reverse("api-docs"))
        assert swagger.status_code == 200 and policy_of(swagger) == STRICT
        # Swagger UI starts from a static file, configured by the container's data attributes
        html = swagger.content.decode()
        assert '<script src="/static/js/swagger-ui-init.js"></script>' in html
        assert 'data-schema-url="/api/v1/schema/"' in html
        settings_json = re.search(r'data-settings="([^"]*)"', html).group(1)
        assert json.loads(unescape(settings_json)) == {"deepLinking": True}
        redoc = client.get(reverse("api-redoc"))
        assert redoc.status_code == 200
        policy = policy_of(redoc)
        # Redoc's page: the strict policy plus the hashes of the style elements Redoc inserts and its
        # search worker; nothing else
        hashes = [s for s in policy["style-src"] if s.startswith("'sha256-")]
        assert len(hashes) == 2 and policy["style-src"] == ["'self'", *hashes]
        assert policy.pop("worker-src") == ["'self'", "blob:"]
        assert {**policy, "style-src": ["'self'"]} == STRICT

    def test_nothing_unsafe_anywhere(self, planner):
        client = Client()
        client.force_login(planner)
        for path in (reverse("home"), reverse("api-docs"), reverse("api-redoc"), "/api/v1/regions/"):
            assert_safe(policy_of(client.get(path)), path)

    def test_header_is_set_by_the_middleware_in_the_settings(self):
        assert "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
        assert settings.CONTENT_SECURITY_POLICY["DIRECTIVES"] == STRICT
        assert not settings.CONTENT_SECURITY_POLICY.get("EXCLUDE_URL_PREFIXES")


@pytest.mark.django_db
class TestNoInlineCodeOnAnyPage:
    def test_every_page_of_the_demo(self, demo):  # noqa: F811
        """The planner opens every mapped page (as in the axe walk), the
        provider editor the pages for provider staff, an anonymous visitor the
        sign-in page and the accessibility statement."""
        offenders, checked, refused = [], [], []
        for role in ("planner", "provider_editor"):
            user = demo[role]
            client = Client()
            client.force_login(user)
            for name in page_routes():
                if (name in PROVIDER_STAFF_ONLY) != (role == "provider_editor"):
                    continue
                kwargs = PAGES[name](user)
                if kwargs is None:
                    refused.append(f"{role}: {name} (no object)")
                    continue
                query = kwargs.pop("?", None)
                path = reverse(name, kwargs=kwargs) + (f"?{urlencode(query)}" if query else "")
                if check_page(client, path, offenders):
                    checked.append(name)
                else:
                    refused.append(f"{role}: {name} ({path})")
        anonymous = Client()
        for name in ("login", "accessibility"):
            assert check_page(anonymous, reverse(name), offenders), name
        assert not refused, f"pages not opened: {refused}"
        assert len(checked) == len(page_routes()) > 80
        assert not offenders, "inline code the Content-Security-Policy blocks:\n  " + "\n  ".join(offenders)

    def test_error_pages(self, planner):
        offenders = []
        client = Client()
        client.force_login(planner)
        assert check_page(client, "/gibt-es-nicht/", offenders, status=404)
        # Django's CSRF failure page (templates/403_csrf.html replaces its built-in one with inline styles)
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(planner)
        response = strict.post(reverse("logout"))
        assert response.status_code == 403 and "Formular abgelaufen" in response.content.decode()
        assert policy_of(response) == STRICT
        offenders.extend(f"403_csrf {found}" for found in inline_code(response.content.decode()))
        assert not offenders, offenders

    def test_forbidden_page(self, viewer):
        offenders = []
        client = Client()
        client.force_login(viewer)
        assert check_page(client, reverse("import-create"), offenders, status=403)
        assert not offenders, offenders

    def test_fields_of_action_tree(self, planner):
        """The tree's indentation (once style="…") is a data attribute styled by app.css."""
        top = FieldOfActionFactory(key="csp-feld", name="Feld")
        FieldOfActionFactory(key="csp-unterfeld", name="Unterfeld", parent=top)
        client = Client()
        client.force_login(planner)
        offenders = []
        for path in (reverse("field-of-action-list"), reverse("field-of-action-detail", kwargs={"key": "csp-feld"})):
            assert check_page(client, path, offenders), path
        assert not offenders, offenders
        html = client.get(reverse("field-of-action-list")).content.decode()
        assert 'class="tree-indent" data-indent="1.5"' in html

    def test_api_documentation_and_browsable_api(self, planner):
        client = Client()
        client.force_login(planner)
        offenders = []
        for path in (reverse("api-docs"), reverse("api-redoc")):
            response = client.get(path)
            assert response.status_code == 200
            offenders.extend(f"{path} {found}" for found in inline_code(response.content.decode()))
        assert check_page(client, "/api/v1/regions/", offenders)  # DRF's page, templates/rest_framework/api.html
        assert not offenders, "inline code the Content-Security-Policy blocks:\n  " + "\n  ".join(offenders)


# --- the files on disk ---------------------------------------------------------------------

TEMPLATE_PATTERNS = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}
# Setting a style as markup is blocked; through the CSSOM (element.style.x = …) it is not.
SCRIPT_PATTERNS = {
    "style attribute set as markup": re.compile(r"setAttribute\(\s*[\"']style[\"']|style\s*=\s*\\?[\"']"),
    "eval": re.compile(r"\beval\s*\(|new\s+Function\s*\(|set(?:Timeout|Interval)\(\s*[\"'`]"),
    "on… handler in markup": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def template_files() -> list[Path]:
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file() and p.suffix in (".html", ".txt", ".xml"))


def comments_removed(text: str) -> str:
    """Template comments explain the policy and may name what they avoid."""
    text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", text, flags=re.S)
    return re.sub(r"\{#.*?#\}", "", text, flags=re.S)


class TestFilesOnDisk:
    def test_templates(self):
        files = template_files()
        assert len(files) > 100
        found = []
        for path in files:
            text = comments_removed(path.read_text(encoding="utf-8"))
            for what, pattern in TEMPLATE_PATTERNS.items():
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {match.group(0)[:80]}")
        assert not found, "templates with inline code the Content-Security-Policy blocks:\n  " + "\n  ".join(found)

    def test_scripts(self):
        files = sorted((ROOT / "static").rglob("*.js"))
        assert files
        found = []
        for path in files:
            text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
            for what, pattern in SCRIPT_PATTERNS.items():
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {match.group(0)[:80]}")
        assert not found, "scripts the Content-Security-Policy would block in part:\n  " + "\n  ".join(found)

    def test_the_patterns_find_what_they_look_for(self):
        bad = ['<script>x()</script>', '<style>p{}</style>', '<p style="x">', '<a onclick="x()">',
               '<a href="javascript:x()">']
        for sample in bad:
            assert any(p.search(sample) for p in TEMPLATE_PATTERNS.values()), sample
        ok = ['<script src="/static/js/a.js" defer></script>', '<script id="x" type="application/json">{}</script>',
              '<p class="x" data-indent="1.5">', '{{ names|json_script:"trend-names" }}']
        for sample in ok:
            assert not any(p.search(sample) for p in TEMPLATE_PATTERNS.values()), sample
        assert SCRIPT_PATTERNS["style attribute set as markup"].search('el.setAttribute("style", "x")')
        assert SCRIPT_PATTERNS["style attribute set as markup"].search("box.innerHTML = '<p style=\"x\">'")
        assert not SCRIPT_PATTERNS["style attribute set as markup"].search("el.style.color = 'red'")
        assert SCRIPT_PATTERNS["eval"].search("setTimeout('go()', 10)")
        assert not SCRIPT_PATTERNS["eval"].search("setTimeout(() => go(), 10)")
