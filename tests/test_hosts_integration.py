"""Two Docker hosts for real: each with its own queues and real Celery workers, placement on both, grading on
both, and failover when one host's workers die (its heartbeats stop).

Both host rows point at the engine the tests run on (a second engine is another fixture's work): what is
real here is the routing, the workers, the heartbeats and the failover; each host's work is seen in its
own workers' log.
"""

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from drydock import queues
from drydock.celery import app
from grader import engine
from labs import hosts, queue, tasks
from labs.models import DockerHost, Lab, Sandbox, Submission
from tests.conftest import Worker, wait_until
from tests.test_terminal import no_terminal_leases_from_earlier_runs  # noqa: F401 (a fixture)
from tests.test_sandboxes import check, course, no_sandbox_outlives_its_test, start, wait_ready  # noqa: F401 (two fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host_b(celery_worker, tmp_path):
    """Host "b": its row, on the same engine as "local", and its own workers (grade.b, provision.b, housekeeping.b)."""
    from django.db import connection

    b = DockerHost.objects.create(name="b", engine_url=settings.DOCKER_HOST, capacity=1)
    worker = Worker(connection.settings_dict["NAME"], tmp_path / "worker-b.log", host="b").start()
    yield b, worker
    worker.stop()
    # What was sent to b after its workers died must not reach another test's workers.
    client = redis.Redis.from_url(settings.REDIS_URL)
    for kind in queues.HOST_KINDS:
        client.delete(*[queues.host_queue(kind, "b") + suffix for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169")])
    client.close()
    app.control.purge()


def learner(name):
    user = User.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123456")
    client = Client()
    client.force_login(user)
    return user, client


def on_its_host(sandbox, command):
    """A learner's command, in a sandbox on whichever host it lives."""
    result = hosts.engine_for_sandbox(sandbox.pk).exec_in_sandbox(sandbox.container_name, command)
    assert result.exit_code == 0, f"{command}: exit code {result.exit_code}\n{result.output}"


def log_of(worker):
    worker.log.flush()
    return worker.log_path.read_text(errors="replace")


def beat(*names):
    """What the central check sends: a heartbeat asked of each host, answered by its own housekeeping worker."""
    before = dict(DockerHost.objects.values_list("name", "last_heartbeat"))
    for name in names:
        queue.send(queue.HOST_HEARTBEAT, name, host=name)
    wait_until(
        lambda: all(DockerHost.objects.get(name=n).last_heartbeat not in (None, before.get(n)) for n in names), 30,
        message=f"heartbeats of {', '.join(names)}",
    )


@pytest.fixture
def host_b_on_the_second_engine(celery_worker, second_engine, tmp_path):
    """Host "b" on a second Docker engine of this machine (its own dockerd, bridges, registry), with its own workers."""
    from django.db import connection

    b = DockerHost.objects.create(
        name="b", engine_url=second_engine.url, capacity=1, network=second_engine.network,
        bridge=second_engine.sandbox_bridge, registry_mirror=second_engine.registry_mirror,
    )
    worker = Worker(connection.settings_dict["NAME"], tmp_path / "worker-b.log", host="b", env=second_engine.worker_env()).start()
    yield b, worker
    worker.stop()
    b_engine = engine.for_url(second_engine.url)
    for container in b_engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX):
        b_engine.remove_sandbox(container.name, f"{second_engine.socket_root}/{container.name}")
    client = redis.Redis.from_url(settings.REDIS_URL)
    for kind in queues.HOST_KINDS:
        client.delete(*[queues.host_queue(kind, "b") + suffix for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169")])
    client.close()
    app.control.purge()


def test_on_two_engines_sandboxes_run_on_each_are_graded_there_and_fail_over_when_one_host_dies(course, host_b_on_the_second_engine, second_engine, settings):
    b, b_workers = host_b_on_the_second_engine
    on = two_hosts_take_a_learner_each_grade_them_and_fail_over(b, b_workers, settings)
    # Each sandbox ran on its own host's engine: b's container was on the second engine, never on the first.
    assert on["b"].container_name not in {c.name for c in engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}


def test_sandboxes_go_to_both_hosts_are_graded_on_each_and_fail_over_when_a_host_s_workers_die(course, host_b, settings):
    b, b_workers = host_b
    two_hosts_take_a_learner_each_grade_them_and_fail_over(b, b_workers, settings)


def two_hosts_take_a_learner_each_grade_them_and_fail_over(b, b_workers, settings):
    """What both tests above go through; returns {host name: its first sandbox}."""
    local = hosts.default_host()
    DockerHost.objects.filter(pk=local.pk).update(capacity=1)
    lab = Lab.objects.get(slug="tirer-une-version")
    (alice, alice_client), (bob, bob_client) = learner("alice"), learner("bob")

    # One slot each: the two learners' sandboxes land one on each host, each provisioned by that host's worker.
    first, second = wait_ready(start(alice_client, lab)), wait_ready(start(bob_client, lab))
    on = {Sandbox.objects.get(pk=s.pk).host.name: s for s in (first, second)}
    assert set(on) == {"local", "b"}
    on_b = on["b"]
    owner_of = {first.pk: (alice, alice_client), second.pk: (bob, bob_client)}
    b_learner, b_client = owner_of[on_b.pk]
    local_learner, local_client = owner_of[on["local"].pk]
    assert log_of(b_workers).count("Task labs.provision_sandbox[") >= 1

    # Grading on each host, by its own grade worker.
    graded_on_b_before = log_of(b_workers).count("Task labs.grade_submission[")
    for sandbox, client in ((on["local"], local_client), (on_b, b_client)):
        on_its_host(sandbox, "docker pull nginx:1.22")
        assert check(client, lab, "tirer-nginx-1-22").status == Submission.Status.PASSED
    wait_until(lambda: log_of(b_workers).count("Task labs.grade_submission[") > graded_on_b_before, 10, message="b's grade worker's log")
    passed_on_b = Submission.objects.get(user=b_learner, status=Submission.Status.PASSED)

    # The terminal reaches the sandbox on b through b's engine.
    b_engine = hosts.engine_for(DockerHost.objects.get(name="b"))
    assert on_b.container_name in {c.name for c in b_engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}
    terminal = b_engine.open_terminal(on_b.container_name)
    terminal.close()

    # Both beat; then b's workers die and its heartbeats stop.
    beat("local", "b")
    # b's first heartbeat began its isolation check; its report is written when that check ends.
    wait_until(lambda: DockerHost.objects.get(name="b").isolation_reported_at is not None, 60, message="b's isolation report")
    # Each worker checked its host's isolation on its machine and named that machine: one machine, one memory.
    reports = {host.name: host for host in DockerHost.objects.all()}
    assert reports["b"].isolation_problems == [] and reports["b"].isolation_reported_at is not None
    assert reports["b"].machine_id == reports["local"].machine_id != ""
    from drydock import health

    assert "b: isolated (checked by its worker" in health._isolation()
    b_workers.kill()
    settings.HOST_HEARTBEAT_TIMEOUT_SECONDS = 3
    # A Check sent now waits on b's grade queue, which nobody consumes any more.
    sent = b_client.post(reverse("labs:task_check", args=[lab.course.slug, lab.slug, "tirer-nginx-1-22"]), HTTP_ACCEPT="application/json")
    assert sent.status_code == 202 and not sent.json()["done"], sent.content

    def b_marked_down():
        tasks.check_hosts()  # what beat sends to the central queue, run here
        return DockerHost.objects.get(name="b").state == DockerHost.State.DOWN

    wait_until(b_marked_down, 30, interval=0.5, message="host b to be marked down")
    assert DockerHost.objects.get(name="local").state == DockerHost.State.ACTIVE
    failed = Sandbox.objects.get(pk=on_b.pk)
    assert failed.status == Sandbox.Status.FAILED and "ne répond plus" in failed.failure
    assert Sandbox.objects.get(pk=on["local"].pk).status == Sandbox.Status.READY
    # That Check is over, and says why, where the learner's page reads it.
    shown = b_client.get(sent.json()["url"]).json()
    assert shown["done"] and shown["status"] == Submission.Status.ERROR and "ne répond plus" in shown["message"], shown

    # The learner starts again: placed on local (given room), provisioned there; nothing of their grades is lost.
    DockerHost.objects.filter(pk=local.pk).update(capacity=2)
    again = wait_ready(start(b_client, lab))
    assert Sandbox.objects.get(pk=again.pk).host.name == "local"
    assert Submission.objects.get(pk=passed_on_b.pk).status == Submission.Status.PASSED
    on_its_host(again, "docker pull nginx:1.22")
    assert check(b_client, lab, "tirer-nginx-1-22").status == Submission.Status.PASSED
    return on


@pytest.fixture
def sandbox_on_b(course, monkeypatch):
    """Alice's ready sandbox on host "b", whose engine URL is another spelling of the tests' engine's: every
    terminal opened is recorded with the URL of the engine it was opened on."""
    from datetime import timedelta

    from django.utils import timezone

    from labs import sandboxes

    socket_path = settings.DOCKER_HOST.removeprefix("unix://")
    b = DockerHost.objects.create(name="b", engine_url=f"unix://{socket_path.rsplit('/', 1)[0]}/./docker.sock")
    alice = User.objects.create_user("alice", "alice@example.com", "pw-alice-123456")
    lab = Lab.objects.get(slug="tirer-une-version")
    now = timezone.now()
    row = Sandbox.objects.create(owner=alice, lab=lab, host=b, expires_at=now + timedelta(minutes=30), last_activity_at=now, steps_total=2)
    row = sandboxes.provision(row.pk, engine=hosts.engine_for(b))
    assert row.status == Sandbox.Status.READY, (row.failure, row.failure_detail)
    opened = []
    real_open = engine.DockerEngine.open_terminal

    def recording_open(self, name, **kwargs):
        opened.append(self.base_url)
        return real_open(self, name, **kwargs)

    monkeypatch.setattr(engine.DockerEngine, "open_terminal", recording_open)
    return row, alice, b, opened


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_terminal_leases_from_earlier_runs")
async def test_the_terminal_reaches_a_sandbox_on_another_host_through_that_host_s_engine_for_its_owner_only(sandbox_on_b):
    import json

    from asgiref.sync import sync_to_async

    from labs.terminal import CLOSE_REFUSED
    from tests.test_terminal import communicator, expect_status, type_and_read

    sandbox, alice, b, opened = sandbox_on_b
    socket = await communicator(sandbox.pk, alice)
    connected, code = await socket.connect(timeout=20)
    assert connected, code
    await expect_status(socket, "ready")
    assert "on-b-2" in await type_and_read(socket, "echo on-b-$((1+1))\r", "on-b-2")
    await socket.send_to(text_data=json.dumps({"type": "resize", "rows": 30, "cols": 100}))
    await socket.disconnect()
    assert opened == [b.engine_url]
    mallory = await sync_to_async(User.objects.create_user)("mallory", "mallory@example.com", "pw-mallory-123456")
    refused = await communicator(sandbox.pk, mallory)
    connected, code = await refused.connect(timeout=10)
    assert not connected and code == CLOSE_REFUSED
    await refused.disconnect()
