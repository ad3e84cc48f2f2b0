"""Quizzes in a course pack: one YAML file per quiz, listed by its chapter in course.yaml.

Validated with the same rules and error quality as lessons and labs (file,
line, field), then upserted by slug with the rest of the pack. A question's
text is Markdown; the loader renders it and builds the `spec` that grading
reads (quizzes.question_types), with opaque ids for choices, so nothing in a page
tells a right choice from a wrong one.

`read_question` also validates the questions the GIFT importer builds.
"""

import datetime
import hashlib
import re
from dataclasses import dataclass, field

from django.utils import timezone, translation

from courses import markdown
from courses.packs import upsert
from quizzes import docker_commands
from quizzes.models import Question, Quiz
from quizzes.question_types.numeric import parse_number
from quizzes.question_types.short import MAX_TEXT_LENGTH

QUIZ_KEYS = {
    "slug": True, "title": True, "summary": False, "intro": False, "lesson": False, "attempts": False,
    "grading": False, "time_limit": False, "pool": False, "shuffle_questions": False, "shuffle_choices": False,
    "closes": False, "review": False, "questions": True,
}
REVIEW_KEYS = {"when": False, "correct_answers": False, "feedback": False, "explanations": False}
QUESTION_KEYS = {"slug": True, "type": True, "prompt": True, "explanation": True, "points": False}
TYPE_KEYS = {
    "single": {"choices": True},
    "multiple": {"choices": True},
    "true_false": {"answer": False, "feedback_true": False, "feedback_false": False},
    "short": {"accept": False, "regex": False, "case_sensitive": False, "ignore_accents": False, "normalize_spaces": False, "max_length": False, "wrong": False},
    "numeric": {"answer": False, "tolerance": False, "unit": False, "wrong": False},
    "matching": {"pairs": True, "distractors": False},
    "ordering": {"items": True},
    "command": {"accept": True, "wrong": False},
}
CHOICE_KEYS = {"text": True, "correct": False, "feedback": False}
PAIR_KEYS = {"left": True, "right": True}
WRONG_KEYS = {"answer": True, "feedback": True}
GRADING = ("best", "last", "average")
REVIEW_WHEN = ("immediately", "after_close")
RESERVED_PREFIX = "gift-"
MAX_SHORT_LENGTH = 1000


@dataclass
class PackQuestion:
    slug: str
    kind: str
    prompt_html: str
    explanation_html: str
    points: int
    spec: dict


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


def opaque_id(*parts):
    """A short id that says nothing about what it names (not its place, not whether it is right)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:10]


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
        slug=slug, title=title, summary=summary, intro_html=markdown.render(intro).html if intro else "",
        lesson_slug=lesson or "", source_path=relative.as_posix(), settings=settings, questions=questions,
    )


def _whole(check, doc, value, path, file, *, what, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        check.add(file, doc.line(*path), path, f"{value!r} is not {what}")
        return None
    return value


def _flag(check, doc, value, path, file, default):
    if value is None:
        return default
    if not isinstance(value, bool):
        check.add(file, doc.line(*path), path, f"{value!r} is not true or false")
        return default
    return value


def _read_settings(check, doc, quiz, file, *, question_count):
    settings = {
        "max_attempts": None, "grading": "best", "time_limit_minutes": None, "pool_size": None,
        "shuffle_questions": _flag(check, doc, quiz.get("shuffle_questions"), ("shuffle_questions",), file, False),
        "shuffle_choices": _flag(check, doc, quiz.get("shuffle_choices"), ("shuffle_choices",), file, False),
        "closes_at": None, "review_when": "immediately",
        "review_correct_answers": True, "review_feedback": True, "review_explanations": True,
    }
    attempts = quiz.get("attempts")
    if attempts is not None and attempts != "unlimited":
        settings["max_attempts"] = _whole(check, doc, attempts, ("attempts",), file, what="a number of attempts (1 or more) or 'unlimited'")
    grading = quiz.get("grading")
    if grading is not None:
        if grading not in GRADING:
            check.add(file, doc.line("grading"), ("grading",), f"{grading!r} is not a grading method (use {', '.join(GRADING)})")
        else:
            settings["grading"] = grading
    if quiz.get("time_limit") is not None:
        settings["time_limit_minutes"] = _whole(check, doc, quiz["time_limit"], ("time_limit",), file, what="a whole number of minutes (1 or more)")
    if quiz.get("pool") is not None:
        pool = _whole(check, doc, quiz["pool"], ("pool",), file, what="a number of questions to draw (1 or more)")
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
                settings[f"review_{key}"] = _flag(check, doc, review.get(key), ("review", key), file, True)
    return settings


# --- Questions ---------------------------------------------------------------------------------


class _Question:
    """Reading one question: reports problems at the question's fields, builds its spec."""

    def __init__(self, check, doc, path, file, quiz_slug, slug):
        self.check, self.doc, self.path, self.file = check, doc, path, file
        self.quiz_slug, self.slug = quiz_slug, slug

    def problem(self, rel, message):
        path = self.path + tuple(rel)
        self.check.add(self.file, self.doc.line(*path), path, message)

    def text(self, value, rel, *, required=True):
        if value is None and not required:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
            self.problem(rel, "must be a non-empty text")
            return ""
        return str(value).strip()

    def html(self, value, rel, *, inline=False, required=False):
        text = self.text(value, rel, required=required)
        if not text:
            return ""
        return markdown.render_inline(text) if inline else markdown.render(text).html

    def items(self, value, rel, *, minimum, what):
        if not isinstance(value, list) or len(value) < minimum:
            self.problem(rel, f"{what}")
            return []
        return value

    def id(self, role, text):
        return opaque_id(self.quiz_slug, self.slug, role, text)

    def wrong_answers(self, data, *, compare):
        """Targeted feedback for expected wrong answers: [{answer, feedback}]."""
        wrong = []
        for index, _ in enumerate(self.items(data, ("wrong",), minimum=0, what="must be a list of {answer, feedback}") if data is not None else []):
            entry = self.check.mapping(self.doc, self.path + ("wrong", index), WRONG_KEYS, self.file, "a wrong answer")
            if entry is None:
                continue
            answer = compare(entry.get("answer"), ("wrong", index, "answer"))
            feedback = self.html(entry.get("feedback"), ("wrong", index, "feedback"), required=True)
            if answer is not None:
                wrong.append({"answer": answer, "feedback_html": feedback})
        return wrong


def read_question(check, doc, path, file, *, quiz_slug, require_explanation=True):
    """Validate the question at `path` of `doc`; return a PackQuestion or None (problems go to `check`)."""
    data = doc.data
    for part in path:
        data = data[part]
    if not isinstance(data, dict):
        check.add(file, doc.line(*path), path, "a question must be a mapping of keys to values")
        return None
    kind = data.get("type")
    if kind not in TYPE_KEYS:
        known = ", ".join(TYPE_KEYS)
        line_path = path + ("type",) if "type" in data else path
        check.add(file, doc.line(*line_path), path + ("type",), f"missing type (one of: {known})" if kind is None else f"unknown type {kind!r} (one of: {known})")
        return None
    required = dict(QUESTION_KEYS, **TYPE_KEYS[kind])
    if not require_explanation:
        required["explanation"] = False
    if check.mapping(doc, path, required, file, "a question") is None:
        return None
    slug = check.slug(data.get("slug"), doc, path + ("slug",), file)
    q = _Question(check, doc, path, file, quiz_slug, slug or "question")
    prompt_html = q.html(data.get("prompt"), ("prompt",), required=True) if data.get("prompt") not in (None, "") else ""
    explanation_html = q.html(data.get("explanation"), ("explanation",)) if data.get("explanation") not in (None, "") else ""
    points = 1
    if data.get("points") is not None:
        points = _whole(check, doc, data["points"], path + ("points",), file, what="a whole number of points (1 or more)") or 1
    spec = _SPEC_READERS[kind](q, data)
    if spec is None:
        return None
    return PackQuestion(slug=slug, kind=kind, prompt_html=prompt_html, explanation_html=explanation_html, points=points, spec=spec)


def _choices(q, data, *, single):
    choices, texts = [], set()
    for index, _ in enumerate(q.items(data.get("choices"), ("choices",), minimum=2, what="must be a list of at least two choices")):
        choice = q.check.mapping(q.doc, q.path + ("choices", index), CHOICE_KEYS, q.file, "a choice")
        if choice is None:
            continue
        text = q.text(choice.get("text"), ("choices", index, "text"))
        if text in texts:
            q.problem(("choices", index, "text"), f"duplicate choice {text!r}")
        texts.add(text)
        correct = _flag(q.check, q.doc, choice.get("correct"), q.path + ("choices", index, "correct"), q.file, False)
        choices.append({
            "id": q.id("choice", text), "html": markdown.render_inline(text) if text else "", "correct": correct,
            "feedback_html": q.html(choice.get("feedback"), ("choices", index, "feedback")),
        })
    right = sum(c["correct"] for c in choices)
    if len(choices) >= 2 and single and right != 1:
        q.problem(("choices",), f"a single-choice question needs exactly one correct choice (found {right})")
    if len(choices) >= 2 and not single and right == 0:
        q.problem(("choices",), "a multiple-choice question needs at least one correct choice")
    return {"choices": choices}


def _true_false(q, data):
    answer = data.get("answer")
    if not isinstance(answer, bool):
        q.problem(("answer",), "must be true or false" if answer is not None else "missing answer (true or false)")
        return None
    return {
        "answer": answer,
        "feedback_true_html": q.html(data.get("feedback_true"), ("feedback_true",)),
        "feedback_false_html": q.html(data.get("feedback_false"), ("feedback_false",)),
    }


def _short(q, data):
    spec = {
        "accept": [], "regex": "",
        "case_sensitive": _flag(q.check, q.doc, data.get("case_sensitive"), q.path + ("case_sensitive",), q.file, False),
        "ignore_accents": _flag(q.check, q.doc, data.get("ignore_accents"), q.path + ("ignore_accents",), q.file, True),
        "normalize_spaces": _flag(q.check, q.doc, data.get("normalize_spaces"), q.path + ("normalize_spaces",), q.file, True),
        "max_length": MAX_TEXT_LENGTH,
    }
    if data.get("max_length") is not None:
        spec["max_length"] = _whole(q.check, q.doc, data["max_length"], q.path + ("max_length",), q.file, what=f"a length from 1 to {MAX_SHORT_LENGTH}") or spec["max_length"]
        if spec["max_length"] > MAX_SHORT_LENGTH:
            q.problem(("max_length",), f"{spec['max_length']} is longer than {MAX_SHORT_LENGTH}")
    accept = data.get("accept")
    if accept is not None:
        for index, answer in enumerate(q.items(accept, ("accept",), minimum=1, what="must be a list of accepted answers")):
            text = q.text(answer, ("accept", index))
            if len(text) > spec["max_length"]:
                q.problem(("accept", index), f"longer than max_length ({spec['max_length']})")
            if text:
                spec["accept"].append(text)
    regex = data.get("regex")
    if regex is not None:
        pattern = q.text(regex, ("regex",))
        try:
            re.compile(pattern)
            spec["regex"] = pattern
        except re.error as error:
            q.problem(("regex",), f"does not compile: {error}")
    if accept is None and regex is None:
        q.problem((), "a short-text question needs accept (a list of answers) or regex")
    spec["wrong"] = q.wrong_answers(data.get("wrong"), compare=lambda value, rel: q.text(value, rel) or None)
    return spec


def _number(q, value, rel):
    if isinstance(value, str):
        value = parse_number(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        q.problem(rel, "must be a number")
        return None
    return float(value)


def _numeric(q, data):
    if data.get("answer") is None:
        q.problem(("answer",), "missing answer (a number)")
        return None
    answer = _number(q, data.get("answer"), ("answer",))
    tolerance = 0.0
    if data.get("tolerance") is not None:
        tolerance = _number(q, data["tolerance"], ("tolerance",))
        if tolerance is not None and tolerance < 0:
            q.problem(("tolerance",), f"{data['tolerance']!r}: a tolerance cannot be negative")
    unit = q.text(data.get("unit"), ("unit",), required=False)
    wrong = q.wrong_answers(data.get("wrong"), compare=lambda value, rel: _number(q, value, rel))
    if answer is None or tolerance is None:
        return None
    return {"answer": answer, "tolerance": max(tolerance, 0.0), "unit": unit, "wrong": wrong}


def _matching(q, data):
    pairs, options, lefts = [], {}, set()
    for index, _ in enumerate(q.items(data.get("pairs"), ("pairs",), minimum=2, what="a matching question needs at least two pairs")):
        pair = q.check.mapping(q.doc, q.path + ("pairs", index), PAIR_KEYS, q.file, "a pair")
        if pair is None:
            continue
        left = q.text(pair.get("left"), ("pairs", index, "left"))
        right = q.text(pair.get("right"), ("pairs", index, "right"))
        if left in lefts:
            q.problem(("pairs", index, "left"), f"duplicate item {left!r}")
        lefts.add(left)
        option = options.setdefault(right, {"id": q.id("option", right), "html": markdown.render_inline(right) if right else ""})
        pairs.append({"id": q.id("item", left), "html": markdown.render_inline(left) if left else "", "match": option["id"]})
    distractors = data.get("distractors")
    for index, text in enumerate(q.items(distractors, ("distractors",), minimum=1, what="must be a list of extra answers") if distractors is not None else []):
        text = q.text(text, ("distractors", index))
        if text in options:
            q.problem(("distractors", index), f"{text!r} is already the answer of a pair")
        elif text:
            options[text] = {"id": q.id("option", text), "html": markdown.render_inline(text)}
    return {"pairs": pairs, "options": list(options.values())}


def _ordering(q, data):
    items, texts = [], set()
    for index, text in enumerate(q.items(data.get("items"), ("items",), minimum=2, what="an ordering question needs at least two items")):
        text = q.text(text, ("items", index))
        if text in texts:
            q.problem(("items", index), f"duplicate item {text!r}")
        texts.add(text)
        items.append({"id": q.id("item", text), "html": markdown.render_inline(text) if text else ""})
    return {"items": items}


def _command(q, data):
    def parse(value, rel):
        text = q.text(value, rel)
        if not text:
            return None
        # Pack problems are in English, whatever the language of the process.
        with translation.override(None):
            try:
                docker_commands.parse(text)
                return text
            except docker_commands.CommandError as error:
                q.problem(rel, f"{text!r} is not a command the grader understands: {error}")
                return None

    accept = [parse(line, ("accept", index)) for index, line in enumerate(q.items(data.get("accept"), ("accept",), minimum=1, what="must be a non-empty list of accepted commands"))]
    accept = [line for line in accept if line]
    wrong = q.wrong_answers(data.get("wrong"), compare=parse)
    accepted = {docker_commands.parse(line) for line in accept}
    for index, entry in enumerate(wrong):
        if docker_commands.parse(entry["answer"]) in accepted:
            q.problem(("wrong", index, "answer"), f"{entry['answer']!r} is the same command as an accepted one")
    return {"accept": accept, "wrong": wrong}


_SPEC_READERS = {
    "single": lambda q, data: _choices(q, data, single=True),
    "multiple": lambda q, data: _choices(q, data, single=False),
    "true_false": _true_false,
    "short": _short,
    "numeric": _numeric,
    "matching": _matching,
    "ordering": _ordering,
    "command": _command,
}


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
    }


def quiz_totals(quizzes):
    return {"quizzes": len(quizzes), "quiz_questions": sum(len(quiz.questions) for quiz in quizzes)}
