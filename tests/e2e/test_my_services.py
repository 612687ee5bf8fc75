""""Meine Angebote" in a real browser, as the editor of organisation A: the
accessibility duty (BITV 2.0 / WCAG 2.1 AA) — confirming an offering as
current by keyboard, the edit form's error summary leading to its fields,
errors tied to their fields, the success message, another organisation's
offering as a 404 page, named form controls and text contrast."""

import datetime

import pytest
from django.utils import timezone

from cooperation.models import Service
from tests.factories import FieldOfActionFactory, LocationFactory, ServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

URL = "/organisationen/meine-angebote/"


@pytest.fixture
def offerings(org_a, org_b):
    """Organisation A: one offering not confirmed for over two years (flagged),
    one confirmed today, one temporarily closed, one inactive; organisation B:
    one offering."""
    field = FieldOfActionFactory(key="e2e-beratung", name="Beratung (Test)")
    location = LocationFactory(organization=org_a, name="Beratungsstelle", latitude="52.520000",
                               longitude="13.400000")
    long_ago = timezone.now() - datetime.timedelta(days=800)

    def offering(name, org, **kwargs):
        return ServiceFactory(name=name, organization=org, fields=[field], **kwargs)

    stale = offering("Jugendberatung Nord", org_a, age_min=12, age_max=21, locations=[location])
    Service.objects.filter(pk=stale.pk).update(last_confirmed_at=long_ago, created_at=long_ago)
    return {
        "stale": Service.objects.get(pk=stale.pk),
        "fresh": offering("Elterncafé", org_a, last_confirmed_at=timezone.now()),
        "paused": offering("Ferienbetreuung", org_a, status="temporarily closed", last_confirmed_at=timezone.now()),
        "inactive": offering("Hausaufgabenhilfe", org_a, status="inactive"),
        "other": offering("Schuldnerberatung B", org_b),
    }


def edit_url(service) -> str:
    return f"/organisationen/angebote/{service.uuid}/bearbeiten/"


def submit_by_keyboard(page, a11y, label="Speichern") -> None:
    """From the form's first field, Tab to the submit button and press Enter."""
    a11y.tab_to(page, f"el.tagName === 'BUTTON' && el.type === 'submit' && el.textContent.trim() === '{label}'",
                limit=400)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def described_by_text(page, selector) -> str:
    """The text of the elements an element's aria-describedby refers to (each must exist)."""
    return page.locator(selector).evaluate(
        """el => (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean).map(id => {
             const target = document.getElementById(id);
             if (!target) throw new Error('aria-describedby refers to a missing id: ' + id);
             return target.textContent.replace(/\\s+/g, ' ').trim();
           }).join(' | ')"""
    )


class TestConfirm:
    def test_noch_aktuell_by_keyboard(self, page_for, provider_editor_a, offerings, a11y):
        stale = offerings["stale"]
        before = stale.last_confirmed_at
        page = page_for(provider_editor_a)
        page.goto(URL)
        row = page.get_by_role("row", name="Jugendberatung Nord")
        assert "Bitte bestätigen" in row.inner_text()
        assert page.get_by_role("link", name="Schuldnerberatung B").count() == 0  # not organisation A's

        a11y.tab_to(page, "el.getAttribute('aria-label') === 'Jugendberatung Nord: noch aktuell'")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Noch aktuell"
        with page.expect_navigation():
            page.keyboard.press("Enter")

        assert page.url.endswith(URL)  # back on the list
        status = page.locator(".messages[role=status]")
        assert status.inner_text().strip() == "Angebot „Jugendberatung Nord“ als aktuell bestätigt."
        assert "Bitte bestätigen" not in page.get_by_role("row", name="Jugendberatung Nord").inner_text()
        stale.refresh_from_db()
        assert stale.last_confirmed_at is not None and stale.last_confirmed_at > before
        assert timezone.now() - stale.last_confirmed_at < datetime.timedelta(minutes=5)
        for key in ("fresh", "paused", "inactive", "other"):  # only that one
            service = offerings[key]
            assert Service.objects.get(pk=service.pk).last_confirmed_at == service.last_confirmed_at


class TestEditForm:
    def test_error_summary_leads_to_the_fields_and_the_fixed_form_saves(self, page_for, provider_editor_a,
                                                                          offerings, a11y):
        service = offerings["stale"]
        page = page_for(provider_editor_a)
        page.goto(edit_url(service))
        assert page.evaluate("document.documentElement.lang") == "de"
        page.locator("#id_name").fill("")
        page.locator("#id_age_min").fill("18")
        page.locator("#id_age_max").fill("10")
        page.locator("#id_name").focus()
        submit_by_keyboard(page, a11y)

        summary = page.locator("#form-errors")
        assert summary.is_visible()
        assert summary.get_attribute("role") == "alert"
        assert "Bitte 2 Angaben korrigieren." in summary.inner_text()
        assert page.title().startswith("Fehler: ")  # the title says so too
        expected = {
            "name": ("Name", "Bitte den Namen des Angebots angeben."),
            "age_max": ("Alter bis", "„Alter bis“ muss mindestens „Alter von“ sein."),
        }
        for name, (label, message) in expected.items():
            # the summary's link moves the focus to the field
            link = summary.get_by_role("link", name=label, exact=True)
            assert link.get_attribute("href") == f"#id_{name}"
            assert message in link.locator("xpath=..").inner_text()
            link.focus()
            page.keyboard.press("Enter")
            page.wait_for_function(f"() => document.activeElement && document.activeElement.id === 'id_{name}'")
            # the field says it is invalid and is described by its German message
            field = page.locator(f"#id_{name}")
            assert field.get_attribute("aria-invalid") == "true"
            assert f"id_{name}_error" in field.get_attribute("aria-describedby").split()
            assert message in described_by_text(page, f"#id_{name}")
            assert page.locator(f"#id_{name}_error").inner_text().strip() == message
        assert page.locator("#id_age_min").get_attribute("aria-invalid") is None  # only the fields in error
        assert Service.objects.get(pk=service.pk).name == "Jugendberatung Nord"  # nothing saved

        unnamed = a11y.unnamed_controls(page)
        assert not unnamed, "form controls without an accessible name:\n" + "\n".join(unnamed)

        # fix both, save by keyboard
        page.locator("#id_name").fill("Jugendberatung Nord-West")
        page.locator("#id_age_max").fill("21")
        page.locator("#id_name").focus()
        submit_by_keyboard(page, a11y)
        # (the browser keeps the fragment of the last summary link through the redirect)
        assert page.url.split("#")[0].endswith(f"/organisationen/angebote/{service.uuid}/")
        status = page.locator(".messages[role=status]")
        assert status.inner_text().strip() == "Angebot „Jugendberatung Nord-West“ gespeichert."
        service.refresh_from_db()
        assert (service.name, service.age_min, service.age_max) == ("Jugendberatung Nord-West", 18, 21)

    def test_another_organisations_offering_is_not_found(self, page_for, provider_editor_a, offerings):
        page = page_for(provider_editor_a)
        response = page.goto(edit_url(offerings["other"]))
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Seite nicht gefunden"
        assert page.evaluate("document.documentElement.lang") == "de"
        assert Service.objects.get(pk=offerings["other"].pk).name == "Schuldnerberatung B"


class TestContrast:
    def test_my_services_after_a_confirmation(self, page_for, provider_editor_a, offerings, a11y):
        page = page_for(provider_editor_a)
        page.goto(URL)
        with page.expect_navigation():
            page.get_by_role("button", name="Elterncafé: noch aktuell").click()
        assert page.locator(".message--success").is_visible()
        assert page.locator("tr.row--attention").count() == 1  # the stale one, still flagged
        unnamed = a11y.unnamed_controls(page)
        assert not unnamed, "form controls without an accessible name:\n" + "\n".join(unnamed)
        a11y.assert_contrast(page, "Meine Angebote")

    def test_edit_form_with_errors(self, page_for, provider_editor_a, offerings, a11y):
        page = page_for(provider_editor_a)
        page.goto(edit_url(offerings["stale"]))
        page.locator("#id_name").fill("")
        with page.expect_navigation():
            page.get_by_role("button", name="Speichern").click()
        assert page.locator("#form-errors").is_visible()
        a11y.assert_contrast(page, "Angebot bearbeiten, mit Fehlern")

    def test_offering_page_with_success_message(self, page_for, provider_editor_a, offerings, a11y):
        page = page_for(provider_editor_a)
        page.goto(edit_url(offerings["paused"]))
        with page.expect_navigation():
            page.get_by_role("button", name="Speichern").click()
        assert page.locator(".message--success").is_visible()
        a11y.assert_contrast(page, "Angebot, nach dem Speichern")

    def test_not_found_page(self, page_for, provider_editor_a, offerings, a11y):
        page = page_for(provider_editor_a)
        assert page.goto(edit_url(offerings["other"])).status == 404
        a11y.assert_contrast(page, "Seite nicht gefunden")
