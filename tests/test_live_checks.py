"""Live checks on plain data: which daemon events can change a verdict, coalescing, the peer check of the event
stream, the stream's bounds, and what a burst records and passes (on the in-memory engine)."""

import asyncio
import json
import os
import socket
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from courses.models import Chapter, Course
from grader import events
from grader.fake_engine import FakeEngine
from grader.snapshot import Container, HttpAnswer, Image, Port, Snapshot
from labs import live, queue, sandboxes
from labs.models import Lab, LabTask, Sandbox, SandboxEvent, Submission
from labs.watcher import SandboxWatch

PULL = {"status": "pull", "id": "nginx:1.22", "Type": "image", "Action": "pull", "Actor": {"ID": "nginx:1.22", "Attributes": {"name": "nginx"}},
        "scope": "local", "time": 1764640000, "timeNano": 1764640000123456789}
START = {"status": "start", "id": "c0ffee" * 10, "from": "nginx:1.22", "Type": "container", "Action": "start",
         "Actor": {"ID": "c0ffee" * 10, "Attributes": {"image": "nginx:1.22", "name": "web"}}, "time": 1764640001, "timeNano": 1764640001000000000}
EXEC = {"Type": "container", "Action": "exec_start: sh -c ls", "Actor": {"ID": "c0ffee" * 10, "Attributes": {"image": "nginx:1.22", "name": "web"}},
        "time": 1764640002, "timeNano": 1764640002000000000}
TAG = {"Type": "image", "Action": "tag", "Actor": {"ID": "sha256:" + "ab" * 32, "Attributes": {"name": "monsite:1.0"}}, "time": 1764640003}


# --- Events and decisions ---------------------------------------------------------------------------


def test_a_pull_a_start_and_a_tag_read_as_what_the_learner_did():
    assert events.parse_event(PULL) == events.DaemonEvent("image", "pull", "nginx:1.22", "nginx", 1764640000123456789)
    assert events.parse_event(START) == events.DaemonEvent("container", "start", "web", "nginx:1.22", 1764640001000000000)
    tag = events.parse_event(TAG)
    assert (tag.object, tag.detail, tag.time_ns) == ("monsite:1.0", "ab" * 6, 1764640003 * 10**9)


def test_a_pull_or_a_start_can_change_a_verdict_an_exec_cannot():
    assert events.can_change_verdict(events.parse_event(PULL))
    assert events.can_change_verdict(events.parse_event(START))
    assert not events.can_change_verdict(events.parse_event(EXEC))
    assert events.parse_event(EXEC).action == "exec_start"
    assert not events.can_change_verdict(events.DaemonEvent("daemon", "reload", "", "", 0))


@pytest.mark.parametrize("shape", [None, [], "pull", {"Type": "image"}, {"Type": 1, "Action": "pull", "Actor": {}}, {**PULL, "timeNano": "x"}])
def test_what_is_not_an_event_is_none(shape):
    assert events.parse_event(shape) is None


def run_burst(coalescer, times, *, run_seconds):
    """Simulate the watcher's loop: events at `times`; each run takes `run_seconds`. Return the run start times."""
    pending = sorted(times)
    scheduled = None
    running_until = None
    runs = []
    clock = 0.0
    while pending or scheduled is not None or running_until is not None:
        candidates = [t for t in (pending[0] if pending else None, scheduled, running_until) if t is not None]
        clock = min(candidates)
        if running_until is not None and clock == running_until:
            running_until = None
            scheduled = coalescer.finished(clock) if scheduled is None else scheduled
        elif scheduled is not None and clock == scheduled:
            scheduled = None
            coalescer.started(clock)
            runs.append(clock)
            running_until = clock + run_seconds
        else:
            pending.pop(0)
            at = coalescer.event(clock)
            if at is not None:
                scheduled = at
    return runs


def test_a_hundred_events_in_a_burst_are_a_bounded_number_of_regrades():
    runs = run_burst(events.Coalescer(window=0.3, settle=0.05), [i * 0.002 for i in range(100)], run_seconds=0.02)
    assert 1 <= len(runs) <= 2
    assert runs[0] == pytest.approx(0.05)


def test_regrades_are_at_least_a_window_apart_and_the_last_event_is_always_graded():
    times = [i * 0.05 for i in range(60)]  # 3 s of steady events
    runs = run_burst(events.Coalescer(window=0.3, settle=0.05), times, run_seconds=0.1)
    assert all(b - a >= 0.3 - 1e-9 for a, b in zip(runs, runs[1:]))
    assert len(runs) <= 3 / 0.3 + 2
    assert runs[-1] >= times[-1]


def test_an_event_during_a_run_asks_for_exactly_one_more():
    coalescer = events.Coalescer(window=0.3, settle=0.05)
    assert coalescer.event(0.0) == pytest.approx(0.05)
    assert coalescer.event(0.01) is None
    coalescer.started(0.05)
    assert coalescer.event(0.06) is None and coalescer.event(0.07) is None
    assert coalescer.finished(0.1) == pytest.approx(0.35)
    coalescer.started(0.35)
    assert coalescer.finished(0.4) is None


def test_a_failed_http_probe_after_a_start_asks_for_one_more_regrade_and_nothing_else_does():
    start, pull, exec_ = events.parse_event(START), events.parse_event(PULL), events.parse_event(EXEC)
    assert events.probe_again([start], probing_failed=True)
    assert events.probe_again([pull, start], probing_failed=True)
    # Nothing failed, or nothing happened (a reconnection's re-grade, the follow-up itself), or only an exec: no follow-up.
    assert not events.probe_again([start], probing_failed=False)
    assert not events.probe_again([], probing_failed=True)
    assert not events.probe_again([exec_], probing_failed=True)


def test_a_follow_up_is_one_at_a_time_and_coalesced_like_an_event():
    coalescer = events.Coalescer(window=0.3, settle=0.05)
    assert coalescer.event(0.0) == pytest.approx(0.05)
    coalescer.started(0.05)
    assert coalescer.finished(0.1) is None
    # The run asked for a follow-up 1.5 s later; a second ask meanwhile adds none.
    assert coalescer.follow_up(0.1, 1.5) == pytest.approx(1.6)
    assert coalescer.follow_up(0.2, 1.5) is None
    # Its time comes: it is run like an event's re-grade (after the settle), and another may be asked after it.
    assert coalescer.follow_up_due(1.6) == pytest.approx(1.65)
    assert coalescer.follow_up(1.7, 1.5) == pytest.approx(3.2)


def test_a_follow_up_due_while_a_run_is_scheduled_or_under_way_adds_no_run_of_its_own():
    coalescer = events.Coalescer(window=0.3, settle=0.05)
    coalescer.follow_up(0.0, 1.5)
    assert coalescer.event(1.48) == pytest.approx(1.53)
    assert coalescer.follow_up_due(1.5) is None  # the run due at 1.53 is the follow-up
    coalescer.started(1.53)
    coalescer.follow_up(1.55, 0.01)
    assert coalescer.follow_up_due(1.56) is None  # under way: exactly one more after it
    assert coalescer.finished(1.6) == pytest.approx(1.83)


def test_the_watch_runs_the_follow_up_once_with_no_new_event(monkeypatch):
    monkeypatch.setattr(events, "PROBE_AGAIN_SECONDS", 0.05)
    graded = []

    class Grades:
        def __init__(self):
            self.regrades = 0

        async def in_thread(self, function, *args):
            return function(*args)

        def grade(self, sandbox_id, batch, force):
            graded.append(([e.action for e, _ in batch], force))
            # The first (a start, a failed probe) asks for a follow-up; the follow-up itself never does.
            return live.Burst(user_id=1, lab_id=1, graded=True, probe_again=bool(batch))

        async def push(self, burst):
            pass

    async def scenario():
        watch = SandboxWatch.__new__(SandboxWatch)
        watch.watcher, watch.sandbox_id, watch.closed, watch.force, watch.pending = Grades(), 1, False, False, []
        watch.coalescer = events.Coalescer(window=0.01, settle=0.0)
        loop = asyncio.get_running_loop()
        watch.pending.append((events.parse_event(START), True))
        watch._poke(loop)
        await asyncio.sleep(0.4)

    asyncio.run(scenario())
    assert graded == [(["start"], False), ([], True)]


def test_the_rate_budget_keeps_a_burst_then_the_rate():
    now = [0.0]
    budget = events.RateBudget(rate=10, burst=5, clock=lambda: now[0])
    assert [budget.take() for _ in range(7)] == [True] * 5 + [False] * 2
    now[0] = 0.5
    assert sum(budget.take() for _ in range(10)) == 5


# --- The peer check and the stream's bounds ------------------------------------------------------------


OWN_NAMESPACE = os.readlink("/proc/self/ns/pid")


class FakeDaemon:
    """A unix socket in this process answering /events with `body` (chunked, as Docker does)."""

    def __init__(self, path, chunks, *, status="200 OK"):
        self.path, self.chunks, self.status = str(path), chunks, status
        self.requests = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                try:
                    self.requests.append(conn.recv(4096))
                    conn.sendall(f"HTTP/1.1 {self.status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
                    for chunk in self.chunks:
                        conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    conn.sendall(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up, as a refused peer's does

    def close(self):
        self.server.close()


async def read_all(path, namespace, **kwargs):
    seen = []
    with pytest.raises(events.StreamLost) as ended:
        async for event, kept in events.stream(str(path), pid_namespace=namespace, **kwargs):
            seen.append((event, kept))
    return seen, ended.value


def test_the_stream_reads_docker_events_from_the_sandbox_daemon(tmp_path):
    daemon = FakeDaemon(tmp_path / "docker.sock", [json.dumps(PULL).encode() + b"\n", json.dumps(START).encode() + b"\n" + json.dumps(EXEC).encode()[:20], json.dumps(EXEC).encode()[20:] + b"\n"])
    opened = []

    async def on_open():
        opened.append(True)

    seen, ended = asyncio.run(read_all(tmp_path / "docker.sock", OWN_NAMESPACE, since=1764640000.5, on_open=on_open))
    daemon.close()
    assert [e.action for e, _ in seen] == ["pull", "start", "exec_start"] and opened == [True]
    assert "closed" in str(ended)
    assert daemon.requests[0].startswith(b"GET /v1.41/events?since=1764640000.500000000 HTTP/1.1\r\n")


def test_a_socket_whose_peer_is_not_the_sandboxs_daemon_is_refused_before_a_byte_is_sent(tmp_path):
    daemon = FakeDaemon(tmp_path / "docker.sock", [json.dumps(PULL).encode() + b"\n"])
    # The process answering is this one: not in the sandbox's pid namespace.
    with pytest.raises(events.StreamRefused):
        asyncio.run(read_all(tmp_path / "docker.sock", "pid:[4026531836-not-this-one]"))
    daemon.close()
    assert daemon.requests == [] or daemon.requests == [b""]


def test_a_symlink_or_a_file_at_the_socket_path_is_refused(tmp_path):
    daemon = FakeDaemon(tmp_path / "real.sock", [])
    (tmp_path / "link.sock").symlink_to(tmp_path / "real.sock")
    (tmp_path / "file.sock").write_text("")
    for path in ("link.sock", "file.sock"):
        with pytest.raises(events.StreamRefused):
            asyncio.run(read_all(tmp_path / path, OWN_NAMESPACE))
    daemon.close()


def test_an_endless_line_a_refusal_or_garbage_ends_the_stream(tmp_path):
    cases = {
        "long": ([b"{" + b"x" * (events.LINE_LIMIT + 10)], "200 OK"),
        "refused": ([], "404 Not Found"),
        "garbage": ([b"not json\n"], "200 OK"),
        "shape": ([b'{"hello": 1}\n'], "200 OK"),
    }
    for name, (chunks, status) in cases.items():
        daemon = FakeDaemon(tmp_path / f"{name}.sock", chunks, status=status)
        seen, _ended = asyncio.run(read_all(tmp_path / f"{name}.sock", OWN_NAMESPACE))
        daemon.close()
        assert seen == [], name


def test_events_past_the_rate_are_not_kept_but_still_seen(tmp_path):
    daemon = FakeDaemon(tmp_path / "docker.sock", [b"".join(json.dumps(PULL).encode() + b"\n" for _ in range(30))])
    seen, _ = asyncio.run(read_all(tmp_path / "docker.sock", OWN_NAMESPACE, budget=events.RateBudget(rate=0.001, burst=10)))
    daemon.close()
    assert len(seen) == 30 and sum(kept for _, kept in seen) == 10


# --- What a burst records and passes ----------------------------------------------------------------


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(course=course, chapter=chapter, slug="tirer", title="Tirer", minutes=5, position=1,
                             source_path="labs/tirer.yaml", instructions_markdown="", instructions_html="")
    LabTask.objects.create(lab=lab, slug="tirer-nginx", title="Tirer nginx", position=1, prompt_html="", check_name="image_present", check_params={"image": "nginx:1.22"})
    LabTask.objects.create(lab=lab, slug="tirer-redis", title="Tirer redis", position=2, prompt_html="", check_name="image_present", check_params={"image": "redis:7.0"})
    LabTask.objects.create(lab=lab, slug="son-id", title="Son identifiant", position=3, prompt_html="", check_name="answer_image_id",
                           check_params={"image": "nginx:1.22"}, answer_label="IMAGE ID")
    return lab


@pytest.fixture
def ready(db, lab, monkeypatch):
    monkeypatch.setattr(queue, "after_commit", lambda *args, **kwargs: None)
    fake = FakeEngine()
    user = User.objects.create_user("lea")
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=user, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Sandbox.Status.READY
    return fake, user, sandbox


def nginx_pulled(fake, sandbox):
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=(Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",), digests=("nginx@sha256:" + "d" * 64,)),))


def pull_event(ref="nginx:1.22", offset=0):
    return events.parse_event({**PULL, "id": ref, "Actor": {"ID": ref, "Attributes": {}}, "timeNano": int((timezone.now().timestamp() + offset) * 1e9)})


def test_a_pull_passes_the_open_task_automatically_and_it_stays_passed(ready):
    fake, user, sandbox = ready
    nginx_pulled(fake, sandbox)
    burst = live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event(), True)])
    assert [s.task.slug for s in burst.passed] == ["tirer-nginx"] and burst.passed[0].automatic
    assert burst.message()["passed"][0]["task"] == "tirer-nginx"
    assert [line["text"] for line in burst.lines] == ["a tiré nginx:1.22", "tâche 1 réussie (Tirer nginx)"]
    # Passed stays passed: the image removed, nothing is graded again for that task.
    fake.sandboxes[sandbox.container_name].state = Snapshot()
    again = live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("redis:6"), True)])
    assert again.passed == [] and Submission.objects.filter(task__slug="tirer-nginx", status="passed").count() == 1


def test_a_start_after_which_an_http_probe_fails_asks_for_a_follow_up_and_the_follow_up_passes_it(ready):
    fake, user, sandbox = ready
    LabTask.objects.create(lab=sandbox.lab, slug="servir", title="Servir", position=4, prompt_html="", check_name="port_answers",
                           check_params={"name": "web", "container_port": 80, "host_port": 8080})
    web = Container(id="c0ffee" * 10, name="web", image="nginx:1.22", image_id="sha256:" + "a" * 64, status="running",
                    ports=(Port(80, host_port=8080),))
    fake.sandboxes[sandbox.container_name].state = Snapshot(containers=(web,))
    started = live.record_and_regrade(sandbox.pk, engine=fake, events=[(events.parse_event(START), True)])
    assert started.graded and started.passed == [] and started.probe_again
    # A second later the server listens: the follow-up (forced, no event) passes it and asks for nothing more.
    fake.sandboxes[sandbox.container_name].state = Snapshot(containers=(web,), http={(8080, "/"): HttpAnswer(status=200, body="ok")})
    follow_up = live.record_and_regrade(sandbox.pk, engine=fake, force=True)
    assert [s.task.slug for s in follow_up.passed] == ["servir"] and not follow_up.probe_again
    # Without a task that probes a port, nothing is asked for.
    assert not live.record_and_regrade(sandbox.pk, engine=fake, events=[(events.parse_event(START), True)]).probe_again


def test_a_task_with_an_answer_is_left_to_the_check_button(ready):
    fake, user, sandbox = ready
    nginx_pulled(fake, sandbox)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event(), True)])
    assert not Submission.objects.filter(task__slug="son-id").exists()


def test_a_wrong_action_passes_nothing_and_quiet_events_grade_nothing(ready):
    fake, user, sandbox = ready
    wrong = live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("nginx:latest"), True)])
    assert wrong.graded and wrong.passed == []
    nginx_pulled(fake, sandbox)
    quiet = live.record_and_regrade(sandbox.pk, engine=fake, events=[(events.parse_event(EXEC), True)])
    assert not quiet.graded and quiet.passed == []
    # A (re)connection forces one re-grade even with no event.
    assert [s.task.slug for s in live.record_and_regrade(sandbox.pk, engine=fake, force=True).passed] == ["tirer-nginx"]


def test_a_stopped_sandbox_is_neither_recorded_nor_graded(ready):
    fake, user, sandbox = ready
    nginx_pulled(fake, sandbox)
    sandboxes.stop(sandbox)
    assert live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event(), True)], force=True).passed == []
    assert not SandboxEvent.objects.exists() and sandbox.pk not in live.watched_sandboxes()


def test_the_timeline_is_bounded_per_sandbox_and_pruned_after_retention(ready, settings):
    fake, user, sandbox = ready
    settings.LIVE_EVENTS_PER_SANDBOX = 10
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event(f"img:{i}", offset=i / 1000), True) for i in range(25)])
    kept = list(SandboxEvent.objects.filter(sandbox=sandbox).values_list("object", flat=True))
    assert kept == [f"img:{i}" for i in range(15, 25)]
    settings.LIVE_EVENTS_RETENTION_DAYS = 1
    assert live.prune_old(now=timezone.now() + timedelta(days=2)) == 10


def test_the_timeline_shows_actions_failed_checks_and_passes_in_order(ready):
    fake, user, sandbox = ready
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("nginx:latest", offset=-5), True)])
    Submission.objects.create(sandbox=sandbox, task=LabTask.objects.get(slug="tirer-nginx"), user=user, status="failed",
                              message="L'image nginx:1.22 n'est pas sur le démon.", graded_at=timezone.now() - timedelta(seconds=3))
    nginx_pulled(fake, sandbox)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("nginx:1.22", offset=-1), True)])
    texts = [entry["text"] for entry in live.timeline(user, sandbox.lab)]
    assert texts == [
        "a tiré nginx:latest", "vérification de la tâche 1 échouée : L'image nginx:1.22 n'est pas sur le démon.",
        "a tiré nginx:1.22", "tâche 1 réussie (Tirer nginx)",
    ]


def test_a_resumed_watch_asks_for_events_after_the_last_one_recorded(ready):
    fake, user, sandbox = ready
    assert live.resume_from(sandbox.pk, sandbox.ready_at) == pytest.approx(sandbox.ready_at.timestamp())
    event = pull_event(offset=2)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(event, True)])
    assert live.resume_from(sandbox.pk, sandbox.ready_at) == pytest.approx(event.time_ns / 1e9, abs=1e-5)


# --- What instructors see of it ------------------------------------------------------------------------


def test_instructors_see_the_timeline_and_the_wrong_actions_before_a_pass(ready, client):
    from django.urls import reverse

    from classrooms import live_statistics, statistics
    from classrooms.models import Classroom, Membership
    from tests.classrooms_fixtures import make_instructor

    fake, user, sandbox = ready
    ines = make_instructor("ines")
    classroom = Classroom.objects.create(course=sandbox.lab.course, owner=ines, title="Classe A")
    Membership.objects.create(classroom=classroom, user=user)
    Sandbox.objects.filter(pk=sandbox.pk).update(ready_at=timezone.now() - timedelta(seconds=10))
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("nginx:latest", offset=-3), True)])
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(events.parse_event(EXEC), True)])
    nginx_pulled(fake, sandbox)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[(pull_event("nginx:1.22", offset=-1), True)])

    stats = live_statistics.attach(statistics.lab_statistics(classroom), classroom)
    first = stats[0][1][0]
    assert first.task.slug == "tirer-nginx" and first.wrong_actions == [("a tiré nginx:latest", 1)]
    assert first.median_ready_seconds is not None and first.median_ready_seconds >= 0

    client.force_login(ines)
    page = client.get(reverse("classrooms:learner", args=[classroom.pk, user.pk])).text
    assert "Dans le bac à sable de « Tirer »" in page
    assert page.index("a tiré nginx:latest") < page.index("a tiré nginx:1.22") < page.index("tâche 1 réussie (Tirer nginx)")
    stats_page = client.get(reverse("classrooms:lab_statistics", args=[classroom.pk])).text
    assert "Fausses pistes avant la réussite" in stats_page and "1 ×</strong> a tiré nginx:latest" in stats_page
