"""The question types of quizzes: one class each, registered by kind in `TYPES`, the one table.

A type holds everything that differs from one kind of question to another:
reading its spec from a pack's YAML, the display order drawn for an attempt,
cleaning an answer from a form or JSON, grading, its fields on the question
page (`fields_html`) and what its template (`templates/quizzes/types/`) shows
in the review.
The contract is `base.QuestionType`. Adding a type: its class, its line here,
its template, then `makemigrations` for the new choice of `Question.kind`.

The functions below are what the attempt workflow and the pages call, by kind.
"""

from django.utils import translation
from django.utils.translation import gettext as _

from quizzes.question_types.base import AnswerRefused, Grade, message
from quizzes.question_types.choices import Multiple, Single
from quizzes.question_types.command import Command
from quizzes.question_types.matching import Matching
from quizzes.question_types.numeric import Numeric
from quizzes.question_types.ordering import Ordering
from quizzes.question_types.short import Short
from quizzes.question_types.true_false import TrueFalse

__all__ = ["TYPES", "AnswerRefused", "Grade", "answer_from_form", "clean", "fields_html", "grade", "same_answer", "self_check", "view"]

# In this order in the choices of Question.kind and in the pack checker's messages.
TYPES = {question_type.kind: question_type for question_type in (
    Single(), Multiple(), TrueFalse(), Short(), Numeric(), Matching(), Ordering(), Command(),
)}


def answer_from_form(kind, spec, data, name):
    """The raw answer a form holds for one question (`data` is a QueryDict), before `clean`."""
    return TYPES[kind].answer_from_form(spec, data, name)


def clean(kind, spec, raw):
    """The answer in its stored form (None: no answer); AnswerRefused, with a message for the learner, otherwise."""
    return TYPES[kind].clean(spec, raw)


def grade(kind, spec, answer):
    """Score an answer already cleaned (None: not answered)."""
    if answer is None:
        return Grade(0.0, (message(_("Not answered.")),))
    return TYPES[kind].grade(spec, answer)


def view(kind, spec, order, answer, *, name, review=False):
    """What a page shows of one question: its type's fields, and the template that shows them."""
    question_type = TYPES[kind]
    return {
        "kind": kind, "name": name, "template": question_type.template, "review": review,
        "feedback_in_place": question_type.feedback_in_place,
        **question_type.view(spec, order, answer, review=review),
    }


def fields_html(view, *, language):
    """The fields of one question on the attempt page, from its `view` (not a review); `language`: the course's."""
    return TYPES[view["kind"]].fields_html(view, language=language)


def same_answer(kind, spec, answer):
    """For the types answered by typing: the form under which two answers that grade alike are counted as one."""
    return TYPES[kind].same_answer(spec, answer)


def self_check(kind, spec):
    """Grade the answers the question itself claims right or wrong (its key, its accepted and expected wrong answers).

    [(rel path, raw answer, right?, problem)]: `problem` is "" when the claim holds,
    else what went wrong, in English, for the pack checker.
    """
    results = []
    with translation.override(None):
        for rel, raw, right in TYPES[kind].samples(spec):
            try:
                score = grade(kind, spec, clean(kind, spec, raw)).score
            except AnswerRefused as refused:
                problem = f"{raw!r} is refused as an answer: {refused}"
            else:
                problem = ""
                if right and score < 1:
                    problem = f"{raw!r} is given as right but grades {score:.0%}"
                elif not right and score >= 1:
                    problem = f"{raw!r} is given as wrong but grades right"
            results.append((rel, raw, right, problem))
    return results
