"""Queues by kind of work: a Check is routed to a queue that provisioning and removals never hold up."""

import os

import pytest
from django.conf import settings

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


def test_background_work_runs_at_a_lower_priority_than_pages_and_checks_and_its_setting_is_checked():
    assert [queues.niceness(kind, {}) for kind in ("grade", "lms", "housekeeping", "provision")] == [0, 0, 0, 0]
    assert queues.niceness("provision", {"CELERY_PROVISION_NICE": "10"}) == 10
    assert queues.niceness("provision", {"CELERY_PROVISION_NICE": "0"}) == 0
    assert queues.niceness("grade", {"CELERY_PROVISION_NICE": "19"}) == 0
    with pytest.raises(ValueError, match="CELERY_PROVISION_NICE must be from 0 to 19"):
        queues.niceness("provision", {"CELERY_PROVISION_NICE": "20"})
    with pytest.raises(ValueError, match="CELERY_HOUSEKEEPING_NICE must be a whole number"):
        queues.niceness("housekeeping", {"CELERY_HOUSEKEEPING_NICE": "low"})
    with pytest.raises(ValueError, match="CELERY_PROVISION_NICE must be from 0 to 19"):
        queues.worker_command("celery", "provision", {"CELERY_PROVISION_NICE": "-5"})
    assert [queues.kind_of_node(node) for node in ("grade.local@m", "housekeeping.b@m", "lms@m", "celery@m")] == [
        "grade", "housekeeping", "lms", None]


def _niceness_of(pid):
    # /proc/PID/stat: the command's name is in parentheses (it may hold spaces); nice is the 19th field.
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[16])


def _pool_of(pid):
    children = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        children.update(int(child) for child in open(f"/proc/{pid}/task/{task}/children").read().split())
    return children


def _session_niceness_of(pid):
    """The niceness of the process's autogroup ("/autogroup-42 nice 5"); None where the kernel keeps none for it."""
    try:
        words = open(f"/proc/{pid}/autogroup").read().split()
    except OSError:
        return None
    return int(words[-1]) if len(words) == 3 and words[1] == "nice" else None


WORKER_SETUP = """
import os, sys, time
from drydock import celery
celery.run_at_the_priority_of_its_kind("provision.local@bench")
print(open("/proc/self/autogroup").read().strip() if os.path.exists("/proc/self/autogroup") else "-", flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("own_session", [True, False])
def test_a_worker_leading_its_session_lowers_that_session_and_never_its_parents(own_session):
    # Under autogroup a niceness weighs only within its session: a worker of its own session lowers the session
    # too; one in someone's session (a test's, a shell's) lowers only itself.
    import subprocess
    import sys

    env = {**os.environ, "CELERY_PROVISION_NICE": "6"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER_SETUP], env=env, stdout=subprocess.PIPE, text=True,
                              start_new_session=own_session, cwd=settings.BASE_DIR)
    try:
        worker.stdout.readline()
        assert _niceness_of(worker.pid) == 6
        mine = _session_niceness_of(os.getpid())
        if _session_niceness_of(worker.pid) is None:
            return  # no autogroup in this kernel: the niceness is all the scheduler weighs
        assert _session_niceness_of(worker.pid) == (6 if own_session else mine)
        assert _session_niceness_of(os.getpid()) == mine
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.integration
def test_each_real_worker_and_its_pool_run_at_the_niceness_of_their_kind(celery_worker):
    by_kind = {}
    for process in celery_worker.processes:
        node = process.args[process.args.index("-n") + 1]
        by_kind[queues.kind_of_node(node)] = [process.pid, *_pool_of(process.pid)]
    assert set(by_kind) == {"grade", "provision", "housekeeping", "lms"}
    for kind, pids in by_kind.items():
        assert len(pids) > 1, f"the {kind} worker has no pool process"
        assert {_niceness_of(pid) for pid in pids} == {queues.niceness(kind)}, kind
