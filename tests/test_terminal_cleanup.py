"""A closing terminal puts itself away within a bound, whatever Redis does (plain objects, no engine)."""

import asyncio
import time

import pytest
from channels.layers import get_channel_layer

from labs import terminal
from labs.terminal import TerminalConsumer


class RedisThatNeverAnswers:
    def __init__(self):
        self.asked = []

    async def zrem(self, key, member):
        self.asked.append(("zrem", key, member))
        await asyncio.sleep(3600)

    async def aclose(self):
        self.asked.append(("aclose",))
        await asyncio.sleep(3600)


def closing_consumer(redis):
    consumer = TerminalConsumer()
    consumer.redis, consumer.registry_key, consumer.lease, consumer.counted = redis, "drydock:terminal-leases:7", "lease-1", True
    return consumer


def test_a_terminal_holds_no_channel_layer_and_so_no_blocking_redis_read():
    assert get_channel_layer(TerminalConsumer.channel_layer_alias) is None


@pytest.mark.asyncio
async def test_a_closing_terminal_whose_redis_never_answers_still_ends_its_tasks_and_goes_on(monkeypatch, caplog):
    monkeypatch.setattr(terminal, "CLEANUP_SECONDS", 0.2)
    redis = RedisThatNeverAnswers()
    consumer = closing_consumer(redis)
    pump = asyncio.create_task(asyncio.sleep(3600))
    consumer.tasks = [pump]
    started = time.monotonic()
    await consumer.disconnect(1000)
    assert time.monotonic() - started < 2
    assert pump.cancelled()
    assert redis.asked == [("zrem", "drydock:terminal-leases:7", "lease-1"), ("aclose",)]
    assert "lease kept until it lapses" in caplog.text and "Redis client not closed cleanly" in caplog.text
    assert consumer.counted is False


@pytest.mark.asyncio
async def test_a_terminal_closed_twice_forgets_its_lease_once(monkeypatch):
    monkeypatch.setattr(terminal, "CLEANUP_SECONDS", 0.05)
    redis = RedisThatNeverAnswers()
    consumer = closing_consumer(redis)
    await consumer.disconnect(1000)
    await consumer.disconnect(1000)
    assert [step[0] for step in redis.asked] == ["zrem", "aclose"]
