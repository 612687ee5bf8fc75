"""Integration tokens (cooperation.models.tokens): made in the browser by planners
(any organisation or none) and provider editors (their own organisations),
scoped read/write, optionally expiring, stored as a digest and shown once,
revocable, last use recorded; every attempt in the security log."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cooperation.models import IntegrationToken, Membership
from regions.models import Region
from tests.conftest import client_for
from tests.factories import MembershipFactory, OrganizationFactory, ServiceFactory, UserFactory, issue_token

API = "/api/v1"


def with_token(key, scheme="Token"):
    api = client_for(None)
    api.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return api


@pytest.fixture
def services(org_a, org_b, tree):
    return {
        "a": ServiceFactory(organization=org_a, name="Angebot A", regions=[tree["P11"]]),
        "b": ServiceFactory(organization=org_b, name="Angebot B", regions=[tree["P21"]]),
    }


class TestStorage:
    def test_only_a_digest_is_stored(self, planner):
        token, key = IntegrationToken.issue(owner=planner, name="ETL", scope="read")
        token.refresh_from_db()
        assert key.startswith("szr_") and len(key) > 40
        assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
        assert token.prefix == key[:12] and key not in json.dumps(
            {f.name: str(getattr(token, f.name)) for f in token._meta.fields})

    def test_two_tokens_differ(self, planner):
        keys = {IntegrationToken.issue(owner=planner, name="x", scope="read")[1] for _ in range(5)}
        assert len(keys) == 5


class TestAuthentication:
    def test_token_and_bearer_headers(self, planner, tree):
        key = issue_token(planner, scope="read")
        for scheme in ("Token", "Bearer", "bearer"):
            response = with_token(key, scheme).get(f"{API}/regions/")
            assert response.status_code == 200, scheme
            assert response.json()["count"] == Region.objects.count()

    @pytest.mark.parametrize("header", ["Token", "Token a b", "Token falsch", "Token szr_unbekannt", "Bearer szr_x"])
    def test_bad_credentials_are_401(self, header, db):
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION=header)
        response = api.get(f"{API}/regions/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"

    def test_no_credentials_is_401_with_challenge(self, db):
        response = client_for(None).get(f"{API}/regions/")
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"

    def test_revoked_expired_and_inactive_owner_refused(self, planner, tree):
        token, key = IntegrationToken.issue(owner=planner, name="x", scope="read")
        api = with_token(key)
        assert api.get(f"{API}/regions/").status_code == 200
        token.revoke(planner)
        response = api.get(f"{API}/regions/")
        assert response.status_code == 401 and "widerrufen" in response.json()["detail"]

        token, key = IntegrationToken.issue(owner=planner, name="y", scope="read",
                                            expires_at=timezone.now() - timedelta(seconds=1))
        response = with_token(key).get(f"{API}/regions/")
        assert response.status_code == 401 and "abgelaufen" in response.json()["detail"]

        key = issue_token(planner, scope="read")
        planner.is_active = False
        planner.save()
        response = with_token(key).get(f"{API}/regions/")
        assert response.status_code == 401 and "deaktiviert" in response.json()["detail"]

    def test_last_use_recorded_at_most_once_a_minute(self, planner, tree):
        token, key = IntegrationToken.issue(owner=planner, name="x", scope="read")
        api = with_token(key)
        api.get(f"{API}/regions/", REMOTE_ADDR="10.1.2.3")
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None and token.last_used_ip == "10.1.2.3"
        api.get(f"{API}/regions/", REMOTE_ADDR="10.9.9.9")
        token.refresh_from_db()
        assert token.last_used_at == first and token.last_used_ip == "10.1.2.3"
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
        api.get(f"{API}/regions/", REMOTE_ADDR="10.9.9.9")
        token.refresh_from_db()
        assert token.last_used_at > first and token.last_used_ip == "10.9.9.9"

    def test_last_use_is_not_audit_history(self, planner, tree):
        from pghistory.models import Events

        token, key = IntegrationToken.issue(owner=planner, name="x", scope="read")
        before = Events.objects.tracks(token).count()
        with_token(key).get(f"{API}/regions/")
        assert Events.objects.tracks(token).count() == before

    def test_every_attempt_is_logged(self, planner, tree, security_log):
        token, key = IntegrationToken.issue(owner=planner, name="x", scope="read")
        with_token(key).get(f"{API}/regions/", REMOTE_ADDR="10.1.2.3")
        with_token("szr_falsch").get(f"{API}/regions/")
        token.revoke(planner)
        with_token(key).get(f"{API}/regions/")
        ok, unknown, revoked = (e for e in security_log if e["event"].startswith("token_"))
        assert ok == {"event": "token_succeeded", "user": "planner", "ip": "10.1.2.3", "method": "GET",
                      "path": f"{API}/regions/", "token": token.prefix, "scope": "read"}
        assert unknown["event"] == "token_failed" and unknown["reason"] == "unknown_token"
        assert unknown["user"] is None
        assert revoked["reason"] == "revoked" and revoked["user"] == "planner"
        assert key not in json.dumps(security_log)


class TestScope:
    def test_read_token_cannot_write(self, planner, tree, services):
        key = issue_token(planner, scope="read")
        api = with_token(key)
        service = services["a"]
        url = f"{API}/services/{service.uuid}/"
        assert api.get(url).status_code == 200
        for method in ("patch", "put", "delete"):
            response = getattr(api, method)(url, {"name": "X"}, format="json")
            assert response.status_code == 403, method
            assert "nur lesen" in response.json()["detail"]
        assert api.post(f"{API}/organizations/", {"name": "Neu"}, format="json").status_code == 403
        service.refresh_from_db()
        assert service.name == "Angebot A"

    def test_read_token_cannot_use_create_open_to_editors(self, provider_editor_a, org_a, tree):
        """SWOT entries are created through AddByEditorsPermission, not can_add."""
        key = issue_token(provider_editor_a, organization=org_a, scope="read")
        response = with_token(key).post(f"{API}/swot-entries/", {"text": "X"}, format="json")
        assert response.status_code == 403 and "nur lesen" in response.json()["detail"]

    def test_write_token_writes(self, planner, tree, services):
        key = issue_token(planner, scope="write")
        url = f"{API}/services/{services['a'].uuid}/"
        response = with_token(key).patch(url, {"name": "Neuer Name"}, format="json")
        assert response.status_code == 200, response.content
        services["a"].refresh_from_db()
        assert services["a"].name == "Neuer Name"


class TestOrganizationToken:
    def test_acts_as_editor_of_that_organisation_only(self, org_a, org_b, tree, services):
        both = UserFactory(username="both")
        MembershipFactory(user=both, organization=org_a, role="editor")
        MembershipFactory(user=both, organization=org_b, role="editor")
        api = with_token(issue_token(both, organization=org_a))
        ok = api.patch(f"{API}/services/{services['a'].uuid}/", {"name": "A neu"}, format="json")
        assert ok.status_code == 200, ok.content
        refused = api.patch(f"{API}/services/{services['b'].uuid}/", {"name": "B neu"}, format="json")
        assert refused.status_code in (403, 404)
        services["b"].refresh_from_db()
        assert services["b"].name == "Angebot B"
        # the same user's session may still edit B
        assert client_for(both).patch(f"{API}/services/{services['b'].uuid}/", {"name": "B neu"},
                                      format="json").status_code == 200

    def test_branches_are_included(self, org_a, provider_editor_a, tree):
        branch = OrganizationFactory(name="Zweigstelle A", parent=org_a)
        service = ServiceFactory(organization=branch, regions=[tree["P11"]])
        api = with_token(issue_token(provider_editor_a, organization=org_a))
        assert api.patch(f"{API}/services/{service.uuid}/", {"name": "Z"}, format="json").status_code == 200

    def test_planners_organisation_token_has_no_planner_rights(self, planner, org_a, tree):
        api = with_token(issue_token(planner, organization=org_a))
        response = api.post(f"{API}/organizations/", {"name": "Neu", "kind": "provider"}, format="json")
        assert response.status_code == 403
        assert api.patch(f"{API}/regions/{tree['P11'].code}/", {"name": "X"}, format="json").status_code in (403, 404)
        superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
        api = with_token(issue_token(superuser, organization=org_a))
        assert api.post(f"{API}/organizations/", {"name": "Neu", "kind": "provider"},
                        format="json").status_code == 403

    def test_stops_when_owner_is_no_longer_editor(self, provider_editor_a, org_a, tree):
        api = with_token(issue_token(provider_editor_a, organization=org_a))
        assert api.get(f"{API}/regions/").status_code == 200
        Membership.objects.filter(user=provider_editor_a).update(role="viewer")
        response = api.get(f"{API}/regions/")
        assert response.status_code == 401 and "nicht mehr" in response.json()["detail"]


class TestPage:
    URL = "/api-zugaenge/"

    def test_planner_makes_a_token_and_sees_it_once(self, client, planner, tree):
        client.force_login(planner)
        response = client.post(self.URL, {"name": "Statistikamt", "scope": "read", "organization": "",
                                          "expires_on": ""})
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        key = response.context["key"]
        assert key in response.content.decode()
        token = IntegrationToken.objects.get()
        assert (token.owner, token.organization, token.scope, token.expires_at) == (planner, None, "read", None)
        assert with_token(key).get(f"{API}/regions/").status_code == 200
        listing = client.get(self.URL).content.decode()
        assert "Statistikamt" in listing and token.prefix in listing and key not in listing

    def test_expiry_date_is_the_whole_day(self, client, planner, db):
        client.force_login(planner)
        day = timezone.localdate() + timedelta(days=30)
        client.post(self.URL, {"name": "x", "scope": "write", "expires_on": day.isoformat()})
        token = IntegrationToken.objects.get()
        assert timezone.localtime(token.expires_at).date() == day
        assert timezone.localtime(token.expires_at).hour == 23

    def test_past_expiry_refused_naming_the_field(self, client, planner, db):
        client.force_login(planner)
        response = client.post(self.URL, {"name": "x", "scope": "read", "expires_on": "2020-01-01"})
        assert response.status_code == 400
        assert "Vergangenheit" in response.content.decode() and not IntegrationToken.objects.exists()

    def test_provider_editor_only_for_own_organisation(self, client, provider_editor_a, org_a, org_b, db):
        client.force_login(provider_editor_a)
        page = client.get(self.URL).content.decode()
        assert org_a.name in page and org_b.name not in page
        response = client.post(self.URL, {"name": "x", "scope": "write", "organization": str(org_b.uuid)})
        assert response.status_code == 400 and not IntegrationToken.objects.exists()
        response = client.post(self.URL, {"name": "x", "scope": "write", "organization": ""})
        assert response.status_code == 400  # an organisation is required for provider staff
        response = client.post(self.URL, {"name": "x", "scope": "write", "organization": str(org_a.uuid)})
        assert response.status_code == 200
        assert IntegrationToken.objects.get().organization == org_a

    @pytest.mark.parametrize("persona", ["viewer", "region_lead"])
    def test_staff_without_planning_refused(self, client, persona, request):
        client.force_login(request.getfixturevalue(persona))
        assert client.get(self.URL).status_code == 403
        assert client.post(self.URL, {"name": "x", "scope": "read"}).status_code == 403
        assert not IntegrationToken.objects.exists()

    def test_anonymous_is_sent_to_login(self, client, db):
        response = client.get(self.URL)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    def test_revoking(self, client, planner, provider_editor_a, provider_editor_b, org_a):
        token, key = IntegrationToken.issue(owner=provider_editor_a, organization=org_a, name="A", scope="read")
        url = reverse("token-revoke", args=[token.pk])
        client.force_login(provider_editor_b)
        assert client.post(url).status_code == 404
        assert "A" not in [t.name for t in client.get(self.URL).context["tokens"]]
        client.force_login(planner)
        assert client.get(url).status_code == 405
        assert client.post(url).status_code == 302
        token.refresh_from_db()
        assert token.revoked_at is not None and token.revoked_by == planner
        assert with_token(key).get(f"{API}/regions/").status_code == 401
        assert "widerrufen" in client.get(self.URL).content.decode()

    def test_nav_link_for_planners_and_editors_only(self, client, planner, viewer, provider_editor_a):
        for user, shown in ((planner, True), (provider_editor_a, True), (viewer, False)):
            client.force_login(user)
            assert ('href="/api-zugaenge/"' in client.get("/").content.decode()) is shown, user
