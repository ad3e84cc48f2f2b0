"""Many Docker hosts, on in-memory engines: placement, affinity, draining, heartbeats, failover and routing.

Each host has its own FakeEngine, found by its engine URL as the real ones are
(grader.engine.for_url); tests/test_hosts_integration.py runs the same on real
workers and the real engine.
"""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation

from courses.models import Chapter, Course
from grader import engine as docker_engine
from grader.fake_engine import FakeEngine
from labs import capacity, grading, hosts, queue, sandboxes, tasks
from labs.models import DockerHost, Lab, LabTask, Sandbox, Submission

Status = Sandbox.Status
State = DockerHost.State


@pytest.fixture
def engines(monkeypatch, settings):
    """One fake engine per engine URL, the default host's included; hosts' memory left out (only ceilings count)."""
    made = {}

    def for_url(url, tls_dir=""):
        return made.setdefault(url, FakeEngine())

    monkeypatch.setattr(docker_engine, "for_url", for_url)
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: None)
    settings.SANDBOX_POOL_BLANK = 0
    return for_url


@pytest.fixture
def sent(monkeypatch):
    """(task name, id, host) of every task queued after a commit, in order."""
    queued = []
    monkeypatch.setattr(queue, "after_commit", lambda name, *args, host=None, **options: queued.append((name, *args, host)))
    return queued


def host(name, capacity=2, state=State.ACTIVE, **fields):
    return DockerHost.objects.create(name=name, engine_url=f"unix:///run/{name}.sock", capacity=capacity, state=state, **fields)


@pytest.fixture
def two_hosts(db):
    """The default host drained (what the migration made is out of the way) and hosts a and b, two slots each."""
    DockerHost.objects.filter(name="local").update(state=State.DRAINING)
    return host("a"), host("b")


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(
        course=course, chapter=chapter, slug="web", title="Un serveur web", minutes=5, position=1,
        source_path="labs/web.yaml", instructions_markdown="", instructions_html="",
    )
    LabTask.objects.create(lab=lab, slug="tirer", title="Tirer", position=1, prompt_html="", check_name="image_present", check_params={"image": "nginx:1.22"})
    return lab


@pytest.fixture
def other_lab(lab):
    return Lab.objects.create(
        course=lab.course, chapter=lab.chapter, slug="autre", title="Autre", minutes=5, position=2,
        source_path="labs/autre.yaml", instructions_markdown="", instructions_html="",
    )


def learners(count):
    return [User.objects.create_user(f"learner{n}") for n in range(count)]


def placed_on(sandbox):
    return Sandbox.objects.select_related("host").get(pk=sandbox.pk).host.name


# --- Placement ---------------------------------------------------------------------------------


def test_a_fresh_install_places_on_its_default_host_with_no_configuration(engines, sent, lab, settings):
    assert DockerHost.objects.get().name == "local"  # made by the migration
    DockerHost.objects.all().delete()  # as after a flush: the first placement makes it again
    sandbox = sandboxes.request_sandbox(user=learners(1)[0], lab=lab)
    assert sandbox.status == Status.REQUESTED and placed_on(sandbox) == "local"
    assert DockerHost.objects.get().engine == settings.DOCKER_HOST
    assert sent == [(queue.PROVISION_SANDBOX, sandbox.pk, "local")]


def test_new_sandboxes_go_where_there_is_most_room_and_wait_when_every_host_is_full(engines, sent, lab, two_hosts):
    a, b = two_hosts
    DockerHost.objects.filter(pk=a.pk).update(capacity=1)
    rows = [sandboxes.request_sandbox(user=user, lab=lab) for user in learners(4)]
    assert [placed_on(r) for r in rows[:3]] == ["b", "a", "b"]
    assert rows[3].status == Status.WAITING and rows[3].host is None
    assert [(name, host_name) for name, _pk, host_name in sent] == [(queue.PROVISION_SANDBOX, "b"), (queue.PROVISION_SANDBOX, "a"), (queue.PROVISION_SANDBOX, "b")]
    # Room frees on a: the one waiting goes there.
    sandboxes.stop(rows[1])
    assert sandboxes.admit_waiting() == [rows[3].pk] and placed_on(rows[3]) == "a"


def test_a_learner_s_next_sandbox_of_a_lab_goes_back_to_the_host_of_their_last_one(engines, sent, lab, two_hosts, settings):
    a, b = two_hosts
    lea, max_ = learners(2)
    first = sandboxes.request_sandbox(user=lea, lab=lab)
    assert placed_on(first) == "a"  # equal room: the name breaks the tie
    sandboxes.stop(first)
    now = timezone.now()
    Sandbox.objects.create(owner=max_, lab=lab, host=a, status=Status.READY, expires_at=now + timedelta(hours=1), last_activity_at=now)
    # b has more room now, but lea's images are on a.
    again = sandboxes.request_sandbox(user=lea, lab=lab)
    assert placed_on(again) == "a"
    # Past HOST_AFFINITY_HOURS, room decides again.
    sandboxes.stop(again)
    settings.HOST_AFFINITY_HOURS = 0
    assert placed_on(sandboxes.request_sandbox(user=lea, lab=lab)) == "b"


def test_affinity_never_overfills_a_host(engines, sent, lab, two_hosts):
    a, b = two_hosts
    lea, *others = learners(3)
    first = sandboxes.request_sandbox(user=lea, lab=lab)
    assert placed_on(first) == "a"
    sandboxes.stop(first)
    for user in others:
        Sandbox.objects.create(owner=user, lab=lab, host=a, status=Status.READY, expires_at=timezone.now() + timedelta(hours=1), last_activity_at=timezone.now())
    assert placed_on(sandboxes.request_sandbox(user=lea, lab=lab)) == "b"


def test_draining_and_down_hosts_take_no_new_sandboxes_and_their_live_ones_run_on(engines, sent, lab, two_hosts):
    a, b = two_hosts
    lea, max_, zoe = learners(3)
    on_a = sandboxes.request_sandbox(user=lea, lab=lab)
    assert placed_on(on_a) == "a"
    call_command("docker_hosts", "drain", "a", stdout=open("/dev/null", "w"))
    DockerHost.objects.filter(pk=b.pk).update(state=State.DOWN)
    waiting = sandboxes.request_sandbox(user=max_, lab=lab)
    assert waiting.status == Status.WAITING and waiting.host is None
    assert Sandbox.objects.get(pk=on_a.pk).status == Status.REQUESTED  # draining: left to run
    call_command("docker_hosts", "activate", "a", stdout=open("/dev/null", "w"))
    assert sandboxes.admit_waiting() == [waiting.pk] and placed_on(waiting) == "a"


@pytest.mark.django_db(transaction=True)
def test_two_placements_at_once_never_both_take_a_host_s_last_slot(engines, sent, lab):
    DockerHost.objects.get_or_create(name="local")
    DockerHost.objects.filter(name="local").update(state=State.DRAINING)
    only = host("a", capacity=1)
    now = timezone.now()
    rows = [
        Sandbox.objects.create(owner=user, lab=lab, status=Status.WAITING, expires_at=now + timedelta(hours=1), last_activity_at=now)
        for user in learners(2)
    ]
    start = threading.Barrier(2)
    results = {}

    def place(row):
        try:
            start.wait()
            # Both may count the host's room before either places: the host row's lock keeps them apart.
            results[row.pk] = hosts.place(row)
        finally:
            connection.close()

    for row in rows:
        assert hosts.candidates(row) == [only]
    threads = [threading.Thread(target=place, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    placed = [pk for pk, found in results.items() if found]
    assert len(placed) == 1 and Sandbox.objects.filter(host=only, status=Status.REQUESTED).count() == 1
    assert Sandbox.objects.filter(status=Status.WAITING).count() == 1


def test_each_active_host_keeps_its_warm_pool_and_a_claim_skips_a_draining_host_s(engines, sent, lab, two_hosts, settings):
    a, b = two_hosts
    settings.SANDBOX_POOL_BLANK = 1
    made = sandboxes.refill_pools()
    assert sorted(placed_on(Sandbox(pk=pk)) for pk in made) == ["a", "b"]
    for pk in made:
        sandboxes.provision(pk, engine=hosts.engine_for_sandbox(pk))
    call_command("docker_hosts", "drain", "a", stdout=open("/dev/null", "w"))
    claimed = sandboxes.request_sandbox(user=learners(1)[0], lab=lab)
    assert claimed.status == Status.READY and placed_on(claimed) == "b"
    # Checked on b's engine, where it runs.
    assert engines("unix:///run/b.sock").sandbox_running(claimed.container_name)


# --- Each sandbox's work on its host's engine and queue ----------------------------------------


def test_a_sandbox_s_work_runs_on_its_host_s_engine_and_queues(engines, sent, lab, two_hosts):
    a, b = two_hosts
    DockerHost.objects.filter(pk=a.pk).update(state=State.DRAINING)
    lea = learners(1)[0]
    sandbox = sandboxes.request_sandbox(user=lea, lab=lab)
    assert sent[-1] == (queue.PROVISION_SANDBOX, sandbox.pk, "b")
    tasks.provision_sandbox(sandbox.pk)  # what b's provision worker runs
    assert list(engines("unix:///run/b.sock").sandboxes) == [sandbox.container_name]
    assert not engines("unix:///run/a.sock").sandboxes
    assert Sandbox.objects.get(pk=sandbox.pk).status == Status.READY
    submission = grading.submit(user=lea, task=lab.tasks.get(), sandbox=Sandbox.objects.get(pk=sandbox.pk))
    assert sent[-1] == (queue.GRADE_SUBMISSION, submission.pk, "b")
    assert queue.queue_for(queue.GRADE_SUBMISSION, "b") == "grade.b"
    tasks.grade_submission(submission.pk)  # b's grade worker reads b's daemon
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.FAILED
    sandboxes.stop(Sandbox.objects.get(pk=sandbox.pk))
    assert sent[-1] == (queue.REMOVE_SANDBOX, sandbox.pk, "b")
    tasks.remove_sandbox_container(sandbox.pk)
    assert not engines("unix:///run/b.sock").sandboxes


def test_a_sandbox_starts_on_its_host_s_network_bridge_and_registry(engines, sent, lab, two_hosts, settings):
    a, b = two_hosts
    call_command(
        "docker_hosts", "add", "b", "--engine", "unix:///run/b.sock", "--capacity", "2", "--network", "dd-b-sandboxes",
        "--bridge", "dd-b-sbx", "--registry-mirror", "http://dd-b-registry:5000", stdout=open("/dev/null", "w"),
    )
    DockerHost.objects.filter(pk=a.pk).update(state=State.DRAINING)
    on_b = sandboxes.request_sandbox(user=learners(1)[0], lab=lab)
    tasks.provision_sandbox(on_b.pk)
    spec = engines("unix:///run/b.sock").sandboxes[on_b.container_name].spec
    assert (spec.network, spec.bridge, spec.registry_mirror) == ("dd-b-sandboxes", "dd-b-sbx", "http://dd-b-registry:5000")
    # A host that names none gets the settings'.
    assert sandboxes.spec_for(Sandbox(pk=1, host=a)).bridge == settings.SANDBOX_BRIDGE


def test_the_reaper_of_a_host_fails_only_its_own_vanished_sandboxes(engines, sent, lab, two_hosts):
    a, b = two_hosts
    rows = [sandboxes.request_sandbox(user=user, lab=lab) for user in learners(2)]
    for row in rows:
        tasks.provision_sandbox(row.pk)
    on_a = next(r for r in rows if placed_on(r) == "a")
    on_b = next(r for r in rows if placed_on(r) == "b")
    counts = sandboxes.reap_host(b, engine=engines("unix:///run/b.sock"))
    assert counts == {"vanished": 0, "orphans": 0, "leftovers": 0}
    engines("unix:///run/a.sock").vanish(on_a.container_name)
    assert sandboxes.reap_host(b, engine=engines("unix:///run/b.sock"))["vanished"] == 0
    assert sandboxes.reap_host(a, engine=engines("unix:///run/a.sock"))["vanished"] == 1
    assert Sandbox.objects.get(pk=on_b.pk).status == Status.READY


# --- Heartbeats and failover -------------------------------------------------------------------


def test_a_silent_host_is_marked_down_its_sandboxes_fail_with_a_message_and_start_places_elsewhere(engines, sent, lab, two_hosts, settings):
    a, b = two_hosts
    DockerHost.objects.filter(pk=b.pk).update(state=State.DRAINING)
    lea = learners(1)[0]
    sandbox = sandboxes.request_sandbox(user=lea, lab=lab)
    tasks.provision_sandbox(sandbox.pk)
    ready = Sandbox.objects.get(pk=sandbox.pk)
    graded = grading.grade(grading.submit(user=lea, task=lab.tasks.get(), sandbox=ready).pk, engine=hosts.engine_for_sandbox(ready.pk))
    DockerHost.objects.filter(pk=b.pk).update(state=State.ACTIVE)
    now = timezone.now()
    hosts.beat("a", now=now)
    hosts.beat("b", now=now)
    settings.HOST_HEARTBEAT_TIMEOUT_SECONDS = 30
    assert sandboxes.fail_silent_hosts(now=now + timedelta(seconds=20)) == []
    hosts.beat("b", now=now + timedelta(seconds=25))  # b goes on beating, a does not
    assert sandboxes.fail_silent_hosts(now=now + timedelta(seconds=40)) == ["a"]
    assert DockerHost.objects.get(name="a").state == State.DOWN
    failed = Sandbox.objects.get(pk=sandbox.pk)
    assert failed.status == Status.FAILED and "La machine qui faisait tourner votre bac à sable ne répond plus" in failed.failure
    # Its removal waits on a's queue, for when a answers again.
    assert sent[-1] == (queue.REMOVE_SANDBOX, sandbox.pk, "a")
    # The learner's Start: a new sandbox, on b.
    again = sandboxes.request_sandbox(user=lea, lab=lab)
    assert again.pk != sandbox.pk and placed_on(again) == "b"
    # Nothing of their grades is lost.
    assert Submission.objects.get(pk=graded.pk).status == graded.status == Submission.Status.FAILED
    # a beats again: active, and it takes sandboxes again.
    assert hosts.beat("a").state == State.ACTIVE


def test_checks_waiting_on_a_host_that_goes_down_end_with_a_message_and_the_learner_checks_again_on_the_new_sandbox(engines, sent, lab, two_hosts, settings, client):
    from django.urls import reverse

    a, b = two_hosts
    DockerHost.objects.filter(pk=b.pk).update(state=State.DRAINING)
    lea, max_ = learners(2)
    task = lab.tasks.get()
    ready = {}
    for user in (lea, max_):
        row = sandboxes.request_sandbox(user=user, lab=lab)
        tasks.provision_sandbox(row.pk)
        ready[user] = Sandbox.objects.get(pk=row.pk)
    assert {placed_on(row) for row in ready.values()} == {"a"}
    graded = grading.grade(grading.submit(user=lea, task=task, sandbox=ready[lea]).pk, engine=hosts.engine_for(a))
    # Lea's next Check waits on a's grade queue; Max's was taken by a's worker, which then died with its host.
    waiting = grading.submit(user=lea, task=task, sandbox=ready[lea])
    taken = grading.submit(user=max_, task=task, sandbox=ready[max_])
    Submission.objects.filter(pk=taken.pk).update(status=Submission.Status.GRADING)
    assert sent[-2:] == [(queue.GRADE_SUBMISSION, waiting.pk, "a"), (queue.GRADE_SUBMISSION, taken.pk, "a")]
    DockerHost.objects.filter(pk=b.pk).update(state=State.ACTIVE)
    now = timezone.now()
    hosts.beat("a", now=now)
    settings.HOST_HEARTBEAT_TIMEOUT_SECONDS = 30
    assert sandboxes.fail_silent_hosts(now=now + timedelta(seconds=40)) == ["a"]
    ended = "Cette vérification n'a pas eu lieu : la machine qui faisait tourner votre bac à sable ne répond plus."
    for check in (waiting, taken):
        check.refresh_from_db()
        assert check.status == Submission.Status.ERROR and check.message.startswith(ended) and check.graded_at, check.message
    # What the learner's page reads: a final state, in words.
    client.force_login(lea)
    shown = client.get(reverse("labs:submission", args=[waiting.pk])).json()
    assert shown["done"] and not shown["passed"] and shown["message"].startswith(ended)
    # The earlier verdict stays; a's job, should a come back and run it, changes nothing.
    assert Submission.objects.get(pk=graded.pk).status == Submission.Status.FAILED
    assert grading.grade(waiting.pk, engine=hosts.engine_for(a)).status == Submission.Status.ERROR
    # Lea starts again (on b) and checks again there.
    again = sandboxes.request_sandbox(user=lea, lab=lab)
    tasks.provision_sandbox(again.pk)
    again = Sandbox.objects.get(pk=again.pk)
    assert placed_on(again) == "b" and again.status == Status.READY
    checked = grading.submit(user=lea, task=task, sandbox=again)
    assert checked.status == Submission.Status.QUEUED and sent[-1] == (queue.GRADE_SUBMISSION, checked.pk, "b")
    tasks.grade_submission(checked.pk)  # what b's grade worker runs: graded on b's engine (no nginx pulled there yet)
    assert Submission.objects.get(pk=checked.pk).status == Submission.Status.FAILED
    # A Check that slipped in on a's sandbox as it went down is ended by the reaper's next pass over the rows.
    late = Submission.objects.create(user=max_, task=task, sandbox=ready[max_])
    with translation.override("en"):  # in an English-speaking school, in English
        sandboxes.reap_rows()
    assert Submission.objects.get(pk=late.pk).status == Submission.Status.ERROR
    assert Submission.objects.get(pk=late.pk).message == (
        "This check did not run: the machine running your sandbox stopped answering. Start your sandbox again, then check again on the new one."
    )


def test_a_host_that_never_beat_is_not_marked_down_and_a_dead_engine_gives_no_heartbeat(engines, lab, two_hosts, settings):
    a, b = two_hosts
    settings.HOST_HEARTBEAT_TIMEOUT_SECONDS = 2
    assert sandboxes.fail_silent_hosts(now=timezone.now() + timedelta(days=1)) == []
    engines("unix:///run/a.sock").answering = False
    with pytest.raises(docker_engine.EngineUnavailable):
        hosts.beat("a")
    assert DockerHost.objects.get(name="a").last_heartbeat is None


def test_check_hosts_asks_each_host_for_a_heartbeat_on_its_own_queue(engines, lab, two_hosts, monkeypatch):
    asked = []
    monkeypatch.setattr(queue, "send", lambda name, *args, host=None, **options: asked.append((name, args, queue.queue_for(name, host), options)))
    assert tasks.check_hosts() == []
    assert sorted(asked) == sorted(
        (queue.HOST_HEARTBEAT, (name,), f"housekeeping.{name}", {"expires": 10}) for name in ("a", "b", "local")
    )


def test_the_central_reaper_sends_each_host_that_answers_its_own_sweep(engines, lab, two_hosts, monkeypatch):
    a, b = two_hosts
    DockerHost.objects.filter(pk=b.pk).update(state=State.DOWN)
    asked = []
    monkeypatch.setattr(queue, "send", lambda name, *args, host=None, **options: asked.append((name, args, queue.queue_for(name, host))))
    assert tasks.reap_sandboxes() == {"expired": 0, "idle": 0, "stuck": 0, "admitted": 0}
    assert sorted(asked) == [(queue.REAP_HOST, ("a",), "housekeeping.a"), (queue.REAP_HOST, ("local",), "housekeeping.local")]
    assert tasks.reap_host("a")["orphans"] == 0  # what a's housekeeping worker then runs, on a's engine


# --- One machine, many hosts: memory and isolation ---------------------------------------------


@pytest.mark.parametrize("machines, placed", [(("m1", "m1"), 3), (("m1", "m2"), 4), (("", ""), 3)])
def test_hosts_on_one_machine_share_its_memory_in_admission(engines, sent, lab, two_hosts, settings, monkeypatch, machines, placed):
    a, b = two_hosts
    settings.SANDBOX_HOST_RESERVE_MB, settings.SANDBOX_ADMISSION_MB = 2048, 256
    # Each host's ceiling takes 2, the machine's memory 3: a second engine beside the first shares it.
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: 2048 + 3 * 256)
    for row, machine in zip((a, b), machines):
        # What a heartbeat writes: its machine and that machine's memory (each machine here has the same).
        DockerHost.objects.filter(pk=row.pk).update(machine_id=machine, memory_available_mb=2048 + 3 * 256 if machine else None)
    assert hosts.room_anywhere() == min(placed, 4)
    rows = [sandboxes.request_sandbox(user=user, lab=lab) for user in learners(4)]
    assert sum(row.status == Status.REQUESTED for row in rows) == placed
    assert {placed_on(row) for row in rows if row.status == Status.REQUESTED} == {"a", "b"}
    assert hosts.room_anywhere() == 0
    # ("", ""): neither has beat, both are on local unix sockets: this machine's, one budget of memory.


def test_a_host_on_a_local_socket_that_has_not_beat_yet_shares_this_machine_s_memory_with_the_hosts_that_beat_here(
    engines, sent, lab, two_hosts, settings, monkeypatch,
):
    a, b = two_hosts
    settings.SANDBOX_HOST_RESERVE_MB, settings.SANDBOX_ADMISSION_MB = 2048, 256
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: 2048 + 3 * 256)
    monkeypatch.setattr(capacity, "machine_id", lambda: "this-machine")
    DockerHost.objects.filter(pk=a.pk).update(machine_id="this-machine")  # a beat; b, on unix:///run/b.sock, not yet
    assert hosts.machine_of(DockerHost.objects.get(pk=b.pk)) == "this-machine"
    assert {mate.name for mate in hosts.machine_mates(DockerHost.objects.get(pk=b.pk))} == {"a", "b", "local"}
    assert hosts.room_anywhere() == 3
    rows = [sandboxes.request_sandbox(user=user, lab=lab) for user in learners(4)]
    assert sum(row.status == Status.REQUESTED for row in rows) == 3
    # On tcp:// and silent, its machine is not known: a machine of its own, its memory unknown (its ceiling counts).
    DockerHost.objects.filter(pk=b.pk).update(engine_url="tcp://10.0.0.2:2376")
    assert hosts.machine_of(DockerHost.objects.get(pk=b.pk)) == ""
    assert [mate.name for mate in hosts.machine_mates(DockerHost.objects.get(pk=b.pk))] == ["b"]


def test_a_host_on_a_unix_socket_whose_worker_reports_another_machine_counts_that_machine_s_memory(engines, lab, two_hosts, monkeypatch):
    # "docker_hosts add salle-b --engine unix:///run/docker.sock": a socket on salle-b's machine, where its workers run.
    a, b = two_hosts
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: 8000)
    monkeypatch.setattr(capacity, "machine_id", lambda: "this-machine")
    DockerHost.objects.filter(pk=a.pk).update(machine_id="salle-b-machine", memory_available_mb=3000)
    a = DockerHost.objects.get(pk=a.pk)
    assert hosts.machine_of(a) == "salle-b-machine" and hosts.memory_of(a) == 3000
    assert [mate.name for mate in hosts.machine_mates(a)] == ["a"]
    assert hosts.memory_of(DockerHost.objects.get(pk=b.pk)) == 8000  # not beat yet: on this machine
    # Where nothing names this machine, a unix socket is all there is to go by.
    monkeypatch.setattr(capacity, "machine_id", lambda: "")
    assert hosts.memory_of(DockerHost.objects.get(pk=b.pk)) == 8000


def test_a_host_s_heartbeat_reports_its_machine_and_isolation_which_health_shows_per_host(engines, lab, two_hosts, settings):
    from django.core.cache import cache

    from drydock import health

    a, b = two_hosts
    cache.delete("drydock:isolation-problems")
    engines("unix:///run/a.sock").network_problems = ["port veth1 of drydock-sbx is not isolated"]
    now = timezone.now()
    assert hosts.beat("a", now=now).machine_id == capacity.machine_id() != ""
    reported = DockerHost.objects.get(name="a")
    assert reported.isolation_problems == ["port veth1 of drydock-sbx is not isolated"] and reported.isolation_checked_at == now
    assert reported.isolation_reported_at is not None
    with pytest.raises(RuntimeError) as failed:
        health._isolation()
    assert "a: port veth1 of drydock-sbx is not isolated" in str(failed.value)
    assert "b: no isolation report yet" in str(failed.value)
    assert "local: user namespaces; network isolated" in str(failed.value)  # the default host's, checked here
    # Fixed on a's machine: its next heartbeats say so once ISOLATION_EVERY_SECONDS have passed, not before.
    engines("unix:///run/a.sock").network_problems = []
    hosts.beat("a", now=now + timedelta(seconds=5))
    assert DockerHost.objects.get(name="a").isolation_problems != []
    hosts.beat("a", now=now + timedelta(seconds=hosts.ISOLATION_EVERY_SECONDS))
    hosts.beat("b", now=now + timedelta(seconds=hosts.ISOLATION_EVERY_SECONDS))
    assert DockerHost.objects.get(name="a").isolation_problems == []
    detail = health._isolation()
    assert "a: isolated (checked by its worker" in detail and "b: isolated" in detail and "local: user namespaces" in detail
    # A down host is not asked for: its sandboxes were failed.
    engines("unix:///run/b.sock").network_problems = ["the Docker engine does not use user namespaces"]
    DockerHost.objects.filter(name="b").update(state=State.DOWN, isolation_problems=["the Docker engine does not use user namespaces"])
    assert "b:" not in health._isolation()


# --- Health, metrics and the command -----------------------------------------------------------


def test_the_command_adds_lists_drains_and_activates_hosts(db, capsys):
    call_command("docker_hosts", "add", "salle-b", "--engine", "tcp://10.0.0.2:2376", "--capacity", "30")
    assert "added salle-b" in capsys.readouterr().out
    call_command("docker_hosts", "drain", "salle-b")
    call_command("docker_hosts", "list")
    out = capsys.readouterr().out
    assert "salle-b: draining, 0/30 sandboxes, engine tcp://10.0.0.2:2376, heartbeat never" in out and "local: active" in out
    call_command("docker_hosts", "workers", "salle-b")
    out = capsys.readouterr().out
    assert "-Q grade.salle-b" in out and "-Q provision.salle-b" in out and "-Q housekeeping.salle-b" in out and "--host salle-b" in out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="a host's name is letters"):
        call_command("docker_hosts", "add", "salle.b", "--engine", "unix:///x.sock")
    with pytest.raises(CommandError, match="not a Docker engine URL"):
        call_command("docker_hosts", "add", "c", "--engine", "10.0.0.3")


def tls_folder(root, *, without=()):
    root.mkdir()
    for name in docker_engine.TLS_FILES:
        if name not in without:
            (root / name).write_text(f"a {name}")
    return root


def test_a_tcp_host_s_tls_folder_is_checked_by_the_command_and_its_engine_speaks_tls_with_it(db, capsys, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"--tls-dir: .*/half/key.pem is missing"):
        call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://127.0.0.1:2376", "--tls-dir", str(tls_folder(tmp_path / "half", without=["key.pem"])))
    with pytest.raises(CommandError, match="--tls-dir: .*/nowhere is not a folder"):
        call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://127.0.0.1:2376", "--tls-dir", str(tmp_path / "nowhere"))
    with pytest.raises(CommandError, match="--tls-dir is for an engine on tcp://"):
        call_command("docker_hosts", "add", "salle-c", "--engine", "unix:///run/c.sock", "--tls-dir", str(tls_folder(tmp_path / "unix")))
    assert not DockerHost.objects.filter(name="salle-c").exists()
    call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://127.0.0.1:2376", "--tls-dir", str(tls_folder(tmp_path / "full")))
    added = DockerHost.objects.get(name="salle-c")
    assert added.tls_dir == str((tmp_path / "full").resolve())
    call_command("docker_hosts", "list")
    assert f"engine tcp://127.0.0.1:2376 (TLS: {added.tls_dir})" in capsys.readouterr().out
    # Its engine (no request made here) speaks TLS with that folder's CA, certificate and key.
    spoken = hosts.engine_for(added)
    assert (spoken.base_url, spoken.tls_dir) == ("tcp://127.0.0.1:2376", added.tls_dir)
    config = spoken._tls()
    assert config.ca_cert == str(tmp_path / "full" / "ca.pem") and config.cert == (str(tmp_path / "full" / "cert.pem"), str(tmp_path / "full" / "key.pem"))
    assert config.verify is True
    # Without a folder, a tcp:// host is added with a warning that says what that means.
    call_command("docker_hosts", "add", "salle-d", "--engine", "tcp://127.0.0.1:2377")
    assert "without TLS: whoever reaches tcp://127.0.0.1:2377 is root on its machine" in capsys.readouterr().err
    assert hosts.engine_for(DockerHost.objects.get(name="salle-d"))._tls() is None


def test_adding_a_host_again_changes_only_the_options_given(db, capsys, tmp_path, settings):
    folder = str(tls_folder(tmp_path / "tls").resolve())
    call_command(
        "docker_hosts", "add", "salle-c", "--engine", "tcp://10.0.0.3:2376", "--tls-dir", folder, "--capacity", "30",
        "--network", "dd-c-sandboxes", "--bridge", "dd-c-sbx", "--registry-mirror", "http://dd-c-registry:5000",
    )
    capsys.readouterr()
    call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://10.0.0.4:2376")
    assert "updated salle-c: engine tcp://10.0.0.4:2376" in capsys.readouterr().out
    kept = DockerHost.objects.get(name="salle-c")
    assert (kept.engine_url, kept.tls_dir, kept.capacity, kept.network, kept.bridge, kept.registry_mirror) == (
        "tcp://10.0.0.4:2376", folder, 30, "dd-c-sandboxes", "dd-c-sbx", "http://dd-c-registry:5000",
    )
    call_command("docker_hosts", "add", "salle-c", "--bridge", "")  # back to SANDBOX_BRIDGE, the engine left as it is
    kept = DockerHost.objects.get(name="salle-c")
    assert (kept.engine_url, kept.bridge, kept.sandbox_bridge, kept.network) == ("tcp://10.0.0.4:2376", "", settings.SANDBOX_BRIDGE, "dd-c-sandboxes")
    call_command("docker_hosts", "add", "salle-c", "--capacity", "30")
    assert "salle-c is unchanged" in capsys.readouterr().out


def test_a_host_s_capacity_goes_back_to_the_setting_with_capacity_default(db, capsys, settings):
    call_command("docker_hosts", "add", "salle-b", "--engine", "unix:///run/b.sock", "--capacity", "30", "--network", "dd-b")
    call_command("docker_hosts", "add", "salle-b", "--capacity", "default")
    back = DockerHost.objects.get(name="salle-b")
    assert back.capacity is None and back.ceiling == settings.SANDBOX_MAX_PER_HOST and back.network == "dd-b"
    assert f"capacity default (SANDBOX_MAX_PER_HOST, {settings.SANDBOX_MAX_PER_HOST})" in capsys.readouterr().out


def test_moving_a_host_off_tcp_drops_its_tls_folder(db, capsys, tmp_path, settings):
    folder = str(tls_folder(tmp_path / "tls").resolve())
    call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://10.0.0.3:2376", "--tls-dir", folder, "--capacity", "30")
    call_command("docker_hosts", "add", "salle-c", "--engine", "unix:///run/docker.sock")
    moved = DockerHost.objects.get(name="salle-c")
    assert (moved.engine_url, moved.tls_dir, moved.capacity) == ("unix:///run/docker.sock", "", 30)
    assert f"its TLS folder {folder} is dropped" in capsys.readouterr().out
    # Back on tcp://, it speaks without TLS until it is given a folder again, and the command says so.
    call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://10.0.0.3:2376")
    assert "without TLS" in capsys.readouterr().err
    call_command("docker_hosts", "add", "salle-c", "--tls-dir", folder)
    assert DockerHost.objects.get(name="salle-c").tls_dir == folder
    call_command("docker_hosts", "add", "salle-c", "--tls-dir", "")
    assert DockerHost.objects.get(name="salle-c").tls_dir == ""
    # The default host's engine is DOCKER_HOST, its folder DOCKER_CERT_PATH: changing its capacity warns of nothing.
    settings.DOCKER_HOST, settings.DOCKER_CERT_PATH = "tcp://127.0.0.1:2376", folder
    capsys.readouterr()
    call_command("docker_hosts", "add", "local", "--capacity", "10")
    assert capsys.readouterr().err == "" and DockerHost.objects.get(name="local").capacity == 10


@pytest.mark.parametrize("arguments, message", [
    (["salle-b", "--capacity", "0"], r"--capacity: a host takes at least 1 sandbox, not 0 \(drain it to take none; 'default' is SANDBOX_MAX_PER_HOST\)"),
    (["salle-b", "--capacity", "lots"], r"--capacity: 'lots' is not a whole number of sandboxes, nor 'default'"),
    (["salle-new", "--capacity", "3"], r"salle-new is a new host: give its engine \(--engine"),
    (["salle-b", "--tls-dir", "/etc/drydock/salle-b"], r"--tls-dir is for an engine on tcp://, not 'unix:///run/b.sock'"),
    (["salle-b", "--engine", "http://10.0.0.2:2375"], r"'http://10.0.0.2:2375' is not a Docker engine URL"),
    (["salle-b", "--bridge", "a-bridge-name-too-long"], r"--bridge 'a-bridge-name-too-long': a Linux interface name has at most 15 characters"),
    (["salle-b", "--registry-mirror", "dd-registry:5000"], r"--registry-mirror 'dd-registry:5000': the registry's URL, http://name:port"),
    (["local", "--tls-dir", "/etc/drydock/local"], r"local's engine is DOCKER_HOST: its TLS folder is DOCKER_CERT_PATH"),
])
def test_the_command_refuses_bad_values_in_words_and_changes_nothing(db, arguments, message):
    from django.core.management.base import CommandError

    call_command("docker_hosts", "add", "salle-b", "--engine", "unix:///run/b.sock", "--capacity", "5", stdout=open("/dev/null", "w"))
    before = list(DockerHost.objects.order_by("name").values())
    with pytest.raises(CommandError, match=message):
        call_command("docker_hosts", "add", *arguments)
    assert list(DockerHost.objects.order_by("name").values()) == before


def test_the_workers_of_a_tls_host_are_told_where_their_tls_folder_must_be(db, capsys, tmp_path):
    folder = str(tls_folder(tmp_path / "tls").resolve())
    call_command("docker_hosts", "add", "salle-c", "--engine", "tcp://10.0.0.3:2376", "--tls-dir", folder)
    call_command("docker_hosts", "add", "salle-b", "--engine", "unix:///run/docker.sock")
    capsys.readouterr()
    call_command("docker_hosts", "workers", "salle-c")
    out = capsys.readouterr().out
    assert "-Q grade.salle-c" in out
    assert f"# its workers speak TLS to tcp://10.0.0.3:2376: ca.pem, cert.pem and key.pem must be in {folder} on their machine" in out
    call_command("docker_hosts", "workers", "salle-b")
    assert "TLS" not in capsys.readouterr().out


def test_health_reports_each_host_and_fails_when_none_is_active(db):
    from drydock import health

    host("b", capacity=3, state=State.DRAINING)
    assert health._hosts() == "b: draining, 0/3 sandboxes; local: active, 0/400 sandboxes"
    DockerHost.objects.filter(name="local").update(state=State.DOWN)
    with pytest.raises(RuntimeError, match="no Docker host is active: b draining; local down"):
        health._hosts()


def test_a_slow_isolation_check_never_keeps_a_host_s_heartbeat_from_being_written(engines, lab, two_hosts, monkeypatch):
    # The check runs a dozen commands as root: cut by the task's time limit, the heartbeat is already recorded,
    # and the next beats do not start the same check again before ISOLATION_EVERY_SECONDS.
    class TimeLimit(Exception):
        pass

    checks = []

    def cut(host, *, engine):
        checks.append(host.name)
        raise TimeLimit

    monkeypatch.setattr(hosts, "isolation_problems", cut)
    now = timezone.now()
    with pytest.raises(TimeLimit):
        hosts.beat("a", now=now)
    assert DockerHost.objects.get(name="a").last_heartbeat == now
    assert hosts.beat("a", now=now + timedelta(seconds=5)).last_heartbeat == now + timedelta(seconds=5)
    assert checks == ["a"]


def test_a_host_whose_isolation_check_did_not_finish_is_not_shown_as_isolated(engines, lab, two_hosts, monkeypatch):
    # Its last good report must not stand for a check that was cut: health names the cut check.
    from drydock import health

    now = timezone.now()
    hosts.beat("a", now=now)
    assert DockerHost.objects.get(name="a").isolation_problems == []

    class TimeLimit(Exception):
        pass

    def cut(host, *, engine):
        raise TimeLimit("cut after 25 s")

    monkeypatch.setattr(hosts, "isolation_problems", cut)
    with pytest.raises(TimeLimit):
        hosts.beat("a", now=now + timedelta(seconds=hosts.ISOLATION_EVERY_SECONDS))
    assert DockerHost.objects.get(name="a").isolation_problems == ["the isolation check did not finish: TimeLimit: cut after 25 s"]
    with pytest.raises(RuntimeError) as failed:
        health._isolation()
    assert "a: the isolation check did not finish: TimeLimit: cut after 25 s" in str(failed.value)


def test_a_host_is_not_shown_as_isolated_while_its_first_check_runs_nor_long_after_its_last_report(engines, lab, two_hosts, monkeypatch):
    from drydock import health

    seen_meanwhile = []

    def slow(host, *, engine):
        # What /healthz says while the check runs: it began (claimed), but nothing is reported yet.
        try:
            health._isolation()
        except RuntimeError as exc:
            seen_meanwhile.append(str(exc))
        return []

    monkeypatch.setattr(hosts, "isolation_problems", slow)
    hosts.beat("a")
    assert "a: no isolation report yet" in seen_meanwhile[0]
    hosts.beat("b")
    assert "a: isolated (checked by its worker" in health._isolation()
    # Its worker stuck since: three periods later its report no longer vouches for it.
    DockerHost.objects.filter(name="a").update(
        isolation_reported_at=timezone.now() - timedelta(seconds=health.ISOLATION_REPORT_STALE_SECONDS + 5))
    with pytest.raises(RuntimeError) as failed:
        health._isolation()
    assert "a: its last isolation report is" in str(failed.value)
    assert f"s old (its worker sends one every {hosts.ISOLATION_EVERY_SECONDS} s)" in str(failed.value)
