"""Quizzes in a course pack: one YAML file per quiz, listed by its chapter in course.yaml.

Validated with the same rules and error quality as lessons and labs (file,
line, field), then upserted by slug with the rest of the pack. A question's
text is Markdown; the loader renders it, and the question's type
(quizzes.question_types) reads its own keys into the `spec`, with opaque ids
for choices, so nothing in a page tells a right choice from a wrong one.

`read_question` also validates the questions the GIFT importer builds.
"""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from courses import markdown
from courses.packs import upsert
from quizzes import question_types
from quizzes.models import Question, Quiz
from quizzes.question_types.reading import SpecReader, flag, whole

QUIZ_KEYS = {
    "slug": True, "title": True, "summary": False, "intro": False, "lesson": False, "attempts": False,
    "grading": False, "time_limit": False, "pool": False, "shuffle_questions": False, "shuffle_choices": False,
    "closes": False, "review": False, "questions": True,
}
REVIEW_KEYS = {"when": False, "correct_answers": False, "feedback": False, "explanations": False}
QUESTION_KEYS = {"slug": True, "type": True, "prompt": True, "explanation": True, "points": False}
GRADING = ("best", "last", "average")
REVIEW_WHEN = ("immediately", "after_close")
RESERVED_PREFIX = "gift-"


@dataclass
class PackQuestion:
    slug: str
    kind: str
    prompt_html: str
    explanation_html: str
    points: int
    spec: dict
    # What the self-check graded: {"right": answers claimed right that grade right, "wrong": the same for wrong ones}.
    self_checked: dict = field(default_factory=dict)


@dataclass
class PackQuiz:
    slug: str
    title: str
    summary: str
    intro_html: str
    lesson_slug: str
    source_path: str
    settings: dict
    questions: list = field(default_factory=list)

    def type_counts(self):
        counts = {}
        for question in self.questions:
            counts[question.kind] = counts.get(question.kind, 0) + 1
        return counts


def read_quiz(check, relative, *, lessons):
    """Validate one quiz file; return a PackQuiz, or None after recording problems in `check`."""
    lesson_slugs = {lesson.slug for lesson in lessons}
    file = check.display(relative.as_posix())
    doc = check.yaml_file(check.root / relative, file)
    if doc is None:
        return None
    quiz = check.mapping(doc, (), QUIZ_KEYS, file, "a quiz")
    if quiz is None:
        return None
    slug = check.slug(quiz.get("slug"), doc, ("slug",), file)
    title = check.text(quiz.get("title"), doc, ("title",), file)
    summary = check.text(quiz.get("summary"), doc, ("summary",), file) if quiz.get("summary") is not None else ""
    intro = check.text(quiz.get("intro"), doc, ("intro",), file) if quiz.get("intro") is not None else ""
    lesson = quiz.get("lesson")
    if lesson is not None and lesson not in lesson_slugs:
        known = ", ".join(sorted(lesson_slugs)) or "none"
        check.add(file, doc.line("lesson"), ("lesson",), f"{lesson!r} is not a lesson of this chapter (its lessons: {known})")
        lesson = None

    questions, slugs = [], {}
    question_list = quiz.get("questions")
    if question_list is not None and (not isinstance(question_list, list) or not question_list):
        check.add(file, doc.line("questions"), ("questions",), "must be a non-empty list of questions")
        question_list = []
    for index, _ in enumerate(question_list or []):
        path = ("questions", index)
        question = read_question(check, doc, path, file, quiz_slug=slug or "quiz")
        if question is None:
            continue
        check.unique_slug(slugs, question.slug, doc, path, file)
        if question.slug.startswith(RESERVED_PREFIX):
            check.add(file, doc.line(*path, "slug"), path + ("slug",), f"slugs starting with {RESERVED_PREFIX!r} are kept for imported questions")
        questions.append(question)

    settings = _read_settings(check, doc, quiz, file, question_count=len(question_list or []))
    return PackQuiz(
        slug=slug, title=title, summary=summary, intro_html=markdown.render(intro, runnable=False).html if intro else "",
        lesson_slug=lesson or "", source_path=relative.as_posix(), settings=settings, questions=questions,
    )


def _read_settings(check, doc, quiz, file, *, question_count):
    settings = {
        "max_attempts": None, "grading": "best", "time_limit_minutes": None, "pool_size": None,
        "shuffle_questions": flag(check, doc, quiz.get("shuffle_questions"), ("shuffle_questions",), file, False),
        "shuffle_choices": flag(check, doc, quiz.get("shuffle_choices"), ("shuffle_choices",), file, False),
        "closes_at": None, "review_when": "immediately",
        "review_correct_answers": True, "review_feedback": True, "review_explanations": True,
    }
    attempts = quiz.get("attempts")
    if attempts is not None and attempts != "unlimited":
        settings["max_attempts"] = whole(check, doc, attempts, ("attempts",), file, what="a number of attempts (1 or more) or 'unlimited'")
    grading = quiz.get("grading")
    if grading is not None:
        if grading not in GRADING:
            check.add(file, doc.line("grading"), ("grading",), f"{grading!r} is not a grading method (use {', '.join(GRADING)})")
        else:
            settings["grading"] = grading
    if quiz.get("time_limit") is not None:
        settings["time_limit_minutes"] = whole(check, doc, quiz["time_limit"], ("time_limit",), file, what="a whole number of minutes (1 or more)")
    if quiz.get("pool") is not None:
        pool = whole(check, doc, quiz["pool"], ("pool",), file, what="a number of questions to draw (1 or more)")
        if pool is not None and question_count and pool > question_count:
            check.add(file, doc.line("pool"), ("pool",), f"draws {pool} questions but the quiz has only {question_count}")
        settings["pool_size"] = pool
    closes = quiz.get("closes")
    if closes is not None:
        if isinstance(closes, datetime.datetime):
            settings["closes_at"] = closes if timezone.is_aware(closes) else timezone.make_aware(closes)
        elif isinstance(closes, datetime.date):
            settings["closes_at"] = timezone.make_aware(datetime.datetime.combine(closes, datetime.time(23, 59, 59)))
        else:
            check.add(file, doc.line("closes"), ("closes",), f"{closes!r} is not a date (write 2027-06-30 or 2027-06-30T18:00:00+02:00)")
    if quiz.get("review") is not None:
        review = check.mapping(doc, ("review",), REVIEW_KEYS, file, "review")
        if review is not None:
            when = review.get("when", "immediately")
            if when not in REVIEW_WHEN:
                check.add(file, doc.line("review", "when"), ("review", "when"), f"{when!r} is not a review time (use {', '.join(REVIEW_WHEN)})")
            else:
                settings["review_when"] = when
            for key in ("correct_answers", "feedback", "explanations"):
                settings[f"review_{key}"] = flag(check, doc, review.get(key), ("review", key), file, True)
    return settings


# --- Questions ---------------------------------------------------------------------------------


def read_question(check, doc, path, file, *, quiz_slug, require_explanation=True):
    """Validate the question at `path` of `doc`; return a PackQuestion or None (problems go to `check`)."""
    data = doc.data
    for part in path:
        data = data[part]
    if not isinstance(data, dict):
        check.add(file, doc.line(*path), path, "a question must be a mapping of keys to values")
        return None
    kind = data.get("type")
    if kind not in question_types.TYPES:
        known = ", ".join(question_types.TYPES)
        line_path = path + ("type",) if "type" in data else path
        check.add(file, doc.line(*line_path), path + ("type",), f"missing type (one of: {known})" if kind is None else f"unknown type {kind!r} (one of: {known})")
        return None
    question_type = question_types.TYPES[kind]
    required = dict(QUESTION_KEYS, **question_type.keys)
    if not require_explanation:
        required["explanation"] = False
    if check.mapping(doc, path, required, file, "a question") is None:
        return None
    slug = check.slug(data.get("slug"), doc, path + ("slug",), file)
    reader = SpecReader(check, doc, path, file, quiz_slug=quiz_slug, slug=slug or "question")
    prompt_html = reader.html(data.get("prompt"), ("prompt",), required=True) if data.get("prompt") not in (None, "") else ""
    explanation_html = reader.html(data.get("explanation"), ("explanation",)) if data.get("explanation") not in (None, "") else ""
    points = 1
    if data.get("points") is not None:
        points = reader.whole(data["points"], ("points",), what="a whole number of points (1 or more)") or 1
    problems_before = len(check.problems)
    spec = question_type.read_spec(reader, data)
    if spec is None:
        return None
    checked = {"right": 0, "wrong": 0}
    if len(check.problems) == problems_before:
        # Each answer the question claims right (its key, its accepted answers) must grade right, each
        # expected wrong answer wrong: a regex that misses its own examples is caught here, not by learners.
        for rel, _raw, right, problem in question_types.self_check(kind, spec):
            if problem:
                reader.problem(rel, f"self-check: {problem}")
            else:
                checked["right" if right else "wrong"] += 1
    return PackQuestion(
        slug=slug, kind=kind, prompt_html=prompt_html, explanation_html=explanation_html, points=points, spec=spec,
        self_checked=checked,
    )


def load_quiz(report, *, course, chapter, position, item, lessons_by_slug):
    """Upsert one quiz and its pack questions; questions that left it are unpublished, attempts untouched."""
    quiz, outcome = upsert(
        Quiz, {"course": course, "slug": item.slug},
        {
            "chapter": chapter, "lesson": lessons_by_slug.get(item.lesson_slug), "title": item.title, "summary": item.summary,
            "intro_html": item.intro_html, "position": position, "source_path": item.source_path,
            "is_published": True, **item.settings,
        },
    )
    report.count(outcome, "quizzes")
    question_ids = []
    for question_position, pack_question in enumerate(item.questions, start=1):
        question, outcome = upsert(
            Question, {"quiz": quiz, "slug": pack_question.slug},
            {
                "kind": pack_question.kind, "position": question_position, "prompt_html": pack_question.prompt_html,
                "explanation_html": pack_question.explanation_html, "points": pack_question.points,
                "spec": pack_question.spec, "source": Question.Source.PACK, "is_published": True,
            },
        )
        report.count(outcome, "questions")
        question_ids.append(question.pk)
    # Attempts keep their own copy of each question; imported (GIFT) questions are not the pack's to remove.
    report.unpublished["questions"] += (
        quiz.questions.filter(source=Question.Source.PACK, is_published=True).exclude(pk__in=question_ids).update(is_published=False)
    )
    return quiz.pk


def unpublish_quizzes(course, kept_ids):
    return course.quizzes.filter(is_published=True).exclude(pk__in=kept_ids).update(is_published=False)


def describe_quiz(quiz):
    return {
        "slug": quiz.slug, "title": quiz.title, "questions": len(quiz.questions), "types": quiz.type_counts(),
        "draws": quiz.settings["pool_size"], "time_limit": quiz.settings["time_limit_minutes"],
        "attempts": quiz.settings["max_attempts"],
        # Per question: how many of the answers it claims right, and wrong, were graded so by its own type.
        "self_checks": [
            {"slug": question.slug, "type": question.kind, **question.self_checked} for question in quiz.questions
        ],
    }


def quiz_totals(quizzes):
    return {"quizzes": len(quizzes), "quiz_questions": sum(len(quiz.questions) for quiz in quizzes)}
