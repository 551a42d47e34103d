"""Rate limits whose check-and-count is one atomic step.

DRF's SimpleRateThrottle reads a caller's request history from the cache, appends to it and
writes it back, so concurrent requests of one caller overwrite each other's updates and get past
the rate (measured: 16 parallel connections of one user, 500 of 640 served at 300/min). Here the
same sliding window (at most N requests in any `duration`) is kept in a Redis sorted set that one
Lua script trims, counts and adds to, on the shared cache that production requires; on a
per-process cache (the zero-setup demo, one process) a lock does the same.
"""

from __future__ import annotations

import threading
import uuid

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

# KEYS[1] the window; ARGV: now, duration, limit, member. Returns {allowed, oldest time}.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
    return {1, ARGV[1]}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, oldest[2]}
"""

_process_lock = threading.Lock()


class AtomicRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle with an atomic check-and-count; subclasses give the rate and key."""

    # DRF sets these from the rate in __init__ (its timer is time.time: a wall clock, as windows
    # shared by processes and hosts need).
    num_requests: int
    duration: int

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # DRF's `self.cache` is django.core.cache.cache, a proxy: the backend itself says which.
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, RedisCache):
            client = backend._cache.get_client(self.key, write=True)
            allowed, oldest = client.eval(
                _SLIDING_WINDOW,
                1,
                backend.make_key(self.key),
                repr(self.now),
                self.duration,
                self.num_requests,
                f"{self.now!r}:{uuid.uuid4().hex}",
            )
            self._oldest = float(oldest)
            return bool(allowed)
        with _process_lock:
            allowed = super().allow_request(request, view)
            self._oldest = self.history[-1] if self.history else self.now
            return allowed

    def wait(self) -> float | None:
        """Seconds until the oldest counted request leaves the window."""
        return max(0.0, self._oldest + self.duration - self.now)
