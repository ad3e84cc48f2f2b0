"""Quizzes in a course pack: validation that names file, line and field; idempotent load; attempts survive edits."""

import json
import re

import pytest
from django.core.management import call_command

from quizzes import attempts
from quizzes.models import Attempt, Question, Quiz
from courses.packs import PackError, load_pack, read_pack
from tests.quizzes import QUIZ, add_quiz, quiz


def problems_of(root):
    with pytest.raises(PackError) as caught:
        read_pack(root)
    return [str(p) for p in caught.value.problems]


def with_question(index, **changes):
    data = quiz()
    data["questions"][index].update(changes)
    return data


def line_of(root, problem):
    """The text of the line a problem points at."""
    line = int(problem.split(":")[1])
    return (root / "quizzes" / "bases.yaml").read_text().splitlines()[line - 1]


def test_quiz_is_read_with_every_question_type(pack_builder):
    pack = read_pack(add_quiz(pack_builder).write())
    [read] = pack.activities("quizzes")
    assert read.slug == "bases-quiz" and pack.chapters[0].activities["quizzes"] == [read]
    assert [q.kind for q in read.questions] == ["single", "multiple", "true_false", "short", "numeric", "matching", "ordering", "command"]
    single = read.questions[0].spec
    assert [c["correct"] for c in single["choices"]] == [False, True, False]
    assert all(len(c["id"]) == 10 for c in single["choices"])
    assert read.questions[0].explanation_html == "<p>EXPLICATION-IMAGE</p>\n"
    matching = read.questions[5].spec
    assert len(matching["pairs"]) == 3 and len(matching["options"]) == 4
    assert read.questions[4].spec == {"answer": 12.0, "tolerance": 0.0, "unit": "", "wrong": []}


def test_choice_ids_are_opaque_and_stable_between_reads(pack_builder):
    root = add_quiz(pack_builder).write()
    ids = [c["id"] for c in read_pack(root).activities("quizzes")[0].questions[0].spec["choices"]]
    assert all(re.fullmatch(r"[0-9a-f]{10}", i) for i in ids) and len(set(ids)) == 3
    assert ids == [c["id"] for c in read_pack(root).activities("quizzes")[0].questions[0].spec["choices"]]


def test_single_choice_without_a_correct_choice_names_file_line_and_field(pack_builder):
    data = quiz()
    data["questions"][0]["choices"][1]["correct"] = False
    root = add_quiz(pack_builder, data).write()
    [problem] = problems_of(root)
    assert problem.startswith(f"{root}/quizzes/bases.yaml:")
    assert "questions[0].choices: a single-choice question needs exactly one correct choice (found 0)" in problem
    assert "choices:" in line_of(root, problem)


def test_multiple_choice_needs_a_correct_choice(pack_builder):
    data = quiz()
    for choice in data["questions"][1]["choices"]:
        choice.pop("correct", None)
    [problem] = problems_of(add_quiz(pack_builder, data).write())
    assert "questions[1].choices: a multiple-choice question needs at least one correct choice" in problem


def test_regex_that_does_not_compile_is_refused(pack_builder):
    root = add_quiz(pack_builder, with_question(3, regex="docker(")).write()
    [problem] = problems_of(root)
    assert "questions[3].regex: does not compile: missing ), unterminated subpattern" in problem
    assert "regex:" in line_of(root, problem)


def test_negative_tolerance_is_refused(pack_builder):
    root = add_quiz(pack_builder, with_question(4, tolerance=-1)).write()
    [problem] = problems_of(root)
    assert "questions[4].tolerance: -1: a tolerance cannot be negative" in problem
    assert "tolerance:" in line_of(root, problem)


def test_ordering_with_one_item_and_matching_with_one_pair_are_refused(pack_builder):
    data = quiz()
    data["questions"][6]["items"] = ["Seul"]
    data["questions"][5]["pairs"] = data["questions"][5]["pairs"][:1]
    problems = problems_of(add_quiz(pack_builder, data).write())
    assert any("questions[6].items: an ordering question needs at least two items" in p for p in problems)
    assert any("questions[5].pairs: a matching question needs at least two pairs" in p for p in problems)


def test_unknown_keys_types_and_accepted_commands_the_grader_cannot_read_are_refused(pack_builder):
    data = quiz()
    data["questions"][0]["explication"] = "typo"
    data["questions"][2]["type"] = "vrai_faux"
    data["questions"][7]["accept"] = ["docker images --notrunc"]
    data["grading"] = "median"
    root = add_quiz(pack_builder, data).write()
    problems = problems_of(root)
    assert any("questions[0].explication: unknown key" in p for p in problems)
    assert any("questions[2].type: unknown type 'vrai_faux'" in p for p in problems)
    assert any(
        "questions[7].accept[0]: 'docker images --notrunc' is not a command the grader understands: "
        "Unknown flag for docker image ls: --notrunc." in p for p in problems
    )
    assert any("grading: 'median' is not a grading method (use best, last, average)" in p for p in problems)


def test_missing_explanation_and_duplicate_question_slug_are_refused(pack_builder):
    data = quiz()
    del data["questions"][1]["explanation"]
    data["questions"][2]["slug"] = "image-inerte"
    problems = problems_of(add_quiz(pack_builder, data).write())
    assert any("questions[1].explanation: missing explanation" in p for p in problems)
    assert any("questions[2].slug: duplicate slug 'image-inerte' (also questions[0])" in p for p in problems)


def test_pool_larger_than_the_quiz_and_bad_settings_are_refused(pack_builder):
    data = quiz(pool=20, attempts=0, time_limit="dix", review={"when": "later"})
    problems = problems_of(add_quiz(pack_builder, data).write())
    assert any("pool: draws 20 questions but the quiz has only 8" in p for p in problems)
    assert any("attempts: 0 is not a number of attempts" in p for p in problems)
    assert any("time_limit: 'dix' is not a whole number of minutes" in p for p in problems)
    assert any("review.when: 'later' is not a review time" in p for p in problems)


def test_duplicate_quiz_slug_and_missing_quiz_file_are_refused(pack_builder):
    add_quiz(pack_builder)
    add_quiz(pack_builder, path="quizzes/copie.yaml", chapter=1)
    pack_builder.course["chapters"][1]["quizzes"].append("quizzes/absent.yaml")
    root = pack_builder.write()
    problems = problems_of(root)
    assert any(p.startswith(f"{root}/quizzes/copie.yaml:1: slug: duplicate slug 'bases-quiz'") for p in problems)
    assert any("chapters[1].quizzes[1]: quiz file 'quizzes/absent.yaml' does not exist" in p for p in problems)


def test_quiz_attached_to_a_lesson_of_another_chapter_is_refused(pack_builder):
    root = add_quiz(pack_builder, quiz(lesson="volumes")).write()
    [problem] = problems_of(root)
    assert "lesson: 'volumes' is not a lesson of this chapter (its lessons: images, intro)" in problem


def test_unlisted_quiz_file_is_a_warning(pack_builder):
    root = pack_builder.write()
    pack_builder.write_file("quizzes/oublie.yaml", "slug: oublie\n")
    assert [str(w) for w in read_pack(root).warnings] == [f"{root}/quizzes/oublie.yaml: file not listed in any chapter"]


def test_loading_a_quiz_twice_changes_nothing_the_second_time(db, pack_builder):
    root = add_quiz(pack_builder, quiz(lesson="images", attempts=2, grading="last", time_limit=10, pool=5, shuffle_choices=True)).write()
    first = load_pack(read_pack(root))
    assert (first.created["quizzes"], first.created["questions"]) == (1, 8)
    assert not load_pack(read_pack(root)).changed
    saved = Quiz.objects.get()
    assert (saved.max_attempts, saved.grading, saved.time_limit_minutes, saved.pool_size, saved.shuffle_choices) == (2, "last", 10, 5, True)
    assert saved.lesson.slug == "images" and saved.chapter.slug == "bases"


def test_editing_a_quiz_never_loses_attempts_and_old_attempts_keep_their_questions(db, pack_builder, learner):
    root = add_quiz(pack_builder).write()
    load_pack(read_pack(root))
    attempt = attempts.start_attempt(user=learner, quiz=Quiz.objects.get())
    attempts.submit(attempt=attempt)
    data = quiz()
    data["questions"][0]["prompt"] = "Nouvelle formulation ?"
    del data["questions"][7]
    add_quiz(pack_builder, data).write()
    report = load_pack(read_pack(root))
    assert report.updated["questions"] == 1 and report.unpublished["questions"] == 1
    removed = Question.objects.get(slug="lister")
    assert not removed.is_published
    attempt.refresh_from_db()
    slots = list(attempt.slots.order_by("position"))
    assert len(slots) == 8 and slots[7].question == removed
    assert slots[0].prompt_html == "<p>Que fait une image tant qu'on ne la lance pas\u202f?</p>\n"
    assert Attempt.objects.count() == 1
    # A new attempt only draws what is published now.
    attempts.start_attempt(user=learner, quiz=Quiz.objects.get())
    assert [s.question.slug for s in Attempt.objects.get(number=2).slots.all()] == [q["slug"] for q in data["questions"]]


def test_removed_quiz_is_unpublished(db, pack_builder):
    root = add_quiz(pack_builder).write()
    load_pack(read_pack(root))
    del pack_builder.course["chapters"][0]["quizzes"]
    del pack_builder.files["quizzes/bases.yaml"]
    (root / "quizzes" / "bases.yaml").unlink()
    assert load_pack(read_pack(pack_builder.write())).unpublished["quizzes"] == 1
    assert not Quiz.objects.get().is_published


def test_summary_counts_quizzes_and_question_types(db, pack_builder, capsys):
    root = add_quiz(pack_builder, quiz(pool=5, time_limit=10)).write()
    call_command("load_course", str(root), "--check")
    out = capsys.readouterr().out
    assert "0 labs (0 tasks), 1 quizzes (8 questions)" in out
    assert ("quiz bases-quiz: 8 questions (1 command, 1 matching, 1 multiple, 1 numeric, 1 ordering, 1 short, 1 single, 1 true_false), "
            "draws 5, 10 min, unlimited attempts") in out
    call_command("load_course", str(root), "--check", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"]["quizzes"] == 1 and summary["totals"]["quiz_questions"] == 8
    assert summary["chapters"][0]["quizzes"][0]["types"]["command"] == 1


def test_the_fixture_quiz_has_one_question_of_every_type():
    assert len({q["type"] for q in QUIZ["questions"]}) == 8


def test_an_accepted_answer_that_misses_its_own_regex_is_refused_at_load(pack_builder):
    root = add_quiz(pack_builder, with_question(3, accept=["conteneur arrêté", "conteneur stoppé"], regex="conteneurs? arrêtés?", case_sensitive=False, wrong=[])).write()
    [problem] = problems_of(root)
    assert "questions[3].accept[1]: 'conteneur stoppé' does not match the question's regex (folded as answers are)" in problem
    assert "conteneur stoppé" in line_of(root, problem)


def test_an_expected_wrong_answer_that_grades_right_is_refused_at_load(pack_builder):
    root = add_quiz(pack_builder, with_question(3, case_sensitive=False)).write()  # "IpAddress" is then "IPAddress"
    [problem] = problems_of(root)
    assert "questions[3].wrong[0].answer: self-check: 'IpAddress' is given as wrong but grades right" in problem
    root = add_quiz(pack_builder, with_question(4, tolerance=60, wrong=[{"answer": 64, "feedback": "Empreinte complète."}])).write()
    [problem] = problems_of(root)
    assert "questions[4].wrong[0].answer: self-check: '64.0' is given as wrong but grades right" in problem


def test_the_commands_of_the_cli_reference_are_accepted_answers(pack_builder):
    lines = ["docker --version", "docker -v", "docker run --help", "docker image rmi nginx:1.26", "docker system info",
             "docker volume create --name data", "docker inspect web | more"]
    pack = read_pack(add_quiz(pack_builder, with_question(7, accept=lines, wrong=[])).write())
    assert pack.activities("quizzes")[0].questions[7].spec["accept"] == lines


def test_check_reports_the_self_check_of_every_question(db, pack_builder, capsys):
    root = add_quiz(pack_builder).write()
    call_command("load_course", str(root), "--check")
    out = capsys.readouterr().out
    assert "self-check: 8 answers given as right grade right, 7 given as wrong grade wrong" in out
    assert "✓ champ (short): 1 accepted, 1 expected wrong" in out
    assert "✓ lister (command): 1 accepted, 1 expected wrong" in out
    call_command("load_course", str(root), "--check", "--json")
    checks = json.loads(capsys.readouterr().out)["chapters"][0]["quizzes"][0]["self_checks"]
    assert checks[7] == {"slug": "lister", "type": "command", "right": 1, "wrong": 1}
