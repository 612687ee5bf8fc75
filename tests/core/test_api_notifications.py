"""The notification centre in the API (/api/v1/notifications/): everyone reads
and marks only their own notifications (superusers too); nothing is written
through the API but the read marks. Filters, exports, query counts, schema."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Notification
from core.notifications import notify
from tests.conftest import client_for
from tests.factories import issue_token

pytestmark = pytest.mark.django_db

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def users(personas, superuser):
    return {**personas, "superuser": superuser}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def notes(users):
    """Two unread and one read notification for provider A, one for B, one for the superuser."""
    a, b = users["provider_editor_a"], users["provider_editor_b"]
    out = {
        "a1": notify([a], "agreement-review", "agreement-review:1:2026-12-01", "Überprüfung fällig: Vereinbarung 1",
                     text="Bis 01.12.2026.", url="/kooperation/vereinbarungen/1/")[0],
        "a2": notify([a], "task-due", "task-due:7:2026-11-30", "Aufgabe fällig")[0],
        "a3": notify([a], "task-due", "task-due:8:2026-11-01", "Aufgabe erledigt?")[0],
        "b1": notify([b], "task-due", "task-due:9:2026-11-30", "Aufgabe für B")[0],
        "root": notify([users["superuser"]], "task-due", "task-due:10:2026-11-30", "Für den Admin")[0],
    }
    Notification.objects.filter(pk=out["a3"].pk).update(read_at=timezone.now())
    return out


def ids(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return {r["id"] for r in (body["results"] if isinstance(body, dict) else body)}


def assert_refused(response):
    assert response.status_code in (401, 403), (response.status_code, response.content)
    assert set(response.json()) == {"detail"}


def snapshot():
    return sorted(Notification.objects.values_list("pk", "user_id", "title", "read_at"))


class TestNotifications:
    def test_anonymous_refused(self, notes, api):
        before = snapshot()
        for response in (api.get(f"{API}/notifications/"), api.get(f"{API}/notifications/?format=csv"),
                         api.get(f"{API}/notifications/{notes['a1'].pk}/"),
                         api.post(f"{API}/notifications/{notes['a1'].pk}/read/"),
                         api.post(f"{API}/notifications/read-all/")):
            assert_refused(response)
        assert snapshot() == before

    @pytest.mark.parametrize("persona, expected", [
        ("provider_editor_a", {"a1", "a2", "a3"}), ("provider_editor_b", {"b1"}), ("superuser", {"root"}),
        ("planner", set()), ("viewer", set()),
    ])
    def test_everyone_sees_their_own(self, notes, clients, persona, expected):
        api = clients[persona]
        assert ids(api.get(f"{API}/notifications/")) == {notes[k].pk for k in expected}
        for name, note in notes.items():
            assert api.get(f"{API}/notifications/{note.pk}/").status_code == (200 if name in expected else 404)

    def test_output_and_order(self, notes, clients):
        body = clients["provider_editor_a"].get(f"{API}/notifications/").json()
        assert body["count"] == 3
        first = next(r for r in body["results"] if r["id"] == notes["a1"].pk)
        assert first == {"id": notes["a1"].pk, "kind": "agreement-review", "title": "Überprüfung fällig: Vereinbarung 1",
                         "text": "Bis 01.12.2026.", "url": "/kooperation/vereinbarungen/1/",
                         "created_at": first["created_at"], "read_at": None, "unread": True}
        assert [r["id"] for r in body["results"]] == sorted((r["id"] for r in body["results"]), reverse=True)

    def test_filters(self, notes, clients):
        api = clients["provider_editor_a"]
        assert ids(api.get(f"{API}/notifications/", {"unread": "true"})) == {notes["a1"].pk, notes["a2"].pk}
        assert ids(api.get(f"{API}/notifications/", {"unread": "false"})) == {notes["a3"].pk}
        assert ids(api.get(f"{API}/notifications/", {"kind": "agreement-review"})) == {notes["a1"].pk}

    def test_read_marks_one(self, notes, clients):
        api = clients["provider_editor_a"]
        response = api.post(f"{API}/notifications/{notes['a1'].pk}/read/")
        assert response.status_code == 200
        assert response.json()["unread"] is False and response.json()["read_at"] is not None
        read_at = Notification.objects.get(pk=notes["a1"].pk).read_at
        assert Notification.objects.get(pk=notes["a2"].pk).read_at is None
        # again: unchanged
        assert api.post(f"{API}/notifications/{notes['a1'].pk}/read/").status_code == 200
        assert Notification.objects.get(pk=notes["a1"].pk).read_at == read_at

    @pytest.mark.parametrize("persona", ["provider_editor_b", "planner", "superuser"])
    def test_others_notifications_do_not_exist(self, notes, clients, persona):
        before = snapshot()
        assert clients[persona].post(f"{API}/notifications/{notes['a1'].pk}/read/").status_code == 404
        assert snapshot() == before

    def test_read_all_marks_only_own(self, notes, clients):
        response = clients["provider_editor_a"].post(f"{API}/notifications/read-all/")
        assert response.status_code == 200 and response.json() == {"marked": 2}
        assert not Notification.objects.filter(user__username="provider_a", read_at__isnull=True).exists()
        assert Notification.objects.get(pk=notes["b1"].pk).read_at is None
        assert Notification.objects.get(pk=notes["root"].pk).read_at is None
        assert clients["provider_editor_a"].post(f"{API}/notifications/read-all/").json() == {"marked": 0}

    def test_superuser_marks_only_own(self, notes, clients):
        assert clients["superuser"].post(f"{API}/notifications/read-all/").json() == {"marked": 1}
        assert Notification.objects.filter(read_at__isnull=True).count() == 3

    @pytest.mark.parametrize("persona", ["provider_editor_a", "superuser"])
    def test_no_writes(self, notes, clients, persona):
        before = snapshot()
        api = clients[persona]
        note = notes["a1"] if persona == "provider_editor_a" else notes["root"]
        assert api.post(f"{API}/notifications/", {"title": "X", "kind": "x", "event_key": "x"},
                        format="json").status_code == 405
        for method in ("put", "patch", "delete"):
            assert getattr(api, method)(f"{API}/notifications/{note.pk}/", {"title": "X"},
                                        format="json").status_code == 405
        assert snapshot() == before

    def test_token(self, notes, users):
        editor = users["provider_editor_b"]
        token = issue_token(editor, organization=editor.memberships.get().organization)
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert ids(api.get(f"{API}/notifications/")) == {notes["b1"].pk}
        assert api.post(f"{API}/notifications/read-all/").json() == {"marked": 1}

    def test_exports(self, notes, clients):
        response = clients["provider_editor_a"].get(f"{API}/notifications/", {"format": "csv"})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        assert {r["title"] for r in table} == {"Überprüfung fällig: Vereinbarung 1", "Aufgabe fällig",
                                               "Aufgabe erledigt?"}
        assert {r["unread"] for r in table} == {"ja", "nein"}
        response = clients["provider_editor_a"].get(f"{API}/notifications/", {"format": "xlsx"})
        assert response.status_code == 200 and response["Content-Type"] == XLSX

    def test_query_count_constant(self, notes, users, django_assert_max_num_queries):
        user = users["provider_editor_a"]

        def count():
            api = client_for(type(user).objects.get(pk=user.pk))
            with django_assert_max_num_queries(2), CaptureQueriesContext(connection) as ctx:
                assert api.get(f"{API}/notifications/", {"page_size": 200}).status_code == 200
            return len(ctx)

        small = count()
        for i in range(40):
            notify([user], "task-due", f"task-due:{100 + i}:2026-12-01", f"Aufgabe {i}")
        assert count() == small

    def test_schema(self, clients):
        schema = clients["viewer"].get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()
        paths = schema["paths"]
        assert {"get"} <= set(paths["/api/v1/notifications/"]) and "post" not in paths["/api/v1/notifications/"]
        assert "post" in paths["/api/v1/notifications/{id}/read/"]
        assert "post" in paths["/api/v1/notifications/read-all/"]
        params = {p["name"] for p in paths["/api/v1/notifications/"]["get"]["parameters"]}
        assert {"unread", "kind", "format", "page"} <= params
