"""What every question type answers to, and the small pieces several types share.

A question's `spec` is the plain data its type reads from the pack (choices
with opaque ids, accepted answers, tolerance…); an answer is stored in the
shape its type's `clean` returns. Everything here is a pure function of
those two, so a type is tested without the database.
"""

import unicodedata
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy


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


class QuestionType:
    """One kind of question: a subclass fills in what differs from one kind to another.

    - `read_spec(reader, data)`: the spec, from the question's YAML mapping;
      problems go to `reader` (quizzes.question_types.reading). None: unusable.
    - `draw_order(spec, rng, shuffle_choices=)`: the ids in the order one attempt shows them.
    - `answer_from_form(spec, data, name)`: the raw answer a POST holds (before `clean`).
    - `clean(spec, raw)`: the answer as stored, None for "no answer", or
      AnswerRefused with a message for the learner.
    - `grade(spec, answer)`: a Grade for an answer already cleaned, never None.
    - `view(spec, order, answer, review=)`: what its template shows in the
      review (right answers only with `review`, never in an open attempt) and
      `fields_html(q, language=)` on the question page, from that view.
    - `options(spec)` and `picks(answer)`: for the types answered by picking,
      what statistics count; `same_answer(spec, answer)`, for the types answered
      by typing, the form under which statistics group answers that grade alike.
    - `samples(spec)`: answers the pack claims right or wrong, [(rel path, raw
      answer, right?)]; the pack checker grades each one through `clean` and
      `grade` (quizzes.question_types.self_check).
    """

    kind = ""
    label = ""
    keys = {}  # the spec's YAML keys: {key: required}
    # The review shows the feedback beside what it is about (each picked choice) rather than under the question.
    feedback_in_place = False
    # Statistics count how often each option is picked, for these types only.
    answered_by_picking = False
    # Statistics list the most frequent wrong answers typed, for these types only.
    answered_by_typing = False

    @property
    def template(self):
        """The template of the type's review (results page)."""
        return f"quizzes/types/{self.kind}.html"

    def read_spec(self, reader, data):
        raise NotImplementedError

    def draw_order(self, spec, rng, *, shuffle_choices):
        return []

    def answer_from_form(self, spec, data, name):
        return data.get(name)

    def clean(self, spec, raw):
        raise NotImplementedError

    def grade(self, spec, answer):
        raise NotImplementedError

    def view(self, spec, order, answer, *, review):
        raise NotImplementedError

    def fields_html(self, q, *, language):
        """The question's fields on the attempt page, from its view `q`; `language`: the course's.

        Built here rather than by a template: a page of ten questions took ~400 template nodes,
        most of the page's time, on the page a whole class opens at once in an exam.
        """
        raise NotImplementedError

    def options(self, spec):
        return []

    def picks(self, answer):
        return [answer]

    def samples(self, spec):
        return []


class TypedAnswer(QuestionType):
    """A question answered by typing one line: a text, a number, a command."""

    answered_by_typing = True

    def same_answer(self, spec, answer):
        return answer

    def samples(self, spec):
        return [(("accept", index), text, True) for index, text in enumerate(spec.get("accept", []))] + [
            (("wrong", index, "answer"), wrong["answer"], False) for index, wrong in enumerate(spec.get("wrong", []))
        ]

    def max_length(self, spec):
        raise NotImplementedError

    def clean(self, spec, raw):
        return text_answer(raw, self.max_length(spec))

    def view(self, spec, order, answer, *, review):
        view = {"value": answer or "", "max_length": self.max_length(spec), "unit": spec.get("unit", "")}
        if review:
            view.update(self.right_answer(spec))
        return view

    # The label and the attributes of the answer's input, after `maxlength`; the unit after it.
    field_label = gettext_lazy("Your answer")
    field_attributes = mark_safe(' autocomplete="off"')
    shows_unit = False

    def fields_html(self, q, *, language):
        unit = format_html('\n  <span lang="{}">{}</span>', language, q["unit"]) if self.shows_unit and q["unit"] else ""
        return format_html(
            '<p class="answer-line">\n  <label for="{name}">{label}</label>\n'
            '  <input id="{name}" name="{name}" value="{value}" maxlength="{max_length}"{attributes}>{unit}\n</p>',
            name=q["name"], label=self.field_label, value=q["value"], max_length=q["max_length"], attributes=self.field_attributes, unit=unit,
        )

    def right_answer(self, spec):
        """What the review shows as right: the first accepted answer, and the others as also accepted."""
        accepted = spec.get("accept", [])
        return {"right": accepted[0] if accepted else "", "also_right": accepted[1:]}


def text_answer(raw, limit):
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise AnswerRefused(_("This answer must be a text."))
    text = raw.strip()
    if len(text) > limit:
        raise AnswerRefused(_("This answer is too long (%(max)s characters at most).") % {"max": limit})
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        # Half of a UTF-16 pair (JSON allows "\ud800"): no page or database could show it.
        raise AnswerRefused(_("This answer holds a character that is not valid text."))
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text):
        raise AnswerRefused(_("This answer holds an invisible control character: type it again."))
    return text or None


def select_html(name, options, *, attributes=""):
    """A <select> of a question's page: a blank option, then `options` as (value, text, selected?)."""
    return format_html(
        '<select id="{name}" name="{name}"{attributes}>\n  <option value="">—</option>\n  {options}\n</select>',
        name=name, attributes=attributes,
        options=format_html_join("", '<option value="{}"{}>{}</option>', ((value, SELECTED if chosen else "", text) for value, text, chosen in options)),
    )


SELECTED, CHECKED = mark_safe(" selected"), mark_safe(" checked")


def message(text):
    return format_html("<p>{}</p>", text)


def ids(spec, key):
    return {entry["id"] for entry in spec[key]}


def always_shuffled(ids_in_order, rng):
    """The ids shuffled, and never left in their given order: that order would give the answer away."""
    order = list(ids_in_order)
    rng.shuffle(order)
    if order == list(ids_in_order) and len(order) > 1:
        order = order[1:] + order[:1]
    return order


def answer_by_id(raw, known, *, wrong_shape, value):
    """An answer giving some entries (pairs, items) a value each, {id: value}; None when it gives none.

    `wrong_shape`: the message when it is not a mapping; `value` returns an
    entry's stored value or raises AnswerRefused. Blank values are left out.
    """
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise AnswerRefused(wrong_shape)
    answer = {}
    for entry, given in raw.items():
        if entry not in known:
            raise AnswerRefused(_("This item is not one of the question's items."))
        if given not in (None, ""):
            answer[entry] = value(given)
    return answer or None


def fields_by_id(data, name, ids_in_order):
    """{id: value} of the form fields `<name>-<id>` a POST holds, for the types with one field per entry."""
    return {entry: data.get(f"{name}-{entry}") for entry in ids_in_order if f"{name}-{entry}" in data}


def wrong_feedback(spec, matches):
    """The feedback of the first expected wrong answer that `matches` the learner's, as a Grade's feedback."""
    for wrong in spec.get("wrong", []):
        if matches(wrong["answer"]) and wrong.get("feedback_html"):
            return (wrong["feedback_html"],)
    return ()
