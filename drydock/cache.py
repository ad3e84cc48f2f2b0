"""Django's Redis cache with one Redis client, and so one connection pool, per process.

Django makes a cache backend per thread and per request context, and each of its Redis backends
its own connection pool: under ASGI, every request opened a new connection to Redis (and left it to
the garbage collector), which cost more than the session query the cache saves. Here all of a
process's backends for one server share a client; redis-py's pool is thread-safe and opens new
connections after a fork.
"""

import threading

import redis

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_CLIENTS = {}
_LOCK = threading.Lock()


class _SharedClient(RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ProcessRedisCache(RedisCache):
    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _LOCK:
            if key not in _CLIENTS:
                _CLIENTS[key] = _SharedClient(self._servers, **self._options)
            return _CLIENTS[key]


_PLAIN_CLIENTS = {}


def redis_client(url):
    """One redis-py client (and so one connection pool) per process and URL, for the pages that talk to Redis
    itself (/healthz, /metrics): a client made per request opened a connection each time, polled every few
    seconds by load balancers and scrapers while a class works."""
    with _LOCK:
        client = _PLAIN_CLIENTS.get(url)
        if client is None:
            client = _PLAIN_CLIENTS[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return client
