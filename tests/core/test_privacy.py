"""Data protection: export and erasure of a staff account's personal data
(core.privacy, the pages under /datenschutz/konten/, the commands), the
retention of the change history (purge job and command) and the privacy
notice (/datenschutz/)."""

import datetime
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pghistory
import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from pghistory.models import Context, MiddlewareEvents

from cooperation.models import Membership, Organization
from core import audit, privacy
from core.access import Role
from core.models import Notification
from regions.models import RoleAssignment
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    RoleAssignmentFactory,
    UserFactory,
    issue_token,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
LIST_URL = "/datenschutz/konten/"


def export_url(user):
    return f"/datenschutz/konten/{user.pk}/export/"


def erase_url(user):
    return f"/datenschutz/konten/{user.pk}/loeschen/"


def token_model():
    """The integration-token model, wherever it lives (found by name)."""
    return next(m for m in apps.get_models() if m.__name__ == "IntegrationToken")


@pytest.fixture
def staff(tree, org_a):
    """A provider employee with everything an account can have: a name and
    e-mail, a membership, a role, notifications, an API token, a region they
    lead, a change they made (through a request's history context), a live
    session."""
    user = UserFactory(username="m.muster", first_name="Maria", last_name="Muster", email="maria.muster@traeger.example")
    MembershipFactory(user=user, organization=org_a, role="editor")
    RoleAssignmentFactory(user=user, role=Role.VIEWER, region=tree["D1"])
    Notification.objects.create(user=user, kind="agreement-review", event_key="e:1", title="Überprüfung fällig")
    Notification.objects.create(user=user, kind="agreement-review", event_key="e:2", title="Zweite Erinnerung")
    issue_token(user, name="Kita-Software")
    tree["D1"].lead = user
    tree["D1"].save()
    with pghistory.context(user=user.pk, url="/organisationen/neu/"):
        org = OrganizationFactory(name="Neu angelegter Träger e. V.", created_by=user)
    user.changed_org = org
    return user


@pytest.fixture
def signed_in(staff):
    client = Client()
    client.force_login(staff)
    return client


def login(client, user):
    client.force_login(user)
    return client


# --- relations found through _meta ------------------------------------------------------


class TestRelations:
    def test_classified_by_what_deleting_the_account_would_do(self):
        kinds = {r.label: r.kind for r in privacy.user_relations()}
        for label in ("regions.RoleAssignment.user", "cooperation.Membership.user", "core.Notification.user"):
            assert kinds[label] == privacy.OWN
        token_fks = [label for label, kind in kinds.items()
                     if label.startswith(token_model()._meta.label + ".") and kind == privacy.OWN]
        assert token_fks, "the integration tokens of an account belong to it"
        for label in ("regions.Region.lead", "regions.Region.created_by", "budgets.AllocationRun.triggered_by"):
            assert kinds[label] == privacy.REFERENCE
        assert kinds["admin.LogEntry.user"] == privacy.HISTORY
        assert kinds["regions.RoleAssignmentEvent.user"] == privacy.HISTORY
        assert not [label for label in kinds if label.endswith((".pgh_obj", ".pgh_context"))]

    def test_every_relation_to_the_user_model_is_found(self):
        """Cross-check against Django's own list of the user model's reverse
        relations (related_name="+" ones included; the through tables of the
        user model's own many-to-many fields — groups, permissions — are
        handled as fields of the account)."""
        user_model = get_user_model()
        expected = {
            f"{rel.related_model._meta.label}.{rel.field.name}"
            for rel in user_model._meta.get_fields(include_hidden=True)
            if rel.auto_created and not rel.concrete and rel.related_model is not user_model
            and rel.related_model._meta.managed and not rel.related_model._meta.proxy
            and not rel.related_model._meta.auto_created
            and rel.field.name not in ("pgh_obj", "pgh_context")
        }
        assert {r.label for r in privacy.user_relations()} == expected


# --- export ------------------------------------------------------------------------------


class TestExport:
    def test_contents(self, staff, org_a, tree):
        data = privacy.export_user(staff)
        json.dumps(data)  # JSON-serialisable as it is
        assert data["format"] == privacy.EXPORT_FORMAT
        account = data["account"]
        assert (account["username"], account["first_name"], account["last_name"], account["email"]) == (
            "m.muster", "Maria", "Muster", "maria.muster@traeger.example")
        assert account["has_usable_password"] is True and "password" not in account

        records = {s["model"]: s for s in data["records"]}
        assert records["cooperation.Membership"]["count"] == 1
        assert records["cooperation.Membership"]["rows"][0]["organization"] == org_a.pk
        assert records["regions.RoleAssignment"]["rows"][0]["role"] == Role.VIEWER
        assert sorted(r["title"] for r in records["core.Notification"]["rows"]) == [
            "Zweite Erinnerung", "Überprüfung fällig"]
        token = records[token_model()._meta.label]
        assert token["rows"][0]["name"] == "Kita-Software"
        assert "key_digest" not in token["rows"][0]  # secrets never leave the system

        references = {(s["model"], s["field"]): s for s in data["references"]}
        assert references[("regions.Region", "lead")]["ids"] == [tree["D1"].pk]
        assert staff.changed_org.pk in references[("cooperation.Organization", "created_by")]["ids"]

        history = {s["model"]: s for s in data["history"]}
        assert history["regions.RoleAssignmentEvent"]["rows"][0]["pgh_label"] == "insert"
        assert history["cooperation.MembershipEvent"]["count"] == 1

        changes = data["changes_made"]
        assert [c["object"] for c in changes] == [f"cooperation.Organization:{staff.changed_org.pk}"]
        assert changes[0]["action"] == "insert" and changes[0]["source"] == "/organisationen/neu/"
        assert "name" in changes[0]["fields"]

    def test_counts_live_sessions(self, staff, signed_in):
        assert privacy.export_user(staff)["sessions"] == {"active": 1}

    def test_of_another_account_holds_nothing_of_this_one(self, staff, viewer):
        data = privacy.export_user(viewer)
        assert "m.muster" not in json.dumps(data) and "maria" not in json.dumps(data).lower()
        assert data["changes_made"] == []


# --- erasure -------------------------------------------------------------------------------


class TestErase:
    def test_pseudonymises_the_account_and_removes_what_belongs_to_it(self, staff, planner, tree):
        token_class = token_model()
        assert token_class._base_manager.count() == 1
        result = privacy.erase_user(staff, planner)
        staff.refresh_from_db()
        assert result.pseudonym.startswith("geloescht-") and staff.username == result.pseudonym
        assert len(result.pseudonym) == len("geloescht-") + 8
        assert (staff.first_name, staff.last_name, staff.email) == ("", "", "")
        assert not staff.has_usable_password() and not staff.is_active and staff.last_login is None
        assert not RoleAssignment.objects.filter(user=staff).exists()
        assert not Membership.objects.filter(user=staff).exists()
        assert not Notification.objects.filter(user=staff).exists()
        assert token_class._base_manager.count() == 0
        assert result.deleted["core.Notification"] == 2
        # records of the municipality naming the account stay, showing the pseudonym
        tree["D1"].refresh_from_db()
        assert tree["D1"].lead_id == staff.pk
        assert Organization.objects.get(pk=staff.changed_org.pk).created_by.username == result.pseudonym
        # nothing of the old identity is left in the export
        dumped = json.dumps(privacy.export_user(staff), ensure_ascii=False)
        assert "m.muster" not in dumped and "Maria" not in dumped and "traeger.example" not in dumped

    def test_keeps_the_change_history_with_the_pseudonym_as_actor(self, staff, planner):
        org = staff.changed_org
        events_before = MiddlewareEvents.objects.tracks(org).count()
        result = privacy.erase_user(staff, planner)
        assert MiddlewareEvents.objects.tracks(org).count() == events_before
        rows = audit.history(org)
        assert rows[-1]["label"] == "insert" and rows[-1]["user"].username == result.pseudonym
        # the history of the deleted role assignment and membership is kept, plus their deletion
        deletions = MiddlewareEvents.objects.filter(pgh_label="delete", pgh_model__in=[
            "regions.RoleAssignmentEvent", "cooperation.MembershipEvent"])
        assert deletions.count() == 2
        assert {e.pgh_context["erased"] for e in deletions} == {result.pseudonym}
        assert {e.pgh_context["user"] for e in deletions} == {planner.pk}

    def test_history_page_shows_the_pseudonym(self, staff, planner, client):
        result = privacy.erase_user(staff, planner)
        html = login(client, planner).get(f"/organisationen/{staff.changed_org.uuid}/").content.decode()
        assert result.pseudonym in html and "Maria" not in html and "m.muster" not in html

    def test_records_who_erased_whom(self, staff, planner, security_log):
        result = privacy.erase_user(staff, planner)
        entry = LogEntry.objects.get(object_id=str(staff.pk))
        assert entry.user == planner and entry.object_repr == result.pseudonym
        assert result.pseudonym in entry.change_message and "m.muster" not in entry.change_message
        record = next(r for r in security_log if r["event"] == privacy.ACCOUNT_ERASED)
        assert record["user"] == "planner" and record["subject"] == result.pseudonym
        assert "m.muster" not in json.dumps(record)

    def test_ends_the_sessions(self, staff, planner, signed_in):
        assert signed_in.get("/benachrichtigungen/").status_code == 200
        assert privacy.erase_user(staff, planner).sessions == 1
        response = signed_in.get("/benachrichtigungen/")
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/")
        fresh = Client()
        response = fresh.post("/anmelden/", {"username": "m.muster", "password": "geheim-und-lang-123"})
        assert response.status_code == 200 and "_auth_user_id" not in fresh.session  # the form again

    def test_rewrites_names_in_the_history_context(self, staff, planner):
        with pghistory.context(command="import_data regions /home/m.muster/raeume.csv",
                               by="maria.muster@traeger.example", operator="m.muster"):
            OrganizationFactory(name="Per Befehl e. V.")
        untouched = Context.objects.filter(metadata__url="/organisationen/neu/").get()
        result = privacy.erase_user(staff, planner)
        assert result.contexts == 1
        context = Context.objects.get(metadata__command__startswith="import_data")
        assert context.metadata["by"] == result.pseudonym and context.metadata["operator"] == result.pseudonym
        assert "traeger.example" not in json.dumps(context.metadata)
        untouched.refresh_from_db()
        assert untouched.metadata == {"user": staff.pk, "url": "/organisationen/neu/"}

    def test_second_factor_and_lockout_records(self, staff, planner):
        """Found without naming them: the authenticator device (a foreign key,
        its secret never exported) goes; failed-login records kept under the
        user *name* (django-axes) are exported and then carry the pseudonym."""
        if not (apps.is_installed("django_otp.plugins.otp_totp") and apps.is_installed("axes")):
            pytest.skip("django-otp (TOTP) and django-axes not installed")
        from axes.models import AccessAttempt
        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.create(user=staff, name="Telefon", confirmed=True)
        AccessAttempt.objects.create(username="m.muster", ip_address="192.0.2.7", user_agent="Firefox",
                                     http_accept="*/*", path_info="/anmelden/", get_data="", post_data="",
                                     failures_since_start=2)
        data = privacy.export_user(staff)
        device = next(s for s in data["records"] if s["model"] == "otp_totp.TOTPDevice")
        assert device["rows"][0]["name"] == "Telefon" and "key" not in device["rows"][0]
        attempts = next(s for s in data["records_by_user_name"] if s["model"] == "axes.AccessAttempt")
        assert attempts["rows"][0]["ip_address"] == "192.0.2.7"
        plan = privacy.plan_erasure(staff)
        assert ("Zugriffsversuche (Benutzername)", 1) in plan.keep and ("TOTP devices", 1) in plan.delete
        result = privacy.erase_user(staff, planner)
        assert not TOTPDevice.objects.filter(user=staff).exists()
        assert result.renamed == {"axes.AccessAttempt": 1}
        assert AccessAttempt.objects.get().username == result.pseudonym

    def test_is_atomic(self, staff, planner, monkeypatch):
        def fail(*args, **kwargs):
            raise RuntimeError("log unavailable")

        monkeypatch.setattr(privacy, "_record", fail)
        with pytest.raises(RuntimeError):
            privacy.erase_user(staff, planner)
        staff.refresh_from_db()
        assert staff.username == "m.muster" and staff.is_active and staff.email
        assert Membership.objects.filter(user=staff).exists() and Notification.objects.filter(user=staff).count() == 2


class TestEraseRules:
    def test_nobody_erases_themselves(self, planner):
        UserFactory(username="planner2")
        RoleAssignmentFactory(user=get_user_model().objects.get(username="planner2"), role=Role.PLANNER, region=None)
        with pytest.raises(privacy.ErasureRefused, match="eigene Konto"):
            privacy.erase_user(planner, planner)
        planner.refresh_from_db()
        assert planner.username == "planner" and planner.is_active

    def test_not_the_last_active_planner(self, planner, superuser, inactive_planner):
        with pytest.raises(privacy.ErasureRefused, match="letzte aktive Konto der Planung"):
            privacy.erase_user(planner, superuser)
        assert get_user_model().objects.get(pk=planner.pk).is_active
        # with a second planner it may go
        other = UserFactory(username="planner2")
        RoleAssignmentFactory(user=other, role=Role.PLANNER, region=None)
        assert privacy.erase_user(planner, superuser).pseudonym

    @pytest.mark.parametrize("persona", ["region_lead", "viewer", "provider_editor_a", "scoped_planner"])
    def test_only_planners_without_region_limit(self, request, persona, staff):
        with pytest.raises(privacy.ErasureRefused, match="Nur die Planung"):
            privacy.erase_user(staff, request.getfixturevalue(persona))
        assert get_user_model().objects.get(pk=staff.pk).username == "m.muster"

    def test_an_administrator_only_by_an_administrator(self, planner, superuser):
        with pytest.raises(privacy.ErasureRefused, match="Administrator"):
            privacy.erase_user(superuser, planner)

    def test_not_twice(self, staff, planner):
        privacy.erase_user(staff, planner)
        with pytest.raises(privacy.ErasureRefused, match="bereits gelöscht"):
            privacy.erase_user(staff, planner)


# --- pages ---------------------------------------------------------------------------------


class TestPageAccess:
    @pytest.mark.parametrize("persona", ["region_lead", "viewer", "provider_editor_a", "scoped_planner"])
    def test_refused_to_everyone_but_planners(self, request, client, staff, persona):
        login(client, request.getfixturevalue(persona))
        assert client.get(LIST_URL).status_code == 403
        assert client.get(export_url(staff)).status_code == 403
        assert client.get(erase_url(staff)).status_code == 403
        assert client.post(erase_url(staff)).status_code == 403
        assert get_user_model().objects.get(pk=staff.pk).username == "m.muster"

    @pytest.mark.parametrize("url", [LIST_URL, "/datenschutz/konten/1/export/", "/datenschutz/konten/1/loeschen/"])
    def test_anonymous_is_sent_to_login(self, client, url):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/")

    def test_unknown_account_is_404(self, client, planner):
        login(client, planner)
        assert client.get("/datenschutz/konten/999999/export/").status_code == 404
        assert client.get("/datenschutz/konten/999999/loeschen/").status_code == 404


class TestAccountList:
    def test_lists_accounts_with_their_actions(self, client, planner, staff, django_assert_max_num_queries):
        UserFactory.create_batch(30)  # the query count does not grow with the rows
        login(client, planner)
        with django_assert_max_num_queries(6):
            html = client.get(LIST_URL).content.decode()
        assert "m.muster" in html and "maria.muster@traeger.example" in html and "Maria Muster" in html
        assert f'href="{export_url(staff)}"' in html and f'href="{erase_url(staff)}"' in html

    def test_search(self, client, planner, staff, viewer):
        html = login(client, planner).get(LIST_URL, {"q": "muster"}).content.decode()
        assert "m.muster" in html and ">viewer<" not in html

    def test_erased_account_is_marked_without_actions(self, client, planner, staff):
        privacy.erase_user(staff, planner)
        html = login(client, planner).get(LIST_URL).content.decode()
        assert "gelöscht (pseudonymisiert)" in html and f'href="{erase_url(staff)}"' not in html


class TestExportPage:
    def test_downloads_json(self, client, planner, staff, security_log):
        response = login(client, planner).get(export_url(staff))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response["Content-Disposition"] == f'attachment; filename="personenbezogene-daten-konto-{staff.pk}.json"'
        assert response["Cache-Control"] == "no-store"
        data = json.loads(response.content)
        assert data["account"]["username"] == "m.muster"
        record = next(r for r in security_log if r["event"] == privacy.PERSONAL_DATA_EXPORTED)
        assert record["user"] == "planner" and record["subject_id"] == staff.pk


class TestErasePage:
    def test_confirmation_lists_the_consequences_and_erases_nothing(self, client, planner, staff):
        html = login(client, planner).get(erase_url(staff)).content.decode()
        assert "Benachrichtigungen (2)" in html and "Mitgliedschaften" in html
        assert "Sozialraumleitung" in html  # the region they lead keeps pointing at the pseudonym
        assert "Endgültig löschen" in html and html.count("csrfmiddlewaretoken") == 3  # language, logout, erase
        assert get_user_model().objects.get(pk=staff.pk).username == "m.muster"

    def test_post_erases_and_returns_to_the_list(self, client, planner, staff):
        response = login(client, planner).post(erase_url(staff), follow=True)
        assert response.redirect_chain[-1][0] == LIST_URL
        staff.refresh_from_db()
        assert staff.username.startswith("geloescht-")
        assert staff.username in response.content.decode()  # the message names the pseudonym

    def test_post_needs_the_csrf_token(self, planner, staff):
        client = Client(enforce_csrf_checks=True)
        client.force_login(planner)
        assert client.post(erase_url(staff)).status_code == 403
        assert get_user_model().objects.get(pk=staff.pk).username == "m.muster"

    def test_own_account_refused(self, client, planner):
        html = login(client, planner).get(erase_url(planner)).content.decode()
        assert "eigene Konto" in html and "Endgültig löschen" not in html
        response = client.post(erase_url(planner), follow=True)
        assert "eigene Konto" in response.content.decode()
        planner.refresh_from_db()
        assert planner.username == "planner" and planner.is_active


# --- commands ------------------------------------------------------------------------------


class TestCommands:
    def test_export_user_data(self, staff, tmp_path):
        out = StringIO()
        call_command("export_user_data", "m.muster", stdout=out)
        assert json.loads(out.getvalue())["account"]["email"] == "maria.muster@traeger.example"
        target = tmp_path / "export.json"
        call_command("export_user_data", "m.muster", "--output", str(target), stderr=StringIO())
        assert json.loads(target.read_text(encoding="utf-8"))["account"]["username"] == "m.muster"

    def test_erase_user_shows_first_then_erases_with_yes(self, staff, planner):
        out = StringIO()
        call_command("erase_user", "m.muster", "--by", "planner", stdout=out)
        assert "Probelauf" in out.getvalue() and "Benachrichtigungen: 2" in out.getvalue()
        assert get_user_model().objects.get(pk=staff.pk).username == "m.muster"
        out = StringIO()
        call_command("erase_user", "m.muster", "--by", "planner", "--yes", stdout=out)
        staff.refresh_from_db()
        assert staff.username.startswith("geloescht-") and staff.username in out.getvalue()

    def test_erase_user_refuses(self, planner, viewer):
        with pytest.raises(CommandError, match="eigene Konto"):
            call_command("erase_user", "planner", "--by", "planner", "--yes", stdout=StringIO())
        with pytest.raises(CommandError, match="Nur die Planung"):
            call_command("erase_user", "planner", "--by", "viewer", "--yes", stdout=StringIO())
        with pytest.raises(CommandError, match="Kein Benutzerkonto"):
            call_command("erase_user", "niemand", "--by", "planner", "--yes", stdout=StringIO())


# --- retention of the change history -----------------------------------------------------------


def age_history(obj, days):
    """Backdate every history event of ``obj`` (and its context) by ``days``."""
    when = timezone.now() - datetime.timedelta(days=days)
    for event_model in obj.pgh_event_models.values():
        events = event_model.objects.filter(pgh_obj=obj)
        Context.objects.filter(pk__in=events.values("pgh_context_id")).update(created_at=when, updated_at=when)
        events.update(pgh_created_at=when)


@pytest.fixture
def old_and_new():
    with pghistory.context(command="test old"):
        old = OrganizationFactory(name="Alt e. V.")
    old.description = "geändert"
    with pghistory.context(command="test old 2"):
        old.save()
    with pghistory.context(command="test new"):
        new = OrganizationFactory(name="Neu e. V.")
    age_history(old, 400)
    age_history(new, 10)
    return old, new


class TestPurge:
    def test_deletes_only_events_older_than_the_retention(self, old_and_new, settings):
        old, new = old_and_new
        settings.AUDIT_RETENTION_DAYS = 365
        counts = privacy.purge_audit_history()
        assert counts["cooperation.OrganizationEvent"] == 2
        assert counts["pghistory.Context"] == 2  # the contexts only the old events referred to
        assert not MiddlewareEvents.objects.tracks(old).exists()
        assert MiddlewareEvents.objects.tracks(new).count() == 1
        assert Context.objects.filter(metadata__command="test new").exists()
        assert Organization.objects.filter(pk=old.pk).exists()  # the history goes, the data stays
        assert privacy.purge_audit_history() == {}  # idempotent

    def test_keeps_a_context_still_referred_to_by_a_newer_event(self, settings):
        with pghistory.context(command="long request"):
            first = OrganizationFactory(name="Erst e. V.")
            second = OrganizationFactory(name="Zweit e. V.")
        age_history(first, 400)
        second_events = second.pgh_event_models["insert"].objects.filter(pgh_obj=second)
        second_events.update(pgh_created_at=timezone.now())
        settings.AUDIT_RETENTION_DAYS = 365
        counts = privacy.purge_audit_history()
        assert counts == {"cooperation.OrganizationEvent": 1}
        assert Context.objects.filter(metadata__command="long request").exists()

    def test_in_batches(self, old_and_new):
        assert privacy.purge_audit_history(days=365, batch_size=1)["cooperation.OrganizationEvent"] == 2

    def test_zero_keeps_everything(self, old_and_new, settings):
        settings.AUDIT_RETENTION_DAYS = 0
        assert privacy.purge_audit_history() == {}
        assert MiddlewareEvents.objects.tracks(old_and_new[0]).count() == 2

    def test_dry_run_counts_and_deletes_nothing(self, old_and_new):
        counts = privacy.purge_audit_history(days=365, dry_run=True)
        assert counts == {"cooperation.OrganizationEvent": 2, "pghistory.Context": 2}
        assert MiddlewareEvents.objects.tracks(old_and_new[0]).count() == 2

    def test_command(self, old_and_new, settings):
        settings.AUDIT_RETENTION_DAYS = 365
        out = StringIO()
        call_command("purge_audit_history", "--dry-run", stdout=out)
        assert "Probelauf" in out.getvalue() and "cooperation.OrganizationEvent: 2" in out.getvalue()
        out = StringIO()
        call_command("purge_audit_history", "--days", "30", stdout=out)
        assert "4 Zeilen älter als 30 Tage" in out.getvalue()  # two events, their two contexts
        assert not MiddlewareEvents.objects.tracks(old_and_new[0]).exists()
        assert MiddlewareEvents.objects.tracks(old_and_new[1]).exists()
        out = StringIO()
        call_command("purge_audit_history", "--days", "0", stdout=out)
        assert "nichts gelöscht" in out.getvalue()

    def test_task_runs_from_the_daily_schedule(self, old_and_new, settings, eager_celery):
        from core.tasks import purge_audit_history

        entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "core.purge_audit_history")
        assert entry["schedule"].hour == {3}
        settings.AUDIT_RETENTION_DAYS = 365
        assert purge_audit_history.delay().get()["cooperation.OrganizationEvent"] == 2


class TestRetentionSetting:
    @pytest.mark.parametrize(("value", "expected"), [(None, "3650"), ("", "0"), ("0", "0"), ("730", "730")])
    def test_parsed(self, value, expected):
        result = _settings_value("AUDIT_RETENTION_DAYS", value)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected

    def test_refuses_garbage(self):
        result = _settings_value("AUDIT_RETENTION_DAYS", "zehn Jahre")
        assert result.returncode != 0 and "AUDIT_RETENTION_DAYS" in result.stderr


def _settings_value(name, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(DJANGO_SETTINGS_MODULE="sozialraum.settings.test", DATABASE_URL="postgres://nobody@127.0.0.1:1/x")
    env.pop(name, None)
    if value is not None:
        env[name] = value
    code = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


# --- the privacy notice ----------------------------------------------------------------------


class TestPrivacyNotice:
    def test_renders_anonymously_with_the_configured_controller(self, client, settings):
        settings.PRIVACY_CONTROLLER = "Stadt Musterstadt\nDer Oberbürgermeister\nRathausplatz 1, 12345 Musterstadt"
        settings.PRIVACY_CONTACT_EMAIL = "datenschutz@musterstadt.example"
        settings.AUDIT_RETENTION_DAYS = 3650
        response = client.get("/datenschutz/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Stadt Musterstadt<br>Der Oberbürgermeister" in html
        assert 'href="mailto:datenschutz@musterstadt.example"' in html
        assert "3.650 Tage" in html and "10 Jahre" in html
        assert "Art. 6 Abs. 1 Buchst. e" in html and "Art. 15" in html and "Art. 77" in html
        for cookie in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME):
            assert f"<code>{cookie}</code>" in html
        assert LIST_URL not in html  # the account pages are for planners

    def test_without_configuration_and_without_retention(self, client, settings):
        settings.PRIVACY_CONTROLLER = ""
        settings.PRIVACY_CONTACT_EMAIL = ""
        settings.AUDIT_RETENTION_DAYS = 0
        html = client.get("/datenschutz/").content.decode()
        assert "noch nicht eingetragen" in html and "mailto:" not in html and "ohne Frist" in html

    def test_linked_in_the_footer_and_to_planners_the_account_pages(self, client, planner):
        assert 'href="/datenschutz/"' in client.get("/anmelden/").content.decode()
        html = login(client, planner).get("/datenschutz/").content.decode()
        assert f'href="{LIST_URL}"' in html
