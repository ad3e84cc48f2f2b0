"""True or false: a statement the learner judges, with feedback for each answer."""

from django.utils.translation import gettext as _

from quizzes.question_types.base import AnswerRefused, Grade, QuestionType


class TrueFalse(QuestionType):
    kind = "true_false"

    def clean(self, spec, raw):
        if raw in (None, ""):
            return None
        if raw in (True, "true"):
            return True
        if raw in (False, "false"):
            return False
        raise AnswerRefused(_("Answer true or false."))

    def grade(self, spec, answer):
        feedback = spec.get("feedback_true_html" if answer else "feedback_false_html") or ""
        return Grade(1.0 if answer == spec["answer"] else 0.0, (feedback,) if feedback else ())
