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
