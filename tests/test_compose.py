"""docker-compose.yml and Dockerfile: no Docker engine runs here, so they are
parsed and checked against the settings; the web command and its healthcheck
run for real (gunicorn with the production settings) when DATABASE_URL is set."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_DIR = ROOT / "sozialraum" / "settings"

SERVICES = {"web", "worker", "beat", "postgres", "redis"}
APP_SERVICES = {"web", "worker", "beat"}  # run the project's image (as does the one-off "migrate")

_ENV_READ = re.compile(r"\benv\.(?:str|bool|int|float|list|tuple|dict|json|url|path|db_url|cache_url)\(\s*[\"']([A-Z0-9_]+)[\"']")
_ENV_REQUIRED = re.compile(r"\benv\.\w+\(\s*[\"']([A-Z0-9_]+)[\"']\s*\)")  # read with no default
_INTERPOLATION_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def settings_env_vars() -> set[str]:
    """Every environment variable sozialraum/settings/*.py reads, plus the one
    that selects the settings module."""
    names = {"DJANGO_SETTINGS_MODULE"}
    for path in SETTINGS_DIR.glob("*.py"):
        names |= set(_ENV_READ.findall(path.read_text(encoding="utf-8")))
    return names


def production_required_vars() -> set[str]:
    text = (SETTINGS_DIR / "production.py").read_text(encoding="utf-8")
    required = set(_ENV_REQUIRED.findall(text))
    if 'env.str("DATABASE_URL"' in text:
        required.add("DATABASE_URL")
    # The worker and beat need the broker: in compose, REDIS_URL is required too.
    return required | {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def app_services(services):
    """Services running the project's image (web, worker, beat, migrate …)."""
    image = services["web"]["image"]
    return {name: s for name, s in services.items() if s.get("image") == image}


def env_of(service) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


class TestComposeFile:
    def test_services_exist(self, services):
        assert SERVICES <= set(services), f"missing: {SERVICES - set(services)}"

    def test_images(self, services):
        assert services["postgres"]["image"].startswith("postgres:16")
        assert services["redis"]["image"].startswith("redis:7")
        for name in APP_SERVICES:
            assert services[name].get("build"), f"{name} builds the project's image"
            assert services[name]["image"] == services["web"]["image"]

    def test_exactly_one_beat(self, services):
        assert services["beat"]["deploy"]["replicas"] == 1
        beats = [n for n, s in services.items() if "beat" in " ".join(map(str, s.get("command") or []))]
        assert beats == ["beat"], "exactly one service runs celery beat"

    def test_commands(self, services):
        web = services["web"]["command"]
        assert web[0] == "gunicorn" and web[1].startswith("sozialraum.wsgi")
        worker = services["worker"]["command"]
        assert worker[:4] == ["celery", "-A", "sozialraum", "worker"]
        beat = services["beat"]["command"]
        assert beat[:4] == ["celery", "-A", "sozialraum", "beat"]

    def test_healthchecks(self, services):
        for name in SERVICES:
            check = services[name].get("healthcheck")
            assert check and check.get("test"), f"{name} has no healthcheck"
        assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])
        assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
        assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
        assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])

    def test_depends_on_healthy_services(self, services):
        for name in APP_SERVICES | {"migrate"} & set(services):
            deps = services[name]["depends_on"]
            for dep in ("postgres", "redis"):
                assert deps[dep]["condition"] == "service_healthy", f"{name} → {dep}"
        if "migrate" in services:
            for name in APP_SERVICES:
                assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    def test_passes_only_variables_the_settings_read(self, services):
        known = settings_env_vars()
        for name, service in app_services(services).items():
            unknown = set(env_of(service)) - known
            assert not unknown, f"{name} passes variables no setting reads: {sorted(unknown)}"

    def test_passes_every_required_production_variable(self, services):
        required = production_required_vars()
        assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"} <= required
        for name, service in app_services(services).items():
            env = env_of(service)
            missing = required - set(env)
            assert not missing, f"{name} lacks {sorted(missing)}"
            assert env["DJANGO_SETTINGS_MODULE"] == "sozialraum.settings.production"

    def test_secrets_have_no_default(self, services):
        for name, service in app_services(services).items():
            env = env_of(service)
            for var in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"):
                assert re.fullmatch(rf"\$\{{{var}:\?[^}}]+\}}", env[var]), f"{name}: {var} must be ${{{var}:?…}}"
            assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
        assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", services["postgres"]["environment"]["POSTGRES_PASSWORD"])

    def test_uploads_volume_shared_by_web_and_worker(self, compose, services):
        def media_volume(service):
            root = env_of(service)["DJANGO_MEDIA_ROOT"]
            for mount in service.get("volumes", []):
                source, _, target = mount.partition(":")
                if target.split(":")[0] == root:
                    return source
            return None

        web, worker = media_volume(services["web"]), media_volume(services["worker"])
        assert web and web == worker
        assert web in compose["volumes"], "a named volume, not a host folder"
        assert "ports" not in services["worker"]

    def test_databases_on_volumes(self, compose, services):
        assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
        assert "pgdata" in compose["volumes"]


@pytest.fixture(scope="module")
def lines():
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    return [ln.strip() for ln in text.replace("\\\n", " ").splitlines() if ln.strip() and not ln.startswith("#")]


class TestDockerfile:
    def test_base_image_and_install(self, lines):
        assert lines[0] == "FROM python:3.11-slim"
        assert any(ln.startswith("RUN pip install") and "-r requirements.txt" in ln for ln in lines)

    def test_collectstatic_with_a_build_time_secret_only(self, lines):
        (step,) = [ln for ln in lines if "collectstatic" in ln]
        assert step.startswith("RUN ") and "DJANGO_SECRET_KEY=" in step and "--noinput" in step
        key = re.search(r"DJANGO_SECRET_KEY=(\S+)", step)[1]
        assert len(key) >= 50, "production settings refuse shorter keys"
        for ln in lines:
            if ln.startswith(("ENV ", "ARG ")):
                assert "DJANGO_SECRET_KEY" not in ln, "the build secret must not stay in the image"

    def test_runs_unprivileged(self, lines):
        assert any(ln.startswith("USER ") and ln != "USER root" for ln in lines)

    def test_copied_sources_exist(self, lines):
        for ln in lines:
            if ln.startswith("COPY ") and not ln.split()[1].startswith("--"):
                source = ln.split()[1]
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository (the build would fail)"

    def test_copies_every_app_folder(self, lines):
        copied = {ln.split()[1].rstrip("/") for ln in lines if ln.startswith("COPY ")}
        if "." in copied:
            return
        wanted = {"manage.py"}
        wanted |= {p.parent.name for p in ROOT.glob("*/apps.py")}
        # folders the app reads at run time, once they hold a file (git keeps no empty folder)
        wanted |= {d for d in ("templates", "static", "locale")
                   if (ROOT / d).is_dir() and any(p.is_file() for p in (ROOT / d).rglob("*"))}
        assert not wanted - copied, f"the Dockerfile does not COPY {sorted(wanted - copied)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interpolate_defaults(text: str) -> str:
    return _INTERPOLATION_DEFAULT.sub(lambda m: m[2], text)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"),
                    reason="needs DATABASE_URL: production settings refuse the embedded database")
class TestWebServiceRuns:
    """The compose web command (gunicorn) with the production settings answers
    the compose healthcheck."""

    def test_gunicorn_serves_health(self, services, tmp_path):
        port = _free_port()
        command = [_interpolate_defaults(str(arg)) for arg in services["web"]["command"]]
        command = [f"--bind=127.0.0.1:{port}" if a.startswith("--bind") else a for a in command]
        command = [a for a in command if not a.startswith("--workers")] + ["--workers=1"]
        assert command[0] == "gunicorn"
        command = [sys.executable, "-m", "gunicorn", *command[1:]]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "sozialraum.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "sozialraum.example.org,.example.net",
            "DATABASE_URL": os.environ["DATABASE_URL"],
        })
        check = services["web"]["healthcheck"]["test"]
        assert check[:3] == ["CMD", "python", "-c"]
        probe = check[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        log = tmp_path / "gunicorn.log"
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
                if result.returncode == 0:
                    break
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait()
                    out = log.read_text(errors="replace")
                    pytest.fail(f"healthcheck never passed: {result.stderr[-2000:]}\ngunicorn:\n{out[-4000:]}")
                time.sleep(0.5)
            # Without the proxy's header, production redirects to https: that is why
            # the healthcheck sends X-Forwarded-Proto.
            import http.client

            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/", headers={"Host": "sozialraum.example.org"})
            assert conn.getresponse().status == 301
            conn.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
