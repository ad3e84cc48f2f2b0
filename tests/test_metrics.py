"""/metrics: Prometheus text of the platform's state, and who may read it."""

from datetime import timedelta

import pytest
import redis
from django.contrib.auth.models import User
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from drydock import metrics
from labs.models import Lab, Sandbox, Submission

pytestmark = pytest.mark.django_db


class FakeRedis:
    """LLEN of the lists kombu keeps per queue and priority step."""

    def __init__(self, lists=None, down=False):
        self.lists, self.down = lists or {}, down

    def llen(self, key):
        if self.down:
            raise redis.ConnectionError("Redis is down")
        return self.lists.get(key, 0)

    def close(self):
        pass


@pytest.fixture
def fake_redis(monkeypatch):
    fake = FakeRedis({"grade.local": 2, "grade.local\x06\x163": 1, "provision.local": 4, "housekeeping": 1})
    monkeypatch.setattr(metrics, "redis_client", lambda url: fake)
    return fake


def samples(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(response.text) for s in f.samples}


def make_sandbox(owner, lab, status):
    now = timezone.now()
    return Sandbox.objects.create(owner=owner, lab=lab, status=status, expires_at=now + timedelta(hours=1), last_activity_at=now)


def graded(user, task, status, seconds):
    submission = Submission.objects.create(user=user, task=task, status=status)
    Submission.objects.filter(pk=submission.pk).update(graded_at=submission.created_at + timedelta(seconds=seconds))


def test_metrics_count_live_sandboxes_waiting_learners_queues_and_grading_latency(client, shipped_course, fake_redis):
    lab, other = Lab.objects.get(slug="premier-conteneur"), Lab.objects.get(slug="tirer-une-version")
    alice, bob, carol = (User.objects.create_user(name, f"{name}@example.com", "pw-123456789") for name in ("alice", "bob", "carol"))
    make_sandbox(alice, lab, Sandbox.Status.READY)
    make_sandbox(bob, lab, Sandbox.Status.WAITING)
    make_sandbox(bob, other, Sandbox.Status.WAITING)
    make_sandbox(carol, lab, Sandbox.Status.PROVISIONING)
    make_sandbox(carol, other, Sandbox.Status.STOPPED)
    task = lab.tasks.get(slug="lancer-bonjour")
    graded(alice, task, Submission.Status.PASSED, 0.02)
    graded(alice, task, Submission.Status.FAILED, 0.3)
    graded(bob, task, Submission.Status.ERROR, 12)
    Submission.objects.create(user=carol, task=task)  # queued: no verdict yet, not counted

    found = samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert found[("drydock_sandboxes", (("status", "ready"),))] == 1
    assert found[("drydock_sandboxes", (("status", "waiting"),))] == 2
    assert found[("drydock_sandboxes", (("status", "provisioning"),))] == 1
    assert found[("drydock_sandboxes", (("status", "requested"),))] == 0
    assert ("drydock_sandboxes", (("status", "stopped"),)) not in found
    assert found[("drydock_learners_waiting", ())] == 1
    assert found[("drydock_redis_up", ())] == 1
    assert found[("drydock_celery_queue_length", (("queue", "grade.local"),))] == 3
    assert found[("drydock_celery_queue_length", (("queue", "provision.local"),))] == 4
    assert found[("drydock_celery_queue_length", (("queue", "housekeeping.local"),))] == 0
    assert found[("drydock_celery_queue_length", (("queue", "housekeeping"),))] == 1
    assert found[("drydock_docker_host_up", (("host", "local"), ("state", "active")))] == 1
    # The ready and the provisioning one were placed on the default host (the waiting ones on none yet).
    assert found[("drydock_docker_host_sandboxes", (("host", "local"),))] == 2
    bucket = lambda le: found[("drydock_grading_latency_seconds_bucket", (("le", le),))]  # noqa: E731
    assert (bucket("0.05"), bucket("0.25"), bucket("0.5"), bucket("10.0"), bucket("30.0"), bucket("+Inf")) == (1, 1, 2, 2, 3, 3)
    assert found[("drydock_grading_latency_seconds_count", ())] == 3
    assert found[("drydock_grading_latency_seconds_sum", ())] == pytest.approx(12.32, abs=0.01)


def test_metrics_still_answer_when_redis_is_down(client, db, monkeypatch):
    monkeypatch.setattr(metrics, "redis_client", lambda url: FakeRedis(down=True))
    found = samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))
    assert found[("drydock_redis_up", ())] == 0
    assert found[("drydock_grading_latency_seconds_count", ())] == 0
    assert not any(name == "drydock_celery_queue_length" for name, _ in found)


def test_metrics_refuse_other_addresses_and_requests_that_came_through_the_proxy(client, db, fake_redis):
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_with_a_token_metrics_need_it_from_anywhere(client, db, fake_redis, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200


def test_queue_keys_follow_kombus_priority_lists():
    assert metrics.queue_keys("grade") == ["grade", "grade\x06\x163", "grade\x06\x166", "grade\x06\x169"]
