"""The start page and /healthz say how sandboxes are isolated, from what the engine reports (on the fake engine)."""

import pytest
from django.core.cache import cache

from drydock import sandbox_mode
from grader import engine
from grader.fake_engine import FakeEngine

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch):
    cache.delete(sandbox_mode.CACHE_KEY)
    cache.delete("drydock:isolation-problems")
    made = FakeEngine()
    monkeypatch.setattr(engine, "default", lambda: made)
    yield made
    cache.delete(sandbox_mode.CACHE_KEY)


def start_page(client):
    client.cookies["django_language"] = "en"
    return client.get("/").text


def test_the_start_page_says_sandboxes_are_isolated_on_an_engine_with_user_namespaces(client, fake):
    assert 'class="sandbox-mode sandbox-mode-isolated"' in start_page(client)
    assert "root in a sandbox is an unprivileged user of this server" in start_page(client)


def test_the_start_page_says_sandboxes_are_off_on_an_engine_without_them(client, fake):
    fake.user_namespaces = False
    page = start_page(client)
    assert "sandbox-mode-refused" in page and "does not use user namespaces" in page


def test_the_start_page_warns_when_a_trusted_machine_accepts_an_engine_without_them(client, fake, settings):
    fake.user_namespaces, settings.SANDBOX_WITHOUT_USER_NAMESPACES = False, True
    assert "Sandboxes are NOT isolated from this server" in start_page(client)


def test_the_start_page_says_sandboxes_are_unavailable_when_the_engine_does_not_answer(client, fake):
    fake.answering = False
    assert "the Docker engine does not answer" in start_page(client)


def test_the_french_start_page_says_it_in_french(client, fake):
    assert "Les bacs à sable sont isolés" in client.get("/").text


def test_health_names_each_isolation_problem_and_answers_503(client, fake, monkeypatch):
    fake.network_problems = ["port veth1234 of drydock-sbx is not isolated"]
    # Redis and the workers are tested for real in tests/test_health.py; here only isolation is at stake.
    monkeypatch.setattr("drydock.health._redis", lambda: "PONG")
    monkeypatch.setattr("drydock.health._workers", lambda: ["celery@test"])
    response = client.get("/healthz")
    isolation = response.json()["checks"]["isolation"]
    assert response.status_code == 503 and not isolation["ok"]
    assert "port veth1234 of drydock-sbx is not isolated" in isolation["detail"]
    fake.network_problems, fake.user_namespaces = [], False
    cache.delete("drydock:isolation-problems")
    isolation = client.get("/healthz").json()["checks"]["isolation"]
    assert not isolation["ok"] and "does not use user namespaces" in isolation["detail"]


ENGINE_WORDS = "TLS with tcp://10.20.30.40:2376 failed: /etc/drydock/tls/salle-b is not trusted"


@pytest.fixture
def failing_parts(fake, monkeypatch):
    """Isolation fails with a port's name; the engine, when `refuse_engine()` is called, with its address and TLS folder."""
    fake.network_problems = ["port veth1234 of drydock-sbx is not isolated"]
    monkeypatch.setattr("drydock.health._redis", lambda: "PONG")
    monkeypatch.setattr("drydock.health._workers", lambda: ["celery@test"])

    def refuse_engine():
        def refused():
            raise engine.EngineUnavailable(ENGINE_WORDS)
        monkeypatch.setattr(fake, "engine_info", refused)
        cache.delete("drydock:engine-info")
    return refuse_engine


def test_health_tells_a_caller_from_the_network_each_part_s_state_and_none_of_its_words(client, failing_parts, caplog):
    for refuse in (False, True):
        if refuse:
            failing_parts()
        response = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 503 and response.json()["ok"] is False
        checks = response.json()["checks"]
        assert checks["isolation"] == {"ok": False, "ms": checks["isolation"]["ms"]}
        assert checks["database"]["ok"] and set(checks["database"]) == {"ok", "ms"}
        assert checks["docker"]["ok"] is not refuse
        for hidden in ("10.20.30.40", "/etc/drydock", "veth1234", "local", "celery@"):
            assert hidden not in response.text
    # The operator reads them in the web's log.
    assert "10.20.30.40" in caplog.text and "veth1234" in caplog.text


def test_health_tells_staff_the_monitoring_s_token_and_the_host_s_loopback_what_each_part_said(client, failing_parts, settings, django_user_model):
    failing_parts()
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    assert "10.20.30.40" in client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()["checks"]["docker"]["detail"]
    client.logout()
    client.force_login(django_user_model.objects.create_user("lea"))
    assert "detail" not in client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()["checks"]["docker"]
    client.logout()
    settings.METRICS_TOKEN = "s3cret-for-monitoring"
    assert "10.20.30.40" in client.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-for-monitoring").json()["checks"]["docker"]["detail"]
    assert "detail" not in client.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").json()["checks"]["docker"]
    settings.METRICS_TOKEN = ""
    assert "detail" in client.get("/healthz").json()["checks"]["docker"]  # the test client is the host's loopback
    assert "detail" not in client.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9").json()["checks"]["docker"]
