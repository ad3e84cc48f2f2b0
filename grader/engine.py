"""The Docker seam: what the platform asks of a Docker engine, and the real engine behind it.

`Engine` is the interface; `DockerEngine` implements it with the docker SDK
(this is the one module that imports it), `grader.fake_engine.FakeEngine` in
memory, and tests/test_engine_contract.py holds both to the same contract.
Callers get plain dataclasses and the project's own errors, never docker.*
objects or exceptions. `default()` is the engine the platform runs on.
"""

import abc
import functools
import posixpath
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from django.conf import settings

from grader import snapshot


class EngineUnavailable(Exception):
    """The Docker engine did not answer (not running, wrong DOCKER_HOST, socket refused)."""


class SandboxGone(EngineUnavailable):
    """The sandbox container does not exist (removed, or never created)."""


SANDBOX_LABEL = "drydock.sandbox"
DEPLOYMENT_LABEL = "drydock.deployment"
SOCKET_IN_SANDBOX = "/run/drydock"
TERMINAL_COMMAND = ["tmux", "-f", "/etc/drydock/tmux.conf", "new-session", "-A", "-s", "drydock"]
# The most of a volume file a check reads, in bytes.
VOLUME_FILE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    containers_running: int


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    image: str
    labels: dict
    socket_dir: str
    network: str
    registry_mirror: str
    memory_mb: int
    pids_limit: int
    cpus: float
    log_max_size: str


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@dataclass(frozen=True)
class LabelledContainer:
    name: str
    status: str
    labels: dict


@dataclass(frozen=True)
class Terminal:
    """An exec session with a tty in a sandbox: `socket` carries raw terminal bytes both ways."""

    exec_id: str
    socket: object
    _client: object

    def close(self):
        try:
            self.socket.close()
        finally:
            self._client.close()


def volume_file_path(volume, path):
    """Where `path` lies inside a nested volume, relative to its root; None for what a check may not read."""
    relative = posixpath.normpath("/" + path).lstrip("/")
    if not relative or "'" in relative or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", volume):
        return None
    return relative


class Engine(abc.ABC):
    """A Docker engine that runs sandboxes: one container each, with a Docker daemon of its own inside.

    A sandbox is known by its container name. Every method raises EngineUnavailable
    when the engine does not answer; those that act on one sandbox raise SandboxGone
    (an EngineUnavailable) when its container does not exist.
    """

    @abc.abstractmethod
    def engine_info(self):
        """EngineInfo: the engine's version and how many containers it runs."""

    @abc.abstractmethod
    def start_sandbox(self, spec):
        """Create and start the sandbox container from a SandboxSpec; return its id.

        A container left under the same name by an earlier try is replaced;
        a missing image is an EngineUnavailable that names it.
        """

    @abc.abstractmethod
    def wait_for_daemon(self, name, socket_dir, *, timeout):
        """Wait until the sandbox's own daemon answers on its socket; return the seconds it took.

        EngineUnavailable if it does not within `timeout` seconds, or at once
        if the container stops (or is gone) before it does.
        """

    @abc.abstractmethod
    def sandbox_running(self, name):
        """Whether the sandbox container exists and runs."""

    @abc.abstractmethod
    def exec_in_sandbox(self, name, command, *, timeout=120):
        """ExecResult of a shell command run in the sandbox (its docker CLI talks to the nested daemon)."""

    @abc.abstractmethod
    def copy_into_sandbox(self, name, archive, destination):
        """Unpack a tar archive (bytes) into a folder of the sandbox, created if missing."""

    @abc.abstractmethod
    def remove_sandbox(self, name, socket_dir=None):
        """Remove the sandbox container, its nested daemon's data and its socket folder; a missing one is fine."""

    @abc.abstractmethod
    def labelled_sandboxes(self, deployment):
        """LabelledContainer of every sandbox container of this deployment, running or not."""

    @abc.abstractmethod
    def memory_usage_bytes(self, name):
        """Memory the sandbox uses now, page cache left out."""

    @abc.abstractmethod
    def take_snapshot(self, name, socket_dir, *, files=()):
        """A grader.snapshot.Snapshot of the nested daemon, with the text of each (volume, path) asked for (None if absent).

        EngineUnavailable when the nested daemon does not answer.
        """

    @abc.abstractmethod
    def read_volume_file(self, name, volume, path):
        """Text of a file inside a nested volume (at most VOLUME_FILE_LIMIT bytes); None if absent or outside the volume."""

    @abc.abstractmethod
    def open_terminal(self, name, *, rows=24, cols=80):
        """A Terminal attached to the sandbox's tmux session (created on first use), its socket non-blocking; close() it when done."""

    @abc.abstractmethod
    def resize_terminal(self, exec_id, *, rows, cols):
        """Give an open terminal a new size."""


@functools.cache
def default():
    """The engine the platform drives: the one the docker SDK finds (DOCKER_HOST, else the local socket)."""
    return DockerEngine()


# --- The real engine, through the docker SDK ---------------------------------------------------


def _sdk_errors():
    return (docker.errors.DockerException, requests.exceptions.RequestException)


def _sandbox_container_options(api, spec):
    """Everything `docker run` is told about a sandbox but its image and name: change isolation here."""
    host_config = api.create_host_config(
        # DESIGN.md: --privileged fails here; these let a nested dockerd run without it.
        cap_add=["ALL"],
        cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="private",
        binds={spec.socket_dir: {"bind": SOCKET_IN_SANDBOX, "mode": "rw"}},
        network_mode=spec.network,
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",
        pids_limit=spec.pids_limit,
        nano_cpus=int(spec.cpus * 1_000_000_000),
        log_config=docker.types.LogConfig(type="json-file", config={"max-size": spec.log_max_size, "max-file": "2"}),
    )
    # The CLI's `--security-opt systempaths=unconfined`: nothing of /proc or /sys masked or read-only.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    return {
        "hostname": "sandbox",
        "detach": True,
        "labels": spec.labels,
        "environment": {"DRYDOCK_REGISTRY_MIRROR": spec.registry_mirror, "DRYDOCK_SOCKET": f"{SOCKET_IN_SANDBOX}/docker.sock"},
        "host_config": host_config,
    }


def _daemon_api(socket_dir, *, timeout):
    """A low-level client of a sandbox's nested daemon, on the socket it makes in its bind-mounted folder."""
    return docker.APIClient(base_url=f"unix://{Path(socket_dir) / 'docker.sock'}", version="1.41", timeout=timeout)


def _remove(client, name):
    try:
        client.containers.get(name).remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Another remover (the reaper, a task) got there first: the container is going either way.
        if exc.status_code != 409 or "already in progress" not in str(exc):
            raise


class DockerEngine(Engine):
    """The host's Docker engine: `base_url` if given, else the docker SDK's default from the environment."""

    def __init__(self, base_url=None):
        self.base_url = base_url

    def _client(self, *, fallback_url=None, timeout=5):
        base_url = self.base_url or fallback_url
        try:
            if base_url:
                return docker.DockerClient(base_url=base_url, timeout=timeout)
            return docker.from_env(timeout=timeout)
        except docker.errors.DockerException as exc:
            raise EngineUnavailable(str(exc)) from exc

    @contextmanager
    def _host_engine(self, sandbox=None, *, timeout=5):
        """A client of the host's engine, closed after use, whose errors come out as the project's own."""
        client = self._client(timeout=timeout)
        try:
            yield client
        except docker.errors.NotFound as exc:
            raise SandboxGone(f"sandbox container {sandbox} does not exist") from exc
        except _sdk_errors() as exc:
            raise EngineUnavailable(str(exc)) from exc
        finally:
            client.close()

    def engine_info(self):
        # What the health page shows: the engine settings.DOCKER_HOST names, when it names one.
        client = self._client(fallback_url=settings.DOCKER_HOST or None)
        try:
            version = client.version()
            info = client.info()
        except _sdk_errors() as exc:
            raise EngineUnavailable(str(exc)) from exc
        finally:
            client.close()
        return EngineInfo(
            version=version.get("Version", "?"),
            api_version=version.get("ApiVersion", "?"),
            containers_running=info.get("ContainersRunning", 0),
        )

    def start_sandbox(self, spec):
        with self._host_engine(spec.name) as client:
            _remove(client, spec.name)
            Path(spec.socket_dir).mkdir(parents=True, exist_ok=True)
            (Path(spec.socket_dir) / "docker.sock").unlink(missing_ok=True)
            api = client.api
            try:
                created = api.create_container(spec.image, name=spec.name, **_sandbox_container_options(api, spec))
            except docker.errors.ImageNotFound as exc:
                raise EngineUnavailable(f"image {spec.image} is missing: run bin/drydock setup to build it") from exc
            api.start(created["Id"])
            return created["Id"]

    def wait_for_daemon(self, name, socket_dir, *, timeout):
        started = time.monotonic()
        socket = Path(socket_dir) / "docker.sock"
        deadline = started + timeout
        while time.monotonic() < deadline:
            if socket.exists():
                client = _daemon_api(socket_dir, timeout=2)
                try:
                    if client.ping():
                        return time.monotonic() - started
                except _sdk_errors():
                    pass
                finally:
                    client.close()
            if not self.sandbox_running(name):
                raise EngineUnavailable("the sandbox container stopped before its Docker daemon answered")
            time.sleep(0.05)
        raise EngineUnavailable(f"the sandbox's Docker daemon did not answer within {timeout} s")

    def sandbox_running(self, name):
        with self._host_engine(name) as client:
            try:
                return client.containers.get(name).status == "running"
            except docker.errors.NotFound:
                return False

    def exec_in_sandbox(self, name, command, *, timeout=120):
        with self._host_engine(name, timeout=timeout) as client:
            result = client.containers.get(name).exec_run(["timeout", str(timeout), "sh", "-c", command], demux=False)
            return ExecResult(exit_code=result.exit_code, output=(result.output or b"").decode("utf-8", "replace"))

    def copy_into_sandbox(self, name, archive, destination):
        made = self.exec_in_sandbox(name, f"mkdir -p '{destination}'")
        if made.exit_code != 0:
            raise EngineUnavailable(f"cannot create {destination} in the sandbox: {made.output.strip()}")
        with self._host_engine(name) as client:
            if not client.containers.get(name).put_archive(destination, archive):
                raise EngineUnavailable(f"copy into {destination} was refused")

    def remove_sandbox(self, name, socket_dir=None):
        # Killing a nested daemon and deleting its images can take a while on a busy disk.
        with self._host_engine(name, timeout=120) as client:
            _remove(client, name)
        if socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)

    def labelled_sandboxes(self, deployment):
        with self._host_engine() as client:
            return [
                LabelledContainer(name=c.name, status=c.status, labels=dict(c.labels))
                for c in client.containers.list(all=True, filters={"label": [SANDBOX_LABEL, f"{DEPLOYMENT_LABEL}={deployment}"]})
            ]

    def memory_usage_bytes(self, name):
        with self._host_engine(name) as client:
            memory = client.containers.get(name).stats(stream=False).get("memory_stats", {})
            return memory.get("usage", 0) - memory.get("stats", {}).get("cache", 0)

    def take_snapshot(self, name, socket_dir, *, files=()):
        client = _daemon_api(socket_dir, timeout=10)
        try:
            images = tuple(
                snapshot.Image(
                    id=image["Id"],
                    tags=tuple(t for t in image.get("RepoTags") or () if t != "<none>:<none>"),
                    digests=tuple(image.get("RepoDigests") or ()),
                    layers=tuple(client.inspect_image(image["Id"]).get("RootFS", {}).get("Layers") or ()),
                    created=str(image.get("Created", "")),
                )
                for image in client.images(all=False)
            )
            containers = tuple(_container(client.inspect_container(c["Id"])) for c in client.containers(all=True))
            volumes = tuple(snapshot.Volume(name=v["Name"], labels=v.get("Labels") or {}) for v in (client.volumes().get("Volumes") or ()))
            networks = tuple(snapshot.Network(name=n["Name"], driver=n.get("Driver", "")) for n in client.networks())
        except FileNotFoundError as exc:
            raise SandboxGone(f"the daemon socket of {name} is gone") from exc
        except _sdk_errors() as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon did not answer: {exc}") from exc
        finally:
            client.close()
        contents = {(volume, path): self.read_volume_file(name, volume, path) for volume, path in files}
        return snapshot.Snapshot(images=images, containers=containers, volumes=volumes, networks=networks, files=contents)

    def read_volume_file(self, name, volume, path):
        relative = volume_file_path(volume, path)
        if relative is None:
            return None
        result = self.exec_in_sandbox(name, f"head -c {VOLUME_FILE_LIMIT} '/var/lib/docker/volumes/{volume}/_data/{relative}'", timeout=10)
        return result.output if result.exit_code == 0 else None

    def open_terminal(self, name, *, rows=24, cols=80):
        client = self._client(timeout=None)
        try:
            api = client.api
            created = api.exec_create(
                name, TERMINAL_COMMAND, stdin=True, tty=True, environment={"TERM": "xterm-256color", "LANG": "C.UTF-8"},
                workdir="/root",
            )
            raw = api.exec_start(created["Id"], tty=True, socket=True)
            sock = getattr(raw, "_sock", raw)
            sock.setblocking(False)
            try:
                api.exec_resize(created["Id"], height=rows, width=cols)
            except docker.errors.APIError:
                pass  # the exec may not be running yet; the browser's first resize will do
            # The client stays open with the exec's connection; Terminal.close() ends both.
            return Terminal(exec_id=created["Id"], socket=sock, _client=client)
        except docker.errors.NotFound as exc:
            client.close()
            raise SandboxGone(f"sandbox container {name} does not exist") from exc
        except _sdk_errors() as exc:
            client.close()
            raise EngineUnavailable(str(exc)) from exc

    def resize_terminal(self, exec_id, *, rows, cols):
        with self._host_engine() as client:
            client.api.exec_resize(exec_id, height=rows, width=cols)


def _container(data):
    state = data.get("State", {})
    settings_ = data.get("NetworkSettings", {})
    ports = []
    for key, bindings in (settings_.get("Ports") or {}).items():
        port, _, protocol = key.partition("/")
        for binding in bindings or [None]:
            host_port = int(binding["HostPort"]) if binding and binding.get("HostPort") else None
            ports.append(snapshot.Port(container_port=int(port), protocol=protocol or "tcp", host_port=host_port))
    return snapshot.Container(
        id=data["Id"],
        name=data.get("Name", "").lstrip("/"),
        image=data.get("Config", {}).get("Image", ""),
        image_id=data.get("Image", ""),
        status=state.get("Status", ""),
        exit_code=state.get("ExitCode", 0),
        ip_address=settings_.get("IPAddress", ""),
        networks={name: net.get("IPAddress", "") for name, net in (settings_.get("Networks") or {}).items()},
        mounts=tuple(
            snapshot.Mount(type=m.get("Type", ""), source=m.get("Name") or m.get("Source", ""), destination=m.get("Destination", ""), read_write=bool(m.get("RW", True)))
            for m in data.get("Mounts") or ()
        ),
        ports=tuple(sorted(set(ports), key=lambda p: (p.container_port, p.host_port or 0))),
        labels=data.get("Config", {}).get("Labels") or {},
    )
