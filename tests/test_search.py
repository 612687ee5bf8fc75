"""The global search: every kind of object through its own FilterSet, scoped
by for_user (provider B does not find organisation A's private agreement or
network), ten hits per kind with a link to the full list, query count."""

import pytest
from django.test import Client

from cooperation.models import Agreement
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def things(tree, org_a, org_b):
    private = AgreementFactory(title="Nordstern-Vereinbarung", regions=[tree["D1"]])
    AgreementPartyFactory(agreement=private, organization=org_a)
    public = AgreementFactory(title="Nordstern-Rahmenvertrag", public=True)
    network = NetworkFactory(name="Nordstern-Netzwerk", coordinator=org_a)
    NetworkMemberFactory(network=network, organization=OrganizationFactory(name="Schule am Nordstern"))
    ServiceFactory(name="Nordstern-Beratung", organization=org_a)
    return {"private": private, "public": public, "network": network}


class TestSearch:
    def test_planner_finds_every_kind(self, things, planner, tree):
        html = client_for(planner).get("/suche/", {"q": "Nordstern"}).content.decode()
        for text in ("Nordstern-Vereinbarung", "Nordstern-Rahmenvertrag", "Nordstern-Netzwerk", "Nordstern-Beratung",
                     "Schule am Nordstern"):
            assert text in html, text
        regions = client_for(planner).get("/suche/", {"q": "Nord"}).content.decode()
        assert f'href="/raeume/{tree["D1"].code}/"' in regions  # by name
        assert f'href="/raeume/{tree["P11"].code}/"' in client_for(planner).get("/suche/", {"q": "P11"}).content.decode()

    def test_provider_finds_only_what_it_may_see(self, things, provider_editor_a, provider_editor_b):
        mine = client_for(provider_editor_a).get("/suche/", {"q": "Nordstern"}).content.decode()
        assert "Nordstern-Vereinbarung" in mine and "Nordstern-Netzwerk" in mine
        other = client_for(provider_editor_b).get("/suche/", {"q": "Nordstern"}).content.decode()
        assert "Nordstern-Vereinbarung" not in other and "Nordstern-Netzwerk" not in other
        assert "Nordstern-Rahmenvertrag" in other  # public
        assert "Nordstern-Beratung" in other  # active offerings are in the directory

    def test_ten_hits_and_a_link_to_the_list(self, planner):
        for i in range(12):
            AgreementFactory(title=f"Südwind {i:02d}")
        html = client_for(planner).get("/suche/", {"q": "Südwind"}).content.decode()
        assert html.count("Südwind ") == 10 + html.count("<title>Suche: Südwind")
        assert 'href="/kooperation/vereinbarungen/?q=S%C3%BCdwind"' in html
        assert Agreement.objects.count() == 12

    def test_short_or_empty_query_and_anonymous(self, planner, client):
        assert "mindestens zwei Zeichen" in client_for(planner).get("/suche/", {"q": "N"}).content.decode()
        assert client_for(planner).get("/suche/").status_code == 200
        response = client.get("/suche/", {"q": "Nordstern"})
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/")

    def test_header_search_box(self, planner):
        html = client_for(planner).get("/raeume/").content.decode()
        assert 'role="search"' in html and 'for="site-search"' in html

    def test_query_count(self, things, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get("/suche/", {"q": "Nordstern"})
        with django_assert_max_num_queries(16):
            assert client.get("/suche/", {"q": "Nordstern"}).status_code == 200


class TestAccessibilityStatement:
    def test_public_page_linked_from_every_page_with_the_feedback_address(self, client, settings):
        assert 'href="/barrierefreiheit/"' in client.get("/anmelden/").content.decode()
        html = client.get("/barrierefreiheit/").content.decode()
        assert "teilweise vereinbar" in html and "Schlichtungsstelle" in html and "noch keine eigene Kontaktadresse" in html
        settings.ACCESSIBILITY_CONTACT_EMAIL = "barrierefreiheit@stadt.example"
        html = client.get("/barrierefreiheit/").content.decode()
        assert 'href="mailto:barrierefreiheit@stadt.example"' in html
