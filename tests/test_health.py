import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_health_reports_each_part_with_real_redis_and_docker(client):
    response = client.get("/healthz")
    checks = response.json()["checks"]
    assert checks["database"]["ok"], checks["database"]
    assert checks["redis"]["ok"] and checks["redis"]["detail"] == "PONG", checks["redis"]
    assert checks["docker"]["ok"] and checks["docker"]["detail"].startswith("Docker "), checks["docker"]
    # No worker runs inside the test process: the page must say so, with a 503.
    if not checks["workers"]["ok"]:
        assert response.status_code == 503
        assert "no Celery worker answered" in checks["workers"]["detail"]


def test_health_says_what_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["redis"]["ok"] and "ConnectionError" in checks["redis"]["detail"]
    assert checks["workers"]["detail"] == "Redis is down, so no worker can be reached"
