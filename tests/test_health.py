import pytest
from celery import Celery
from django.conf import settings as django_settings

from drydock import health

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


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


def test_health_says_what_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["redis"]["ok"] and "ConnectionError" in checks["redis"]["detail"]
    assert checks["workers"]["detail"] == "Redis is down, so no worker can be reached"
