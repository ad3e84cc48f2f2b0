"""The registry of question types: the one table that the models, the pages and the pack checker read."""

from django.template.loader import get_template

from quizzes.models import AttemptQuestion, Question
from quizzes.question_types import TYPES


def test_every_question_type_has_its_template():
    for question_type in TYPES.values():
        assert get_template(question_type.template), question_type.kind


def test_the_kinds_of_questions_are_the_registered_types_in_their_order():
    assert [value for value, _ in Question.Kind.choices] == list(TYPES)
    assert AttemptQuestion._meta.get_field("kind").choices == Question._meta.get_field("kind").choices
