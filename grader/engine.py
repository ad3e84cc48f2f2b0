"""The one module that talks to Docker engines through the docker SDK.

Everything else gets plain dataclasses from here and the project's own
errors, never docker.* objects or exceptions.
"""

import posixpath
from contextlib import contextmanager
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from django.conf import settings

from grader import snapshot


class EngineUnavailable(Exception):
    """The Docker engine did not answer (not running, wrong DOCKER_HOST, socket refused)."""


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    containers_running: int


def _client(base_url=None, timeout=5):
    try:
        if base_url:
            return docker.DockerClient(base_url=base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(str(exc)) from exc


@contextmanager
def _host_engine(sandbox=None, *, timeout=5):
    """A client of the host's engine, closed after use, whose errors come out as the project's own."""
    client = _client(timeout=timeout)
    try:
        yield client
    except docker.errors.NotFound as exc:
        raise SandboxGone(f"sandbox container {sandbox} does not exist") from exc
    except _sdk_errors() as exc:
        raise EngineUnavailable(str(exc)) from exc
    finally:
        client.close()


def engine_info(base_url=None):
    """Version and load of the host's engine (DOCKER_HOST setting, else the SDK's default)."""
    client = _client(base_url or settings.DOCKER_HOST or None)
    try:
        version = client.version()
        info = client.info()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailable(str(exc)) from exc
    finally:
        client.close()
    return EngineInfo(
        version=version.get("Version", "?"),
        api_version=version.get("ApiVersion", "?"),
        containers_running=info.get("ContainersRunning", 0),
    )


# --- Sandboxes ------------------------------------------------------------------------

SANDBOX_LABEL = "drydock.sandbox"
DEPLOYMENT_LABEL = "drydock.deployment"
SOCKET_IN_SANDBOX = "/run/drydock"


class SandboxGone(EngineUnavailable):
    """The sandbox container does not exist (removed, or never created)."""


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


def _sdk_errors():
    return (docker.errors.DockerException, requests.exceptions.RequestException)


def start_sandbox(spec):
    """Create and start the sandbox container; a container left under the same name by an earlier try is replaced."""
    with _host_engine(spec.name) as client:
        _remove(client, spec.name)
        Path(spec.socket_dir).mkdir(parents=True, exist_ok=True)
        socket = Path(spec.socket_dir) / "docker.sock"
        socket.unlink(missing_ok=True)
        api = client.api
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
        try:
            created = api.create_container(
                spec.image,
                name=spec.name,
                hostname="sandbox",
                detach=True,
                labels=spec.labels,
                environment={"DRYDOCK_REGISTRY_MIRROR": spec.registry_mirror, "DRYDOCK_SOCKET": f"{SOCKET_IN_SANDBOX}/docker.sock"},
                host_config=host_config,
            )
        except docker.errors.ImageNotFound as exc:
            raise EngineUnavailable(f"image {spec.image} is missing: run bin/drydock setup to build it") from exc
        api.start(created["Id"])
        return created["Id"]


def daemon_socket_url(socket_dir):
    return f"unix://{Path(socket_dir) / 'docker.sock'}"


def wait_for_daemon(socket_dir, *, timeout, interval=0.05, is_alive=None):
    """Poll the nested daemon's socket until it answers; return the seconds it took."""
    started = time.monotonic()
    socket = Path(socket_dir) / "docker.sock"
    deadline = started + timeout
    while time.monotonic() < deadline:
        if socket.exists():
            client = docker.APIClient(base_url=daemon_socket_url(socket_dir), version="1.41", timeout=2)
            try:
                if client.ping():
                    return time.monotonic() - started
            except _sdk_errors():
                pass
            finally:
                client.close()
        if is_alive is not None and not is_alive():
            raise EngineUnavailable("the sandbox container stopped before its Docker daemon answered")
        time.sleep(interval)
    raise EngineUnavailable(f"the sandbox's Docker daemon did not answer within {timeout} s")


def sandbox_running(name):
    with _host_engine(name) as client:
        try:
            return client.containers.get(name).status == "running"
        except docker.errors.NotFound:
            return False


def exec_in_sandbox(name, command, *, timeout=120):
    """Run a shell command in the sandbox container (its docker CLI talks to the nested daemon)."""
    with _host_engine(name, timeout=timeout) as client:
        result = client.containers.get(name).exec_run(["timeout", str(timeout), "sh", "-c", command], demux=False)
        return ExecResult(exit_code=result.exit_code, output=(result.output or b"").decode("utf-8", "replace"))


def copy_into_sandbox(name, archive, destination):
    """Unpack a tar archive into a folder of the sandbox (created if missing)."""
    made = exec_in_sandbox(name, f"mkdir -p '{destination}'")
    if made.exit_code != 0:
        raise EngineUnavailable(f"cannot create {destination} in the sandbox: {made.output.strip()}")
    with _host_engine(name) as client:
        if not client.containers.get(name).put_archive(destination, archive):
            raise EngineUnavailable(f"copy into {destination} was refused")


def remove_sandbox(name, socket_dir=None):
    """Remove the sandbox container with its /var/lib/docker volume; a missing one is fine."""
    # Killing a nested daemon and deleting its images can take a while on a busy disk.
    with _host_engine(name, timeout=120) as client:
        _remove(client, name)
    if socket_dir:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _remove(client, name):
    try:
        client.containers.get(name).remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Another remover (the reaper, a task) got there first: the container is going either way.
        if exc.status_code != 409 or "already in progress" not in str(exc):
            raise


def labelled_sandboxes(deployment):
    """Every sandbox container of this deployment, running or not."""
    with _host_engine() as client:
        return [
            LabelledContainer(name=c.name, status=c.status, labels=dict(c.labels))
            for c in client.containers.list(all=True, filters={"label": [SANDBOX_LABEL, f"{DEPLOYMENT_LABEL}={deployment}"]})
        ]


def memory_usage_bytes(name):
    with _host_engine(name) as client:
        memory = client.containers.get(name).stats(stream=False).get("memory_stats", {})
        return memory.get("usage", 0) - memory.get("stats", {}).get("cache", 0)


# --- Snapshots of a nested daemon ---------------------------------------------------------


def take_snapshot(name, socket_dir, *, files=()):
    """The nested daemon's images, containers, volumes and networks, plus the volume files asked for."""
    client = docker.APIClient(base_url=daemon_socket_url(socket_dir), version="1.41", timeout=10)
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
    contents = {(volume, path): read_volume_file(name, volume, path) for volume, path in files}
    return snapshot.Snapshot(images=images, containers=containers, volumes=volumes, networks=networks, files=contents)


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


def read_volume_file(name, volume, path, limit=64 * 1024):
    """Text of a file inside a nested volume, read from the nested daemon's data folder; None if absent."""
    relative = posixpath.normpath("/" + path).lstrip("/")
    if not relative or "'" in relative or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", volume):
        return None
    result = exec_in_sandbox(name, f"head -c {limit} '/var/lib/docker/volumes/{volume}/_data/{relative}'", timeout=10)
    return result.output if result.exit_code == 0 else None


# --- Terminals ------------------------------------------------------------------------------

TERMINAL_COMMAND = ["tmux", "-f", "/etc/drydock/tmux.conf", "new-session", "-A", "-s", "drydock"]


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


def open_terminal(name, *, rows=24, cols=80):
    """Attach to the sandbox's tmux session (created on first use) with a tty; close() it when done."""
    client = _client(timeout=None)
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


def resize_terminal(exec_id, *, rows, cols):
    with _host_engine() as client:
        client.api.exec_resize(exec_id, height=rows, width=cols)
