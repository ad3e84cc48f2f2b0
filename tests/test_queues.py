"""Queues by kind of work: a Check is routed to a queue that provisioning and removals never hold up."""

import pytest

from drydock import health, queues
from drydock.celery import app


@pytest.mark.parametrize("task, queue", [
    ("labs.grade_submission", "grade.local"),
    ("labs.provision_sandbox", "provision.local"),
    ("labs.remove_sandbox", "housekeeping.local"),
    ("labs.reap_sandboxes", "housekeeping"),
    ("labs.check_hosts", "housekeeping"),
])
def test_each_task_lands_on_the_queue_of_its_kind_and_a_sandbox_s_work_on_the_default_host_s(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_task_the_labs_send_has_a_route():
    from labs import queue as lab_queue

    sent = {value for name, value in vars(lab_queue).items() if name.isupper() and isinstance(value, str) and value.startswith("labs.")}
    assert sent == {task for task in queues.ROUTES if task.startswith("labs.")}


def test_a_task_sent_for_a_host_goes_to_that_host_s_queue_of_its_kind(settings):
    from labs import queue as lab_queue

    assert lab_queue.queue_for("labs.grade_submission", "b") == "grade.b"
    assert lab_queue.queue_for("labs.provision_sandbox", "b") == "provision.b"
    assert lab_queue.queue_for("labs.remove_sandbox", "b") == "housekeeping.b"
    assert lab_queue.queue_for("labs.reap_sandboxes", "b") is None  # central: its route in the settings
    # What a host's queue is routed to, as Celery would send it.
    assert app.amqp.router.route({"queue": "grade.b"}, "labs.grade_submission")["queue"].name == "grade.b"


def test_worker_command_reads_its_concurrency_from_the_environment():
    command = queues.worker_command("/v/bin/celery", "grade", {"CELERY_GRADE_CONCURRENCY": "4"})
    assert command[-2:] == ["--concurrency", "4"] and command[command.index("-Q") + 1] == "grade.local"
    assert queues.worker_command("celery", "housekeeping", {})[-1] == "1"
    with pytest.raises(ValueError, match="CELERY_PROVISION_CONCURRENCY must be a whole number"):
        queues.worker_command("celery", "provision", {"CELERY_PROVISION_CONCURRENCY": "two"})
    with pytest.raises(ValueError, match="at least 1"):
        queues.worker_command("celery", "provision", {"CELERY_PROVISION_CONCURRENCY": "0"})


def test_a_host_s_workers_consume_its_queues_and_the_default_host_s_the_central_ones_too():
    def consumed(kind, **host):
        command = queues.worker_command("celery", kind, {}, **host)
        return command[command.index("-Q") + 1], command[command.index("-n") + 1]

    assert consumed("grade") == ("grade.local", "grade.local@%h")
    assert consumed("housekeeping") == ("housekeeping.local,housekeeping", "housekeeping.local@%h")
    assert consumed("lms") == ("lms", "lms@%h")
    assert consumed("grade", host="b") == ("grade.b", "grade.b@%h")
    assert consumed("housekeeping", host="b") == ("housekeeping.b", "housekeeping.b@%h")
    assert queues.host_worker_kinds("b") == ["grade", "provision", "housekeeping"]
    assert queues.host_worker_kinds() == ["grade", "provision", "housekeeping", "lms"]


class _Replies:
    def __init__(self, replies):
        self.replies = replies

    def inspect(self, timeout):
        return self

    def active_queues(self):
        return self.replies


@pytest.mark.django_db
def test_health_names_a_queue_no_worker_consumes(monkeypatch):
    monkeypatch.setattr(health.celery_app, "control", _Replies({"grade@box": [{"name": "grade.local"}]}))
    with pytest.raises(
        RuntimeError, match=r"no Celery worker consumes the queue\(s\) provision.local, housekeeping.local, housekeeping, lms \(workers: grade@box\)",
    ):
        health._workers()
    # One worker for every queue (as `celery worker -Q grade.local,provision.local,...` would be) is enough.
    every = queues.all_queues()
    monkeypatch.setattr(health.celery_app, "control", _Replies({"all@box": [{"name": q} for q in every]}))
    assert health._workers() == "; ".join(f"{q}: all@box" for q in every)


@pytest.mark.django_db
def test_health_asks_for_the_queues_of_every_host_but_a_down_one(monkeypatch):
    from labs.models import DockerHost

    DockerHost.objects.create(name="b", engine_url="unix:///b.sock")
    DockerHost.objects.create(name="c", engine_url="unix:///c.sock", state=DockerHost.State.DOWN)
    assert set(health.expected_queues()) == {
        "grade.local", "provision.local", "housekeeping.local", "grade.b", "provision.b", "housekeeping.b", "housekeeping", "lms",
    }
