"""Production settings: secrets without defaults, and `check --deploy` clean.
Each case runs in a subprocess, with its own environment."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DIR = ROOT / "sozialraum" / "settings"
DUMMY_DB = "postgres://nobody@127.0.0.1:1/nothing"  # never connected to: importing settings does not connect

_ENV_READ = re.compile(r"\benv\.(?:str|bool|int|float|list|tuple|dict|json|url|path|db_url|cache_url)\(\s*[\"']([A-Z0-9_]+)[\"']")


def _dotenv_defines(name: str) -> bool:
    dotenv = ROOT / ".env"
    return dotenv.is_file() and re.search(rf"^\s*(export\s+)?{name}\s*=", dotenv.read_text(), re.M) is not None


def production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "sozialraum.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "sozialraum.example.org",
        "DATABASE_URL": DUMMY_DB,
    })
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def import_production(env):
    return subprocess.run(
        [sys.executable, "-c", "import sozialraum.settings.production"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


class TestProductionSettings:
    def test_imports_with_a_proper_environment(self):
        result = import_production(production_env())
        assert result.returncode == 0, result.stderr

    def test_refuses_without_secret_key(self):
        if _dotenv_defines("DJANGO_SECRET_KEY"):
            pytest.skip(".env in the project defines DJANGO_SECRET_KEY")
        result = import_production(production_env(DJANGO_SECRET_KEY=None))
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr

    @pytest.mark.parametrize("key", ["", "short-secret"])
    def test_refuses_empty_or_short_secret_key(self, key):
        result = import_production(production_env(DJANGO_SECRET_KEY=key))
        assert result.returncode != 0
        assert "DJANGO_SECRET_KEY" in result.stderr

    def test_refuses_without_allowed_hosts(self):
        if _dotenv_defines("DJANGO_ALLOWED_HOSTS"):
            pytest.skip(".env in the project defines DJANGO_ALLOWED_HOSTS")
        result = import_production(production_env(DJANGO_ALLOWED_HOSTS=None))
        assert result.returncode != 0
        assert "DJANGO_ALLOWED_HOSTS" in result.stderr

    def test_debug_is_off_whatever_the_environment(self):
        env = production_env(DJANGO_DEBUG="true")
        result = subprocess.run(
            [sys.executable, "-c", "import sozialraum.settings.production as s; print(s.DEBUG)"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "False"

    @pytest.mark.skipif(not os.environ.get("DATABASE_URL"),
                        reason="DATABASE_URL not set: production settings need a real PostgreSQL URL")
    def test_check_deploy_passes(self):
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
            cwd=ROOT, env=production_env(DATABASE_URL=os.environ["DATABASE_URL"]),
            capture_output=True, text=True, timeout=300,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "ERRORS:" not in output
        # The only warning allowed: HSTS preload is a deliberate, irreversible opt-in
        # (DJANGO_SECURE_HSTS_PRELOAD=true).
        warnings = set(re.findall(r"\((\w+\.W\d+)\)", output))
        assert warnings <= {"security.W021"}, output


def test_readme_documents_every_environment_variable():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = {"DJANGO_SETTINGS_MODULE"}
    for path in SETTINGS_DIR.glob("*.py"):
        names |= set(_ENV_READ.findall(path.read_text(encoding="utf-8")))
    undocumented = {n for n in names if f"`{n}`" not in readme}
    assert not undocumented, f"README's configuration table lacks {sorted(undocumented)}"


class TestStrictBooleans:
    def test_known_spellings(self):
        from sozialraum.settings.base import StrictEnv

        for text in ("true", "1", "Yes", " ON "):
            assert StrictEnv.parse_value(text, bool) is True
        for text in ("false", "0", "no", "Off"):
            assert StrictEnv.parse_value(text, bool) is False

    def test_typo_is_an_error(self):
        import environ

        from sozialraum.settings.base import StrictEnv

        with pytest.raises(environ.ImproperlyConfigured, match="flase"):
            StrictEnv.parse_value("flase", bool)
