"""Django's Redis cache backend, keeping one redis-py client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and that constructor copies redis-py's
table of ~300 response callbacks into a fresh case-insensitive dict each time: every tenant page pays it twice
(the session read and the online mark), more than the round trips themselves. A client object holds no
connection of its own (it borrows one from the pool per command, like Django's), so keeping it changes nothing
else: the same pools, timeouts, serializer and options. Cache backends are per thread (django.core.cache.caches),
and redis-py clients are thread-safe besides.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        # Keyed by the pool's identity: pools live as long as this object, one per server.
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
