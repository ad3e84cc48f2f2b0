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


def wait_until(predicate, timeout, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class Worker:
    """A real `celery worker` process on the test database and the test Redis database."""

    def __init__(self, database_path, log_path):
        self.database_path = database_path
        self.log_path = log_path
        self.process = None

    def start(self):
        from drydock.celery import app

        app.control.purge()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.database_path}"}
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "celery"), "-A", "drydock", "worker", "--loglevel", "INFO", "--concurrency", "2", "--without-gossip", "--without-mingle"],
            cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until(lambda: app.control.ping(timeout=0.5), 60, interval=0.5, message="the Celery worker to answer")
        return self

    def kill(self):
        """SIGKILL the whole worker (main process and pool), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
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
        leftovers = engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)
    except engine.EngineUnavailable:
        return
    for container in leftovers:
        engine.remove_sandbox(container.name, str(settings.SANDBOX_SOCKET_ROOT / container.name))
