"""The notification centre: notify() once per user and event, deliver_emails()
once per notification, and the pages (own notifications only)."""

import datetime
import re
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import Notification
from core.notifications import deliver_emails, notify

pytestmark = pytest.mark.django_db
LIST_URL = "/benachrichtigungen/"


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def make(user, key, read=False, **kwargs):
    kwargs.setdefault("title", f"Erinnerung {key}")
    return Notification.objects.create(user=user, kind="test", event_key=key, url="/kooperation/netzwerke/x/",
                                       read_at=timezone.now() if read else None, **kwargs)


class TestNotify:
    def test_creates_one_per_user_and_returns_them(self, planner, provider_editor_a):
        created = notify([planner, provider_editor_a, planner], "test", "event:1:2026-01-01", "Titel", "Text", "/x/")
        assert sorted(n.user_id for n in created) == sorted([planner.pk, provider_editor_a.pk])
        assert all(n.pk for n in created)
        assert Notification.objects.count() == 2

    def test_same_event_again_creates_nothing(self, planner, provider_editor_a):
        notify([planner], "test", "event:1", "Titel")
        again = notify([planner, provider_editor_a], "test", "event:1", "Titel geändert")
        assert [n.user_id for n in again] == [provider_editor_a.pk]  # only the new recipient
        assert Notification.objects.get(user=planner).title == "Titel"  # the first one is kept

    def test_accepts_ids_and_leaves_out_deactivated_users(self, planner, inactive_planner):
        created = notify([planner.pk, inactive_planner], "test", "event:2", "Titel")
        assert [n.user_id for n in created] == [planner.pk]

    def test_nobody_no_query(self, django_assert_num_queries):
        with django_assert_num_queries(0):
            assert notify([], "test", "event:3", "Titel") == []

    def test_long_title_is_shortened_long_key_refused(self, planner):
        [note] = notify([planner], "test", "event:4", "x" * 400)
        assert len(note.title) == 300 and note.title.endswith("…")
        with pytest.raises(ValueError):
            notify([planner], "test", "k" * 201, "Titel")


class TestDeliverEmails:
    def test_sends_each_unsent_once(self, planner, provider_editor_a):
        notify([planner, provider_editor_a], "test", "event:1", "Überprüfung fällig", "Bitte prüfen.",
               "/kooperation/vereinbarungen/abc/")
        assert deliver_emails() == {"sent": 2, "failed": 0, "sent_by_kind": {"test": 2}}
        assert deliver_emails() == {"sent": 0, "failed": 0, "sent_by_kind": {}}
        assert sorted(m.to[0] for m in mail.outbox) == ["planner@example.org", "provider_a@example.org"]
        message = mail.outbox[0]
        assert message.subject == "[Sozialraum] Überprüfung fällig"
        assert "Bitte prüfen." in message.body
        assert "https://sozialraum.example.org/kooperation/vereinbarungen/abc/" in message.body
        assert "https://sozialraum.example.org/benachrichtigungen/" in message.body
        assert not Notification.objects.filter(emailed_at__isnull=True).exists()

    def test_no_address_or_inactive_no_email(self, planner, provider_editor_a):
        type(planner).objects.filter(pk=planner.pk).update(email="")
        make(planner, "a")
        make(provider_editor_a, "b")
        type(planner).objects.filter(pk=provider_editor_a.pk).update(is_active=False)
        assert deliver_emails()["sent"] == 0
        assert mail.outbox == []

    def test_old_notifications_are_not_mailed(self, planner):
        make(planner, "old", created_at=timezone.now() - datetime.timedelta(days=8))
        make(planner, "new", created_at=timezone.now() - datetime.timedelta(days=6))
        assert deliver_emails()["sent"] == 1
        assert mail.outbox[0].subject.endswith("Erinnerung new")

    def test_failure_leaves_it_for_the_next_run(self, planner):
        make(planner, "a")
        with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages",
                        side_effect=smtplib.SMTPException("kaputt")):
            assert deliver_emails() == {"sent": 0, "failed": 1, "sent_by_kind": {}}
        assert Notification.objects.get().emailed_at is None
        assert deliver_emails()["sent"] == 1
        assert len(mail.outbox) == 1

    def test_limit(self, planner):
        for key in "abc":
            make(planner, key)
        assert deliver_emails(limit=2)["sent"] == 2
        assert deliver_emails()["sent"] == 1

    def test_title_with_line_break_gives_a_valid_subject(self, planner):
        make(planner, "a", title="Zeile 1\nZeile 2")
        deliver_emails()
        assert mail.outbox[0].subject == "[Sozialraum] Zeile 1 Zeile 2"


@pytest.fixture
def notes(planner, provider_editor_b):
    """Planner: one read, two unread (the older first created); B: one of their own."""
    old = make(planner, "old", created_at=timezone.now() - datetime.timedelta(days=3), title="Alte Meldung")
    read = make(planner, "read", read=True, title="Gelesene Meldung")
    new = make(planner, "new", title="Neue Meldung")
    other = make(provider_editor_b, "other", title="Meldung für B")
    return {"old": old, "read": read, "new": new, "other": other}


class TestListPage:
    def test_anonymous_is_sent_to_login(self):
        response = Client().get(LIST_URL)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_own_notifications_unread_first(self, notes, planner):
        response = client_for(planner).get(LIST_URL)
        assert response.status_code == 200
        assert [n.title for n in response.context["object_list"]] == ["Neue Meldung", "Alte Meldung",
                                                                        "Gelesene Meldung"]
        html = response.content.decode()
        assert "Meldung für B" not in html
        assert "2 ungelesene Benachrichtigungen." in html
        assert html.count(">ungelesen</span>") == 2  # the state in text, not only in colour
        assert "gelesen am" in html
        assert 'href="/kooperation/netzwerke/x/"' in html  # the read one links to its object

    def test_other_user_sees_only_theirs(self, notes, provider_editor_b):
        response = client_for(provider_editor_b).get(LIST_URL)
        assert [n.title for n in response.context["object_list"]] == ["Meldung für B"]

    def test_superuser_sees_only_own(self, notes, superuser):
        response = client_for(superuser).get(LIST_URL)
        assert list(response.context["object_list"]) == []
        assert "Sie haben keine Benachrichtigungen." in response.content.decode()

    def test_navigation_shows_the_unread_count(self, notes, planner, viewer):
        html = client_for(planner).get(reverse("home")).content.decode()
        assert re.search(r'href="/benachrichtigungen/"[^>]*>Benachrichtigungen \(2<span class="visually-hidden">'
                         r' ungelesen</span>\)</a>', html)
        assert "Benachrichtigungen (0" in client_for(viewer).get(reverse("home")).content.decode()

    def test_paginated(self, planner):
        for i in range(30):
            make(planner, f"k{i}")
        first = client_for(planner).get(LIST_URL)
        assert len(first.context["object_list"]) == 25
        second = client_for(planner).get(LIST_URL + "?page=2")
        assert len(second.context["object_list"]) == 5

    def test_query_count_does_not_grow(self, planner, django_assert_max_num_queries):
        for i in range(25):
            make(planner, f"k{i}")
        client = client_for(planner)
        client.get(LIST_URL)
        # session, user, role scopes, memberships (navigation), unread count, page count, the page
        with django_assert_max_num_queries(8):
            assert client.get(LIST_URL).status_code == 200


class TestMarkRead:
    def test_anonymous_is_sent_to_login(self, notes):
        for url in (reverse("notification-read", args=[notes["new"].pk]), reverse("notification-read-all")):
            response = Client().post(url)
            assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        assert Notification.objects.filter(read_at__isnull=True).count() == 3

    def test_mark_one_read(self, notes, planner):
        response = client_for(planner).post(reverse("notification-read", args=[notes["new"].pk]))
        assert response.status_code == 302 and response["Location"] == LIST_URL
        notes["new"].refresh_from_db()
        assert notes["new"].read_at is not None
        notes["old"].refresh_from_db()
        assert notes["old"].read_at is None

    def test_open_marks_read_and_goes_to_the_object(self, notes, planner):
        response = client_for(planner).post(reverse("notification-read", args=[notes["new"].pk]), {"open": "1"})
        assert response["Location"] == "/kooperation/netzwerke/x/"
        assert Notification.objects.get(pk=notes["new"].pk).read_at is not None

    def test_open_never_leaves_the_site(self, planner):
        note = make(planner, "ext")
        Notification.objects.filter(pk=note.pk).update(url="//evil.example/")
        response = client_for(planner).post(reverse("notification-read", args=[note.pk]), {"open": "1"})
        assert response["Location"] == LIST_URL

    def test_back_to_the_same_page(self, notes, planner):
        response = client_for(planner).post(reverse("notification-read", args=[notes["new"].pk]), {"page": "2"})
        assert response["Location"] == LIST_URL + "?page=2"

    def test_read_time_is_kept(self, notes, planner):
        before = notes["read"].read_at
        client_for(planner).post(reverse("notification-read", args=[notes["read"].pk]))
        notes["read"].refresh_from_db()
        assert notes["read"].read_at == before

    @pytest.mark.parametrize("who", ["provider_editor_b", "superuser"])
    def test_another_users_notification_is_404(self, notes, who, request):
        user = request.getfixturevalue(who)
        response = client_for(user).post(reverse("notification-read", args=[notes["new"].pk]))
        assert response.status_code == 404
        assert Notification.objects.get(pk=notes["new"].pk).read_at is None

    def test_get_is_not_allowed(self, notes, planner):
        assert client_for(planner).get(reverse("notification-read", args=[notes["new"].pk])).status_code == 405
        assert client_for(planner).get(reverse("notification-read-all")).status_code == 405

    def test_mark_all_read_only_own(self, notes, planner):
        response = client_for(planner).post(reverse("notification-read-all"), follow=True)
        assert "2 Benachrichtigungen sind als gelesen markiert." in response.content.decode()
        assert not Notification.objects.filter(user=planner, read_at__isnull=True).exists()
        assert Notification.objects.get(pk=notes["other"].pk).read_at is None
        again = client_for(planner).post(reverse("notification-read-all"), follow=True)
        assert "keine ungelesenen" in again.content.decode()
