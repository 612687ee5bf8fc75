"""GET /health/: what compose healthchecks and monitoring read."""

import os

import pytest


@pytest.mark.django_db
class TestHealth:
    def test_ok_with_database(self, client):
        response = client.get("/health/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"]["ok"] is True
        assert "redis" in body and "worker" in body
        assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]

    def test_needs_no_login(self, client):
        # compose and load balancers probe it anonymously
        assert client.get("/health/").status_code == 200

    def test_without_redis_tasks_run_eagerly(self, client, settings):
        settings.REDIS_URL = ""
        body = client.get("/health/").json()
        assert body["redis"]["ok"] is True and body["redis"]["configured"] is False
        assert body["worker"] == {"ok": True, "mode": "eager"}
        # the worker cannot be missing when there is none by design
        assert client.get("/health/?worker=1").status_code == 200

    def test_unreachable_redis_is_an_error(self, client, settings):
        settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
        response = client.get("/health/")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "error"
        assert body["database"]["ok"] is True
        assert body["redis"] == {"ok": False, "configured": True, "error": body["redis"]["error"]}
        assert body["worker"]["mode"] == "worker" and body["worker"]["ok"] is False

    @pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set: no Redis to report on")
    def test_with_redis_reports_worker_mode(self, client):
        response = client.get("/health/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["redis"] == {"ok": True, "configured": True}
        assert body["worker"]["mode"] == "worker"
        assert isinstance(body["worker"].get("workers", 0), int)

    def test_only_get(self, client):
        assert client.post("/health/").status_code == 405
