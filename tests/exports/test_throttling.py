"""The rate limits count in one atomic step on the shared cache (exports/throttling.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIRequestFactory

from exports.permissions import PerUserThrottle

VIEW: Any = None  # the throttles here never look at the view


def _request(user):
    request = APIRequestFactory().get("/export-types")
    request.user = user
    return request


def test_a_user_gets_exactly_the_rate_then_429s_wait(settings, django_user_model):
    settings.EXPORTS_API_RATE = "3/min"
    request = _request(django_user_model.objects.create_user("throttled"))
    throttles = [PerUserThrottle() for _ in range(5)]
    assert [throttle.allow_request(request, VIEW) for throttle in throttles] == [True] * 3 + [False] * 2
    wait = throttles[-1].wait()
    assert wait is not None and 0 < wait <= 60


@pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="the shared cache is Redis in the PostgreSQL pass"
)
def test_on_the_shared_cache_the_count_is_one_redis_sorted_set(settings, django_user_model):
    # DRF's own throttle keeps a pickled list it reads and writes back (lost updates between
    # processes); the atomic one keeps a sorted set that one Lua script trims, counts and adds to.
    settings.EXPORTS_API_RATE = "3/min"
    request = _request(django_user_model.objects.create_user("counted"))
    throttle = PerUserThrottle()
    assert throttle.allow_request(request, VIEW)
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    key = backend.make_key(throttle.get_cache_key(request, VIEW))
    client = backend._cache.get_client(key, write=False)
    assert client.type(key) == b"zset"
    assert client.zcard(key) == 1
