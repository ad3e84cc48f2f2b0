"""Short text: a word or a phrase, compared once normalized (case, accents, spaces), or a regex."""

import re
import unicodedata

from quizzes.question_types.base import Grade, TypedAnswer, wrong_feedback

MAX_TEXT_LENGTH = 200  # what a learner may type when the question sets no max_length


class Short(TypedAnswer):
    kind = "short"

    def max_length(self, spec):
        return spec.get("max_length") or MAX_TEXT_LENGTH

    def grade(self, spec, answer):
        given = normalize_text(answer, spec)
        if any(normalize_text(accepted, spec) == given for accepted in spec["accept"]):
            return Grade(1.0)
        if spec.get("regex"):
            flags = 0 if spec.get("case_sensitive", False) else re.IGNORECASE
            if re.fullmatch(spec["regex"], given, flags):
                return Grade(1.0)
        return Grade(0.0, wrong_feedback(spec, lambda wrong: normalize_text(wrong, spec) == given))


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
