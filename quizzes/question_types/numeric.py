"""Numeric: a number as people type it (`1,5`, `1 500`), right within a tolerance."""

import math
import re

from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy

from quizzes.question_types.base import AnswerRefused, Grade, TypedAnswer, wrong_feedback

MAX_NUMBER_LENGTH = 40


class Numeric(TypedAnswer):
    kind = "numeric"
    label = gettext_lazy("number")
    keys = {"answer": False, "tolerance": False, "unit": False, "wrong": False}
    field_attributes = mark_safe(' autocomplete="off" inputmode="decimal" class="numeric-input"')
    shows_unit = True

    def read_spec(self, reader, data):
        if data.get("answer") is None:
            reader.problem(("answer",), "missing answer (a number)")
            return None
        answer = read_number(reader, data.get("answer"), ("answer",))
        tolerance = 0.0
        if data.get("tolerance") is not None:
            tolerance = read_number(reader, data["tolerance"], ("tolerance",))
            if tolerance is not None and tolerance < 0:
                reader.problem(("tolerance",), f"{data['tolerance']!r}: a tolerance cannot be negative")
        unit = reader.text(data.get("unit"), ("unit",), required=False)
        wrong = reader.wrong_answers(data.get("wrong"), compare=lambda value, rel: read_number(reader, value, rel))
        if answer is None or tolerance is None:
            return None
        return {"answer": answer, "tolerance": max(tolerance, 0.0), "unit": unit, "wrong": wrong}

    def max_length(self, spec):
        return MAX_NUMBER_LENGTH

    def clean(self, spec, raw):
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, type(None))):
            raise AnswerRefused(_("Enter a number."))
        if isinstance(raw, int) and abs(raw) >= 10 ** MAX_NUMBER_LENGTH:
            raise AnswerRefused(_("Enter a number, such as 12 or 1,5."))
        if isinstance(raw, (int, float)):
            raw = str(raw)
        text = super().clean(spec, raw)
        if text is not None and parse_number(text) is None:
            raise AnswerRefused(_("Enter a number, such as 12 or 1,5."))
        return text

    def grade(self, spec, answer):
        value = parse_number(answer)
        if value is not None and abs(value - spec["answer"]) <= spec.get("tolerance", 0) + 1e-9:
            return Grade(1.0)
        return Grade(0.0, wrong_feedback(spec, lambda wrong: value is not None and abs(value - wrong) <= 1e-9))

    def same_answer(self, spec, answer):
        value = parse_number(answer)
        return answer if value is None else f"{value:g}"

    def samples(self, spec):
        return [(("answer",), str(spec["answer"]), True)] + [
            (("wrong", index, "answer"), str(wrong["answer"]), False) for index, wrong in enumerate(spec.get("wrong", []))
        ]

    def right_answer(self, spec):
        return {"right": spec["answer"], "tolerance": spec.get("tolerance", 0)}


def parse_number(text):
    """A number as people type it: `1,5`, `1.5`, `1 500`; None when it is not one."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_number(reader, value, rel):
    """A number of the pack (the answer, the tolerance, a wrong answer), written as YAML or as text."""
    if isinstance(value, str):
        value = parse_number(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        reader.problem(rel, "must be a number")
        return None
    return float(value)
