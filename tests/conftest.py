import textwrap
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from courses.packs import load_pack, read_pack

BASE_DIR = Path(__file__).resolve().parent.parent
SHIPPED_PACK = BASE_DIR / "content" / "docker-fr"

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" role="img" aria-labelledby="t">'
    '<title id="t">Carré</title><rect width="10" height="10"/></svg>'
)


class PackBuilder:
    """Writes a small, valid course pack that a test can then break on purpose."""

    def __init__(self, root):
        self.root = root
        self.course = {
            "slug": "mini",
            "title": "Mini cours",
            "language": "fr",
            "chapters": [
                {"slug": "bases", "title": "Les bases", "lessons": ["lessons/01-intro.md", "lessons/02-images.md"]},
                {"slug": "suite", "title": "La suite", "lessons": ["lessons/03-volumes.md"]},
            ],
        }
        self.lessons = {
            "lessons/01-intro.md": ("intro", "Introduction", 3, "## Pourquoi\n\nDu texte.\n\n![Un carré](../figures/carre.svg)\n"),
            "lessons/02-images.md": ("images", "Les images", 5, "## Lister\n\n```sh\ndocker images\n```\n"),
            "lessons/03-volumes.md": ("volumes", "Les volumes", 4, "## Persister\n\nUn volume garde les données.\n"),
        }
        self.files = {"figures/carre.svg": SVG}

    def write(self, course_yaml=None):
        import yaml

        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "course.yaml").write_text(course_yaml if course_yaml is not None else yaml.safe_dump(self.course, allow_unicode=True, sort_keys=False))
        for path, (slug, title, minutes, body) in self.lessons.items():
            self.write_file(path, f"---\nslug: {slug}\ntitle: {title}\nminutes: {minutes}\n---\n{body}")
        for path, text in self.files.items():
            self.write_file(path, text)
        return self.root

    def write_file(self, path, text):
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text) if text.startswith("\n") else text)
        return target


@pytest.fixture(autouse=True)
def fresh_course_paths():
    """Each test builds its courses' paths anew: a course of an earlier test may have had the same id and stamp."""
    from courses import pager

    pager.forget_paths()


@pytest.fixture(autouse=True)
def fresh_process_cache():
    """Each test starts with this process's cache empty: /healthz keeps its parts' answers there, failures included."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(request, settings):
    """Unit tests hash passwords cheaply; integration tests keep the real hasher, which their servers must read."""
    if request.node.get_closest_marker("integration") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def request_limits_in_memory(request, monkeypatch):
    """Unit tests count preview requests in memory (a fresh count each test); integration tests in Redis."""
    if request.node.get_closest_marker("integration") is None:
        from labs import throttle

        window = throttle.MemoryWindow()
        monkeypatch.setattr(throttle, "default", lambda: window)


@pytest.fixture
def pack_builder(tmp_path):
    return PackBuilder(tmp_path / "mini")


@pytest.fixture
def mini_course(db, pack_builder):
    pack_builder.write()
    return load_pack(read_pack(pack_builder.root)).course


@pytest.fixture(scope="session")
def shipped_pack():
    return read_pack(SHIPPED_PACK)


@pytest.fixture
def shipped_course(db, shipped_pack):
    return load_pack(shipped_pack).course


@pytest.fixture
def learner(db):
    return User.objects.create_user("alice", "alice@example.com", "correct-horse-battery")


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


# --- Integration: a real Celery worker and real sandboxes ------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402


def _stop_as_interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # A run ended by SIGTERM (a time limit, a kill) tears its fixtures down as Ctrl-C does: the Celery workers and
    # web servers below run in sessions of their own, and left behind they would take the next run's tasks.
    signal.signal(signal.SIGTERM, _stop_as_interrupted)


def ended_with_this_process():
    """Popen's preexec_fn for a server or worker of the tests': SIGTERM when this process ends, even SIGKILLed, so a
    killed run leaves no Celery worker behind to take the next run's tasks. Linux says it when the thread that started
    the child ends: only the main thread's children are so tied (each fixture here starts them from it)."""
    import ctypes
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1

    def tie():
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed: the child would outlive a killed run")
        if os.getppid() != parent:  # the parent ended before the tie was made
            os.kill(os.getpid(), signal.SIGTERM)

    return tie


def wait_until(predicate, timeout, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class HostListener:
    """A service of the host listening on every address, like a careless deployment would: did anything reach it?

    A connection is complete once the kernel queued it, accepted or not: `reached()` asks without blocking, so no
    thread is left in accept() on a socket the test closes.
    """

    def __init__(self, family=None):
        import socket

        self.socket = socket.socket(family or socket.AF_INET)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        self.socket.listen(5)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def reached(self):
        try:
            connection, _ = self.socket.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.socket.close()


class Worker:
    """Real `celery worker` processes, one per queue as bin/drydock up runs them, on the test database and Redis database.

    `host` names the Docker host whose queues they consume (the default one also takes the central queues).
    """

    def __init__(self, database_path, log_path, *, host=None, env=None):
        from drydock import queues

        self.database_path = database_path
        self.log_path = log_path
        self.host = host or queues.DEFAULT_HOST
        self.env = env or {}  # what differs for this host's workers (a second engine's worker_env())
        self.processes = []

    def start(self):
        from drydock import queues
        from drydock.celery import app

        if self.host == queues.DEFAULT_HOST:
            app.control.purge()
        env = {**os.environ, **self.env, "DATABASE_URL": f"sqlite:///{self.database_path}"}
        self.log = open(self.log_path, "ab")
        celery = BASE_DIR / ".venv" / "bin" / "celery"
        commands = [queues.worker_command(celery, kind, env, host=self.host) for kind in queues.host_worker_kinds(self.host)]
        self.processes = [
            subprocess.Popen(
                [*command, "--without-gossip", "--without-mingle"],
                cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=ended_with_this_process(),
            )
            for command in commands
        ]
        nodes = {command[command.index("-n") + 1].split("@")[0] for command in commands}

        def every_queue_answers():
            replies = app.control.ping(timeout=0.5) or []
            answered = {name.split("@")[0] for reply in replies for name in reply}
            return nodes <= answered

        wait_until(every_queue_answers, 60, interval=0.5, message=f"a Celery worker on every queue of host {self.host} to answer")
        return self

    def kill(self):
        """SIGKILL every worker (main process and pool), as a crash would."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    worker = Worker(connection.settings_dict["NAME"], tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session", autouse=True)
def remove_test_sandboxes():
    """Whatever a test left behind, no test container outlives the session."""
    yield
    from django.conf import settings

    from grader import engine

    try:
        leftovers = engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)
    except engine.EngineUnavailable:
        return
    for container in leftovers:
        engine.default().remove_sandbox(container.name, str(settings.SANDBOX_SOCKET_ROOT / container.name))


class WebServer:
    """The ASGI app under uvicorn, on the test database: what a browser talks to."""

    def __init__(self, database_path, log_path):
        import socket as socket_module

        with socket_module.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database_path}"}
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "uvicorn"), "drydock.asgi:application", "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off",
             # A browser test's terminal websocket may still be open: stopping must not wait on it.
             "--timeout-graceful-shutdown", "5"],
            cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=ended_with_this_process(),
        )

        def answers():
            import urllib.request

            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    return True
            except OSError:
                return False

        wait_until(answers, 30, interval=0.2, message="the web server")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        self.log.close()


@pytest.fixture(scope="session")
def web_server(django_db_setup, tmp_path_factory):
    from django.db import connection

    server = WebServer(connection.settings_dict["NAME"], tmp_path_factory.mktemp("web") / "web.log")
    yield server
    server.stop()


@pytest.fixture
def ready_sandbox_for(settings):
    """Provision a sandbox in this process (no queue) for a user and a lab; removed after the test."""
    from datetime import timedelta

    from django.utils import timezone

    from grader import engine
    from labs import sandboxes
    from labs.models import Lab, Sandbox

    made = []

    def make(user, lab_slug="premier-conteneur"):
        now = timezone.now()
        lab = Lab.objects.get(slug=lab_slug)
        row = Sandbox.objects.create(
            owner=user, lab=lab, expires_at=now + timedelta(minutes=30), last_activity_at=now, steps_total=2 + len(lab.setup),
        )
        row = sandboxes.provision(row.pk, engine=engine.default())
        made.append(row)
        assert row.status == Sandbox.Status.READY, (row.failure, row.failure_detail)
        return row

    yield make
    for row in made:
        engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))


class LiveWatcher:
    """The real `manage.py watch_sandboxes` process, on the test database and Redis database; its log is readable."""

    def __init__(self, database_path, log_path):
        self.database_path, self.log_path = database_path, log_path
        self.process = None

    def start(self):
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.database_path}"}
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "python"), "manage.py", "watch_sandboxes"],
            cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=ended_with_this_process(),
        )
        wait_until(lambda: "watcher started" in self.text(), 30, interval=0.1, message="the watcher to start")
        return self

    def text(self):
        return Path(self.log_path).read_text(errors="replace")

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture
def live_watcher(django_db_setup, tmp_path):
    from django.db import connection

    watcher = LiveWatcher(connection.settings_dict["NAME"], tmp_path / "watcher.log").start()
    yield watcher
    watcher.stop()


# --- A second Docker engine on this machine (issue 16: many Docker hosts) -------------------------

import importlib.util  # noqa: E402
import sys  # noqa: E402


def drydock_cli():
    """bin/drydock.py as a module (standard library only): it starts and stops the second engine."""
    module = sys.modules.get("drydock_cli")
    if module is None:
        spec = importlib.util.spec_from_file_location("drydock_cli", BASE_DIR / "bin" / "drydock.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["drydock_cli"] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def second_engine():
    """A second Docker engine, set up as another Docker host would be: a bin/drydock.py SecondEngine (its url,
    registry_mirror, network, sandbox_bridge, socket_root, worker_env() ...). Named after this session's sandbox
    prefix, so another session (another prefix) runs its own; it never skips: if it cannot start, its tests fail."""
    from django.conf import settings

    cli = drydock_cli()
    name = cli.second_engine_name(settings.SANDBOX_NAME_PREFIX)
    try:
        started = cli.start_second_engine(name)
    except cli.SetupError as exc:
        pytest.fail(f"the second Docker engine did not start: {exc}", pytrace=False)
    yield started
    left = cli.stop_second_engine(name)
    assert not left, f"the second engine left {left}"
