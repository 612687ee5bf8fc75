"""Login hardening and the security log: lockout after failed logins (django-axes),
the optional second factor (TOTP), session timeouts, deactivation ending
sessions, API throttling, and every attempt and refusal in the JSON security log."""

import json
import logging
import time

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import security
from core.middleware import SessionTimeoutMiddleware
from tests.conftest import client_for
from tests.factories import UserFactory, issue_token

PASSWORD = "ein-langes-Passwort-2026"
LOGIN = "/anmelden/"


@pytest.fixture
def staff(planner):
    planner.set_password(PASSWORD)
    planner.save()
    return planner


def login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def code_for(device, offset=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():06d}"


def unthrottle(device):
    """Skip django-otp's wait after a wrong code (1, 2, 4 … s)."""
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)


def confirmed(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="App", confirmed=True)


class TestLockout:
    def test_five_failures_lock_the_account(self, client, staff, settings, security_log):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = login(client, staff.username, "falsch")
            assert response.status_code == 200  # the form again, with its error
        locked = login(client, staff.username, "falsch")
        assert locked.status_code == 429
        assert "vorübergehend gesperrt" in locked.content.decode() and "15 Minuten" in locked.content.decode()
        # even the right password is refused now
        response = login(client, staff.username)
        assert response.status_code == 429 and "_auth_user_id" not in client.session
        events = [e["event"] for e in security_log]
        assert events.count("login_failed") >= settings.AXES_FAILURE_LIMIT and "locked_out" in events
        assert "login_succeeded" not in events

    def test_lockout_is_per_account_and_success_resets(self, client, staff, settings):
        other = UserFactory(username="kollegin")
        other.set_password(PASSWORD)
        other.save()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            login(client, staff.username, "falsch")
        assert login(client, other.username).status_code == 302  # a colleague is not locked
        client.logout()
        assert login(client, staff.username).status_code == 302  # success resets the count
        client.logout()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            login(client, staff.username, "falsch")
        assert login(client, staff.username).status_code == 302

    def test_admin_login_is_the_app_login(self, client, db):
        response = client.get("/admin/login/?next=/admin/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)


class TestPasswordValidators:
    def test_short_common_and_numeric_passwords_refused(self, db):
        from django.contrib.auth.password_validation import validate_password
        from django.core.exceptions import ValidationError

        user = UserFactory(username="mueller")
        for weak in ("kurz", "1234567890123", "password123", "mueller2026x"):
            with pytest.raises(ValidationError):
                validate_password(weak, user)
        validate_password(PASSWORD, user)


class TestSecondFactor:
    def test_login_with_code(self, client, staff, security_log):
        device = confirmed(staff)
        response = login(client, staff.username)
        assert response.status_code == 302 and response["Location"] == reverse("login-second-factor")
        assert "_auth_user_id" not in client.session  # not logged in before the code
        assert client.get("/").status_code == 302  # pages still need a login
        response = client.post(reverse("login-second-factor"), {"code": code_for(device)})
        assert response.status_code == 302 and response["Location"] == "/"
        assert client.session["_auth_user_id"] == str(staff.pk)
        assert client.get("/").status_code == 200
        assert [e["event"] for e in security_log][-2:] == ["login_succeeded", "second_factor_succeeded"]
        assert security_log[-2]["second_factor"] is True

    def test_next_is_kept_and_checked(self, client, staff):
        device = confirmed(staff)
        client.post(LOGIN + "?next=/budgets/", {"username": staff.username, "password": PASSWORD,
                                               "next": "/budgets/"})
        response = client.post(reverse("login-second-factor"), {"code": code_for(device)})
        assert response["Location"] == "/budgets/"
        client.logout()
        login(client, staff.username, next="https://evil.example/")
        client.post(LOGIN, {"username": staff.username, "password": PASSWORD, "next": "https://evil.example/"})
        response = client.post(reverse("login-second-factor"), {"code": code_for(device, 1)})
        assert response["Location"] == "/"

    def test_wrong_codes_then_restart_and_count_for_lockout(self, client, staff, security_log):
        device = confirmed(staff)
        login(client, staff.username)
        wrong = f"{(int(code_for(device)) + 1) % 1000000:06d}"
        response = client.post(reverse("login-second-factor"), {"code": wrong})
        assert response.status_code == 400 and "stimmt nicht" in response.content.decode()
        # at once again: django-otp makes the next try wait
        response = client.post(reverse("login-second-factor"), {"code": code_for(device)})
        assert response.status_code == 400 and "Zu schnell" in response.content.decode()
        assert "_auth_user_id" not in client.session
        for _ in range(2):
            unthrottle(device)
            assert client.post(reverse("login-second-factor"), {"code": wrong}).status_code == 400
        unthrottle(device)
        response = client.post(reverse("login-second-factor"), {"code": wrong})
        assert response.status_code == 302 and response["Location"] == LOGIN
        assert "_auth_user_id" not in client.session
        # the attempt is over: even the right code does not log in now
        response = client.post(reverse("login-second-factor"), {"code": code_for(device)})
        assert response.status_code == 302 and "_auth_user_id" not in client.session
        events = [e["event"] for e in security_log]
        assert events.count("second_factor_failed") == 5 and events.count("login_failed") == 1

    def test_letters_refused_with_message(self, client, staff):
        confirmed(staff)
        login(client, staff.username)
        response = client.post(reverse("login-second-factor"), {"code": "12ab56"})
        assert response.status_code == 400 and "nur aus Ziffern" in response.content.decode()

    def test_code_page_without_password_sends_to_login(self, client, db):
        assert client.get(reverse("login-second-factor"))["Location"] == LOGIN

    def test_pending_login_expires(self, client, staff):
        device = confirmed(staff)
        login(client, staff.username)
        session = client.session
        session["_sozialraum_second_factor"]["at"] -= 301
        session.save()
        response = client.post(reverse("login-second-factor"), {"code": code_for(device)})
        assert response["Location"] == LOGIN and "_auth_user_id" not in client.session

    def test_set_up_and_switch_off_on_my_account(self, client, staff, security_log):
        client.force_login(staff)
        page = client.get("/konto/").content.decode()
        assert "Zweiten Faktor einrichten" in page
        client.post("/konto/", {"action": "start"})
        setup = TOTPDevice.objects.get(user=staff)
        assert not setup.confirmed
        page = client.get("/konto/").content.decode()
        assert 'src="data:image/svg+xml;base64,' in page and "Schlüssel zur Eingabe von Hand" in page
        response = client.post("/konto/", {"action": "confirm", "code": "000000" if code_for(setup) != "000000"
                                           else "111111"})
        assert response.status_code == 400
        unthrottle(setup)
        assert client.post("/konto/", {"action": "confirm", "code": code_for(setup)}).status_code == 302
        setup.refresh_from_db()
        assert setup.confirmed
        assert "Eingeschaltet" in client.get("/konto/").content.decode()
        # switching it off needs a current code
        assert client.post("/konto/", {"action": "disable", "code": "abc"}).status_code == 400
        assert TOTPDevice.objects.filter(user=staff).exists()
        unthrottle(setup)
        assert client.post("/konto/", {"action": "disable", "code": code_for(setup, 1)}).status_code == 302
        assert not TOTPDevice.objects.filter(user=staff).exists()
        actions = [e.get("action") for e in security_log if e["event"] == "account_changed"]
        assert actions == ["second_factor_on", "second_factor_off"]

    def test_account_page_needs_login(self, client, db):
        assert client.get("/konto/")["Location"].startswith(LOGIN)


class TestSessions:
    def stamp(self, client, **seconds_ago):
        session = client.session
        now = int(time.time())
        if "idle" in seconds_ago:
            session[SessionTimeoutMiddleware.SEEN_AT] = now - seconds_ago["idle"]
        if "login" in seconds_ago:
            session[SessionTimeoutMiddleware.LOGIN_AT] = now - seconds_ago["login"]
        session.save()

    def test_idle_session_ends(self, client, staff, settings, security_log):
        login(client, staff.username)
        assert client.get("/").status_code == 200
        self.stamp(client, idle=settings.SESSION_IDLE_MINUTES * 60 + 1)
        response = client.get("/budgets/")
        assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next=/budgets/"
        assert "_auth_user_id" not in client.session
        page = client.get(response["Location"]).content.decode()
        assert "30 Minuten ohne Aktivität abgemeldet" in page
        expired = [e for e in security_log if e["event"] == "session_expired"]
        assert expired[0]["reason"] == "idle" and expired[0]["user"] == staff.username

    def test_absolute_timeout_despite_activity(self, client, staff, settings):
        login(client, staff.username)
        self.stamp(client, idle=5, login=settings.SESSION_MAX_HOURS * 3600 + 1)
        response = client.get("/")
        assert response.status_code == 302 and "_auth_user_id" not in client.session

    def test_activity_keeps_the_session(self, client, staff, settings):
        login(client, staff.username)
        self.stamp(client, idle=settings.SESSION_IDLE_MINUTES * 60 - 5)
        assert client.get("/").status_code == 200
        seen = client.session[SessionTimeoutMiddleware.SEEN_AT]
        assert int(time.time()) - seen < 5  # refreshed

    def test_api_with_expired_session_is_anonymous(self, client, staff, settings):
        login(client, staff.username)
        self.stamp(client, idle=settings.SESSION_IDLE_MINUTES * 60 + 1)
        assert client.get("/api/v1/regions/").status_code == 401

    def test_deactivating_ends_all_sessions(self, staff, django_capture_on_commit_callbacks, security_log):
        from django.test import Client

        browsers = [Client(), Client()]
        for browser in browsers:
            login(browser, staff.username)
        other = UserFactory(username="bleibt")
        other_browser = Client()
        other_browser.force_login(other)
        assert Session.objects.count() == 3
        with django_capture_on_commit_callbacks(execute=True):
            staff.is_active = False
            staff.save()
        assert Session.objects.count() == 1
        for browser in browsers:
            assert browser.get("/").status_code == 302
        assert other_browser.get("/").status_code == 200
        ended = [e for e in security_log if e["event"] == "sessions_ended"]
        assert ended == [{"event": "sessions_ended", "user": staff.username, "reason": "deactivated", "sessions": 2}]

    def test_saving_last_login_does_not_end_sessions(self, client, staff, django_capture_on_commit_callbacks):
        login(client, staff.username)
        with django_capture_on_commit_callbacks(execute=True):
            staff.first_name = "Neu"
            staff.save()
        assert Session.objects.count() == 1


class TestThrottling:
    @pytest.fixture
    def rates(self, monkeypatch):
        from django.core.cache import cache
        from rest_framework.throttling import SimpleRateThrottle

        cache.clear()
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "5/min"})
        yield
        cache.clear()

    def test_per_user_and_per_token(self, rates, planner, tree, security_log):
        session = client_for(planner)
        assert [session.get("/api/v1/regions/").status_code for _ in range(6)] == [200] * 5 + [429]
        # a token of the same planner has its own count
        api = client_for(None)
        api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(planner, scope='read')}")
        responses = [api.get("/api/v1/regions/") for _ in range(6)]
        assert [r.status_code for r in responses] == [200] * 5 + [429]
        assert int(responses[-1]["Retry-After"]) > 0
        throttled = [e for e in security_log if e["event"] == "throttled"]
        assert len(throttled) == 2 and throttled[0]["user"] == "planner" and throttled[0]["rate"] == "5/min"

    def test_anonymous_per_address(self, rates, db, settings):
        settings.DIRECTORY_PUBLIC = True  # the one API anonymous visitors may read (HSDS)
        api = client_for(None)
        assert [api.get("/api/hsds/", REMOTE_ADDR="10.0.0.1").status_code for _ in range(4)][-1] == 429
        assert api.get("/api/hsds/", REMOTE_ADDR="10.0.0.2").status_code != 429


class TestSecurityLog:
    def test_refusals_are_logged(self, client, viewer, tree, security_log):
        client.force_login(viewer)
        assert client.get("/api-zugaenge/").status_code == 403
        assert client_for(None).get("/api/v1/regions/", REMOTE_ADDR="10.2.3.4").status_code == 401
        refused = [e for e in security_log if e["event"] == "access_denied"]
        assert [(e["status"], e["path"], e["user"]) for e in refused] == [
            (403, "/api-zugaenge/", viewer.username), (401, "/api/v1/regions/", None)]
        assert refused[1]["ip"] == "10.2.3.4"

    def test_logins_logged_without_passwords(self, client, staff, security_log):
        login(client, staff.username, "falsch-geraten")
        login(client, staff.username)
        client.post("/abmelden/")
        assert [(e["event"], e.get("username") or e["user"]) for e in security_log] == [
            ("login_failed", staff.username), ("login_succeeded", staff.username), ("logout", staff.username)]
        text = json.dumps(security_log)
        assert PASSWORD not in text and "falsch-geraten" not in text

    def test_json_lines_in_utc(self):
        record = logging.LogRecord("sozialraum.security", logging.WARNING, __file__, 1, "x", None, None)
        record.created = 1764000000.25  # 2025-11-24 16:00:00.250 UTC
        record.security = {"event": "login_failed", "user": None, "ip": "10.0.0.1"}
        line = security.JsonFormatter().format(record)
        assert "\n" not in line
        assert json.loads(line) == {"time": "2025-11-24T16:00:00.250Z", "level": "WARNING", "event": "login_failed",
                                    "user": None, "ip": "10.0.0.1"}

    def test_configured_logger_writes_json(self, settings):
        handlers = logging.getLogger("sozialraum.security").handlers
        assert any(isinstance(h.formatter, security.JsonFormatter) for h in handlers)
        assert logging.getLogger("sozialraum.security").propagate is False


class TestClientAddress:
    def test_remote_addr_without_proxies(self, rf):
        request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
        assert security.client_ip(request) == "10.0.0.9"

    def test_behind_one_proxy_the_last_forwarded_entry(self, rf, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        forged = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7")
        assert security.client_ip(forged) == "192.0.2.7"  # the client's own 6.6.6.6 is not trusted
        assert security.client_ip(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"
