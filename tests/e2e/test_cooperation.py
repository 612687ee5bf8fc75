"""Cooperation pages in a real browser: a provider confirms an agreement for
its organisation by keyboard (the last confirmation with the start reached
makes it active), and the planner's "Wer kooperiert mit wem?" page of a region
(table and picture) — with named controls and text contrast (WCAG 2.1 AA)."""

import datetime

import pytest

from cooperation.choices import AgreementStatus
from cooperation.models import Agreement
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def negotiated(tree, org_a, org_b):
    agreement = AgreementFactory(title="Kooperationsvereinbarung Nord", regions=[tree["D1"]],
                                 valid_from=datetime.date(2026, 1, 1))
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.NEGOTIATION)
    funder = OrganizationFactory(name="Jugendamt Teststadt", kind="public_funder")
    AgreementPartyFactory(agreement=agreement, organization=funder, role="funder",
                          confirmed_at=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC))
    AgreementPartyFactory(agreement=agreement, organization=org_b, role="partner",
                          confirmed_at=datetime.datetime(2025, 12, 2, tzinfo=datetime.UTC))
    AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead",
                          responsibilities="Koordination des Trägerverbunds")
    return agreement


class TestAgreementConfirmation:
    def test_provider_confirms_by_keyboard_and_it_becomes_active(self, page_for, provider_editor_a, org_a,
                                                                 negotiated, a11y):
        page = page_for(provider_editor_a)
        page.goto(f"/kooperation/vereinbarungen/{negotiated.uuid}/")
        assert "2 von 3 Parteien haben bestätigt." in page.inner_text("main")
        assert a11y.unnamed_controls(page) == []
        a11y.assert_contrast(page, "agreement page")
        a11y.tab_to(page, f"el.tagName === 'BUTTON' && el.textContent.trim() === 'Für {org_a.name} bestätigen'",
                    limit=200)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        negotiated.refresh_from_db()
        assert negotiated.status == AgreementStatus.ACTIVE
        main = page.inner_text("main")
        assert "aktiv" in main and "noch nicht bestätigt" not in main
        assert page.get_by_role("button", name=f"Für {org_a.name} bestätigen").count() == 0


class TestRegionCooperation:
    def test_table_and_picture(self, page_for, planner, tree, org_a, org_b, negotiated, a11y):
        team = NetworkFactory(name="Sozialraumteam Nord", regions=[tree["D1"]], coordinator=org_a)
        NetworkMemberFactory(network=team, organization=org_b)
        page = page_for(planner)
        page.goto("/raeume/P11/")
        with page.expect_navigation():
            page.get_by_role("link", name="Wer kooperiert hier mit wem?", exact=False).click()
        table = page.get_by_role("table", name="Wer kooperiert mit wem", exact=False)
        assert table.count() == 1
        assert org_a.name in table.inner_text() and "Sozialraumteam Nord" in table.inner_text()
        picture = page.locator("svg[role='img']")
        assert picture.count() == 1 and picture.get_attribute("aria-labelledby")
        assert a11y.unnamed_controls(page) == []
        a11y.assert_contrast(page, "region cooperation page")


class TestGlobalSearch:
    def test_header_search_by_keyboard(self, page_for, planner, negotiated, a11y):
        page = page_for(planner)
        page.goto("/raeume/")
        a11y.tab_to(page, "el.id === 'site-search'", limit=40)
        page.keyboard.type("Kooperationsvereinbarung")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", name="Vereinbarungen", exact=False).count() == 1
        assert page.get_by_role("link", name="Kooperationsvereinbarung Nord", exact=False).count() == 1
        assert a11y.unnamed_controls(page) == []
        a11y.assert_contrast(page, "search page")

    def test_accessibility_statement(self, page_for, a11y):
        page = page_for(None)
        page.goto("/anmelden/")
        with page.expect_navigation():
            page.get_by_role("link", name="Erklärung zur Barrierefreiheit").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Erklärung zur Barrierefreiheit"
        a11y.assert_contrast(page, "accessibility statement")


class TestMyProvider:
    def test_free_places_by_keyboard(self, page_for, provider_editor_a, org_a, negotiated, a11y):
        from tests.factories import ServiceFactory

        service = ServiceFactory(name="Jugendtreff Nord", organization=org_a, capacity=20)
        page = page_for(provider_editor_a)
        page.goto("/mein-traeger/")
        assert page.get_by_role("button", name=f"Für {org_a.name} bestätigen").count() == 1  # pending confirmation
        assert a11y.unnamed_controls(page) == []
        a11y.assert_contrast(page, "Mein Träger")
        field = page.locator(f"#free-{service.uuid}")
        assert field.count() == 1, page.inner_text("main")
        # from the offering's link in the same row, the keyboard reaches the field
        page.get_by_role("link", name="Jugendtreff Nord").focus()
        a11y.tab_to(page, f"el.id === 'free-{service.uuid}'", limit=5)
        page.keyboard.type("7")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        service.refresh_from_db()
        assert service.free_places == 7
        assert "Freie Plätze für „Jugendtreff Nord“ gespeichert." in page.inner_text("main")
