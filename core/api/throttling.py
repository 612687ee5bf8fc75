"""Request limits of the API (DRF throttling, counted in the cache — Redis in
production, so all gunicorn workers share the counts): per integration token or
signed-in user, and per address for anonymous requests. A refused request is
answered 429 with Retry-After and written to the security log."""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core import security


class LoggedThrottleMixin:
    def throttle_failure(self):
        security.log(security.THROTTLED, self._request, level=30, scope=self.scope, rate=self.rate)
        return False

    def allow_request(self, request, view):
        self._request = request
        return super().allow_request(request, view)


class AnonThrottle(LoggedThrottleMixin, AnonRateThrottle):
    """Anonymous requests, per client address (REMOTE_ADDR: the reverse proxy sets it)."""

    def get_ident(self, request):
        return security.client_ip(request) or "unknown"


class UserOrTokenThrottle(LoggedThrottleMixin, UserRateThrottle):
    """Signed-in requests: one count per integration token (each integration has
    its own budget), otherwise per user (all their browser sessions together)."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None  # AnonThrottle counts these
        token_id = getattr(request.auth, "pk", None)
        ident = f"token-{token_id}" if token_id is not None else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
