"""The request-limit rule and its stores: Redis (integration) and the in-memory fake, held to one contract."""

import uuid

import pytest
import redis
from django.conf import settings

from labs import throttle


def test_one_more_fits_until_the_limit_then_the_wait_is_until_the_oldest_leaves_the_window():
    assert throttle.seconds_to_wait([], limit=3, now=1000) == 0
    assert throttle.seconds_to_wait([990, 995], limit=3, now=1000) == 0
    assert throttle.seconds_to_wait([950, 990, 995], limit=3, now=1000) == 10  # 950 leaves at 1010
    assert throttle.seconds_to_wait([939, 990, 995], limit=3, now=1000) == 0  # 939 left at 999
    # Four in the window: room comes once 945 and then 950 have left it.
    assert throttle.seconds_to_wait([945, 950, 990, 995], limit=3, now=1000) == 10
    assert throttle.seconds_to_wait([999.5, 999.9], limit=2, now=1000) == 60
    assert throttle.seconds_to_wait([940.2, 999], limit=2, now=1000) == 1  # never 0 while full


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def window(request):
    if request.param == "memory":
        yield throttle.MemoryWindow()
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield throttle.RedisWindow(client)
    for key in client.scan_iter("test-throttle:*"):
        client.delete(key)
    client.close()


def test_a_store_lets_the_limit_through_in_a_minute_then_says_how_long_to_wait(window):
    key = f"test-throttle:{uuid.uuid4().hex}"
    assert [window.take(key, limit=3, now=t) for t in (1000, 1010, 1020)] == [0, 0, 0]
    assert window.take(key, limit=3, now=1030) == 30  # 1000 leaves the window at 1060
    assert window.take(key, limit=3, now=1059) == 1  # a refusal is not noted: the wait still counts from 1000
    assert window.take(key, limit=3, now=1060.5) == 0
    assert window.take(key, limit=3, now=1061) == 9  # now 1010, 1020 and 1060.5 fill it
    assert window.take(f"test-throttle:{uuid.uuid4().hex}", limit=3, now=1061) == 0  # keys are counted apart
