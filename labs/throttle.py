"""At most `limit` of one kind of request in any minute: the rule Checks (labs/grading.py) and web previews
(labs/previews.py) share, and the store that counts previews.

A Check leaves a Submission row, so its count is read from the table. A preview leaves no row: each one is noted
in a Redis sorted set (one per key, scored by time, as the terminal's leases are), shared by every web process.
`MemoryWindow` is its in-process fake for unit tests; tests/test_throttle.py holds both to the same contract.
"""

import logging
import math
import time
import uuid

import redis
from django.conf import settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def seconds_to_wait(times, *, limit, now, window=WINDOW_SECONDS):
    """0 when one more fits in the window ending `now`; else the whole seconds until the oldest of the `limit`
    most recent of `times` (epoch seconds) leaves it."""
    recent = sorted((t for t in times if t > now - window), reverse=True)[:limit]
    if len(recent) < limit:
        return 0
    return max(1, math.ceil(recent[-1] + window - now))


class RedisWindow:
    """Requests per key in the last minute, in Redis."""

    def __init__(self, client):
        self.client = client

    def take(self, key, *, limit, window=WINDOW_SECONDS, now=None):
        """Note one request under `key` if it fits; return 0 then, else the seconds to wait (nothing noted)."""
        now = time.time() if now is None else now
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - window)
            pipe.zrange(key, 0, -1, withscores=True)
            times = [score for _, score in pipe.execute()[-1]]
        wait = seconds_to_wait(times, limit=limit, now=now, window=window)
        if wait:
            return wait
        # Two requests at the same instant may both fit here: the bound is off by the requests running at once.
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.expire(key, math.ceil(window) + 1)
            pipe.execute()
        return 0


class MemoryWindow:
    """The same, in this process's memory: for unit tests."""

    def __init__(self):
        self.times = {}

    def take(self, key, *, limit, window=WINDOW_SECONDS, now=None):
        now = time.time() if now is None else now
        times = [t for t in self.times.get(key, []) if t > now - window]
        self.times[key] = times
        wait = seconds_to_wait(times, limit=limit, now=now, window=window)
        if not wait:
            times.append(now)
        return wait


_default = None


def default():
    global _default
    if _default is None:
        _default = RedisWindow(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2))
    return _default


def take(key, *, limit, window=WINDOW_SECONDS):
    """`default().take`, letting the request through when Redis does not answer: a limit that cannot be
    counted is not a reason to refuse the learner (the engine's own bounds still hold)."""
    try:
        return default().take(key, limit=limit, window=window)
    except redis.RedisError as exc:
        log.warning("request limit %s not counted: %s", key, exc)
        return 0
