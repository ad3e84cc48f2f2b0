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
