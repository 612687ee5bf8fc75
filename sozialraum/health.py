"""GET /health/: database, Redis and worker state for compose healthchecks and
monitoring. 200 when the database (and Redis, if configured) answer; 503 otherwise.
The worker state is reported (``?worker=1`` makes a missing worker fail too)."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database():
    start = time.monotonic()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return {"ok": True, "ms": round((time.monotonic() - start) * 1000, 1)}
    except Exception as e:  # report, don't raise: this is the health endpoint
        return {"ok": False, "error": e.__class__.__name__}


def _check_redis():
    if not settings.REDIS_URL:
        return {"ok": True, "configured": False, "detail": "kein REDIS_URL: Aufgaben laufen sofort im Prozess"}
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        return {"ok": True, "configured": True}
    except Exception as e:
        return {"ok": False, "configured": True, "error": e.__class__.__name__}


def _check_worker(redis_ok: bool):
    if not settings.REDIS_URL:
        return {"ok": True, "mode": "eager"}
    if not redis_ok:
        return {"ok": False, "mode": "worker", "workers": 0}
    from sozialraum.celery import app

    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception as e:
        return {"ok": False, "mode": "worker", "error": e.__class__.__name__}
    return {"ok": bool(replies), "mode": "worker", "workers": len(replies)}


@never_cache
@require_GET
def health(request):
    db = _check_database()
    rds = _check_redis()
    worker = _check_worker(rds["ok"])
    require_worker = request.GET.get("worker") in ("1", "true")
    ok = db["ok"] and rds["ok"] and (worker["ok"] or not require_worker)
    body = {"status": "ok" if ok else "error", "database": db, "redis": rds, "worker": worker}
    return JsonResponse(body, status=200 if ok else 503)
