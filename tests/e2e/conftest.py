"""Browser tests: a real Chromium (Debian's package) driven by Playwright
against Django's live server.

The browser is found at ``CHROMIUM_PATH`` or as ``chromium`` on the PATH. CI
installs it (.ci/run); without it — e.g. ``python3 dev.py test`` on a machine
without Chromium — the browser tests are skipped with that reason, except when
``CI`` is set, where a missing browser is an error.
"""

import os
import shutil

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
