"""Short text: a word or a phrase, compared once normalized (case, accents, spaces), or a regex.

The regex is folded the way the answer is (accents, typographic look-alikes;
case through re.IGNORECASE), so `conteneurs? arrêtés?` matches `Conteneur arrete`.
When a question has both, each accepted answer must match its regex: the pack
checker says so otherwise, and the accepted answers serve as the regex's tests.
"""

import re
import unicodedata

from django.utils.translation import gettext_lazy

from quizzes.question_types.base import Grade, TypedAnswer, wrong_feedback

MAX_TEXT_LENGTH = 200  # what a learner may type when the question sets no max_length
MAX_SHORT_LENGTH = 1000  # the longest max_length a pack may set


class Short(TypedAnswer):
    kind = "short"
    label = gettext_lazy("short text")
    keys = {"accept": False, "regex": False, "case_sensitive": False, "ignore_accents": False, "normalize_spaces": False, "max_length": False, "wrong": False}

    def read_spec(self, reader, data):
        spec = {
            "accept": [], "regex": "",
            "case_sensitive": reader.flag(data.get("case_sensitive"), ("case_sensitive",), False),
            "ignore_accents": reader.flag(data.get("ignore_accents"), ("ignore_accents",), True),
            "normalize_spaces": reader.flag(data.get("normalize_spaces"), ("normalize_spaces",), True),
            "max_length": MAX_TEXT_LENGTH,
        }
        if data.get("max_length") is not None:
            spec["max_length"] = reader.whole(data["max_length"], ("max_length",), what=f"a length from 1 to {MAX_SHORT_LENGTH}") or spec["max_length"]
            if spec["max_length"] > MAX_SHORT_LENGTH:
                reader.problem(("max_length",), f"{spec['max_length']} is longer than {MAX_SHORT_LENGTH}")
        accept = data.get("accept")
        if accept is not None:
            for index, answer in enumerate(reader.items(accept, ("accept",), minimum=1, what="must be a list of accepted answers")):
                text = reader.text(answer, ("accept", index))
                if len(text) > spec["max_length"]:
                    reader.problem(("accept", index), f"longer than max_length ({spec['max_length']})")
                if text:
                    spec["accept"].append(text)
        regex = data.get("regex")
        if regex is not None:
            pattern = reader.text(regex, ("regex",))
            try:
                re.compile(pattern)
                spec["regex"] = pattern
            except re.error as error:
                reader.problem(("regex",), f"does not compile: {error}")
        if spec["regex"]:
            for index, text in enumerate(spec["accept"]):
                if not regex_matches(spec, normalize_text(text, spec)):
                    reader.problem(("accept", index), f"{text!r} does not match the question's regex (folded as answers are)")
        if accept is None and regex is None:
            reader.problem((), "a short-text question needs accept (a list of answers) or regex")
        spec["wrong"] = reader.wrong_answers(data.get("wrong"), compare=lambda value, rel: reader.text(value, rel) or None)
        return spec

    def max_length(self, spec):
        return spec.get("max_length") or MAX_TEXT_LENGTH

    def grade(self, spec, answer):
        given = normalize_text(answer, spec)
        if any(normalize_text(accepted, spec) == given for accepted in spec["accept"]):
            return Grade(1.0)
        if spec.get("regex") and regex_matches(spec, given):
            return Grade(1.0)
        return Grade(0.0, wrong_feedback(spec, lambda wrong: normalize_text(wrong, spec) == given))

    def same_answer(self, spec, answer):
        return normalize_text(answer, spec)


# What phones, word processors and French keyboards type for a plain character.
LOOKALIKES = str.maketrans({
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032", "'"), **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"), **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad"),
    **dict.fromkeys("\u00a0\u202f\u2007\u2009", " "),
})


def normalize_text(text, spec):
    """The comparison form of a short answer, per the question's normalization options."""
    text = unicodedata.normalize("NFC", text).translate(LOOKALIKES)
    text = " ".join(text.split()) if spec.get("normalize_spaces", True) else text.strip()
    if not spec.get("case_sensitive", False):
        text = text.lower()
    if spec.get("ignore_accents", True):
        text = strip_accents(text)
    return text


def strip_accents(text):
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", text)


def fold_pattern(pattern, spec):
    """The regex folded as the answers are: look-alikes and accents; case is re.IGNORECASE's."""
    pattern = unicodedata.normalize("NFC", pattern).translate(LOOKALIKES)
    return strip_accents(pattern) if spec.get("ignore_accents", True) else pattern


def regex_matches(spec, given):
    flags = 0 if spec.get("case_sensitive", False) else re.IGNORECASE
    try:
        return re.fullmatch(fold_pattern(spec["regex"], spec), given, flags) is not None
    except re.error:
        return False
