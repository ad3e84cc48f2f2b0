import threading
import time

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.cache import cache

from drydock import health
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


@pytest.mark.integration
def test_health_reports_every_part_up_with_real_redis_docker_and_a_worker(client, celery_worker):
    response = client.get("/healthz")
    checks = response.json()["checks"]
    assert response.status_code == 200 and response.json()["ok"], checks
    assert checks["database"]["ok"], checks["database"]
    assert checks["redis"]["ok"] and checks["redis"]["detail"] == "PONG", checks["redis"]
    assert checks["docker"]["ok"] and checks["docker"]["detail"].startswith("Docker "), checks["docker"]
    # One worker per kind of work of the default host, each consuming its own queue; its housekeeping one the central queue too.
    detail = checks["workers"]["detail"]
    assert checks["workers"]["ok"] and all(f"{queue}: {queue}@" in detail for queue in ("grade.local", "provision.local", "housekeeping.local", "lms")), detail
    assert "housekeeping: housekeeping.local@" in detail, detail
    assert checks["hosts"]["ok"] and checks["hosts"]["detail"].startswith("local: active"), checks["hosts"]


@pytest.mark.integration
def test_health_says_no_worker_answered_when_none_listens_on_the_broker(client, monkeypatch):
    # The same real Redis, on a database where no worker of this run listens.
    # Not the current app: the platform queues its tasks through the current one.
    lonely = Celery("lonely", broker=django_settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/9", set_as_current=False)
    monkeypatch.setattr(health, "celery_app", lonely)
    response = client.get("/healthz")
    checks = response.json()["checks"]
    assert response.status_code == 503 and not response.json()["ok"]
    assert checks["redis"]["ok"] and checks["docker"]["ok"], checks
    assert not checks["workers"]["ok"] and "no Celery worker answered" in checks["workers"]["detail"]


@pytest.mark.integration
def test_health_says_what_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["redis"]["ok"] and "ConnectionError" in checks["redis"]["detail"]
    assert checks["workers"]["detail"] == "Redis is down, so no worker can be reached"


def test_a_slow_part_s_answer_is_kept_and_asked_again_behind_the_request_that_finds_it_old():
    """A thread of the web's process asks again; the request reads the last answer; past three periods it asks itself."""
    asked, release = [], threading.Event()

    def ask():
        asked.append(threading.current_thread().name)
        if len(asked) == 2:
            release.wait(10)
        return f"answer {len(asked)}"

    key, period = "drydock:test-part", 0.3
    assert health.recent(key, period, ask) == "answer 1" and asked == ["MainThread"]
    assert health.recent(key, period, ask) == "answer 1" and len(asked) == 1  # fresh: kept
    time.sleep(period + 0.05)
    started = time.perf_counter()
    assert health.recent(key, period, ask) == "answer 1"  # old: still the answer while a thread asks again
    assert health.recent(key, period, ask) == "answer 1"  # one asks at a time
    assert time.perf_counter() - started < period
    release.set()
    wait_until(lambda: cache.get(key)[2] == "answer 2", 5, message="the answer asked again")
    assert asked[1].startswith("healthz") and len(asked) == 2
    assert health.recent(key, period, ask) == "answer 2"
    cache.set(key, (time.time() - period * health.STALE_PERIODS - 1, True, "answer 2"))
    assert health.recent(key, period, ask) == "answer 3" and asked[2] == "MainThread"  # too old: the request asks


def test_a_part_s_failure_is_kept_as_its_answer_for_its_period():
    calls = []

    def down():
        calls.append(1)
        raise RuntimeError("the engine does not answer")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="the engine does not answer"):
            health.recent("drydock:test-down", 5, down)
    assert len(calls) == 1
