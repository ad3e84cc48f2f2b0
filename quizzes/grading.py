"""Grading quiz answers: pure functions of a question's spec and a learner's answer.

A question's `spec` is the plain data the pack loader builds (choices with
opaque ids, accepted answers, tolerance…). For each type:

- `clean(kind, spec, raw)` checks the shape of an answer (from a form or JSON)
  and returns it in its stored form, or raises `AnswerRefused` with a message
  for the learner: an unknown choice, a text over its bound, a missing field.
  `None` means "no answer".
- `grade(kind, spec, answer)` returns a `Grade`: a score in [0, 1] and the
  feedback to show after submission (HTML from the pack, or escaped messages).

`TYPES` is the one table; adding a type is a cleaner, a grader and one line.
"""

import math
import re
import unicodedata
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.translation import gettext as _

from quizzes import docker_commands

MAX_TEXT_LENGTH = 200
MAX_NUMBER_LENGTH = 40


class AnswerRefused(ValueError):
    """The answer has the wrong shape for its question; nothing was saved."""


@dataclass(frozen=True)
class Grade:
    score: float
    feedback: tuple = ()  # HTML fragments, safe to show

    @property
    def status(self):
        if self.score >= 1:
            return "right"
        return "partial" if self.score > 0 else "wrong"


def _message(text):
    return format_html("<p>{}</p>", text)


# --- Shapes --------------------------------------------------------------------------------


def _text(raw, limit):
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise AnswerRefused(_("This answer must be a text."))
    text = raw.strip()
    if len(text) > limit:
        raise AnswerRefused(_("This answer is too long (%(max)s characters at most).") % {"max": limit})
    return text or None


def _ids(spec, key):
    return {item["id"] for item in spec[key]}


def _clean_single(spec, raw):
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise AnswerRefused(_("Pick one choice."))
    if raw not in _ids(spec, "choices"):
        raise AnswerRefused(_("This choice is not one of the question's choices."))
    return raw


def _clean_multiple(spec, raw):
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise AnswerRefused(_("Pick choices from the list."))
    known = _ids(spec, "choices")
    if any(item not in known for item in raw):
        raise AnswerRefused(_("This choice is not one of the question's choices."))
    return sorted(set(raw))


def _clean_true_false(spec, raw):
    if raw in (None, ""):
        return None
    if raw in (True, "true"):
        return True
    if raw in (False, "false"):
        return False
    raise AnswerRefused(_("Answer true or false."))


def max_length(kind, spec):
    """The longest text answer a question takes."""
    if kind == "numeric":
        return MAX_NUMBER_LENGTH
    if kind == "command":
        return docker_commands.MAX_LENGTH
    return spec.get("max_length") or MAX_TEXT_LENGTH


def _clean_short(spec, raw):
    return _text(raw, max_length("short", spec))


def parse_number(text):
    """A number as people type it: `1,5`, `1.5`, `1 500`; None when it is not one."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _clean_numeric(spec, raw):
    if isinstance(raw, bool):
        raise AnswerRefused(_("Enter a number."))
    if isinstance(raw, (int, float)):
        raw = str(raw)
    text = _text(raw, max_length("numeric", spec))
    if text is not None and parse_number(text) is None:
        raise AnswerRefused(_("Enter a number, such as 12 or 1,5."))
    return text


def _clean_command(spec, raw):
    return _text(raw, max_length("command", spec))


def _clean_matching(spec, raw):
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise AnswerRefused(_("Match each item with one answer."))
    lefts, options = _ids(spec, "pairs"), _ids(spec, "options")
    answer = {}
    for left, option in raw.items():
        if left not in lefts:
            raise AnswerRefused(_("This item is not one of the question's items."))
        if option in (None, ""):
            continue
        if not isinstance(option, str) or option not in options:
            raise AnswerRefused(_("This answer is not one of the question's answers."))
        answer[left] = option
    return answer or None


def _clean_ordering(spec, raw):
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise AnswerRefused(_("Give each item a position."))
    items = _ids(spec, "items")
    answer = {}
    for item, position in raw.items():
        if item not in items:
            raise AnswerRefused(_("This item is not one of the question's items."))
        if position in (None, ""):
            continue
        if isinstance(position, str) and position.strip().isdigit():
            position = int(position)
        if not isinstance(position, int) or isinstance(position, bool) or not 1 <= position <= len(items):
            raise AnswerRefused(_("A position is a number from 1 to %(count)s.") % {"count": len(items)})
        answer[item] = position
    return answer or None


# --- Grading ---------------------------------------------------------------------------------


def _choice_feedback(spec, picked):
    return tuple(c["feedback_html"] for c in spec["choices"] if c["id"] in picked and c.get("feedback_html"))


def _grade_single(spec, answer):
    right = next(c["id"] for c in spec["choices"] if c["correct"])
    return Grade(1.0 if answer == right else 0.0, _choice_feedback(spec, {answer}))


def _grade_multiple(spec, answer):
    """Each right pick earns 1/right, each wrong pick costs 1/wrong; never below 0."""
    picked = set(answer)
    right = {c["id"] for c in spec["choices"] if c["correct"]}
    wrong = _ids(spec, "choices") - right
    score = len(picked & right) / len(right) - (len(picked & wrong) / len(wrong) if wrong else 0)
    return Grade(round(max(0.0, min(1.0, score)), 4), _choice_feedback(spec, picked))


def _grade_true_false(spec, answer):
    feedback = spec.get("feedback_true_html" if answer else "feedback_false_html") or ""
    return Grade(1.0 if answer == spec["answer"] else 0.0, (feedback,) if feedback else ())


def normalize_text(text, spec):
    """The comparison form of a short answer, per the question's normalization options."""
    text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split()) if spec.get("normalize_spaces", True) else text.strip()
    if not spec.get("case_sensitive", False):
        text = text.lower()
    if spec.get("ignore_accents", True):
        text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
        text = unicodedata.normalize("NFC", text)
    return text


def _wrong_feedback(spec, matches):
    for wrong in spec.get("wrong", []):
        if matches(wrong["answer"]) and wrong.get("feedback_html"):
            return (wrong["feedback_html"],)
    return ()


def _grade_short(spec, answer):
    given = normalize_text(answer, spec)
    if any(normalize_text(accepted, spec) == given for accepted in spec["accept"]):
        return Grade(1.0)
    if spec.get("regex"):
        flags = 0 if spec.get("case_sensitive", False) else re.IGNORECASE
        if re.fullmatch(spec["regex"], given, flags):
            return Grade(1.0)
    return Grade(0.0, _wrong_feedback(spec, lambda wrong: normalize_text(wrong, spec) == given))


def _grade_numeric(spec, answer):
    value = parse_number(answer)
    if value is not None and abs(value - spec["answer"]) <= spec.get("tolerance", 0) + 1e-9:
        return Grade(1.0)
    return Grade(0.0, _wrong_feedback(spec, lambda wrong: value is not None and abs(value - wrong) <= 1e-9))


def _grade_command(spec, answer):
    try:
        typed = docker_commands.parse(answer)
    except docker_commands.CommandError as error:
        return Grade(0.0, (_message(str(error)),))
    accepted = [docker_commands.parse(line) for line in spec["accept"]]
    if typed in accepted:
        return Grade(1.0)
    targeted = _wrong_feedback(spec, lambda wrong: docker_commands.parse(wrong) == typed)
    if targeted:
        return Grade(0.0, targeted)
    if any(command.path == typed.path for command in accepted):
        return Grade(0.0, (_message(_("Right command, but not with the right options or arguments.")),))
    return Grade(0.0, (_message(_("This command does something else.")),))


def _grade_matching(spec, answer):
    right = sum(1 for pair in spec["pairs"] if answer.get(pair["id"]) == pair["match"])
    return Grade(round(right / len(spec["pairs"]), 4))


def _grade_ordering(spec, answer):
    """Credit for each item placed right after the one that precedes it in the right order."""
    order = [item["id"] for item in spec["items"]]
    linked = sum(
        1 for before, after in zip(order, order[1:])
        if before in answer and after in answer and answer[after] == answer[before] + 1
    )
    return Grade(round(linked / (len(order) - 1), 4))


@dataclass(frozen=True)
class QuestionType:
    clean: object
    grade: object


TYPES = {
    "single": QuestionType(_clean_single, _grade_single),
    "multiple": QuestionType(_clean_multiple, _grade_multiple),
    "true_false": QuestionType(_clean_true_false, _grade_true_false),
    "short": QuestionType(_clean_short, _grade_short),
    "numeric": QuestionType(_clean_numeric, _grade_numeric),
    "matching": QuestionType(_clean_matching, _grade_matching),
    "ordering": QuestionType(_clean_ordering, _grade_ordering),
    "command": QuestionType(_clean_command, _grade_command),
}


def clean(kind, spec, raw):
    return TYPES[kind].clean(spec, raw)


def grade(kind, spec, answer):
    """Score an answer already cleaned (None: not answered)."""
    if answer is None:
        return Grade(0.0, (_message(_("Not answered.")),))
    return TYPES[kind].grade(spec, answer)


def answer_from_form(kind, spec, data, name):
    """The raw answer a form holds for one question (`data` is a QueryDict), before `clean`."""
    if kind == "multiple":
        return data.getlist(name)
    if kind == "matching":
        return {pair["id"]: data.get(f"{name}-{pair['id']}") for pair in spec["pairs"] if f"{name}-{pair['id']}" in data}
    if kind == "ordering":
        return {item["id"]: data.get(f"{name}-{item['id']}") for item in spec["items"] if f"{name}-{item['id']}" in data}
    return data.get(name)

