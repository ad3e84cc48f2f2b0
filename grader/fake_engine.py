"""An in-memory Docker engine: the Engine interface, its dataclasses and errors, no Docker.

Each sandbox holds its nested daemon's state as a grader.snapshot.Snapshot
(`state`) that a test sets. The engine can be told to fail the ways the real
one does: stop answering (`answering = False`), start daemons that never
answer (`daemons_answer = False`), lack an image (`missing_images`), have a
command exit non-zero (`fail_command`), lose a container (`vanish`) or see it
stop (`crash`), run without user namespaces (`user_namespaces = False`), or
report what is wrong with the sandboxes' network (`network_problems`). The
folders a sandbox had on the host are names in `folders`. tests/test_engine_contract.py holds it to the real engine's
contract, so a workflow tested on it behaves the same on Docker.
"""

import io
import itertools
import posixpath
import re
import socket
import tarfile
import time
from dataclasses import dataclass, field, replace

from grader import engine, preview
from grader.snapshot import Network, Snapshot, http_probe_url


def fresh_daemon_state():
    """What a new nested daemon holds: nothing but its default networks."""
    return Snapshot(networks=(Network("bridge", "bridge"), Network("host", "host"), Network("none", "null")))


@dataclass
class FakeSandbox:
    spec: engine.SandboxSpec
    id: str
    status: str = "running"
    daemon_answers: bool = True
    state: Snapshot = field(default_factory=fresh_daemon_state)
    # What copy_into_sandbox unpacked: path in the sandbox -> bytes.
    files: dict = field(default_factory=dict)
    # Every command run in it, in order.
    commands: list = field(default_factory=list)
    memory_bytes: int = 32 * 1024 * 1024
    # Its daemon runs (SandboxSpec.daemon_on_demand: not until a first client asks it something).
    daemon_running: bool = True


@dataclass
class FakeTerminal:
    sandbox: str
    # The far end of the terminal's socket: a test reads what was typed and writes what the shell prints.
    shell: socket.socket
    rows: int
    cols: int
    session: int = 1


class FakeEngine(engine.Engine):
    def __init__(self):
        self.sandboxes = {}
        self.started = []  # every SandboxSpec started, in order
        self.settled = []  # every sandbox whose start was said over (settle_sandbox), in order
        self.terminals = {}
        self.answering = True
        self.daemons_answer = True
        self.user_namespaces = True
        self.network_problems = []
        self.missing_images = set()
        self.folders = set()
        self.folder_made_at = {}  # name -> time.time(); a folder a test adds by hand is old
        # Kept disks (SandboxSpec.persistent_disk): path -> (daemon state, files) as the last sandbox on it left them.
        self.kept_disks = {}
        self._results = {}
        self._ids = itertools.count(1)

    # --- What a test tells it ------------------------------------------------------------

    def fail_command(self, command, *, exit_code=1, output=""):
        """From now on, running exactly `command` in a sandbox exits with this code and output."""
        self._results[command] = engine.ExecResult(exit_code=exit_code, output=output)

    def vanish(self, name):
        """The container is removed behind the platform's back (`docker rm -f`)."""
        gone = self.sandboxes.pop(name, None)
        if gone is not None and gone.spec.persistent_disk:
            # Its disk outlives it, with whatever the learner left there.
            self.kept_disks[gone.spec.persistent_disk] = (gone.state, dict(gone.files))
        self._hang_up(name)

    def crash(self, name):
        """The container stops (its init died, the host killed it) but is still there."""
        self.sandboxes[name].status = "exited"
        self._hang_up(name)

    # --- The interface -------------------------------------------------------------------

    def engine_info(self):
        self._answer()
        running = sum(s.status == "running" for s in self.sandboxes.values())
        return engine.EngineInfo(
            version="fake", api_version="fake", containers_running=running,
            user_namespaces=self.user_namespaces, remapped_root=100000 if self.user_namespaces else None,
        )

    def start_sandbox(self, spec):
        if not self.engine_info().user_namespaces and not spec.allow_without_user_namespaces:
            raise engine.UnsafeEngine(engine.USERNS_REFUSAL)
        if self.network_problems:
            raise engine.EngineUnavailable(f"the sandboxes' network is not isolated ({'; '.join(self.network_problems)}): run bin/drydock setup")
        self.remove_sandbox(spec.name)
        self.folders.add(spec.name)
        self.folder_made_at[spec.name] = time.time()
        if spec.image in self.missing_images:
            raise engine.EngineUnavailable(f"image {spec.image} is missing")
        sandbox = FakeSandbox(spec=spec, id=f"{next(self._ids):064x}", daemon_answers=self.daemons_answer, daemon_running=not spec.daemon_on_demand)
        if spec.persistent_disk:
            kept = self.kept_disks.setdefault(spec.persistent_disk, (fresh_daemon_state(), {}))
            sandbox.state, sandbox.files = kept[0], dict(kept[1])
        self.sandboxes[spec.name] = sandbox
        self.started.append(spec)
        return sandbox.id

    def settle_sandbox(self, name):
        self._answer()
        if name not in self.sandboxes:
            raise engine.SandboxGone(f"sandbox container {name} does not exist")
        self.settled.append(name)

    def wait_for_daemon(self, name, socket_dir, *, timeout, on_demand=False):
        if not self.sandbox_running(name):
            raise engine.EngineUnavailable("the sandbox container stopped before its Docker daemon answered")
        if on_demand:
            return 0.0  # its sockets listen; its daemon starts at the first client
        self._wake(name)
        if not self.sandboxes[name].daemon_answers:
            raise engine.EngineUnavailable(f"the sandbox's Docker daemon did not answer within {timeout} s")
        return 0.0

    def daemon_started(self, name, socket_dir):
        sandbox = self.sandboxes.get(name)
        return sandbox is not None and sandbox.daemon_running

    def _wake(self, name):
        """A client connects to the sandbox's daemon: one started on demand starts now."""
        self.sandboxes[name].daemon_running = True

    def sandbox_running(self, name):
        self._answer()
        sandbox = self.sandboxes.get(name)
        return sandbox is not None and sandbox.status == "running"

    def exec_in_sandbox(self, name, command, *, timeout=120):
        sandbox = self._running(name)
        sandbox.commands.append(command)
        if "docker" in command:
            self._wake(name)
        return self._results.get(command, engine.ExecResult(exit_code=0, output=""))

    def copy_into_sandbox(self, name, archive, destination):
        sandbox = self._running(name)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    sandbox.files[posixpath.normpath(posixpath.join(destination, member.name))] = tar.extractfile(member).read()

    def remove_sandbox(self, name, socket_dir=None):
        self._answer()
        self.vanish(name)
        if socket_dir:
            self.folders.discard(name)

    def labelled_sandboxes(self, deployment):
        self._answer()
        return [
            engine.LabelledContainer(name=name, status=sandbox.status, labels=dict(sandbox.spec.labels))
            for name, sandbox in self.sandboxes.items()
            if engine.SANDBOX_LABEL in sandbox.spec.labels and sandbox.spec.labels.get(engine.DEPLOYMENT_LABEL) == deployment
        ]

    def memory_usage_bytes(self, name):
        sandbox = self._sandbox(name)
        return sandbox.memory_bytes if sandbox.status == "running" else 0

    def take_snapshot(self, name, socket_dir, *, files=(), probes=()):
        sandbox = self._sandbox(name)
        if sandbox.status == "running":
            self._wake(name)
        if sandbox.status != "running" or not sandbox.daemon_answers:
            raise engine.EngineUnavailable("the sandbox's Docker daemon did not answer")
        return replace(
            sandbox.state,
            files={(volume, path): self.read_volume_file(name, volume, path) for volume, path in files},
            http={(port, path): self.fetch_http(name, port, path) for port, path in probes},
        )

    def fetch_http(self, name, port, path):
        """What a test put in the sandbox's state.http for that port and path answers; anything else, nothing."""
        sandbox = self._running(name)
        if http_probe_url(port, path) is None:
            return None
        answer = sandbox.state.http.get((port, path))
        return replace(answer, body=answer.body.encode()[:engine.HTTP_ANSWER_LIMIT].decode("utf-8", "ignore")) if answer else None

    def published_ports(self, name, socket_dir):
        sandbox = self._sandbox(name)
        if sandbox.status == "running" and not sandbox.daemon_running:
            return []  # never started: it publishes nothing, and asking does not start it
        if sandbox.status != "running" or not sandbox.daemon_answers:
            raise engine.EngineUnavailable("the sandbox's Docker daemon did not answer")
        return preview.published_ports(
            {"Names": [f"/{c.name}"], "Ports": [{"PublicPort": p.host_port, "PrivatePort": p.container_port, "Type": p.protocol} for p in c.ports]}
            for c in sandbox.state.containers if c.status == "running"
        )

    def fetch_preview(self, name, port, path="/", query=""):
        """What a test put in the sandbox's state.http for (port, path[?query]) answers, as an HTML page; anything else, nothing."""
        sandbox = self._running(name)
        url = preview.preview_url(port, path, query)
        if url is None:
            return None
        answer = sandbox.state.http.get((port, url.split(f":{port}", 1)[1]))
        if answer is None:
            return None
        head = f"HTTP/1.1 {answer.status} X\r\nContent-Type: text/html\r\n\r\n".encode()
        return preview.parse_answer(head + answer.body.encode())

    def sweep_persistent_disks(self, root, *, deployment, keep):
        self._answer()
        in_use = {s.spec.persistent_disk for s in self.sandboxes.values()}
        ours = re.compile(rf"{re.escape(deployment)}-playground-\d+-\d+-[0-9a-f]+\.img")
        removed = sorted(
            path for path in self.kept_disks
            if path not in set(keep) | in_use and ours.fullmatch(posixpath.basename(path)) and posixpath.dirname(path) == str(root)
        )
        for path in removed:
            del self.kept_disks[path]
        return removed

    def read_volume_file(self, name, volume, path):
        sandbox = self._running(name)
        wanted = engine.volume_file_path(volume, path)
        for (held_volume, held_path), text in sandbox.state.files.items():
            if wanted and text is not None and held_volume == volume and engine.volume_file_path(held_volume, held_path) == wanted:
                return text.encode()[:engine.VOLUME_FILE_LIMIT].decode("utf-8", "replace")
        return None

    def open_terminal(self, name, *, rows=24, cols=80, session=1):
        engine.terminal_command(session)  # the same refusal of a session out of range
        self._running(name)
        ours, shell = socket.socketpair()
        ours.setblocking(False)
        exec_id = f"fake-exec-{next(self._ids)}"
        self.terminals[exec_id] = FakeTerminal(sandbox=name, shell=shell, rows=rows, cols=cols, session=session)
        # Terminal.close() closes the socket, then its "client": here the far end.
        return engine.Terminal(exec_id=exec_id, socket=ours, _client=shell)

    def resize_terminal(self, exec_id, *, rows, cols):
        self._answer()
        terminal = self.terminals.get(exec_id)
        if terminal is None:
            raise engine.SandboxGone(f"terminal {exec_id} does not exist")
        terminal.rows, terminal.cols = rows, cols

    def sweep_folders(self, root, *, deployment, keep, older_than):
        self._answer()
        now = time.time()
        removed = sorted(
            name for name in self.folders - set(keep) - set(self.sandboxes)
            if re.fullmatch(rf"{re.escape(deployment)}-\d+", name) and now - self.folder_made_at.get(name, 0) >= older_than
        )
        self.folders -= set(removed)
        return removed

    def isolation_problems(self, *, bridge, registry, allow_without_user_namespaces=False):
        self._answer()
        problems = [] if self.user_namespaces or allow_without_user_namespaces else ["the Docker engine does not use user namespaces"]
        return problems + list(self.network_problems)

    # --- Inside ----------------------------------------------------------------------------

    def _answer(self):
        if not self.answering:
            raise engine.EngineUnavailable("the Docker engine does not answer (FakeEngine.answering is off)")

    def _sandbox(self, name):
        self._answer()
        if name not in self.sandboxes:
            raise engine.SandboxGone(f"sandbox container {name} does not exist")
        return self.sandboxes[name]

    def _running(self, name):
        sandbox = self._sandbox(name)
        if sandbox.status != "running":
            raise engine.EngineUnavailable(f"container {name} is not running")
        return sandbox

    def _hang_up(self, name):
        """A container that goes ends its terminals: their sockets read end-of-file."""
        for exec_id, terminal in list(self.terminals.items()):
            if terminal.sandbox == name:
                terminal.shell.close()
                del self.terminals[exec_id]
