"""One contract for both Docker engines: the in-memory fake always, the real one in the integration run.

Each test runs twice, on a harness that knows how to make its engine fail:
the fake is told to, the real one is made to with the docker CLI (an observer
independent of the engine under test). Workflows are unit-tested on the
fake; this module is what makes that worth something.
"""

import os
import shlex
import subprocess
from dataclasses import replace
from itertools import count
from pathlib import Path

import pytest
from django.conf import settings

from grader import engine
from grader.fake_engine import FakeEngine
from grader.preview import PublishedPort, preview_url
from grader.snapshot import BUILDKIT_STEP, BuildRecord, Container, HistoryEntry, HttpAnswer, Image, Port, Volume, http_probe_url
from labs.models import Lab, Sandbox
from labs.packs import archive_folder
from labs.sandboxes import spec_for

READY_TIMEOUT = 30
BUILT_DOCKERFILE = 'FROM busybox:1.35\nWORKDIR /srv\nRUN echo hi > /hi\nLABEL cours=drydock\nCMD ["cat", "/hi"]\n'
_numbers = count(1)


class Harness:
    def __init__(self):
        self.names = []

    def spec(self):
        """What the platform would start for a sandbox row (never saved: the engine needs no database)."""
        row = Sandbox(pk=900_000 + next(_numbers), owner_id=0, lab=Lab(slug="contract"))
        self.names.append(row.container_name)
        return spec_for(row)


class FakeHarness(Harness):
    def __init__(self, tmp_path):
        super().__init__()
        self.engine = FakeEngine()

    def silent_engine(self):
        silent = FakeEngine()
        silent.answering = False
        return silent

    def command(self, *, exit_code, output):
        command = f"finish {exit_code}"
        self.engine.fail_command(command, exit_code=exit_code, output=output)
        return command

    def file_in(self, name, path):
        return self.engine.sandboxes[name].files.get(path)

    def write_volume_file(self, name, volume, path, text):
        sandbox = self.engine.sandboxes[name]
        state = sandbox.state
        sandbox.state = replace(state, volumes=state.volumes + (Volume(volume),), files={**state.files, (volume, path): text})

    def silence_daemon(self, spec):
        self.engine.sandboxes[spec.name].daemon_answers = False
        return spec.socket_dir

    def build(self, name, tag):
        """What a nested Docker 26 holds after BUILT_DOCKERFILE was built: the image, its base's steps first, and BuildKit's records."""
        sandbox = self.engine.sandboxes[name]
        base = (HistoryEntry(created=1, created_by="/bin/sh -c #(nop) COPY dir:0 in / ", size=1_982_357),
                HistoryEntry(created=2, created_by='/bin/sh -c #(nop)  CMD ["sh"]', empty_layer=True))
        image = Image(
            id="sha256:" + "b1" * 32, tags=(tag,), layers=("sha256:" + "01" * 32, "sha256:" + "02" * 32, "sha256:" + "03" * 32), created="3", size=1_982_360,
            cmd=("cat", "/hi"), working_dir="/srv", labels={"cours": "drydock"},
            history=base + (HistoryEntry(created=3, created_by="WORKDIR /srv", comment=BUILDKIT_STEP),
                            HistoryEntry(created=3, created_by="RUN /bin/sh -c echo hi > /hi # buildkit", comment=BUILDKIT_STEP, size=3),
                            HistoryEntry(created=3, created_by="LABEL cours=drydock", comment=BUILDKIT_STEP, empty_layer=True),
                            HistoryEntry(created=3, created_by='CMD ["cat" "/hi"]', comment=BUILDKIT_STEP, empty_layer=True)),
        )
        records = (BuildRecord(id="r1", description="mount / from exec /bin/sh -c echo hi > /hi", created=3, last_used=3, usage_count=1),)
        sandbox.state = replace(sandbox.state, images=sandbox.state.images + (image,), build_cache=sandbox.state.build_cache + records)

    def live_a_life(self, name):
        sandbox = self.engine.sandboxes[name]
        common = {"image": "busybox:1.35", "image_id": "sha256:" + "0f" * 32, "started_at": "2026-12-01T10:00:05.2Z"}
        sandbox.state = replace(sandbox.state, containers=(
            Container(id="1" * 64, name="veilleur", status="running", finished_at="2026-12-01T10:00:04.9Z", restart_policy="unless-stopped",
                      health="healthy", command=("sleep", "300"), **common),
            Container(id="2" * 64, name="fragile", status="exited", exit_code=3, finished_at="2026-12-01T10:00:06Z", restart_policy="on-failure",
                      restart_max_retries=2, restart_count=2, command=("sh", "-c", "exit 3"), **common),
        ))

    def serve_http(self, name, port, text):
        sandbox = self.engine.sandboxes[name]
        web = Container(id=f"{port:064d}", name=f"web{port}", image="busybox:1.35", image_id="sha256:" + "0f" * 32, status="running",
                        ports=(Port(container_port=8000, host_port=port),))
        sandbox.state = replace(sandbox.state, containers=sandbox.state.containers + (web,),
                                http={**sandbox.state.http, (port, "/"): HttpAnswer(200, text)})

    def lose_image(self, image):
        self.engine.missing_images.add(image)

    def vanish(self, name):
        self.engine.vanish(name)

    def crash(self, name):
        self.engine.crash(name)

    def daemon_runs(self, name):
        return self.engine.sandboxes[name].daemon_running

    def clean_up(self):
        pass


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, check=check, timeout=120)


class RealHarness(Harness):
    def __init__(self, tmp_path):
        super().__init__()
        self.engine = engine.DockerEngine(settings.DOCKER_HOST)
        self.tmp_path = tmp_path

    def silent_engine(self):
        return engine.DockerEngine(base_url=f"unix://{self.tmp_path}/nobody-listens.sock")

    def command(self, *, exit_code, output):
        return f"printf %s {shlex.quote(output)}; exit {exit_code}"

    def file_in(self, name, path):
        read = docker("exec", name, "cat", path, check=False)
        return read.stdout if read.returncode == 0 else None

    def write_volume_file(self, name, volume, path, text):
        script = f"docker volume create {volume} >/dev/null && printf %s {shlex.quote(text)} > /var/lib/docker/volumes/{volume}/_data/{path}"
        docker("exec", name, "sh", "-c", script)

    def build(self, name, tag):
        script = f"printf '%s' {shlex.quote(BUILT_DOCKERFILE)} | docker build -q -t {tag} - >/dev/null && docker pull -q busybox:1.35 >/dev/null"
        built = docker("exec", name, "sh", "-c", script, check=False)
        assert built.returncode == 0, built.stdout + built.stderr

    def live_a_life(self, name):
        """veilleur: a restart policy and a healthcheck, stopped then started; fragile: exits 3, restarted twice by its policy."""
        script = """
        set -e
        docker run -d --name veilleur --restart unless-stopped --health-cmd true --health-interval 1s busybox:1.35 sleep 300 >/dev/null
        docker stop -t 0 veilleur >/dev/null && docker start veilleur >/dev/null
        docker run -d --name fragile --restart on-failure:2 busybox:1.35 sh -c 'exit 3' >/dev/null
        for i in $(seq 100); do
            [ "$(docker inspect -f '{{.State.Health.Status}}' veilleur) $(docker inspect -f '{{.RestartCount}} {{.State.Status}}' fragile)" = "healthy 2 exited" ] && exit 0
            sleep 0.2
        done
        exit 1
        """
        docker("exec", name, "sh", "-c", script)

    def serve_http(self, name, port, text):
        """A nested container publishing `port`, whose web server answers `text` at /."""
        script = (
            f"docker run -d -p {port}:8000 -e TEXT={shlex.quote(text)} busybox:1.35 sh -c 'mkdir /www && echo \"$TEXT\" > /www/index.html && httpd -f -p 8000 -h /www'"
            f" >/dev/null && for i in $(seq 50); do curl -sf localhost:{port}/ >/dev/null && exit 0; sleep 0.1; done; exit 1"
        )
        docker("exec", name, "sh", "-c", script)

    def silence_daemon(self, spec):
        # The daemon answers on spec.socket_dir; a folder it never writes to is a daemon that never answers.
        silent = self.tmp_path / "silent"
        silent.mkdir()
        return str(silent)

    def lose_image(self, image):
        pass  # nobody ever built it

    def vanish(self, name):
        docker("rm", "--force", "--volumes", name)

    def crash(self, name):
        docker("kill", name)

    def daemon_runs(self, name):
        """Whether a dockerd runs in the sandbox, as its processes say (not its marks)."""
        return docker("exec", name, "pgrep", "-x", "dockerd", check=False).returncode == 0

    def clean_up(self):
        for name in self.names:
            # The engine unmounts the sandbox's disk before it removes the folder.
            self.engine.remove_sandbox(name, str(settings.SANDBOX_SOCKET_ROOT / name))


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def harness(request, tmp_path):
    made = {"fake": FakeHarness, "real": RealHarness}[request.param](tmp_path)
    yield made
    made.clean_up()


@pytest.fixture
def started(harness):
    """A sandbox whose daemon answers."""
    spec = harness.spec()
    harness.engine.start_sandbox(spec)
    harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT)
    return spec


def listed(harness, deployment=None):
    return {c.name: c for c in harness.engine.labelled_sandboxes(deployment or settings.SANDBOX_NAME_PREFIX)}


def test_the_engine_implements_the_interface_and_tells_its_version(harness):
    assert isinstance(harness.engine, engine.Engine)
    info = harness.engine.engine_info()
    assert info.version and info.api_version and info.containers_running >= 0


def test_a_started_sandbox_runs_with_its_labels_and_its_daemon_answers(harness):
    spec = harness.spec()
    assert harness.engine.start_sandbox(spec)
    assert 0 <= harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT) < READY_TIMEOUT
    assert harness.engine.sandbox_running(spec.name)
    container = listed(harness)[spec.name]
    assert container.status == "running" and spec.labels.items() <= container.labels.items()
    assert spec.name not in listed(harness, deployment="another-deployment")


def test_a_started_sandbox_is_settled_once_and_a_gone_one_says_so(harness):
    spec = harness.spec()
    harness.engine.start_sandbox(spec)
    harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT)
    harness.engine.settle_sandbox(spec.name)
    assert harness.engine.sandbox_running(spec.name)
    harness.engine.remove_sandbox(spec.name, spec.socket_dir)
    with pytest.raises(engine.SandboxGone):
        harness.engine.settle_sandbox(spec.name)


def test_a_sandbox_whose_daemon_starts_on_demand_is_ready_with_none_and_the_grader_s_first_look_starts_it(harness):
    spec = replace(harness.spec(), daemon_on_demand=True)
    harness.engine.start_sandbox(spec)
    assert 0 <= harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT, on_demand=True) < READY_TIMEOUT
    assert not harness.engine.daemon_started(spec.name, spec.socket_dir) and not harness.daemon_runs(spec.name)
    # Answered by the daemon it started, through the same peer-checked socket.
    assert {"bridge", "host", "none"} <= {network.name for network in harness.engine.take_snapshot(spec.name, spec.socket_dir).networks}
    assert harness.engine.daemon_started(spec.name, spec.socket_dir) and harness.daemon_runs(spec.name)


def test_the_learner_s_first_docker_command_starts_a_daemon_on_demand_and_the_next_are_answered_by_it(harness):
    spec = replace(harness.spec(), daemon_on_demand=True)
    harness.engine.start_sandbox(spec)
    harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT, on_demand=True)
    assert harness.engine.exec_in_sandbox(spec.name, "docker volume create premier >/dev/null").exit_code == 0
    assert harness.engine.daemon_started(spec.name, spec.socket_dir) and harness.daemon_runs(spec.name)
    harness.write_volume_file(spec.name, "premier", "mot.txt", "bonjour")
    assert harness.engine.read_volume_file(spec.name, "premier", "mot.txt") == "bonjour"


def test_a_daemon_never_started_publishes_no_port_and_asking_for_its_ports_does_not_start_it(harness):
    # The lab page asks every 15 s (static/js/preview.js): a class opening its pages must not start every daemon.
    spec = replace(harness.spec(), daemon_on_demand=True)
    harness.engine.start_sandbox(spec)
    harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT, on_demand=True)
    assert harness.engine.published_ports(spec.name, spec.socket_dir) == []
    assert not harness.engine.daemon_started(spec.name, spec.socket_dir) and not harness.daemon_runs(spec.name)


def test_a_sandbox_whose_daemon_does_not_start_on_demand_has_it_running_once_it_answers(harness):
    spec = replace(harness.spec(), daemon_on_demand=False)
    harness.engine.start_sandbox(spec)
    harness.engine.wait_for_daemon(spec.name, spec.socket_dir, timeout=READY_TIMEOUT)
    assert harness.engine.daemon_started(spec.name, spec.socket_dir) and harness.daemon_runs(spec.name)


def test_starting_under_a_name_in_use_replaces_the_container(harness):
    spec = harness.spec()
    first = harness.engine.start_sandbox(spec)
    second = harness.engine.start_sandbox(spec)
    assert first != second
    assert [c.name for c in harness.engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)].count(spec.name) == 1


def test_a_command_gives_back_its_exit_code_and_output(harness, started):
    failing = harness.command(exit_code=3, output="cassé")
    assert harness.engine.exec_in_sandbox(started.name, failing) == engine.ExecResult(exit_code=3, output="cassé")
    passing = harness.command(exit_code=0, output="ok")
    assert harness.engine.exec_in_sandbox(started.name, passing, timeout=10) == engine.ExecResult(exit_code=0, output="ok")


def test_an_archive_is_unpacked_into_a_folder_made_for_it(harness, started, tmp_path):
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "package.json").write_text('{"name": "demo"}')
    (tmp_path / "app" / "src" / "server.js").write_text("// serveur")
    harness.engine.copy_into_sandbox(started.name, archive_folder(tmp_path / "app"), "/root/projet/neuf")
    assert harness.file_in(started.name, "/root/projet/neuf/package.json") == b'{"name": "demo"}'
    assert harness.file_in(started.name, "/root/projet/neuf/src/server.js") == b"// serveur"


def test_a_fresh_daemon_holds_nothing_but_its_default_networks(harness, started):
    snapshot = harness.engine.take_snapshot(started.name, started.socket_dir, files=[("donnees", "message.txt")])
    assert snapshot.images == () and snapshot.containers == () and snapshot.volumes == ()
    assert snapshot.network("bridge") and snapshot.network("host") and snapshot.network("none")
    assert snapshot.files == {("donnees", "message.txt"): None}


def test_a_volume_file_is_read_and_no_path_leaves_its_volume(harness, started):
    harness.write_volume_file(started.name, "donnees", "message.txt", "Bonjour\n")
    wanted = [("donnees", "message.txt"), ("donnees", "absent.txt")]
    snapshot = harness.engine.take_snapshot(started.name, started.socket_dir, files=wanted)
    assert snapshot.volume("donnees")
    assert snapshot.files == {("donnees", "message.txt"): "Bonjour\n", ("donnees", "absent.txt"): None}
    assert harness.engine.read_volume_file(started.name, "donnees", "/message.txt") == "Bonjour\n"
    assert harness.engine.read_volume_file(started.name, "donnees", "../../../../message.txt") == "Bonjour\n"
    assert harness.engine.read_volume_file(started.name, "donnees", "../../../../etc/hostname") is None
    assert harness.engine.read_volume_file(started.name, "../donnees", "message.txt") is None


def test_a_built_image_shows_its_configuration_its_history_and_the_build_cache(harness, started):
    harness.build(started.name, "essai:1")
    snapshot = harness.engine.take_snapshot(started.name, started.socket_dir)
    image = snapshot.image("essai:1")
    assert image.cmd == ("cat", "/hi") and image.entrypoint == () and image.working_dir == "/srv" and image.user == ""
    assert image.labels.get("cours") == "drydock" and image.size > 0 and not image.digests
    own = [step for step in image.history if step.comment == BUILDKIT_STEP]
    assert [(step.instruction, step.empty_layer) for step in own] == [
        ("WORKDIR /srv", False), ("RUN /bin/sh -c echo hi > /hi", False), ("LABEL cours=drydock", True), ('CMD ["cat" "/hi"]', True),
    ]
    # Oldest first, in Unix seconds; the base's steps come before, and one step adds each layer.
    assert [step.created for step in image.history] == sorted(step.created for step in image.history) and own[0].created > 0
    assert len(image.layers) == sum(not step.empty_layer for step in image.history)
    run = [record for record in snapshot.build_cache if "echo hi" in record.description]
    assert run and run[0].created == own[1].created and run[0].usage_count >= 1


def test_a_published_port_answers_a_probe_and_no_probe_leaves_the_sandboxs_loopback(harness, started):
    harness.serve_http(started.name, 8080, "Bonjour du port")
    snapshot = harness.engine.take_snapshot(started.name, started.socket_dir, probes=[(8080, "/"), (8081, "/")])
    assert snapshot.http[(8080, "/")].status == 200 and "Bonjour du port" in snapshot.http[(8080, "/")].body
    assert snapshot.http[(8081, "/")] is None
    # The lab names a port and a path; neither can name another host, another scheme or curl's options.
    for port, path in [
        (0, "/"), (65536, "/"), ("8080", "/"), (True, "/"), (8080, ""), (8080, "index.html"),
        (8080, "@drydock-registry:5000/v2/"), (8080, "//drydock-registry:5000/v2/"), (8080, "/ -x drydock-registry:5000"),
        (8080, "http://drydock-registry:5000/"), (8080, "/{a,b}"), (8080, "/\ndrydock-registry"),
    ]:
        assert http_probe_url(port, path) is None, (port, path)
        assert harness.engine.fetch_http(started.name, port, path) is None, (port, path)


def test_published_ports_are_listed_and_a_preview_fetches_only_the_sandboxs_own_loopback(harness, started):
    assert harness.engine.published_ports(started.name, started.socket_dir) == ()
    harness.serve_http(started.name, 8080, "Bonjour de l'aperçu")
    ports = harness.engine.published_ports(started.name, started.socket_dir)
    assert [(p.port, p.container_port) for p in ports] == [(8080, 8000)] and isinstance(ports[0], PublishedPort)
    # The same when the sandbox's folder is not on this machine (a host elsewhere): asked through its engine.
    assert harness.engine.published_ports(started.name, f"/nowhere/{started.name}") == ports
    answer = harness.engine.fetch_preview(started.name, 8080, "/")
    assert answer.status == 200 and "Bonjour de l'aperçu" in answer.body.decode() and answer.headers["content-type"].startswith("text/html")
    assert not answer.truncated
    assert harness.engine.fetch_preview(started.name, 8081, "/") is None
    for port in (0, 65536, "8080", True, None):
        assert preview_url(port) is None and harness.engine.fetch_preview(started.name, port, "/") is None


def test_a_kept_disk_holds_what_a_sandbox_left_for_the_next_one_until_it_is_swept(harness, tmp_path):
    image = str(tmp_path / f"{settings.SANDBOX_NAME_PREFIX}-playground-1-1-0123abcd.img")
    first = replace(harness.spec(), persistent_disk=image)
    first = replace(first, labels={**first.labels, engine.KEPT_DISK_LABEL: image})
    harness.engine.start_sandbox(first)
    harness.engine.wait_for_daemon(first.name, first.socket_dir, timeout=READY_TIMEOUT)
    harness.write_volume_file(first.name, "garde", "note.txt", "toujours là")
    # While a sandbox has it, the disk is never swept.
    assert harness.engine.sweep_persistent_disks(tmp_path, deployment=settings.SANDBOX_NAME_PREFIX, keep=()) == []
    harness.engine.remove_sandbox(first.name, first.socket_dir)
    second = replace(harness.spec(), persistent_disk=image)
    harness.engine.start_sandbox(second)
    harness.engine.wait_for_daemon(second.name, second.socket_dir, timeout=READY_TIMEOUT)
    assert harness.engine.read_volume_file(second.name, "garde", "note.txt") == "toujours là"
    harness.engine.remove_sandbox(second.name, second.socket_dir)
    assert harness.engine.sweep_persistent_disks(tmp_path, deployment=settings.SANDBOX_NAME_PREFIX, keep=(image,)) == []
    assert harness.engine.sweep_persistent_disks(tmp_path, deployment=f"{settings.SANDBOX_NAME_PREFIX}-x", keep=()) == []
    assert harness.engine.sweep_persistent_disks(tmp_path, deployment=settings.SANDBOX_NAME_PREFIX, keep=()) == [image]
    third = replace(harness.spec(), persistent_disk=image)
    harness.engine.start_sandbox(third)
    harness.engine.wait_for_daemon(third.name, third.socket_dir, timeout=READY_TIMEOUT)
    assert harness.engine.read_volume_file(third.name, "garde", "note.txt") is None


def test_what_a_container_went_through_is_described(harness, started):
    harness.live_a_life(started.name)
    snapshot = harness.engine.take_snapshot(started.name, started.socket_dir)
    veilleur, fragile = snapshot.container("veilleur"), snapshot.container("fragile")
    assert (veilleur.status, veilleur.restart_policy, veilleur.restart_count, veilleur.health) == ("running", "unless-stopped", 0, "healthy")
    assert veilleur.started_again and veilleur.command == ("sleep", "300")
    assert (fragile.status, fragile.exit_code, fragile.restart_policy, fragile.restart_max_retries) == ("exited", 3, "on-failure", 2)
    assert fragile.restart_count == 2 and fragile.health == "" and fragile.command == ("sh", "-c", "exit 3")


def test_memory_use_is_counted_in_bytes(harness, started):
    used = harness.engine.memory_usage_bytes(started.name)
    assert isinstance(used, int) and used > 0


def test_a_removed_sandbox_is_gone_and_removing_it_again_is_fine(harness, started):
    harness.engine.remove_sandbox(started.name, started.socket_dir)
    assert not harness.engine.sandbox_running(started.name)
    assert started.name not in listed(harness)
    harness.engine.remove_sandbox(started.name, started.socket_dir)
    harness.engine.remove_sandbox(started.name)


def test_a_sandbox_that_vanished_is_reported_gone(harness, started, tmp_path):
    harness.vanish(started.name)
    assert not harness.engine.sandbox_running(started.name)
    assert started.name not in listed(harness)
    for gone in [
        lambda: harness.engine.exec_in_sandbox(started.name, "true"),
        lambda: harness.engine.copy_into_sandbox(started.name, archive_folder(tmp_path), "/root"),
        lambda: harness.engine.memory_usage_bytes(started.name),
        lambda: harness.engine.open_terminal(started.name),
    ]:
        with pytest.raises(engine.SandboxGone):
            gone()
    with pytest.raises(engine.EngineUnavailable):
        harness.engine.take_snapshot(started.name, started.socket_dir)
    with pytest.raises(engine.EngineUnavailable, match="stopped before"):
        harness.engine.wait_for_daemon(started.name, started.socket_dir, timeout=READY_TIMEOUT)


def test_a_sandbox_that_stopped_is_listed_as_stopped_and_its_daemon_does_not_answer(harness, started):
    harness.crash(started.name)
    assert not harness.engine.sandbox_running(started.name)
    assert listed(harness)[started.name].status != "running"
    with pytest.raises(engine.EngineUnavailable):
        harness.engine.take_snapshot(started.name, started.socket_dir)
    with pytest.raises(engine.EngineUnavailable):
        harness.engine.exec_in_sandbox(started.name, "true")
    with pytest.raises(engine.EngineUnavailable, match="stopped before"):
        harness.engine.wait_for_daemon(started.name, started.socket_dir, timeout=READY_TIMEOUT)


def test_a_daemon_that_never_answers_is_given_up_on_after_the_timeout(harness):
    spec = harness.spec()
    harness.engine.start_sandbox(spec)
    with pytest.raises(engine.EngineUnavailable, match="did not answer within 0.5 s"):
        harness.engine.wait_for_daemon(spec.name, harness.silence_daemon(spec), timeout=0.5)


def test_a_missing_sandbox_image_is_named(harness):
    spec = replace(harness.spec(), image="drydock/never-built:0")
    harness.lose_image(spec.image)
    with pytest.raises(engine.EngineUnavailable, match="drydock/never-built:0"):
        harness.engine.start_sandbox(spec)
    assert spec.name not in listed(harness)


@pytest.mark.integration
def test_a_sandbox_whose_root_is_not_the_user_the_engine_was_found_to_use_is_removed_and_the_engine_asked_again(tmp_path):
    harness = RealHarness(tmp_path)
    try:
        learnt = harness.engine.engine_info()
        # As if dockerd had been restarted with another --userns-remap (or none) since the engine was first asked.
        harness.engine._start_info = replace(learnt, remapped_root=learnt.remapped_root + 65536)
        spec = harness.spec()
        with pytest.raises(engine.EngineUnavailable, match="user namespace changed"):
            harness.engine.start_sandbox(spec)
        assert spec.name not in listed(harness) and not Path(spec.socket_dir).exists()
        harness.engine._start_info = replace(learnt, user_namespaces=False, remapped_root=None)
        with pytest.raises(engine.EngineUnavailable, match=f"root is uid {learnt.remapped_root} on the host, not None"):
            harness.engine.start_sandbox(replace(spec, allow_without_user_namespaces=True))
        assert spec.name not in listed(harness)
        # Asked again, the engine's real answer starts it.
        assert harness.engine._start_info is None and harness.engine.start_sandbox(spec)
        assert harness.engine._start_info == replace(harness.engine.engine_info(), containers_running=harness.engine._start_info.containers_running)
    finally:
        harness.clean_up()


def test_a_sandbox_started_in_the_host_s_own_user_namespace_is_refused_unless_that_is_allowed():
    # This test's own process is one: root in it is the host's root, as a sandbox's would be under an engine without
    # --userns-remap.
    docker_engine = engine.DockerEngine("unix:///nobody-listens.sock")
    spec = Harness().spec()
    docker_engine._start_info = engine.EngineInfo(version="26", api_version="1.45", containers_running=0, user_namespaces=True, remapped_root=100000)
    with pytest.raises(engine.UnsafeEngine, match="user namespaces"):
        docker_engine._check_sandbox_namespace(os.getpid(), spec, 100000)
    assert docker_engine._start_info is None
    docker_engine._check_sandbox_namespace(os.getpid(), replace(spec, allow_without_user_namespaces=True), None)
    with pytest.raises(engine.EngineUnavailable, match="stopped as it started"):
        docker_engine._check_sandbox_namespace(0, spec, 100000)


@pytest.mark.parametrize("uid_map, root", [
    ("         0     100000      65536\n", 100000),
    ("         0          0 4294967295\n", None),
    ("         1     100000      65536\n", False),
    ("      1000       1000          1\n         0     200000       1000\n", 200000),
    ("", False),
])
def test_the_host_uid_of_a_process_s_root_is_read_from_its_uid_map(uid_map, root):
    assert engine.root_outside(uid_map) == root


def test_a_uid_map_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a uid_map line"):
        engine.root_outside("0 100000\n")


def test_an_engine_that_does_not_answer_says_so_from_every_method(harness, tmp_path):
    silent, spec = harness.silent_engine(), harness.spec()
    calls = {
        "engine_info": lambda: silent.engine_info(),
        "start_sandbox": lambda: silent.start_sandbox(spec),
        "wait_for_daemon": lambda: silent.wait_for_daemon(spec.name, str(tmp_path), timeout=READY_TIMEOUT),
        "sandbox_running": lambda: silent.sandbox_running(spec.name),
        "exec_in_sandbox": lambda: silent.exec_in_sandbox(spec.name, "true"),
        "copy_into_sandbox": lambda: silent.copy_into_sandbox(spec.name, archive_folder(tmp_path), "/root"),
        "remove_sandbox": lambda: silent.remove_sandbox(spec.name),
        "labelled_sandboxes": lambda: silent.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX),
        "memory_usage_bytes": lambda: silent.memory_usage_bytes(spec.name),
        "take_snapshot": lambda: silent.take_snapshot(spec.name, str(tmp_path)),
        "read_volume_file": lambda: silent.read_volume_file(spec.name, "donnees", "message.txt"),
        "fetch_http": lambda: silent.fetch_http(spec.name, 8080, "/"),
        "open_terminal": lambda: silent.open_terminal(spec.name),
        "resize_terminal": lambda: silent.resize_terminal("no-such-exec", rows=24, cols=80),
        "sweep_folders": lambda: silent.sweep_folders(tmp_path, deployment=settings.SANDBOX_NAME_PREFIX, keep=set(), older_than=0),
        "published_ports": lambda: silent.published_ports(spec.name, str(tmp_path)),
        "fetch_preview": lambda: silent.fetch_preview(spec.name, 8080, "/"),
        "sweep_persistent_disks": lambda: silent.sweep_persistent_disks(tmp_path, deployment=settings.SANDBOX_NAME_PREFIX, keep=()),
        "isolation_problems": lambda: silent.isolation_problems(bridge=settings.SANDBOX_BRIDGE, registry="drydock-registry"),
    }
    # Read in the sandbox's folder, not asked of the engine: a sandbox of an engine that does not answer never started one.
    assert silent.daemon_started(spec.name, str(tmp_path)) is False
    # Settling is asked of the engine for a sandbox started at the starting weight: an engine that started none may
    # answer without asking (the real one does), or say it does not answer (the fake does).
    try:
        assert silent.settle_sandbox(spec.name) is None
    except engine.EngineUnavailable:
        pass
    assert set(calls) | {"daemon_started", "settle_sandbox"} == engine.Engine.__abstractmethods__
    answered = []
    for method, call in calls.items():
        try:
            call()
            answered.append(method)
        except engine.EngineUnavailable:
            pass
    assert answered == []


def test_a_terminal_opens_on_a_non_blocking_socket_resizes_and_closes(harness, started):
    terminal = harness.engine.open_terminal(started.name, rows=30, cols=100)
    assert terminal.exec_id and terminal.socket.getblocking() is False
    harness.engine.resize_terminal(terminal.exec_id, rows=40, cols=120)
    terminal.close()


def test_a_terminal_number_out_of_range_is_refused_before_anything_runs(harness, started):
    terminal = harness.engine.open_terminal(started.name, rows=24, cols=80, session=2)
    terminal.close()
    with pytest.raises(ValueError):
        harness.engine.open_terminal(started.name, session=engine.TERMINAL_SESSIONS + 1)
