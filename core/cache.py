"""A Redis cache that does not take the site down with it.

Django's ``RedisCache`` raises when Redis cannot be reached, so every page that
reads or writes the cache (the service directory, the map data, the what-if
variants, and the API throttling and login lockout that use the cache) would
answer 500 while Redis is stopped. ``TolerantRedisCache`` degrades instead:

* a read is a miss (``get`` → the default, ``get_many`` → ``{}``,
  ``has_key`` → False);
* a write is dropped (``set`` as always → None, ``touch``/``delete`` → False,
  ``add`` → False as nothing was stored, ``set_many`` → every key as failed);
* ``incr`` counts from nothing (returns ``delta``), as for a key that expired —
  counters kept in the cache (throttling, lockout) therefore fail open while
  Redis is down.

The first failure is logged as a warning, the recovery as info. After a failure
Redis is left alone for ``RETRY_AFTER`` seconds (an option, default 5), so a
page does not wait for a connection attempt per cache call; the state is shared
by the threads of a process. Configured in settings (CACHES) with the usual
``OPTIONS`` of ``RedisCache`` (e.g. ``socket_connect_timeout``, ``socket_timeout``),
plus ``RETRY_AFTER``.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: location → monotonic time until which Redis is not tried again (process-wide)
_DOWN_UNTIL: dict[str, float] = {}
_STATE_LOCK = threading.Lock()


class TolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("RETRY_AFTER", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self._state_key = ",".join(self._servers)

    # -- the outage state ----------------------------------------------------------

    def _call(self, what: str, fallback, func, *args, **kwargs):
        until = _DOWN_UNTIL.get(self._state_key)
        if until is not None and time.monotonic() < until:
            return fallback
        try:
            result = func(*args, **kwargs)
        except RedisError as exc:
            with _STATE_LOCK:
                first = self._state_key not in _DOWN_UNTIL
                _DOWN_UNTIL[self._state_key] = time.monotonic() + self.retry_after
            if first:
                logger.warning("cache unavailable (%s failed: %s); pages go on without it, retrying every %s s",
                               what, exc, self.retry_after)
            return fallback
        if until is not None:
            with _STATE_LOCK:
                if _DOWN_UNTIL.pop(self._state_key, None) is not None:
                    logger.info("cache reachable again")
        return result

    # -- the cache API (RedisCache's methods; the rest of BaseCache builds on them) --

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", delta, super().incr, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, super().delete_many, keys, version)

    def clear(self):
        return self._call("clear", False, super().clear)
