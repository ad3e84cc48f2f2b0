"""Matching: each item paired with one answer from a shuffled list, with extra wrong answers (distractors)."""

from django.utils.translation import gettext as _

from quizzes.question_types.base import AnswerRefused, Grade, QuestionType, fields_by_id, ids


class Matching(QuestionType):
    kind = "matching"

    def answer_from_form(self, spec, data, name):
        return fields_by_id(data, name, [pair["id"] for pair in spec["pairs"]])

    def clean(self, spec, raw):
        if raw in (None, "", {}):
            return None
        if not isinstance(raw, dict):
            raise AnswerRefused(_("Match each item with one answer."))
        lefts, options = ids(spec, "pairs"), ids(spec, "options")
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

    def grade(self, spec, answer):
        right = sum(1 for pair in spec["pairs"] if answer.get(pair["id"]) == pair["match"])
        return Grade(round(right / len(spec["pairs"]), 4))
