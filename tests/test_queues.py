"""Queues by kind of work: a Check is routed to a queue that provisioning and removals never hold up."""

import pytest

from drydock import health, queues
from drydock.celery import app


@pytest.mark.parametrize("task, queue", [
    ("labs.grade_submission", "grade"),
    ("labs.provision_sandbox", "provision"),
    ("labs.remove_sandbox", "housekeeping"),
    ("labs.reap_sandboxes", "housekeeping"),
])
def test_each_task_lands_on_the_queue_of_its_kind(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_task_the_labs_send_has_a_route():
    from labs import queue as lab_queue

    sent = {value for name, value in vars(lab_queue).items() if name.isupper() and isinstance(value, str) and value.startswith("labs.")}
    assert sent == {task for task in queues.ROUTES if task.startswith("labs.")}


def test_worker_command_reads_its_concurrency_from_the_environment():
    command = queues.worker_command("/v/bin/celery", "grade", {"CELERY_GRADE_CONCURRENCY": "4"})
    assert command[-2:] == ["--concurrency", "4"] and command[command.index("-Q") + 1] == "grade"
    assert queues.worker_command("celery", "housekeeping", {})[-1] == "1"
    with pytest.raises(ValueError, match="CELERY_PROVISION_CONCURRENCY must be a whole number"):
        queues.worker_command("celery", "provision", {"CELERY_PROVISION_CONCURRENCY": "two"})
    with pytest.raises(ValueError, match="at least 1"):
        queues.worker_command("celery", "provision", {"CELERY_PROVISION_CONCURRENCY": "0"})


class _Replies:
    def __init__(self, replies):
        self.replies = replies

    def inspect(self, timeout):
        return self

    def active_queues(self):
        return self.replies


def test_health_names_a_queue_no_worker_consumes(monkeypatch):
    monkeypatch.setattr(health.celery_app, "control", _Replies({"grade@box": [{"name": "grade"}]}))
    with pytest.raises(RuntimeError, match=r"no Celery worker consumes the queue\(s\) provision, housekeeping, lms \(workers: grade@box\)"):
        health._workers()
    # One worker for every queue (as `celery worker -Q grade,provision,housekeeping` would be) is enough.
    monkeypatch.setattr(health.celery_app, "control", _Replies({"all@box": [{"name": q} for q in queues.CONCURRENCY]}))
    assert health._workers() == "grade: all@box; provision: all@box; housekeeping: all@box; lms: all@box"
