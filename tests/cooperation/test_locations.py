"""Editing and deleting a location on the pages: the region found from the
point is shown; other organisations' locations do not exist for a provider."""

from decimal import Decimal as D

import pytest
from django.test import Client

from cooperation.models import Location, Service
from tests.factories import LocationFactory, ServiceFactory

pytestmark = pytest.mark.django_db

WEST = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [13.5, 52.0], [13.5, 53.0], [13.0, 53.0], [13.0, 52.0]]]}


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(response) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).replace("\xa0", " ")


@pytest.fixture
def loc_a(org_a):
    return LocationFactory(organization=org_a, name="Familienzentrum", street="Weg 1")


@pytest.fixture
def loc_b(org_b):
    return LocationFactory(organization=org_b, name="Beratungsstelle B", street="Gasse 2")


def post_data(**changes):
    data = {"name": "Familienzentrum", "street": "Weg 1", "postal_code": "10115", "city": "Berlin",
            "latitude": "", "longitude": ""}
    data.update(changes)
    return data


class TestEdit:
    def test_provider_edits_its_location_and_sees_the_region(self, tree, loc_a, provider_editor_a):
        tree["P11"].set_boundary(WEST)
        tree["P11"].save()
        client = client_for(provider_editor_a)
        url = f"/organisationen/standorte/{loc_a.uuid}/bearbeiten/"
        assert client.get(url).status_code == 200
        response = client.post(url, post_data(street="Neuer Weg 5", latitude="52,5", longitude="13,25"), follow=True)
        assert "Sozialraum: Nord-West (P11)" in text(response)
        loc_a.refresh_from_db()
        assert loc_a.street == "Neuer Weg 5" and loc_a.region == tree["P11"] and loc_a.latitude == D("52.5")

    def test_validation_messages_per_field(self, loc_a, provider_editor_a):
        response = client_for(provider_editor_a).post(f"/organisationen/standorte/{loc_a.uuid}/bearbeiten/",
                                                      post_data(street="", latitude="95", longitude=""))
        page = text(response)
        assert response.status_code == 200
        assert "Bitte Straße und Hausnummer" in page and "zwischen −90 und 90" in page
        loc_a.refresh_from_db()
        assert loc_a.street == "Weg 1"

    def test_other_organisations_location_is_404_and_unchanged(self, loc_b, provider_editor_a):
        client = client_for(provider_editor_a)
        for url in (f"/organisationen/standorte/{loc_b.uuid}/bearbeiten/",
                    f"/organisationen/standorte/{loc_b.uuid}/loeschen/"):
            assert client.get(url).status_code == 404
            assert client.post(url, post_data(street="Gekapert 1")).status_code == 404
        loc_b.refresh_from_db()
        assert loc_b.street == "Gasse 2" and Location.objects.filter(pk=loc_b.pk).exists()

    @pytest.mark.parametrize("persona", ["viewer", "region_lead"])
    def test_staff_readers_may_not_change(self, loc_a, persona, request):
        client = client_for(request.getfixturevalue(persona))
        assert client.get(f"/organisationen/standorte/{loc_a.uuid}/bearbeiten/").status_code == 403
        assert client.post(f"/organisationen/standorte/{loc_a.uuid}/loeschen/").status_code == 403
        assert Location.objects.filter(pk=loc_a.pk).exists()

    def test_anonymous_goes_to_the_login(self, loc_a):
        response = client_for(None).get(f"/organisationen/standorte/{loc_a.uuid}/bearbeiten/")
        assert response.status_code == 302 and "/anmelden/" in response["Location"]

    def test_the_organisation_page_links_to_the_edit_form(self, org_a, loc_a, provider_editor_a, viewer):
        url = f"/organisationen/{org_a.uuid}/"
        assert f"/organisationen/standorte/{loc_a.uuid}/bearbeiten/" in client_for(provider_editor_a).get(url).content.decode()
        assert "/standorte/" not in client_for(viewer).get(url).content.decode()


class TestDelete:
    def test_delete_keeps_the_offerings(self, org_a, loc_a, provider_editor_a):
        other = LocationFactory(organization=org_a, name="Zweiter Standort")
        service = ServiceFactory(organization=org_a, name="Elterncafé", locations=[loc_a, other])
        client = client_for(provider_editor_a)
        page = text(client.get(f"/organisationen/standorte/{loc_a.uuid}/loeschen/"))
        assert "Elterncafé" in page and "bleibt bestehen" in page
        response = client.post(f"/organisationen/standorte/{loc_a.uuid}/loeschen/", follow=True)
        assert "gelöscht" in text(response)
        assert not Location.objects.filter(pk=loc_a.pk).exists()
        assert list(Service.objects.get(pk=service.pk).locations.all()) == [other]
