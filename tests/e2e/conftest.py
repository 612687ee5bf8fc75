"""Browser tests: a real Chromium (Debian's package) driven by Playwright
against Django's live server.

The browser is found at ``CHROMIUM_PATH`` or as ``chromium`` on the PATH. CI
installs it (.ci/run); without it — e.g. ``python3 dev.py test`` on a machine
without Chromium — the browser tests are skipped with that reason, except when
``CI`` is set, where a missing browser is an error.
"""

import base64
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make in between are synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI: no Chromium found (set CHROMIUM_PATH or install Debian's chromium package)")
        pytest.skip("no Chromium on this machine (install Debian's chromium package or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, live_server):
    """``page_for(user)``: a fresh browser page signed in as ``user`` (None:
    anonymous), German, at the live server."""
    contexts = []

    def make(user=None):
        context = browser.new_context(locale="de-DE", base_url=live_server.url)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                                  "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


# --- Accessibility checks (BITV 2.0 / WCAG 2.1 AA), shared by the page tests ------------

# Form controls without an accessible name (labels, aria-labelledby, aria-label;
# a button's text or an input button's value). <details> are opened first so
# folded-away controls are checked too; hidden inputs and controls that are not
# rendered are skipped.
UNNAMED_CONTROLS_JS = """() => {
  const text = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const nameOf = (el) => {
    const ids = el.getAttribute('aria-labelledby');
    if (ids) {
      const s = text(ids.split(/\\s+/).map((id) => document.getElementById(id))
        .filter(Boolean).map((e) => e.textContent).join(' '));
      if (s) return s;
    }
    if (text(el.getAttribute('aria-label'))) return text(el.getAttribute('aria-label'));
    if (el.labels && el.labels.length) {
      const s = text([...el.labels].map((l) => l.textContent).join(' '));
      if (s) return s;
    }
    if (el.tagName === 'BUTTON') return text(el.textContent);
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return text(el.value);
    if (el.tagName === 'INPUT' && el.type === 'image') return text(el.alt);
    return '';
  };
  document.querySelectorAll('details').forEach((d) => { d.open = true; });
  return [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden' && !el.hidden && el.checkVisibility())
    .filter((el) => !nameOf(el))
    .map((el) => el.outerHTML.slice(0, 160));
}"""

# Text contrast (WCAG 1.4.3): every rendered element with text of its own (a
# text node child, or a form control showing a value) against the nearest
# non-transparent background colour up the tree (semi-transparent layers
# composited, white canvas below). Normal text needs 4.5:1, large text
# (>= 24px, or >= 18.66px bold) 3:1. Disabled controls are exempt. Elements
# over a background image cannot be judged this way: they are listed apart.
CONTRAST_JS = """() => {
  const parse = (s) => {
    const m = /^rgba?\\(([^)]*)\\)$/.exec(s.trim());
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const css = (c) => `rgb(${c.slice(0, 3).map(Math.round).join(', ')}${c[3] < 1 ? ', ' + c[3] : ''})`;
  const selector = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.documentElement && parts.length < 5; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) { parts.unshift(s + '#' + e.id); break; }
      if (e.classList.length) s += '.' + [...e.classList].join('.');
      parts.unshift(s);
    }
    return parts.join(' > ');
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== 'none') return null;
      const c = parse(cs.backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const ownText = (el) => {
    if (el.matches('input, textarea')) {
      if (['checkbox', 'radio', 'hidden', 'range', 'color', 'file', 'image'].includes(el.type)) return '';
      return el.value;
    }
    if (el.matches('select')) return el.selectedOptions.length ? el.selectedOptions[0].textContent : '';
    return [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('');
  };
  const failures = [];
  const unjudged = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg, script, style, noscript, template')) continue;
    const content = ownText(el).replace(/\\s+/g, ' ').trim();
    if (!content) continue;
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    if (!el.getClientRects().length) continue;
    if (el.matches(':disabled') || el.closest('option:disabled, select:disabled')) continue;
    const cs = getComputedStyle(el);
    const bg = background(el);
    if (bg === null) { unjudged.push(selector(el)); continue; }
    const fg0 = parse(cs.color);
    if (fg0 === null) { unjudged.push(selector(el) + ' (colour ' + cs.color + ')'); continue; }
    const fg = over(fg0, bg);
    const size = parseFloat(cs.fontSize);
    const bold = parseInt(cs.fontWeight, 10) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    const needed = large ? 3 : 4.5;
    const r = ratio(fg, bg);
    checked += 1;
    if (r < needed) {
      failures.push({
        selector: selector(el), text: content.slice(0, 50), color: css(fg0), background: css(bg),
        ratio: Math.round(r * 100) / 100, needed, font: `${cs.fontSize} ${cs.fontWeight}`,
      });
    }
  }
  return { checked, failures, unjudged };
}"""


class A11y:
    """Accessibility helpers for a Playwright page."""

    @staticmethod
    def unnamed_controls(page) -> list[str]:
        return page.evaluate(UNNAMED_CONTROLS_JS)

    @staticmethod
    def contrast(page) -> dict:
        return page.evaluate(CONTRAST_JS)

    def assert_contrast(self, page, where: str) -> None:
        """Fail listing every element with too little text contrast on ``page``."""
        result = self.contrast(page)
        assert result["checked"] > 0, f"{where}: no text found to check"
        groups: dict[tuple, list[str]] = {}  # one line per selector and colours
        for f in result["failures"]:
            key = (f["selector"], f["ratio"], f["needed"], f["color"], f["background"], f["font"])
            groups.setdefault(key, []).append(f["text"])
        lines = [
            f"  {selector}: {ratio}:1 < {needed}:1 – colour {color} on {background} ({font}), "
            f"{len(texts)}×, e.g. „{texts[0]}“"
            for (selector, ratio, needed, color, background, font), texts in groups.items()
        ]
        if lines:
            pytest.fail(f"{where} ({page.url}): text contrast below WCAG 2.1 AA (1.4.3):\n" + "\n".join(lines))

    @staticmethod
    def tab_to(page, predicate: str, limit: int = 120) -> int:
        """Press Tab until ``predicate`` (JS, given the focused element as
        ``el``) holds; the number of presses. Fails after ``limit`` presses."""
        check = f"(() => {{ const el = document.activeElement; return !!(el && ({predicate})); }})()"
        for presses in range(1, limit + 1):
            page.keyboard.press("Tab")
            if page.evaluate(check):
                return presses
        raise AssertionError(f"not reached with {limit} presses of Tab: {predicate}")


@pytest.fixture
def a11y():
    return A11y()


# --- axe-core (Deque's accessibility engine, from the npm registry) -----------------------
# Installed beside these tests by `npm ci --prefix tests/e2e/axe` (.ci/run does it);
# pinned in tests/e2e/axe/package-lock.json. Only WCAG 2.0/2.1 level A and AA rules
# run: what BITV 2.0 asks of the pages.

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
SCREENSHOT_DIR = Path(__file__).resolve().parent / "screenshots"  # git-ignored (it ignores itself)

# Runs axe on the whole document; returns only what a report needs (rule, impact,
# help, the number of offending elements and the first three of them), so that a
# page with hundreds of offending elements does not cross the bridge in full.
AXE_RUN_JS = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, count: v.nodes.length,
    nodes: v.nodes.slice(0, 3).map((n) => ({target: n.target.map(String), html: n.html})),
  }));
}"""


def screenshot_dir() -> Path:
    """Where checked pages are photographed: ``E2E_SCREENSHOT_DIR``, else
    tests/e2e/screenshots/ (which gets a ``.gitignore`` of ``*``, so it is never
    committed). Created on first use."""
    folder = Path(os.environ.get("E2E_SCREENSHOT_DIR") or SCREENSHOT_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if folder == SCREENSHOT_DIR and not (folder / ".gitignore").exists():
        (folder / ".gitignore").write_text("# screenshots of the browser tests (CI keeps them as artefacts)\n*\n")
    return folder


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "page"


def format_violations(violations: list[dict]) -> str:
    """One block per rule: id, impact, help (and its link), then up to three
    offending elements with their selector and HTML."""
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact'] or '?'}] {v['id']}: {v['help']} ({v['count']}×) – {v['helpUrl']}")
        for node in v["nodes"]:
            html = re.sub(r"\s+", " ", node["html"]).strip()
            lines.append(f"      {' '.join(node['target'])}")
            lines.append(f"        {html[:300]}{' …' if len(html) > 300 else ''}")
        if v["count"] > len(v["nodes"]):
            lines.append(f"      … and {v['count'] - len(v['nodes'])} more")
    return "\n".join(lines)


class Axe:
    """axe-core on a Playwright page: ``run`` returns the WCAG 2.1 A/AA
    violations; ``check`` also saves a full-page screenshot and returns the
    formatted report ("" when clean); ``assert_clean`` fails with that report."""

    def __init__(self, script: Path):
        self.script = script

    def run(self, page) -> list[dict]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            # evaluated through the DevTools protocol: an inserted <script> tag would be inline code, which
            # the Content-Security-Policy blocks
            page.evaluate(self.script.read_text(encoding="utf-8"))
        return page.evaluate(AXE_RUN_JS, list(AXE_TAGS))

    @staticmethod
    def screenshot(page, role: str, name: str) -> Path:
        """A full-page PNG ``<role>--<name>.png``. Taken through Chromium's
        DevTools protocol with ``optimizeForSpeed`` (faster compression: half
        the time of ``page.screenshot(full_page=True)``, files ~25 % larger),
        which matters over a few hundred pages."""
        path = screenshot_dir() / f"{_slug(role)}--{_slug(name)}.png"
        width, height = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        cdp = page.context.new_cdp_session(page)
        try:
            shot = cdp.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            })
        finally:
            cdp.detach()
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def check(self, page, role: str, name: str) -> str:
        violations = self.run(page)
        shot = self.screenshot(page, role, name)
        if not violations:
            return ""
        return (f"{role} – {name} ({page.url}), {len(violations)} rule(s) violated; screenshot {shot}:\n"
                + format_violations(violations))

    def assert_clean(self, page, role: str, name: str) -> None:
        report = self.check(page, role, name)
        if report:
            pytest.fail("WCAG 2.1 A/AA violations (axe-core):\n" + report, pytrace=False)


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """The installed axe-core script; skipped without it, failed in CI."""
    if not AXE_SCRIPT.is_file():
        reason = f"axe-core is not installed ({AXE_SCRIPT} missing): run npm ci --prefix tests/e2e/axe"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return AXE_SCRIPT


@pytest.fixture
def axe(axe_script) -> Axe:
    return Axe(axe_script)
