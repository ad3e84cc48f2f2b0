"""True or false: a statement the learner judges, with feedback for each answer."""

from django.utils.html import format_html
from django.utils.translation import gettext as _, gettext_lazy

from quizzes.question_types.base import CHECKED, AnswerRefused, Grade, QuestionType


class TrueFalse(QuestionType):
    kind = "true_false"
    label = gettext_lazy("true or false")
    keys = {"answer": False, "feedback_true": False, "feedback_false": False}
    answered_by_picking = True

    def read_spec(self, reader, data):
        answer = data.get("answer")
        if not isinstance(answer, bool):
            reader.problem(("answer",), "must be true or false" if answer is not None else "missing answer (true or false)")
            return None
        return {
            "answer": answer,
            "feedback_true_html": reader.html(data.get("feedback_true"), ("feedback_true",)),
            "feedback_false_html": reader.html(data.get("feedback_false"), ("feedback_false",)),
        }

    def clean(self, spec, raw):
        if raw is None or raw == "":
            return None
        # `is`, not `in`: 1 == True in Python, and a JSON 1 is not an answer to a true-or-false question.
        if raw is True or raw == "true":
            return True
        if raw is False or raw == "false":
            return False
        raise AnswerRefused(_("Answer true or false."))

    def samples(self, spec):
        right = "true" if spec["answer"] else "false"
        return [(("answer",), right, True), (("answer",), "false" if spec["answer"] else "true", False)]

    def grade(self, spec, answer):
        feedback = spec.get("feedback_true_html" if answer else "feedback_false_html") or ""
        return Grade(1.0 if answer == spec["answer"] else 0.0, (feedback,) if feedback else ())

    def view(self, spec, order, answer, *, review):
        return {"value": answer, **({"right": spec["answer"]} if review else {})}

    def fields_html(self, q, *, language):
        return format_html(
            '<ul class="choices choices-inline">\n'
            '  <li><label><input type="radio" name="{name}" value="true"{true_checked}> {true}</label></li>\n'
            '  <li><label><input type="radio" name="{name}" value="false"{false_checked}> {false}</label></li>\n</ul>',
            name=q["name"], true=_("True"), false=_("False"),
            true_checked=CHECKED if q["value"] is True else "", false_checked=CHECKED if q["value"] is False else "",
        )

    def options(self, spec):
        return [{"id": True, "html": _("True"), "correct": spec.get("answer") is True},
                {"id": False, "html": _("False"), "correct": spec.get("answer") is False}]
