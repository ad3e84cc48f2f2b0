"""The shipped French course reads as its own text (issue 13, "The course text")."""

import re

import pytest
from django.conf import settings

PACK = settings.BASE_DIR / "content" / "docker-fr"
TEXTS = sorted((PACK / "lessons").glob("*.md")) + sorted((PACK / "labs").glob("*.yaml"))


@pytest.mark.parametrize("path", TEXTS, ids=lambda path: path.name)
def test_no_lesson_or_lab_speaks_of_notes_the_learner_never_saw(path):
    text = path.read_text(encoding="utf-8")
    assert "Correction des notes" not in text
    assert not re.search(r"\b(les|des|aux) notes (disent|citent|parlent|écrivent|affirment|nomment|présentent|laissent|soulignent|décrivent)", text)


@pytest.mark.parametrize("path", TEXTS, ids=lambda path: path.name)
def test_the_text_avoids_the_anglicisms_and_slips_the_editor_named(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"ne supporte(nt)? pas|ne restent que|dépréci", text)


def test_pull_is_always_tirer_never_telecharger_une_image():
    for path in TEXTS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"télécharg\w* (une|l'|cette|votre) image|Téléchargement de l'image", text), path.name


@pytest.mark.parametrize("topic", [
    r"magasin d'images containerd", r"--init", r"condition: service_healthy", r"montage lié", r"--memory", r"--cpus",
])
def test_the_course_covers_what_issue_13_found_missing(topic):
    assert any(re.search(topic, path.read_text(encoding="utf-8")) for path in sorted((PACK / "lessons").glob("*.md")))
