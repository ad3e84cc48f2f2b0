"""The Docker seam: what the platform asks of a Docker engine, and the real engine behind it.

`Engine` is the interface; `DockerEngine` implements it with the docker SDK
(this is the one module that imports it), `grader.fake_engine.FakeEngine` in
memory, and tests/test_engine_contract.py holds both to the same contract.
Callers get plain dataclasses and the project's own errors, never docker.*
objects or exceptions. `for_url(url, tls_dir)` is the engine at one URL (a DockerHost's),
spoken to with TLS and a client certificate when `tls_dir` names one (`tls_files`), and
`default()` the one settings.DOCKER_HOST (and DOCKER_CERT_PATH) names.
"""

import abc
import datetime
import functools
import http.client
import ipaddress
import json
import logging
import os
import posixpath
import re
import shutil
import select
import socket
import ssl
import stat
import struct
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls
import requests.exceptions
from django.conf import settings

from grader import cpu_priority, disks, isolation, preview, sandbox_network, snapshot

log = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """The Docker engine did not answer (not running, wrong DOCKER_HOST, socket refused)."""


class SandboxGone(EngineUnavailable):
    """The sandbox container does not exist (removed, or never created)."""


class UnsafeEngine(EngineUnavailable):
    """The engine does not use user namespaces: root in a sandbox would be root on the host."""


class TlsFilesMissing(EngineUnavailable):
    """A TLS folder lacks one of the files Docker's convention names (ca.pem, cert.pem, key.pem)."""


USERNS_REFUSAL = (
    "Sandboxes are off: this server's Docker engine does not use user namespaces, so a learner would be root "
    "on the server. Fix: \"userns-remap\": \"default\" in /etc/docker/daemon.json and restart dockerd, or let "
    "bin/drydock run its own engine (unset DOCKER_HOST); SANDBOX_WITHOUT_USER_NAMESPACES=1 accepts it on a "
    "trusted single-user machine."
)


SANDBOX_LABEL = "drydock.sandbox"
DEPLOYMENT_LABEL = "drydock.deployment"
# On a sandbox on a kept disk (a playground's): the disk image's path on the host.
KEPT_DISK_LABEL = "drydock.kept-disk"
SOCKET_IN_SANDBOX = "/run/drydock"
# What the host's engine may take to create and start a sandbox's container: beyond 5 s at 400 sandboxes
# on a loaded 2-core host (bench/capacity.py), within the provisioning's own deadline.
START_TIMEOUT_SECONDS = 60
# How often wait_for_daemon asks the host's engine whether the sandbox still runs (its socket is tried every 20 ms).
LOOK_EVERY_SECONDS = 0.25
# Made by the host in SOCKET_IN_SANDBOX once the sandbox's network port is isolated; images/sandbox/entrypoint.sh
# waits for it before it starts anything.
NETWORK_ISOLATED_MARK = "network-isolated"
# Made in SOCKET_IN_SANDBOX by images/sandbox/on-demand.c once a daemon started on demand listens on its sockets
# (the sandbox is ready), and by the entrypoint as the daemon starts, on demand or not (the watcher waits for it).
DAEMON_LISTENING_MARK = "daemon-listening"
DAEMON_STARTED_MARK = "daemon-started"
# The nested daemon looks these up on every pull; on the sandboxes' network no DNS answer ever comes, and
# a 10 s wait each time would follow. Answered with 127.0.0.1, pulls of unknown images fail at once.
DOCKER_HUB_NAMES = ("docker.io", "registry-1.docker.io", "index.docker.io", "auth.docker.io", "production.cloudflare.docker.com")
# The version of the Engine API spoken to nested daemons (Docker 20.10 and later answer it; the sandbox runs 26).
NESTED_API = "/v1.41"
# Bounds on what a snapshot reads from a nested daemon: bytes of one answer, objects of each kind, seconds in all.
NESTED_ANSWER_LIMIT = 8 * 1024**2
NESTED_OBJECT_LIMIT = 500
SNAPSHOT_SECONDS = 20
TERMINAL_COMMAND = ["tmux", "-f", "/etc/drydock/tmux.conf", "new-session", "-A", "-s", "drydock"]
# How many terminals (tmux sessions, each its own shell) one sandbox offers: "drydock", "drydock-2", ...
TERMINAL_SESSIONS = 9
# The browser terminal scrolls tmux's own history (copy mode), which holds every line (history-limit in
# tmux.conf) even when tmux redrew the screen instead of sending each line, and after a reload. The mouse
# stays off in tmux, so the browser keeps its own selection and copy; static/js/terminal.js sends these
# sequences for the wheel, and tmux reads them as user keys. Set as each terminal attaches, so a sandbox
# image built before them scrolls too. In a full-screen program (less, vim) the wheel sends arrow keys.
TERMINAL_KEYS = {"line-up": "\x1b[9001~", "line-down": "\x1b[9002~", "leave-history": "\x1b[9003~"}
TERMINAL_TMUX_SETUP = [
    # A turn of the wheel sends many keys at once: tmux must not take them for a paste and skip their bindings.
    ["set", "-g", "assume-paste-time", "0"],
    ["set", "-s", "user-keys[0]", TERMINAL_KEYS["line-up"]],
    ["set", "-s", "user-keys[1]", TERMINAL_KEYS["line-down"]],
    ["set", "-s", "user-keys[2]", TERMINAL_KEYS["leave-history"]],
    ["bind", "-n", "User0", "if", "-F", "#{alternate_on}", "send-keys Up", "copy-mode -e; send -X scroll-up"],
    ["bind", "-n", "User1", "if", "-F", "#{alternate_on}", "send-keys Down"],
    ["bind", "-n", "User2", "if", "-F", "1", ""],  # nothing to leave
    ["bind", "-n", "S-PPage", "if", "-F", "#{alternate_on}", "send-keys S-PPage", "copy-mode -eu"],
    ["bind", "-n", "S-NPage", "if", "-F", "#{alternate_on}", "send-keys S-NPage"],  # a shell would print it
] + [
    ["bind", "-T", table, key, "send", "-X", command]
    for table in ("copy-mode", "copy-mode-vi")
    for key, command in (("User0", "scroll-up"), ("User1", "scroll-down"), ("User2", "cancel"), ("S-PPage", "page-up"), ("S-NPage", "page-down"))
]


def terminal_command(session=1):
    """The exec that attaches terminal number `session` of a sandbox to its tmux session, made on first use."""
    if not isinstance(session, int) or not 1 <= session <= TERMINAL_SESSIONS:
        raise ValueError(f"terminal session {session!r} is not between 1 and {TERMINAL_SESSIONS}")
    command = TERMINAL_COMMAND[:3]
    for step in TERMINAL_TMUX_SETUP:
        command += step + [";"]
    name = TERMINAL_COMMAND[-1] + ("" if session == 1 else f"-{session}")
    return command + TERMINAL_COMMAND[3:-1] + [name]
# The most of a volume file a check reads, in bytes.
VOLUME_FILE_LIMIT = 64 * 1024
# The running containers' list asked of the nested daemon from inside the sandbox (a preview whose sandbox's folder
# is not on the web's machine), on the socket its entrypoint gives it (DRYDOCK_SOCKET), by absolute path as below.
NESTED_LIST_SECONDS = 5
NESTED_LIST_PROGRAM = ("/usr/bin/timeout", str(NESTED_LIST_SECONDS + 2), "/usr/bin/curl", "-q", "-s", "-i", "--unix-socket",
                       f"{SOCKET_IN_SANDBOX}/docker.sock", "-m", str(NESTED_LIST_SECONDS), f"http://docker{NESTED_API}/containers/json")
# An HTTP probe of a published port: the most of its answer read (status line and headers included), and its seconds.
HTTP_ANSWER_LIMIT = 16 * 1024
HTTP_PROBE_SECONDS = 3
# Inside the sandbox, by absolute path: its root filesystem is read-only, and ~/.curlrc is not read (-q). No
# --max-filesize: curl would then drop the whole body of a larger page; the grader stops reading at the limit instead.
HTTP_PROBE_PROGRAM = ("/usr/bin/timeout", str(HTTP_PROBE_SECONDS + 2), "/usr/bin/curl", "-q", "-s", "-i", "-g", "--proto", "=http",
                      "--noproxy", "*", "--max-redirs", "0", "-m", str(HTTP_PROBE_SECONDS))


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    containers_running: int
    # Root in its containers is an unprivileged user of the host (dockerd --userns-remap).
    user_namespaces: bool = False
    # That user's host uid (None without user namespaces): it owns what a sandbox must write.
    remapped_root: int | None = None
    # Where it puts its containers' cgroups ("cgroupfs", "systemd") and the cgroup version ("1", "2").
    cgroup_driver: str = ""
    cgroup_version: str = ""


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    image: str
    labels: dict
    # The sandbox's folder on the host: its daemon's socket, its disk.
    socket_dir: str
    network: str
    # The network's bridge on the host, where the sandbox's port is isolated.
    bridge: str
    registry_mirror: str
    memory_mb: int
    pids_limit: int
    cpus: float
    log_max_size: str
    disk_gb: int
    # Where the empty disk images are made once, to be copied for each sandbox.
    disk_templates: str
    # The seccomp profile's file (Docker's default and what a nested daemon needs).
    seccomp_profile: str
    allow_without_user_namespaces: bool = False
    # A disk image kept between sandboxes (a playground's): mounted as it is, made from the template the
    # first time. Empty: a fresh copy of the template in the sandbox's folder, gone with it.
    persistent_disk: str = ""
    # Its daemon starts at the first connection to its sockets (a docker command, a Check), not with the sandbox:
    # an idle sandbox then costs no daemon's start (~0.5 core-s) and holds no daemon's memory.
    daemon_on_demand: bool = False
    # Docker's engine networks the sandbox (its endpoint on `network`), not grader/sandbox_network.py: the bench's baseline.
    network_by_engine: bool = False
    # The CPU group every sandbox runs in and its weight against a platform's process (grader/cpu_priority.py);
    # no group: where the engine puts its containers, at its weight.
    cpu_group: str = ""
    cpu_group_shares: int = cpu_priority.RUNNING_SHARES


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


# A process in the host's own user namespace sees every uid mapped to itself.
IDENTITY_UID_MAP = (0, 0, 4294967295)


def root_outside(uid_map):
    """The host uid a process's root is, from its /proc/<pid>/uid_map: None when the process is in the host's own
    user namespace (root is the host's root), False when root is not mapped at all."""
    ranges = []
    for line in uid_map.splitlines():
        words = line.split()
        if len(words) != 3 or not all(word.isdigit() for word in words):
            raise ValueError(f"not a uid_map line: {line!r}")
        ranges.append(tuple(int(word) for word in words))
    if ranges == [IDENTITY_UID_MAP]:
        return None
    for inside, outside, count in ranges:
        if inside == 0 and count > 0:
            return outside
    return False


def volume_file_path(volume, path):
    """Where `path` lies inside a nested volume, relative to its root; None for what a check may not read."""
    relative = posixpath.normpath("/" + path).lstrip("/")
    if not relative or "'" in relative or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", volume):
        return None
    return relative


def parse_http_answer(output):
    """A snapshot.HttpAnswer from what `curl -i` printed (bounded before), or None when no HTTP answer came."""
    head, _, body = output.partition(b"\r\n\r\n")
    status = re.match(rb"HTTP/[0-9.]+ ([1-5][0-9][0-9])(?: |\r|$)", head)
    if status is None:
        return None
    return snapshot.HttpAnswer(status=int(status.group(1)), body=body.decode("utf-8", "replace"))


class Engine(abc.ABC):
    """The sandbox backend: what labs and grading ask of the machine that runs sandboxes, and nothing more.

    A sandbox is a disposable machine with a Docker daemon of its own inside, known
    by its name (the row's `container_name`). One Engine drives one place that runs
    sandboxes: a Docker engine (`DockerEngine`, one per engine URL, see `for_url`);
    labs keeps one `DockerHost` row per Engine and sends each sandbox's work to its
    host's worker, which asks that host's Engine. Another kind of backend (a
    Kubernetes cluster: README, "Sandbox backends") implements this class and
    nothing in labs or grading changes. The operations, by stage of a sandbox's life:

    - start: `start_sandbox(spec)` makes it from a SandboxSpec (image, limits,
      labels, its folder, network); `wait_for_daemon` waits until its own daemon
      answers (ready); `sandbox_running` says whether it still runs.
    - set up and exec: `exec_in_sandbox` (a shell command, bounded), `copy_into_sandbox`
      (a tar archive), `open_terminal` / `resize_terminal` (a tty exec, the browser's terminal).
    - snapshot (grading): `take_snapshot` (the nested daemon's images, containers, volumes,
      networks and build cache, plus the files and HTTP answers a check asks for),
      `read_volume_file`, `fetch_http`; previews: `published_ports`, `fetch_preview`.
    - stop: `remove_sandbox` (the sandbox and everything it held).
    - list and sweep (the reaper): `labelled_sandboxes`, `sweep_folders`, `sweep_persistent_disks`.
    - stats and health: `engine_info`, `memory_usage_bytes`, `isolation_problems`.

    Every method raises EngineUnavailable when the backend does not answer; those
    that act on one sandbox raise SandboxGone (an EngineUnavailable) when it does
    not exist. Answers are this module's dataclasses, never a client library's objects.
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
    def settle_sandbox(self, name):
        """Its start is over (it is about to be ready): from now on it weighs on the cores as every started sandbox,
        not as one being started (grader/cpu_priority.py)."""

    @abc.abstractmethod
    def wait_for_daemon(self, name, socket_dir, *, timeout, on_demand=False):
        """Wait until the sandbox's own daemon answers on its socket; return the seconds it took. With
        `on_demand` (a SandboxSpec.daemon_on_demand sandbox), until its sockets listen: its daemon is not started.

        EngineUnavailable if it does not within `timeout` seconds, or at once
        if the container stops (or is gone) before it does.
        """

    @abc.abstractmethod
    def daemon_started(self, name, socket_dir):
        """False only while the sandbox's daemon waits, on demand, for its first client (nothing asked it anything
        yet): then it holds no state of its own making and publishes no port. As its marks say: the learner can
        forge them, which only changes what their own sandbox is spared."""

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
    def take_snapshot(self, name, socket_dir, *, files=(), probes=()):
        """A grader.snapshot.Snapshot of the nested daemon, with the text of each (volume, path) asked for (None if absent)
        and the answer of each (port, path) probed with fetch_http.

        EngineUnavailable when the nested daemon does not answer.
        """

    @abc.abstractmethod
    def fetch_http(self, name, port, path):
        """A snapshot.HttpAnswer to a GET of http://127.0.0.1:<port><path> inside the sandbox (at most HTTP_ANSWER_LIMIT
        bytes, in HTTP_PROBE_SECONDS); None if nothing answers in time or the port and path are not what http_probe_url accepts.
        """

    @abc.abstractmethod
    def published_ports(self, name, socket_dir):
        """grader.preview.PublishedPort of each TCP port a running nested container publishes, read from the nested daemon.

        EngineUnavailable when the nested daemon does not answer.
        """

    @abc.abstractmethod
    def fetch_preview(self, name, port, path="/", query=""):
        """A grader.preview.PreviewAnswer to a GET of preview_url(port, path, query), made inside the sandbox (at most
        PREVIEW_ANSWER_LIMIT bytes, in PREVIEW_SECONDS); None if nothing answers in time or the port is not a port.
        """

    @abc.abstractmethod
    def sweep_persistent_disks(self, root, *, deployment, keep):
        """Delete this deployment's kept disk images under `root` not named in `keep` (paths) and not in use; return their paths.

        A deployment's kept disks are named `<deployment>-playground-<number>-<number>-<hex>.img`; other files are left alone,
        and so is a disk a sandbox container still has (or the engine does not say which it has: EngineUnavailable).
        """

    @abc.abstractmethod
    def read_volume_file(self, name, volume, path):
        """Text of a file inside a nested volume (at most VOLUME_FILE_LIMIT bytes); None if absent or outside the volume."""

    @abc.abstractmethod
    def open_terminal(self, name, *, rows=24, cols=80, session=1):
        """A Terminal attached to the sandbox's tmux session number `session` (created on first use), its socket non-blocking; close() it when done."""

    @abc.abstractmethod
    def resize_terminal(self, exec_id, *, rows, cols):
        """Give an open terminal a new size."""

    @abc.abstractmethod
    def sweep_folders(self, root, *, deployment, keep, older_than):
        """Remove this deployment's sandbox folders under `root` (with their disks) not named in `keep`; return their names.

        A deployment's sandboxes are named `<deployment>-<number>`; other folders are left alone, and so is a
        folder made less than `older_than` seconds ago (a sandbox a worker is starting right now).
        """

    @abc.abstractmethod
    def isolation_problems(self, *, bridge, registry, allow_without_user_namespaces=False):
        """What keeps sandboxes from being isolated right now, in words (empty: all is in place).

        `registry` is the registry container's name: the one port of `bridge` that stays open.
        """


# The Engine API version spoken to an engine on tcp:// (Docker 20.10 and later: a sandbox's --cgroupns needs it).
TCP_API_VERSION = "1.41"
# Docker's DOCKER_CERT_PATH convention: the CA the engine's certificate is checked against, and this client's
# certificate and key, which the engine (dockerd --tlsverify) checks against its own CA.
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


@dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str


def tls_files(folder):
    """TlsFiles of a folder laid out as Docker's DOCKER_CERT_PATH; TlsFilesMissing naming the first file absent."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise TlsFilesMissing(f"{root} is not a folder (it should hold {', '.join(TLS_FILES)})")
    paths = [root / name for name in TLS_FILES]
    for path in paths:
        if not path.is_file():
            raise TlsFilesMissing(f"{path} is missing: a TLS folder holds {', '.join(TLS_FILES)} (the CA, this client's certificate and key)")
    return TlsFiles(*(str(path.resolve()) for path in paths))


@functools.cache
def for_url(url, tls_dir=""):
    """The engine at a Docker engine URL (`unix:///...`, `tcp://...`), one per URL and TLS folder for the process's
    life; with `tls_dir` (ca.pem, cert.pem, key.pem) it is spoken to over TLS, both ends' certificates checked."""
    return DockerEngine(url, tls_dir=tls_dir)


def default():
    """The engine of the default host: the one settings.DOCKER_HOST names (by default, bin/drydock's own),
    with the TLS folder settings.DOCKER_CERT_PATH names for one on tcp://."""
    return for_url(settings.DOCKER_HOST, settings.DOCKER_CERT_PATH)


# --- The real engine, through the docker SDK ---------------------------------------------------


def _sdk_errors():
    return (docker.errors.DockerException, requests.exceptions.RequestException)


@functools.cache
def _seccomp_profile(path):
    return Path(path).read_text()


def _sandbox_container_options(api, spec, *, disk, network_files=None, cgroup_parent=""):
    """Everything `docker run` is told about a sandbox but its image and name: change isolation here.

    With `network_files` (the folder _write_network_files made) the sandbox gets no network of Docker's:
    grader/sandbox_network.py gives it its port once it runs, and its /etc/hosts and /etc/resolv.conf are those.

    DESIGN.md "Sandbox isolation": on an engine with user namespaces, Docker's
    default capabilities plus SYS_ADMIN and NET_ADMIN are what a nested dockerd
    needs, and nothing more is granted (tests/test_sandbox_attacks.py lists the
    capabilities a sandbox must never hold); the seccomp profile is Docker's
    default plus pivot_root and the keyctl operations runc needs for a session
    keyring. The root filesystem is read-only: what a learner writes lands on
    the sandbox's own disk (/var/lib/docker, /root, /run/drydock) or in memory
    (/tmp, /run), never on the host's disk.
    """
    host_config = api.create_host_config(
        cap_add=["SYS_ADMIN", "NET_ADMIN"],
        # No AppArmor profile: Docker's would refuse the nested daemon its mounts.
        security_opt=[f"seccomp={_seccomp_profile(spec.seccomp_profile)}", "apparmor=unconfined"],
        cgroupns="private",
        read_only=True,
        tmpfs={
            "/tmp": "rw,exec,nosuid,nodev,size=512m",
            "/run": "rw,nosuid,nodev,size=64m",
            # dockerd 20.10 wrote its key.json there at start; 26 reads its configuration there.
            "/etc/docker": "rw,nosuid,nodev,noexec,size=1m",
        },
        # All three on the sandbox's own disk, so that nothing a learner writes reaches the host's.
        binds={
            str(disk / disks.DOCKER): {"bind": "/var/lib/docker", "mode": "rw"},
            str(disk / disks.HOME): {"bind": "/root", "mode": "rw"},
            str(disk / disks.RUN): {"bind": SOCKET_IN_SANDBOX, "mode": "rw"},
        } | ({str(network_files / name): {"bind": f"/etc/{name}", "mode": "ro"} for name in NETWORK_FILES} if network_files else {}),
        extra_hosts=None if network_files else {name: "127.0.0.1" for name in DOCKER_HUB_NAMES},
        network_mode="none" if network_files else spec.network,
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",
        pids_limit=spec.pids_limit,
        nano_cpus=int(spec.cpus * 1_000_000_000),
        # Its start before the started sandboxes' work, in the sandboxes' CPU group (grader/cpu_priority.py); never
        # outside it (among the platform's own containers), nor for a kept disk, whose daemon starts with it and
        # brings the learner's containers back at once.
        cpu_shares=cpu_priority.starting_shares(in_group=bool(cgroup_parent), kept_disk=bool(spec.persistent_disk)),
        cgroup_parent=cgroup_parent or None,
        log_config=docker.types.LogConfig(type="json-file", config={"max-size": spec.log_max_size, "max-file": "2"}),
    )
    # The CLI's `--security-opt systempaths=unconfined`: the nested daemon sets up /proc and /sys for its
    # containers. In a user namespace the kernel still refuses writes to the host's settings there.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    return {
        "hostname": "sandbox",
        "network_disabled": bool(network_files),
        "detach": True,
        "labels": spec.labels,
        "environment": {"DRYDOCK_REGISTRY_MIRROR": spec.registry_mirror, "DRYDOCK_SOCKET": f"{SOCKET_IN_SANDBOX}/docker.sock",
                        "DRYDOCK_ISOLATED_MARK": f"{SOCKET_IN_SANDBOX}/{NETWORK_ISOLATED_MARK}",
                        "DRYDOCK_STARTED_MARK": f"{SOCKET_IN_SANDBOX}/{DAEMON_STARTED_MARK}",
                        "DRYDOCK_ON_DEMAND_MARK": f"{SOCKET_IN_SANDBOX}/{DAEMON_LISTENING_MARK}" if spec.daemon_on_demand else ""},
        "host_config": host_config,
    }


def _plain_end_of(tls_socket):
    """A plain socket carrying what a TLS connection carries, both ways (an exec's terminal on an engine over tcp+TLS):
    asyncio's sock_recv and sock_sendall take plain sockets only. One thread copies, so the TLS connection is never
    read and written at once; either side closing ends both."""
    ours, bridged = socket.socketpair()

    def copy():
        try:
            while True:
                # A record already decrypted waits in the TLS socket's buffer, where select cannot see it.
                readable = [tls_socket] if tls_socket.pending() else select.select([tls_socket, bridged], [], [])[0]
                for source, target in ((tls_socket, bridged), (bridged, tls_socket)):
                    if source in readable:
                        data = source.recv(64 * 1024)
                        if not data:
                            return
                        target.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for end in (bridged, tls_socket):
                try:
                    end.close()
                except OSError:
                    pass

    threading.Thread(target=copy, name="terminal-tls", daemon=True).start()
    return ours


class _NotTheSandboxDaemon(EngineUnavailable):
    """What answers on the sandbox's socket is not a process of that sandbox."""


class _SandboxDaemonConnection(http.client.HTTPConnection):
    """HTTP to a sandbox's own Docker daemon, on its socket in the sandbox's folder.

    The learner, root in the sandbox, can put anything at that path: a symlink
    to the host's docker.sock, another sandbox's socket. So each connection's
    far end is checked (SO_PEERCRED): it must run in the sandbox's own pid
    namespace, or nothing is asked of it.
    """

    def __init__(self, path, *, pid_namespace, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path
        self.pid_namespace = pid_namespace

    def connect(self):
        if not stat.S_ISSOCK(os.lstat(self.socket_path).st_mode):
            raise _NotTheSandboxDaemon(f"{self.socket_path} is not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
            pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            try:
                peer_namespace = os.readlink(f"/proc/{pid}/ns/pid") if pid > 0 else None
            except OSError:
                peer_namespace = None
            if peer_namespace != self.pid_namespace:
                raise _NotTheSandboxDaemon(f"the process answering on {self.socket_path} (pid {pid}) is not in the sandbox")
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def daemon_socket(socket_dir):
    """Where the nested daemon's socket is on the host: in the sandbox's folder, on its disk."""
    return str(Path(socket_dir) / disks.MOUNT / disks.RUN / "docker.sock")


def _mark(socket_dir, mark):
    """A mark of the sandbox's entrypoint (DAEMON_*_MARK) on the host: beside its daemon's socket."""
    return Path(socket_dir) / disks.MOUNT / disks.RUN / mark


def _nested_get(connection, path, *, api=NESTED_API):
    """JSON (or text) of one GET to a nested daemon; EngineUnavailable on anything but a 200 of a sane size.

    What answers may be a learner's own program: its answers are bounded, and
    any shape the parsers do not expect is an EngineUnavailable, never a crash.
    """
    connection.request("GET", api + path, headers={"Host": "docker"})
    response = connection.getresponse()
    body = response.read(NESTED_ANSWER_LIMIT + 1)
    if len(body) > NESTED_ANSWER_LIMIT:
        raise EngineUnavailable(f"the sandbox's Docker daemon answered more than {NESTED_ANSWER_LIMIT // 1024**2} MiB to {path}")
    if response.status != 200:
        raise EngineUnavailable(f"the sandbox's Docker daemon answered {response.status} to {path}")
    return json.loads(body) if body.strip().startswith((b"{", b"[")) else body.decode("utf-8", "replace")


# Host rules already checked by this process, and when: they hold until a reboot or a flush.
_host_rules_checked = {}


def _check_host_rules(bridge):
    """Refuse to start a sandbox on a bridge whose host rules are missing (IPv6 is turned off here if needed)."""
    isolation.ensure_ipv6_off(bridge)
    if time.monotonic() - _host_rules_checked.get(bridge, -3600) < 60:
        return
    try:
        problems = isolation.host_problems(bridge)
    except isolation.IsolationError as exc:
        problems = [str(exc)]
    if problems:
        raise EngineUnavailable(f"the sandboxes' network is not isolated ({'; '.join(problems)}): run bin/drydock setup")
    _host_rules_checked[bridge] = time.monotonic()


def _registry_name(spec):
    """The registry's host name in the sandbox's mirror URL (http://drydock-registry:5000): its container's name."""
    return urllib.parse.urlsplit(spec.registry_mirror).hostname


# The files of a sandbox's /etc that Docker would write for a sandbox on its network, written by the platform
# for one with its own port (grader/sandbox_network.py), in this folder of the sandbox's.
NETWORK_FILES = ("hosts", "resolv.conf")
NETWORK_FILES_FOLDER = "etc"


def _write_network_files(socket_dir, spec, registry_address):
    """The sandbox's /etc/hosts (the registry's address, Docker Hub's names on loopback: nothing reaches them)
    and /etc/resolv.conf (no name server: sandboxes have no DNS); return their folder."""
    folder = Path(socket_dir) / NETWORK_FILES_FOLDER
    folder.mkdir(mode=0o755, exist_ok=True)
    registry = _registry_name(spec)
    hosts = (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tsandbox\n"
        f"{registry_address}\t{registry}\n" + "".join(f"127.0.0.1\t{name}\n" for name in DOCKER_HUB_NAMES)
    )
    (folder / "hosts").write_text(hosts)
    (folder / "resolv.conf").write_text(f"# No name server: a sandbox reaches {registry} alone, named in /etc/hosts.\n")
    for name in NETWORK_FILES:
        (folder / name).chmod(0o644)
    return folder


# How long a start trusts what the engine said of the sandboxes' network (its subnet, the registry's address).
NETWORK_FRESH_SECONDS = 10


def _described_network(found, spec):
    """(SandboxNetwork, the registry's address) of a network's inspect: EngineUnavailable saying what is wrong."""
    name = spec.network
    bridge = (found.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + found.get("Id", "")[:12]
    if bridge != spec.bridge:
        raise EngineUnavailable(f"the sandboxes' network {name} runs on bridge {bridge}, not {spec.bridge}: run bin/drydock setup")
    configs = [c for c in (found.get("IPAM") or {}).get("Config") or () if "." in (c.get("Subnet") or "")]
    if not configs:
        raise EngineUnavailable(f"the sandboxes' network {name} has no IPv4 subnet: run bin/drydock setup")
    subnet = ipaddress.ip_network(configs[0]["Subnet"], strict=False)
    # Docker never sees the addresses sandboxes lease: its IPAM must give from a range of its own, or it
    # could give a leased one to a container attached by the CLI.
    if not configs[0].get("IPRange"):
        raise EngineUnavailable(f"the sandboxes' network {name} lets Docker give any address of {subnet}, those sandboxes lease too "
                                f"(no ip-range): run bin/drydock setup, which makes it again")
    engine_range = ipaddress.ip_network(configs[0]["IPRange"], strict=False)
    gateway = ipaddress.ip_address(configs[0]["Gateway"]) if configs[0].get("Gateway") else None
    registry = _registry_name(spec)
    addresses, registry_address = set(), None
    for attached in (found.get("Containers") or {}).values():
        address = (attached.get("IPv4Address") or "").split("/")[0]
        if not address:
            continue
        addresses.add(ipaddress.ip_address(address))
        if attached.get("Name") == registry:
            registry_address = address
    if registry_address is None:
        raise EngineUnavailable(f"the course registry {registry} is not on the sandboxes' network {name}: run bin/drydock setup")
    network = sandbox_network.SandboxNetwork(bridge=bridge, subnet=subnet, engine_range=engine_range, gateway=gateway,
                                             docker_addresses=frozenset(a for a in addresses if a in subnet))
    return network, registry_address


def _remove_folder(folder):
    """A sandbox's folder on the host, its disk first: unmounted, the folder holds nothing a learner wrote."""
    try:
        disks.detach(folder)
    except disks.DiskError:
        return  # still mounted: left for the reaper's next sweep rather than deleted into the disk
    shutil.rmtree(folder, ignore_errors=True)


def _remove(client, name):
    try:
        client.containers.get(name).remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Another remover (the reaper, a task) got there first: the container is going either way.
        if exc.status_code != 409 or "already in progress" not in str(exc):
            raise


def _causes(exc):
    """An exception and those it was raised from (the SDK wraps the SSLError of its first request in its own)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _exit_code(api, exec_id):
    """The exit code of an exec whose output has ended; None while it still runs a second later. Its output ends a
    moment before the engine knows how it exited."""
    for _ in range(50):
        ended = api.exec_inspect(exec_id)
        if not ended.get("Running"):
            return ended.get("ExitCode")
        time.sleep(0.02)
    return None


class DockerEngine(Engine):
    """The host's Docker engine: `base_url` if given, else the docker SDK's default from the environment.

    With `tls_dir` (Docker's DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem) an engine on tcp:// is
    spoken to over TLS: its certificate must be signed by ca.pem, and it checks ours (dockerd --tlsverify).
    """

    def __init__(self, base_url=None, *, tls_dir=""):
        self.base_url = base_url
        self.tls_dir = tls_dir or ""
        self._api_version = None  # the engine's, learnt from its first client
        self._start_info = None  # its EngineInfo, learnt at the first start (see _namespaces_for_start)
        self._networks = {}  # network name -> (when asked, what _sandbox_network answered)
        self._weighed_groups = {}  # CPU group -> what this process made of it: shares, usable, checked
        self._settles = False  # whether this process starts sandboxes at the starting weight (settle_sandbox lowers it)

    def _tls(self):
        if not self.tls_dir:
            return None
        files = tls_files(self.tls_dir)
        return docker.tls.TLSConfig(client_cert=(files.cert, files.key), ca_cert=files.ca, verify=True)

    def _client(self, *, fallback_url=None, timeout=5):
        base_url = self.base_url or fallback_url
        try:
            if base_url and base_url.startswith("tcp://"):
                # Spoken to directly, with its own CA: requests would otherwise take REQUESTS_CA_BUNDLE (the system's
                # CAs) over the host's ca.pem, and HTTPS_PROXY's proxy. The SDK's asking for the version would be
                # the first request, before that is turned off: the version is the one the sandboxes need instead.
                client = docker.DockerClient(base_url=base_url, timeout=timeout, tls=self._tls() or False, version=TCP_API_VERSION)
                client.api.trust_env = False
                return client
            # The SDK asks the engine its API version for each new client: once per engine is enough (one request
            # fewer on every call, which a class's Starts and Checks make by the hundred while dockerd is busiest).
            version = self._api_version or "auto"
            client = docker.DockerClient(base_url=base_url, timeout=timeout, version=version) if base_url else docker.from_env(timeout=timeout, version=version)
            self._api_version = client.api.api_version
            return client
        except docker.errors.DockerException as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc):
        """EngineUnavailable in words an operator can act on: TLS refused either way is said as such."""
        url = self.base_url or "the environment's DOCKER_HOST"
        for cause in _causes(exc):
            if isinstance(cause, requests.exceptions.SSLError):
                if self.tls_dir:
                    fix = f"the certificates in {self.tls_dir} are not the ones that engine and this client trust each other by"
                else:
                    fix = "it wants this client's certificate: give the host its TLS folder (manage.py docker_hosts add NAME --tls-dir DIR)"
                return EngineUnavailable(f"TLS with the Docker engine at {url} failed ({cause}): {fix}")
            if "HTTP request to an HTTPS server" in str(cause):
                return EngineUnavailable(
                    f"the Docker engine at {url} speaks TLS only: give the host its client certificate, key and CA "
                    "(manage.py docker_hosts add NAME --tls-dir DIR, a folder with ca.pem, cert.pem and key.pem)"
                )
        return EngineUnavailable(str(exc))

    @contextmanager
    def _host_engine(self, sandbox=None, *, timeout=5):
        """A client of the host's engine, closed after use, whose errors come out as the project's own."""
        client = self._client(timeout=timeout)
        try:
            yield client
        except docker.errors.NotFound as exc:
            raise SandboxGone(f"sandbox container {sandbox} does not exist") from exc
        except _sdk_errors() as exc:
            raise self._unavailable(exc) from exc
        finally:
            client.close()

    def engine_info(self):
        client = self._client()
        try:
            version = client.version()
            info = client.info()
        except _sdk_errors() as exc:
            raise self._unavailable(exc) from exc
        finally:
            client.close()
        user_namespaces = any("name=userns" in option for option in info.get("SecurityOptions") or ())
        # With --userns-remap the data root ends in "<uid>.<gid>" of the user root is mapped to.
        remapped = re.search(r"/(\d+)\.(\d+)$", info.get("DockerRootDir", "")) if user_namespaces else None
        return EngineInfo(
            version=version.get("Version", "?"),
            api_version=version.get("ApiVersion", "?"),
            containers_running=info.get("ContainersRunning", 0),
            user_namespaces=user_namespaces,
            remapped_root=int(remapped.group(1)) if remapped else None,
            cgroup_driver=info.get("CgroupDriver", ""),
            cgroup_version=str(info.get("CgroupVersion", "")),
        )

    def _namespaces_for_start(self):
        """The engine's EngineInfo as a start needs it: on this machine, learnt once (each started sandbox's own
        user namespace is then read, ~0 ms, where asking the engine costs it ~16 ms of CPU a class's starts share)."""
        if not self._on_this_machine():
            return self.engine_info()
        if self._start_info is None:
            self._start_info = self.engine_info()
        return self._start_info

    def _check_sandbox_namespace(self, pid, spec, expected_root):
        """Refuse a started sandbox whose root is not the unprivileged user its disk was made for: none at all (the
        engine restarted without --userns-remap) raises UnsafeEngine; another one, EngineUnavailable. Either way the
        engine is asked again at the next start."""
        if not self._on_this_machine():
            return
        try:
            root = root_outside(Path(f"/proc/{pid}/uid_map").read_text()) if pid > 0 else False
        except (OSError, ValueError):
            root = False
        if root is False:
            raise EngineUnavailable(f"sandbox {spec.name} stopped as it started")
        if root == expected_root:
            return
        self._start_info = None
        if root is None and not spec.allow_without_user_namespaces:
            raise UnsafeEngine(USERNS_REFUSAL)
        raise EngineUnavailable(
            f"the Docker engine's user namespace changed (root is uid {root} on the host, not {expected_root}): start the sandbox again"
        )

    def _sandbox_network(self, client, spec):
        """(SandboxNetwork, the registry's address on it) of spec.network, as its engine describes it; asked again
        after NETWORK_FRESH_SECONDS (a registry made again, a container the CLI attached)."""
        known = self._networks.get(spec.network)
        if known is not None and time.monotonic() - known[0] < NETWORK_FRESH_SECONDS:
            return known[1]
        try:
            found = client.api.inspect_network(spec.network)
        except docker.errors.NotFound as exc:
            raise EngineUnavailable(f"the sandboxes' network {spec.network} does not exist: run bin/drydock setup") from exc
        described = _described_network(found, spec)
        self._networks[spec.network] = (time.monotonic(), described)
        return described

    def start_sandbox(self, spec):
        info = self._namespaces_for_start()
        if not info.user_namespaces and not spec.allow_without_user_namespaces:
            raise UnsafeEngine(USERNS_REFUSAL)
        _check_host_rules(spec.bridge)
        root = info.remapped_root or 0
        with self._host_engine(spec.name, timeout=START_TIMEOUT_SECONDS) as client:
            _remove(client, spec.name)
            try:
                disk = disks.attach(
                    spec.socket_dir, templates=spec.disk_templates, size_gb=spec.disk_gb, owner=root, image=spec.persistent_disk or None,
                )
            except (disks.DiskError, OSError) as exc:
                raise EngineUnavailable(f"the sandbox's disk could not be made: {exc}") from exc
            api = client.api
            try:
                # The sandbox's entrypoint starts nothing (no daemon, so none of the containers a kept disk
                # would restart) until this mark exists: a kept disk's mark is from its last start.
                isolated_mark = disk / disks.RUN / NETWORK_ISOLATED_MARK
                # A kept disk's daemon marks are from its last start too: never taken for this one's. The learner
                # may have left anything there, a folder too (removed without following a link: shutil.rmtree).
                for mark in (isolated_mark, disk / disks.RUN / DAEMON_LISTENING_MARK, disk / disks.RUN / DAEMON_STARTED_MARK):
                    if mark.is_dir() and not mark.is_symlink():
                        shutil.rmtree(mark)
                    else:
                        mark.unlink(missing_ok=True)
                # On this machine the sandbox's port is made here (grader/sandbox_network.py), not by the engine.
                network, files = None, None
                if self._on_this_machine() and not spec.network_by_engine:
                    network, registry_address = self._sandbox_network(client, spec)
                    files = _write_network_files(spec.socket_dir, spec, registry_address)
                cgroup_parent = self._cpu_group(spec, info)
                options = _sandbox_container_options(api, spec, disk=disk, network_files=files, cgroup_parent=cgroup_parent)
                created = api.create_container(spec.image, name=spec.name, **options)
                api.start(created["Id"])
                started = api.inspect_container(created["Id"])
                pid = started["State"]["Pid"]
                if cgroup_parent and pid > 0:
                    self._check_cpu_group(spec, cgroup_parent, pid)
                # Its network namespace held open from here: the one whose process is checked is the one given a port.
                netns = sandbox_network.open_namespace(pid) if network is not None and pid > 0 else None
                try:
                    # A pid is a number the host may give again once its process ends: still the sandbox's init after
                    # the open, the namespace held is the sandbox's (its init cannot end and be replaced meanwhile).
                    if netns is not None and (api.inspect_container(created["Id"]).get("State") or {}).get("Pid") != pid:
                        raise isolation.IsolationError(f"the sandbox's process {pid} ended as it started")
                    # Before anything of the learner's runs: its root is the unprivileged user the engine was found to use...
                    self._check_sandbox_namespace(pid, spec, info.remapped_root)
                    # ... and from now on its port reaches the registry's and no other.
                    if network is not None:
                        sandbox_network.connect(netns, network)
                    else:
                        isolation.isolate_port(started["NetworkSettings"]["SandboxKey"], spec.bridge)
                finally:
                    if netns is not None:
                        os.close(netns)
                isolated_mark.touch()
            except BaseException as exc:
                # Whatever went wrong (a timeout included), no container runs unisolated and no disk stays mounted.
                _remove(client, spec.name)
                _remove_folder(spec.socket_dir)
                if isinstance(exc, docker.errors.ImageNotFound):
                    raise EngineUnavailable(f"image {spec.image} is missing: run bin/drydock setup to build it") from exc
                if isinstance(exc, isolation.IsolationError):
                    raise EngineUnavailable(f"the sandbox could not be isolated on its network: {exc}") from exc
                raise
            return created["Id"]

    def _cpu_group(self, spec, info):
        """The CgroupParent of a sandbox: the sandboxes' CPU group, made and weighed on this machine once per process
        (again if the shares asked change). Elsewhere, or where it cannot be weighed, the engine's default place."""
        parent = cpu_priority.cgroup_parent(spec.cpu_group, info.cgroup_driver)
        if not parent or not self._on_this_machine():
            return ""
        group = self._weighed_groups.get(spec.cpu_group)
        if group is None or group["shares"] != spec.cpu_group_shares:
            group = {"shares": spec.cpu_group_shares, "usable": True, "checked": False}
            self._weighed_groups[spec.cpu_group] = group
            try:
                cpu_priority.weigh_group(spec.cpu_group, spec.cpu_group_shares, version=info.cgroup_version)
            except cpu_priority.CpuPriorityError as exc:
                self._give_up_cpu_group(group, exc)
        if group["usable"]:
            self._settles = True
        return parent if group["usable"] else ""

    def _check_cpu_group(self, spec, parent, pid):
        """Once per process: the group weighed is the one its first sandbox started in (else none from now on)."""
        group = self._weighed_groups.get(spec.cpu_group)
        if group is None or group["checked"]:
            return
        group["checked"] = True
        try:
            cpu_priority.check_placed(Path(f"/proc/{pid}/cgroup").read_text(), parent)
        except (OSError, cpu_priority.CpuPriorityError) as exc:
            self._give_up_cpu_group(group, exc)

    @staticmethod
    def _give_up_cpu_group(group, exc):
        # Said once: this process's sandboxes then start where the engine puts them (a worker in a container whose
        # /sys/fs/cgroup is read-only, or that has a cgroup namespace of its own).
        log.warning("sandboxes run in the engine's CPU group, at its weight: %s", exc)
        group["usable"] = False

    def settle_sandbox(self, name):
        if not self._settles:
            return  # none of this process's sandboxes started at the starting weight
        # A busy engine during a class's starts may take its time: a set-up sandbox is not failed for it.
        with self._host_engine(name, timeout=START_TIMEOUT_SECONDS) as client:
            client.api.update_container(name, cpu_shares=cpu_priority.RUNNING_SHARES)

    def _pid_namespace(self, name):
        """The pid namespace of the sandbox's processes (its init's), as the host names it."""
        with self._host_engine(name) as client:
            pid = client.api.inspect_container(name).get("State", {}).get("Pid") or 0
        if pid <= 0:
            raise EngineUnavailable(f"container {name} is not running")
        try:
            return os.readlink(f"/proc/{pid}/ns/pid")
        except OSError as exc:
            raise EngineUnavailable(f"container {name} is not running") from exc

    def sandbox_pid_namespace(self, name):
        """The pid namespace a process must be in to speak for the sandbox's daemon (grader.events checks its peer with it)."""
        return self._pid_namespace(name)

    def wait_for_daemon(self, name, socket_dir, *, timeout, on_demand=False):
        started = time.monotonic()
        deadline = started + timeout
        path = daemon_socket(socket_dir)
        listening = _mark(socket_dir, DAEMON_LISTENING_MARK)
        namespace = None
        next_look = started
        while time.monotonic() < deadline:
            # Asking the host's engine costs it CPU a class's starts share: every LOOK_EVERY_SECONDS, not each try.
            if time.monotonic() >= next_look:
                if not self.sandbox_running(name):
                    raise EngineUnavailable("the sandbox container stopped before its Docker daemon answered")
                next_look = time.monotonic() + LOOK_EVERY_SECONDS
            if on_demand:
                # Made once both sockets listen. No connection to try it: the first one starts the daemon.
                if os.path.lexists(listening):
                    if not self.sandbox_running(name):
                        raise EngineUnavailable("the sandbox container stopped before its Docker daemon answered")
                    return time.monotonic() - started
                time.sleep(0.01)
                continue
            namespace = namespace or self._pid_namespace(name)
            connection = _SandboxDaemonConnection(path, pid_namespace=namespace, timeout=2)
            try:
                if _nested_get(connection, "/_ping") == "OK":
                    return time.monotonic() - started
            except _NotTheSandboxDaemon:
                raise
            except (OSError, http.client.HTTPException, EngineUnavailable):
                pass  # not listening yet
            finally:
                connection.close()
            time.sleep(0.02)
        raise EngineUnavailable(f"the sandbox's Docker daemon did not answer within {timeout} s")

    def daemon_started(self, name, socket_dir):
        # The learner may put anything there, a symlink to a host path too: never followed. A socket and no listening
        # mark: a daemon started with its sandbox (or by an image made before daemons started on demand).
        if os.path.lexists(_mark(socket_dir, DAEMON_STARTED_MARK)):
            return True
        return os.path.lexists(daemon_socket(socket_dir)) and not os.path.lexists(_mark(socket_dir, DAEMON_LISTENING_MARK))

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
        # Killing a nested daemon can take a while on a busy machine.
        with self._host_engine(name, timeout=120) as client:
            _remove(client, name)
        if socket_dir:
            _remove_folder(socket_dir)

    def labelled_sandboxes(self, deployment):
        # One listing, no inspect of each container: the SDK's high-level list inspects them one by one,
        # and a container removed meanwhile (a removal task beside the reaper) made the whole call fail.
        with self._host_engine() as client:
            return [
                LabelledContainer(name=(c.get("Names") or ["/"])[0].lstrip("/"), status=c.get("State", ""), labels=dict(c.get("Labels") or {}))
                for c in client.api.containers(all=True, filters={"label": [SANDBOX_LABEL, f"{DEPLOYMENT_LABEL}={deployment}"]})
            ]

    def memory_usage_bytes(self, name):
        with self._host_engine(name) as client:
            memory = client.containers.get(name).stats(stream=False).get("memory_stats", {})
            return memory.get("usage", 0) - memory.get("stats", {}).get("cache", 0)

    def take_snapshot(self, name, socket_dir, *, files=(), probes=()):
        connection = _SandboxDaemonConnection(daemon_socket(socket_dir), pid_namespace=self._pid_namespace(name), timeout=10)
        deadline = time.monotonic() + SNAPSHOT_SECONDS

        def get(path):
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"the sandbox's Docker daemon took more than {SNAPSHOT_SECONDS} s to describe itself")
            return _nested_get(connection, path)

        def listed(path):
            found = get(path)
            if not isinstance(found, list) or len(found) > NESTED_OBJECT_LIMIT:
                raise EngineUnavailable(f"the sandbox's Docker daemon gave no list of at most {NESTED_OBJECT_LIMIT} to {path}")
            return found

        try:
            images = tuple(_image(image, get(f"/images/{image['Id']}/json"), listed(f"/images/{image['Id']}/history")) for image in listed("/images/json"))
            build_cache = _build_cache(connection, deadline)
            containers = tuple(_container(get(f"/containers/{c['Id']}/json")) for c in listed("/containers/json?all=1"))
            volumes = tuple(snapshot.Volume(name=v["Name"], labels=v.get("Labels") or {}) for v in (get("/volumes").get("Volumes") or ()))
            networks = tuple(snapshot.Network(name=n["Name"], driver=n.get("Driver", "")) for n in listed("/networks"))
        except _NotTheSandboxDaemon as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon is not answering: {exc}") from exc
        except FileNotFoundError as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon is not answering: no socket in {socket_dir}") from exc
        except EngineUnavailable:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon did not answer: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered something that is not Docker's API: {exc!r}"[:300]) from exc
        finally:
            connection.close()
        contents = {(volume, path): self.read_volume_file(name, volume, path) for volume, path in files}
        answers = {(port, path): self.fetch_http(name, port, path) for port, path in probes}
        return snapshot.Snapshot(
            images=images, containers=containers, volumes=volumes, networks=networks, files=contents, http=answers, build_cache=build_cache,
        )

    def _bounded_output(self, name, command, *, limit, seconds, judge_exit=True):
        """(bytes, complete) of a program run by exec in the sandbox container, read no further than `limit`
        bytes and `seconds`, whatever answers or whatever program the learner put in its place. With `judge_exit`,
        an output that ended with the program's failure is not complete either: curl cut by its own time limit
        (a server that stalls after its first bytes) ends its output as cleanly as a whole answer does."""
        deadline = time.monotonic() + seconds
        chunks, size, complete = [], 0, False
        with self._host_engine(name, timeout=seconds) as client:
            api = client.api
            created = api.exec_create(name, list(command), stdout=True, stderr=False)
            stream = api.exec_start(created["Id"], stream=True, demux=False)
            try:
                for chunk in stream:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit or time.monotonic() > deadline:
                        break
                else:
                    complete = True
            except OSError:
                pass  # it went silent past the client's timeout: what came so far is all there is
            finally:
                stream.close()
            if complete and judge_exit:
                complete = _exit_code(api, created["Id"]) == 0
        return b"".join(chunks), complete

    def fetch_http(self, name, port, path):
        url = snapshot.http_probe_url(port, path)
        if url is None:
            return None
        # In the sandbox container's network namespace, where its daemon publishes ports: never the host's network.
        # A Check reads what answered, whole or not (its verdict names the status and the body it saw).
        output, _complete = self._bounded_output(
            name, [*HTTP_PROBE_PROGRAM, url], limit=HTTP_ANSWER_LIMIT, seconds=HTTP_PROBE_SECONDS + 5, judge_exit=False,
        )
        return parse_http_answer(output[:HTTP_ANSWER_LIMIT])

    def published_ports(self, name, socket_dir):
        # Read on the sandbox's socket from here when its folder is on this machine (~1 ms); else, an engine
        # elsewhere or a folder of another root (a second engine's), through its engine as the terminal is (~40 ms).
        if self._on_this_machine() and os.path.lexists(daemon_socket(socket_dir)):
            if not self.daemon_started(name, socket_dir):
                return []  # a daemon never started publishes nothing; asking would start it (the lab page asks every 15 s)
            return self._published_ports_on_socket(name, socket_dir)
        return self._published_ports_by_exec(name)

    def _on_this_machine(self):
        """The engine runs where this process does: its containers' pids are this /proc's, their folders this disk's."""
        return (self.base_url or "unix://").startswith("unix://")

    def _published_ports_on_socket(self, name, socket_dir):
        connection = _SandboxDaemonConnection(daemon_socket(socket_dir), pid_namespace=self._pid_namespace(name), timeout=5)
        try:
            return self._published(_nested_get(connection, "/containers/json"))
        except _NotTheSandboxDaemon as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon is not answering: {exc}") from exc
        except FileNotFoundError as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon is not answering: no socket in {socket_dir}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon did not answer: {exc}") from exc
        except (ValueError, RecursionError) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered something that is not Docker's API: {exc!r}"[:300]) from exc
        finally:
            connection.close()

    def _published_ports_by_exec(self, name):
        """The nested daemon's /containers/json asked by curl inside the sandbox (an exec on its host's engine), on the
        socket the sandbox itself sees. Whatever answers there is the learner's own doing and bounded as on the socket:
        it can only change which of their own ports their preview offers, each then fetched inside the sandbox too."""
        output, complete = self._bounded_output(name, NESTED_LIST_PROGRAM, limit=NESTED_ANSWER_LIMIT, seconds=NESTED_LIST_SECONDS + 3)
        if len(output) > NESTED_ANSWER_LIMIT:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered more than {NESTED_ANSWER_LIMIT // 1024**2} MiB to /containers/json")
        answer = parse_http_answer(output) if complete else None
        if answer is None:
            raise EngineUnavailable("the sandbox's Docker daemon did not answer in the sandbox")
        if answer.status != 200:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered {answer.status} to /containers/json")
        try:
            return self._published(json.loads(answer.body))
        except (ValueError, RecursionError) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered something that is not Docker's API: {exc!r}"[:300]) from exc

    @staticmethod
    def _published(containers):
        try:
            if not isinstance(containers, list) or len(containers) > NESTED_OBJECT_LIMIT:
                raise EngineUnavailable(f"the sandbox's Docker daemon gave no list of at most {NESTED_OBJECT_LIMIT} containers")
            return preview.published_ports(c for c in containers if isinstance(c, dict))
        except (ValueError, TypeError, AttributeError) as exc:
            raise EngineUnavailable(f"the sandbox's Docker daemon answered something that is not Docker's API: {exc!r}"[:300]) from exc

    def fetch_preview(self, name, port, path="/", query=""):
        url = preview.preview_url(port, path, query)
        if url is None:
            return None
        # As fetch_http: curl in the sandbox container's network namespace, never a connection from the host.
        output, complete = self._bounded_output(
            name, [*preview.PREVIEW_PROGRAM, url], limit=preview.PREVIEW_ANSWER_LIMIT, seconds=preview.PREVIEW_SECONDS + 3,
        )
        return preview.parse_answer(output, complete=complete)

    def sweep_persistent_disks(self, root, *, deployment, keep):
        ours = re.compile(rf"{re.escape(deployment)}-playground-\d+-\d+-[0-9a-f]+\.img")
        kept = {str(Path(k)) for k in keep}
        # Never the disk under a container that is still there, whatever the rows say.
        with self._host_engine() as client:
            for container in client.api.containers(all=True, filters={"label": [SANDBOX_LABEL, f"{DEPLOYMENT_LABEL}={deployment}"]}):
                kept.add((container.get("Labels") or {}).get(KEPT_DISK_LABEL, ""))
        removed = []
        for image in sorted(Path(root).iterdir()) if Path(root).is_dir() else ():
            if not ours.fullmatch(image.name) or str(image) in kept or not image.is_file() or image.is_symlink():
                continue
            try:
                if disks.in_use(image):
                    continue  # still mounted by a sandbox being removed: the next sweep takes it
            except disks.DiskError:
                continue
            image.unlink(missing_ok=True)
            removed.append(str(image))
        return removed

    def read_volume_file(self, name, volume, path):
        relative = volume_file_path(volume, path)
        if relative is None:
            return None
        command = ["timeout", "10", "head", "-c", str(VOLUME_FILE_LIMIT), f"/var/lib/docker/volumes/{volume}/_data/{relative}"]
        with self._host_engine(name, timeout=15) as client:
            api = client.api
            created = api.exec_create(name, command, stdout=True, stderr=False)
            # The learner may have put another `head` in its place: read no more than the limit, whatever it prints.
            output = b""
            stream = api.exec_start(created["Id"], stream=True, demux=False)
            try:
                for chunk in stream:
                    output += chunk
                    if len(output) > VOLUME_FILE_LIMIT:
                        return None
            finally:
                stream.close()
            if _exit_code(api, created["Id"]) != 0:
                return None
        return output.decode("utf-8", "replace")

    def open_terminal(self, name, *, rows=24, cols=80, session=1):
        command = terminal_command(session)
        client = self._client(timeout=None)
        try:
            api = client.api
            created = api.exec_create(
                name, command, stdin=True, tty=True, environment={"TERM": "xterm-256color", "LANG": "C.UTF-8"},
                workdir="/root",
            )
            raw = api.exec_start(created["Id"], tty=True, socket=True)
            sock = getattr(raw, "_sock", raw)
            if isinstance(sock, ssl.SSLSocket):
                sock = _plain_end_of(sock)
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
            raise self._unavailable(exc) from exc

    def resize_terminal(self, exec_id, *, rows, cols):
        with self._host_engine() as client:
            client.api.exec_resize(exec_id, height=rows, width=cols)

    def sweep_folders(self, root, *, deployment, keep, older_than):
        # Never the disk under a container that is still there, whatever its row says.
        present = {c.name for c in self.labelled_sandboxes(deployment)}
        removed = []
        ours = re.compile(rf"{re.escape(deployment)}-\d+")
        for folder in sorted(Path(root).iterdir()) if Path(root).is_dir() else ():
            if not (folder.is_dir() and ours.fullmatch(folder.name)) or folder.name in keep | present:
                continue
            if time.time() - folder.stat().st_mtime < older_than:
                continue
            _remove_folder(folder)
            if not folder.exists():
                removed.append(folder.name)
        return removed

    def isolation_problems(self, *, bridge, registry, allow_without_user_namespaces=False):
        problems = []
        if not self.engine_info().user_namespaces and not allow_without_user_namespaces:
            problems.append("the Docker engine does not use user namespaces")
        try:
            problems += isolation.host_problems(bridge)
            with self._host_engine(registry) as client:
                key = client.api.inspect_container(registry)["NetworkSettings"]["SandboxKey"]
            problems += isolation.port_problems(bridge, open_ports={isolation.port_on(key, bridge)})
        except (isolation.IsolationError, SandboxGone, KeyError) as exc:
            problems.append(f"cannot check the sandboxes' network: {exc}")
        return problems


# Instructions that add a layer (the others only change the image's configuration).
LAYER_INSTRUCTIONS = ("RUN ", "COPY ", "ADD ", "WORKDIR ")
# The most of one history step's command kept in a snapshot, in characters.
HISTORY_TEXT_LIMIT = 1000
# The build cache alone needs the `type` filter: Docker 26 answers it from API 1.44 (it closes the connection
# at 1.42 and 1.43, measured); Docker 20.10 answers 400, and the snapshot then has no build cache.
BUILD_CACHE_PATH = "/v1.44/system/df?type=build-cache"


def _image(summary, details, history):
    """snapshot.Image from /images/json's entry, /images/{id}/json and /images/{id}/history."""
    config = details.get("Config") or {}
    steps = []
    for step in reversed(history):  # the API gives the newest first
        created_by = str(step.get("CreatedBy") or "")[:HISTORY_TEXT_LIMIT]
        size = int(step.get("Size") or 0)
        # The API does not say which steps added no layer: a step of size 0 whose instruction only configures.
        bare = created_by.removeprefix("/bin/sh -c #(nop) ").strip()
        steps.append(snapshot.HistoryEntry(
            created=int(step.get("Created") or 0), created_by=created_by, comment=str(step.get("Comment") or "")[:HISTORY_TEXT_LIMIT],
            size=size, empty_layer=size == 0 and bool(created_by) and not bare.startswith(LAYER_INSTRUCTIONS),
        ))
    return snapshot.Image(
        id=summary["Id"],
        tags=tuple(t for t in summary.get("RepoTags") or () if t != "<none>:<none>"),
        digests=tuple(summary.get("RepoDigests") or ()),
        layers=tuple(details.get("RootFS", {}).get("Layers") or ()),
        created=str(summary.get("Created", "")),
        size=int(summary.get("Size") or 0),
        cmd=tuple(config.get("Cmd") or ()),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        user=str(config.get("User") or ""),
        working_dir=str(config.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(config.get("ExposedPorts") or ())),
        labels=dict(config.get("Labels") or {}),
        healthcheck=tuple((config.get("Healthcheck") or {}).get("Test") or ()),
        history=tuple(steps),
    )


def _unix_seconds(timestamp):
    """`2026-12-02T01:49:10.875835831Z` -> its Unix second (Python reads no nanoseconds)."""
    if not timestamp:
        return 0
    whole = datetime.datetime.fromisoformat(str(timestamp)[:19]).replace(tzinfo=datetime.timezone.utc)
    return int(whole.timestamp())


def _build_cache(connection, deadline):
    """The newest NESTED_OBJECT_LIMIT records of regular build steps in BuildKit's cache; () if the daemon keeps none."""
    if time.monotonic() > deadline:
        raise EngineUnavailable(f"the sandbox's Docker daemon took more than {SNAPSHOT_SECONDS} s to describe itself")
    try:
        records = _nested_get(connection, BUILD_CACHE_PATH, api="").get("BuildCache") or []
    except EngineUnavailable as exc:
        if "answered 400" in str(exc):
            return ()
        raise
    regular = [
        snapshot.BuildRecord(
            id=str(r.get("ID", "")), description=str(r.get("Description") or "")[:HISTORY_TEXT_LIMIT],
            created=_unix_seconds(r.get("CreatedAt")), last_used=_unix_seconds(r.get("LastUsedAt")), usage_count=int(r.get("UsageCount") or 0),
        )
        for r in records if r.get("Type") == "regular"
    ]
    return tuple(sorted(regular, key=lambda r: -r.created)[:NESTED_OBJECT_LIMIT])


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
        # Docker writes the zero time for a container that was created and never started.
        started_at="" if state.get("StartedAt", "").startswith("0001-") else state.get("StartedAt", ""),
        **_container_life(data),
    )


def _container_life(data):
    """What a container went through: stops, restarts by its policy, health, the command it runs."""
    state = data.get("State") or {}
    policy = (data.get("HostConfig") or {}).get("RestartPolicy") or {}
    finished = state.get("FinishedAt") or ""
    return {
        "finished_at": "" if finished.startswith("0001-") else finished,
        "restart_policy": policy.get("Name") or "no",
        "restart_max_retries": int(policy.get("MaximumRetryCount") or 0),
        "restart_count": int(data.get("RestartCount") or 0),
        "health": str((state.get("Health") or {}).get("Status") or ""),
        "command": tuple(str(a) for a in [data.get("Path") or "", *(data.get("Args") or ())] if a != ""),
    }
