import json

import pytest
from django.core.management import CommandError, call_command

from courses.models import Chapter, Course, CourseAsset, Lesson, LessonProgress
from courses.packs import PackError, load_pack, read_pack


def problems_of(root):
    with pytest.raises(PackError) as caught:
        read_pack(root)
    return [str(p) for p in caught.value.problems]


def test_valid_pack_reads_its_chapters_lessons_and_figures(pack_builder):
    pack = read_pack(pack_builder.write())
    assert [c.slug for c in pack.chapters] == ["bases", "suite"]
    assert [lesson.slug for lesson in pack.lessons] == ["intro", "images", "volumes"]
    assert [a.path for a in pack.assets] == ["figures/carre.svg"]
    assert '<img src="/cours/mini/fichiers/figures/carre.svg" alt="Un carré"' in pack.lessons[0].body_html


def test_unknown_key_names_file_line_and_field(pack_builder):
    pack_builder.course["chapters"][1]["sumary"] = "typo"
    root = pack_builder.write()
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/course.yaml:")
    assert "chapters[1].sumary: unknown key" in problem
    line = int(problem.split(":")[1])
    assert "sumary" in (root / "course.yaml").read_text().splitlines()[line - 1]


def test_missing_lesson_title_names_the_lesson_file(pack_builder):
    root = pack_builder.write()
    pack_builder.write_file("lessons/02-images.md", "---\nslug: images\nminutes: 5\n---\nDu texte.\n")
    [problem] = problems_of(root)
    assert problem == f"{root}/lessons/02-images.md:2: title: missing title"


def test_duplicate_lesson_slug_names_both_files(pack_builder):
    pack_builder.lessons["lessons/03-volumes.md"] = ("intro", "Encore", 2, "Texte.\n")
    root = pack_builder.write()
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/lessons/03-volumes.md:2: slug: duplicate slug 'intro'")
    assert "01-intro.md" in problem


def test_duplicate_chapter_slug_is_refused(pack_builder):
    pack_builder.course["chapters"][1]["slug"] = "bases"
    [problem] = problems_of(pack_builder.write())
    assert "chapters[1].slug: duplicate slug 'bases'" in problem


def test_chapter_listing_a_missing_lesson_file_is_refused(pack_builder):
    pack_builder.course["chapters"][0]["lessons"].append("lessons/99-absente.md")
    root = pack_builder.write()
    [problem] = problems_of(root)
    assert "course.yaml:" in problem
    assert "chapters[0].lessons[2]: lesson file 'lessons/99-absente.md' does not exist" in problem


def test_bad_yaml_names_the_line(pack_builder):
    root = pack_builder.write("slug: mini\ntitle: [unclosed\nlanguage: fr\n")
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/course.yaml:") and "invalid YAML" in problem


def test_duplicate_yaml_key_is_refused(pack_builder):
    root = pack_builder.write()
    text = (root / "course.yaml").read_text().replace("title: Mini cours", "title: Mini cours\ntitle: Autre")
    (root / "course.yaml").write_text(text)
    [problem] = problems_of(root)
    assert "course.yaml:3: title: duplicate key" in problem


def test_lesson_without_front_matter_is_refused(pack_builder):
    root = pack_builder.write()
    pack_builder.write_file("lessons/01-intro.md", "# Pas de front matter\n")
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/lessons/01-intro.md:1: missing front matter")


def test_bad_minutes_and_bad_slug_are_both_reported(pack_builder):
    root = pack_builder.write()
    pack_builder.write_file("lessons/02-images.md", "---\nslug: Les Images\ntitle: Images\nminutes: beaucoup\n---\nTexte.\n")
    problems = problems_of(root)
    assert any("02-images.md:2: slug: 'Les Images' is not valid" in p for p in problems)
    assert any("02-images.md:4: minutes: 'beaucoup' is not a whole number" in p for p in problems)


def test_image_missing_from_the_pack_or_without_alt_text_is_refused(pack_builder):
    pack_builder.lessons["lessons/02-images.md"] = ("images", "Images", 5, "Texte.\n\n![](../figures/carre.svg)\n\n![Absente](../figures/absente.svg)\n")
    root = pack_builder.write()
    problems = problems_of(root)
    assert f"{root}/lessons/02-images.md:8: image: '../figures/carre.svg' needs an alt text (the figure's text alternative)" in problems
    assert f"{root}/lessons/02-images.md:10: image: '../figures/absente.svg' does not exist in the pack" in problems


def test_remote_image_is_refused(pack_builder):
    pack_builder.lessons["lessons/02-images.md"] = ("images", "Images", 5, "![Logo](https://example.com/logo.png)\n")
    [problem] = problems_of(pack_builder.write())
    assert "images must be files of the pack" in problem


def test_lesson_path_outside_the_pack_is_refused(pack_builder):
    pack_builder.course["chapters"][0]["lessons"].append("../ailleurs.md")
    [problem] = problems_of(pack_builder.write())
    assert "points outside the pack" in problem


def test_broken_pack_writes_nothing(db, pack_builder):
    pack_builder.course["chapters"][1]["title"] = ""
    root = pack_builder.write()
    with pytest.raises(CommandError) as caught:
        call_command("load_course", str(root))
    assert "chapters[1].title: missing title" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not Course.objects.exists() and not Lesson.objects.exists()


def test_loading_twice_changes_nothing(db, pack_builder):
    root = pack_builder.write()
    first = load_pack(read_pack(root))
    assert first.created == {"chapters": 2, "lessons": 3, "labs": 0, "tasks": 0, "quizzes": 0, "questions": 0, "files": 1}
    stamps = dict(Lesson.objects.values_list("slug", "updated_at"))
    second = load_pack(read_pack(root))
    assert not second.changed
    assert dict(Lesson.objects.values_list("slug", "updated_at")) == stamps
    assert (Course.objects.count(), Chapter.objects.count(), Lesson.objects.count(), CourseAsset.objects.count()) == (1, 2, 3, 1)


def test_editing_a_lesson_updates_it(db, pack_builder):
    root = pack_builder.write()
    load_pack(read_pack(root))
    pack_builder.write_file("lessons/03-volumes.md", "---\nslug: volumes\ntitle: Les volumes nommés\nminutes: 6\n---\nNouveau texte.\n")
    report = load_pack(read_pack(root))
    assert report.updated["lessons"] == 1 and report.created["lessons"] == 0
    lesson = Lesson.objects.get(slug="volumes")
    assert (lesson.title, lesson.minutes) == ("Les volumes nommés", 6)
    assert "Nouveau texte." in lesson.body_html


def test_removed_lesson_is_unpublished_and_keeps_learners_progress(db, pack_builder, learner):
    root = pack_builder.write()
    load_pack(read_pack(root))
    LessonProgress.objects.create(user=learner, lesson=Lesson.objects.get(slug="images"), read_at="2026-01-01T10:00:00Z")
    pack_builder.course["chapters"][0]["lessons"].remove("lessons/02-images.md")
    pack_builder.write()
    report = load_pack(read_pack(root))
    assert report.unpublished["lessons"] == 1
    lesson = Lesson.objects.get(slug="images")
    assert not lesson.is_published
    assert LessonProgress.objects.filter(user=learner, lesson=lesson).exists()
    # Put back, it is published again with the same row.
    pack_builder.course["chapters"][0]["lessons"].insert(1, "lessons/02-images.md")
    pack_builder.write()
    load_pack(read_pack(root))
    assert Lesson.objects.get(pk=lesson.pk).is_published


def test_removed_chapter_is_unpublished(db, pack_builder):
    root = pack_builder.write()
    load_pack(read_pack(root))
    pack_builder.course["chapters"].pop()
    pack_builder.lessons.pop("lessons/03-volumes.md")
    (root / "lessons" / "03-volumes.md").unlink()
    pack_builder.write()
    report = load_pack(read_pack(root))
    assert report.unpublished == {"chapters": 1, "lessons": 1, "labs": 0, "tasks": 0, "quizzes": 0, "questions": 0}
    assert not Chapter.objects.get(slug="suite").is_published


def test_check_validates_without_writing_and_prints_a_summary(db, pack_builder, capsys):
    root = pack_builder.write()
    call_command("load_course", str(root), "--check")
    out = capsys.readouterr().out
    assert "2 chapters, 3 lessons (~12 min), 1 figures, 0 labs (0 tasks), 0 quizzes (0 questions)" in out
    assert "nothing written" in out
    assert not Course.objects.exists()


def test_json_summary_is_machine_readable(db, pack_builder, capsys):
    root = pack_builder.write()
    call_command("load_course", str(root), "--check", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is True
    assert summary["totals"] == {"chapters": 2, "lessons": 3, "minutes": 12, "figures": 1, "labs": 0, "lab_tasks": 0, "quizzes": 0, "quiz_questions": 0}
    assert [lesson["slug"] for lesson in summary["chapters"][0]["lessons"]] == ["intro", "images"]


def test_json_lists_problems_of_a_broken_pack(db, pack_builder, capsys):
    pack_builder.course["langage"] = "fr"
    root = pack_builder.write()
    with pytest.raises(CommandError):
        call_command("load_course", str(root), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is False
    assert summary["problems"][0]["field"] == "langage"
    assert summary["problems"][0]["file"].endswith("course.yaml")


def test_unlisted_markdown_file_is_a_warning(pack_builder):
    root = pack_builder.write()
    pack_builder.write_file("lessons/04-oubliee.md", "---\nslug: oubliee\ntitle: Oubliée\nminutes: 1\n---\nTexte.\n")
    pack = read_pack(root)
    assert [str(w) for w in pack.warnings] == [f"{root}/lessons/04-oubliee.md: file not listed in any chapter"]
