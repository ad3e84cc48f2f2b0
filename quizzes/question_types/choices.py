"""Choice questions: one right choice among several (radio buttons), or several right ones (checkboxes)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy

from courses import markdown
from quizzes.question_types.base import CHECKED, AnswerRefused, Grade, QuestionType, ids

CHOICE_KEYS = {"text": True, "correct": False, "feedback": False}


class Choices(QuestionType):
    keys = {"choices": True}
    template = "quizzes/types/choices.html"
    feedback_in_place = True
    answered_by_picking = True
    multiple = False

    def read_spec(self, reader, data):
        choices, texts = [], set()
        for index, _choice in enumerate(reader.items(data.get("choices"), ("choices",), minimum=2, what="must be a list of at least two choices")):
            choice = reader.mapping(("choices", index), CHOICE_KEYS, "a choice")
            if choice is None:
                continue
            text = reader.text(choice.get("text"), ("choices", index, "text"))
            if text in texts:
                reader.problem(("choices", index, "text"), f"duplicate choice {text!r}")
            texts.add(text)
            choices.append({
                "id": reader.id("choice", text), "html": markdown.render_inline(text) if text else "",
                "correct": reader.flag(choice.get("correct"), ("choices", index, "correct"), False),
                "feedback_html": reader.html(choice.get("feedback"), ("choices", index, "feedback")),
            })
        problem = self.right_count_problem(sum(c["correct"] for c in choices))
        if len(choices) >= 2 and problem:
            reader.problem(("choices",), problem)
        return {"choices": choices}

    def right_count_problem(self, right):
        raise NotImplementedError

    def draw_order(self, spec, rng, *, shuffle_choices):
        order = [choice["id"] for choice in spec["choices"]]
        if shuffle_choices:
            rng.shuffle(order)
        return order

    def view(self, spec, order, answer, *, review):
        by_id = {choice["id"]: choice for choice in spec["choices"]}
        picked = set(self.picks(answer))
        return {"multiple": self.multiple, "choices": [
            {"id": cid, "html": by_id[cid]["html"], "selected": cid in picked,
             **({"correct": by_id[cid]["correct"], "feedback_html": by_id[cid].get("feedback_html", "")} if review else {})}
            for cid in order
        ]}

    def fields_html(self, q, *, language):
        kind = "checkbox" if q["multiple"] else "radio"
        html = format_html('<ul class="choices" lang="{}">\n{}\n</ul>', language, format_html_join(
            "\n", '  <li><label><input type="{}" name="{}" value="{}"{}> <span>{}</span></label></li>',
            ((kind, q["name"], choice["id"], CHECKED if choice["selected"] else "", mark_safe(choice["html"])) for choice in q["choices"]),
        ))
        if q["multiple"]:
            html += format_html('\n<p class="help">{}</p>', _("Several answers may be right; a wrong pick costs points."))
        return html

    def options(self, spec):
        return [{"id": c["id"], "html": c["html"], "correct": bool(c.get("correct"))} for c in spec.get("choices", [])]

    def samples(self, spec):
        right = [c["id"] for c in spec["choices"] if c["correct"]]
        return [(("choices",), right if self.multiple else right[0], True)] + [
            (("choices", index), choice["id"] if not self.multiple else [choice["id"]], False)
            for index, choice in enumerate(spec["choices"]) if not choice["correct"]
        ]

    def feedback(self, spec, picked):
        return tuple(c["feedback_html"] for c in spec["choices"] if c["id"] in picked and c.get("feedback_html"))


class Single(Choices):
    kind = "single"
    label = gettext_lazy("single choice")

    def right_count_problem(self, right):
        return "" if right == 1 else f"a single-choice question needs exactly one correct choice (found {right})"

    def clean(self, spec, raw):
        if raw in (None, ""):
            return None
        if not isinstance(raw, str):
            raise AnswerRefused(_("Pick one choice."))
        if raw not in ids(spec, "choices"):
            raise AnswerRefused(_("This choice is not one of the question's choices."))
        return raw

    def grade(self, spec, answer):
        right = next(c["id"] for c in spec["choices"] if c["correct"])
        return Grade(1.0 if answer == right else 0.0, self.feedback(spec, {answer}))


class Multiple(Choices):
    kind = "multiple"
    label = gettext_lazy("multiple choice")
    multiple = True

    def right_count_problem(self, right):
        return "" if right else "a multiple-choice question needs at least one correct choice"

    def answer_from_form(self, spec, data, name):
        return data.getlist(name)

    def clean(self, spec, raw):
        if raw in (None, "", []):
            return None
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise AnswerRefused(_("Pick choices from the list."))
        known = ids(spec, "choices")
        if any(item not in known for item in raw):
            raise AnswerRefused(_("This choice is not one of the question's choices."))
        return sorted(set(raw))

    def grade(self, spec, answer):
        """Each right pick earns 1/right, each wrong pick costs 1/wrong; never below 0."""
        picked = set(answer)
        right = {c["id"] for c in spec["choices"] if c["correct"]}
        wrong = ids(spec, "choices") - right
        score = len(picked & right) / len(right) - (len(picked & wrong) / len(wrong) if wrong else 0)
        return Grade(round(max(0.0, min(1.0, score)), 4), self.feedback(spec, picked))

    def picks(self, answer):
        return set(answer) if isinstance(answer, list) else [answer]
