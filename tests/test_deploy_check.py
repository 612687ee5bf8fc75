"""The production settings pass Django's deployment checks with warnings
counted as failures (`manage.py check --deploy --fail-level WARNING`, also a
step of .ci/run), and every environment sends the same Content-Security-Policy.

Each case runs in a subprocess with its own environment: production settings
need a secret key, the host names and a DATABASE_URL — here the test database's.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The test database as a DATABASE_URL (the embedded server's Unix socket
    directory as the ``host`` query parameter, which django-environ hands to
    the driver)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "localhost"
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{db['NAME']}?host={quote(host, safe='/')}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def environment(settings_module: str, **overrides) -> dict[str, str]:
    """The outer environment without DJANGO_* (and pytest's) variables, plus
    a sane production set-up; ``overrides`` add or (None) remove variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),  # 86 random characters
        "DJANGO_ALLOWED_HOSTS": "sozialraum.example.org",
        "DATABASE_URL": database_url(),
    })
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def check_deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", "--database", "default", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.django_db
class TestDeployCheck:
    def test_production_settings_pass_with_warnings_as_failures(self):
        result = check_deploy(environment("sozialraum.settings.production"))
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "System check identified no issues" in output, output

    def test_a_weakened_setting_fails_it(self):
        """The check does run with warnings counted: without the HTTPS
        redirect (security.W008) it fails. (Only the security checks: the
        others, e.g. the API schema's, take their time and pass above.)"""
        result = check_deploy(environment("sozialraum.settings.production", DJANGO_SECURE_SSL_REDIRECT="false"),
                              "--tag", "security")
        assert result.returncode != 0
        assert "security.W008" in result.stdout + result.stderr

    def test_preload_opt_in_runs_the_silenced_check_again(self):
        """security.W021 (HSTS preload) is silenced only while preloading is
        off; opting in runs it again and still passes."""
        script = ("import django, json; django.setup(); from django.conf import settings; "
                  "print(json.dumps([settings.SECURE_HSTS_PRELOAD, settings.SILENCED_SYSTEM_CHECKS]))")
        for preload in (False, True):
            env = environment("sozialraum.settings.production", DJANGO_SECURE_HSTS_PRELOAD=str(preload).lower())
            result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                                    text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            on, silenced = json.loads(result.stdout)
            assert on is preload
            assert ("security.W021" in silenced) is not preload
            # what base.py silences (with its reasons) stays silenced
            assert set(getattr(settings, "SILENCED_SYSTEM_CHECKS", [])) <= set(silenced)
        result = check_deploy(environment("sozialraum.settings.production", DJANGO_SECURE_HSTS_PRELOAD="true"),
                              "--tag", "security")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_production_cookies_and_headers(self):
        script = ("import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
                  "k: getattr(s, k) for k in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY',"
                  " 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_SSL_REDIRECT',"
                  " 'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY', 'X_FRAME_OPTIONS', 'DEBUG')}))")
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT,
                                env=environment("sozialraum.settings.production"),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
            "SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_SSL_REDIRECT": True,
            "SECURE_CONTENT_TYPE_NOSNIFF": True, "SECURE_REFERRER_POLICY": "same-origin", "X_FRAME_OPTIONS": "DENY",
            "DEBUG": False,
        }


POLICY_SCRIPT = ("import django, json; django.setup(); from django.conf import settings; "
                 "print(json.dumps([settings.MIDDLEWARE, settings.CONTENT_SECURITY_POLICY]))")


@pytest.mark.django_db
class TestPolicyInEveryEnvironment:
    @pytest.mark.parametrize("module", ["sozialraum.settings.production", "sozialraum.settings.dev"])
    def test_same_policy_and_middleware_as_the_tests(self, module):
        """Development and production send the policy the tests check (so the
        browser tests see what users get)."""
        result = subprocess.run([sys.executable, "-c", POLICY_SCRIPT], cwd=ROOT, env=environment(module),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        middleware, policy = json.loads(result.stdout)
        assert middleware == list(settings.MIDDLEWARE)
        assert "csp.middleware.CSPMiddleware" in middleware
        assert policy == json.loads(json.dumps(settings.CONTENT_SECURITY_POLICY))
