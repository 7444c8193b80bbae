"""The Redis cache backend keeps one redis-py client instead of building one per call (sac/cache.py)."""

import time
import uuid

import pytest
from django.core.cache import caches

from sac.cache import RedisCache


@pytest.fixture
def redis_cache():
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        pytest.skip("the test settings' cache is not Redis")
    return cache


def test_it_builds_one_client_for_every_call(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client() is client
    redis_cache.set(f"k-{uuid.uuid4().hex}", {"a": 1})
    assert redis_cache._cache.get_client("k") is client


def test_it_stores_reads_expires_and_deletes_as_before(redis_cache):
    key, counter, gone = (f"{name}-{uuid.uuid4().hex}" for name in ("session", "counter", "gone"))
    redis_cache.set(key, {"user": 7}, timeout=1)
    assert redis_cache.get(key) == {"user": 7}
    assert redis_cache.get_many([key, f"nothing-{key}"]) == {key: {"user": 7}}
    assert redis_cache.add(key, "other") is False
    assert redis_cache.add(counter, 1) is True
    assert redis_cache.incr(counter) == 2
    time.sleep(1.1)
    assert redis_cache.get(key) is None
    redis_cache.set(gone, 1)
    redis_cache.delete(gone)
    assert redis_cache.get(gone, "default") == "default"
    redis_cache.delete(counter)
