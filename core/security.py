"""The security log: every authentication attempt (password, second factor,
integration token), every lockout and every refused authorisation (401, 403,
429), one JSON object per line, times in UTC.

Written to the logger ``sozialraum.security`` (console, and the file named by
``SECURITY_LOG_FILE`` if set); operators ship it to their SIEM. It holds staff
user names and IP addresses — personal data of staff, kept as long as the
processing register says (docs/processing-register.md) — never passwords,
token secrets or second-factor codes.
"""

import json
import logging
from datetime import UTC, datetime

logger = logging.getLogger("sozialraum.security")

# events
LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
LOCKED_OUT = "locked_out"
LOGOUT = "logout"
SECOND_FACTOR_SUCCEEDED = "second_factor_succeeded"
SECOND_FACTOR_FAILED = "second_factor_failed"
TOKEN_SUCCEEDED = "token_succeeded"
TOKEN_FAILED = "token_failed"
ACCESS_DENIED = "access_denied"
THROTTLED = "throttled"
SESSION_EXPIRED = "session_expired"
SESSIONS_ENDED = "sessions_ended"
ACCOUNT_CHANGED = "account_changed"


def client_ip(request) -> str | None:
    """The client's address. Behind ``TRUSTED_PROXY_COUNT`` reverse proxies that
    each append the address they saw to X-Forwarded-For, the entry that many
    places from the right (what the client sent itself further left is not
    trusted); without proxies REMOTE_ADDR."""
    if request is None:
        return None
    from django.conf import settings

    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _username(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


_REQUEST_USER = object()


def log(event: str, request=None, *, user=_REQUEST_USER, level: int = logging.INFO, **fields) -> None:
    """Write one security event. ``user`` defaults to the request's user (pass
    it, or None, from inside authentication, where asking the request would
    authenticate again)."""
    if user is _REQUEST_USER:
        user = getattr(request, "user", None) if request is not None else None
    record = {"event": event, "user": _username(user)}
    if request is not None:
        record.update(ip=client_ip(request), method=request.method, path=request.path)
    record.update({k: v for k, v in fields.items() if v is not None})
    logger.log(level, event, extra={"security": record})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601 with Z), ``level``,
    then the event's fields."""

    def format(self, record):
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
        }
        data.update(getattr(record, "security", None) or {"event": record.getMessage()})
        return json.dumps(data, ensure_ascii=False, sort_keys=False, default=str)
