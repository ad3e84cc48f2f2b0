"""Ordering: items shown shuffled, each given its position; credit for each item right after its predecessor."""

import re

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy

from courses import markdown
from quizzes.question_types.base import AnswerRefused, Grade, QuestionType, always_shuffled, answer_by_id, fields_by_id, ids, select_html

POSITION_RE = re.compile(r"^\s*[0-9]{1,4}\s*$")


class Ordering(QuestionType):
    kind = "ordering"
    label = gettext_lazy("ordering")
    keys = {"items": True}

    def read_spec(self, reader, data):
        items, texts = [], set()
        for index, text in enumerate(reader.items(data.get("items"), ("items",), minimum=2, what="an ordering question needs at least two items")):
            text = reader.text(text, ("items", index))
            if text in texts:
                reader.problem(("items", index), f"duplicate item {text!r}")
            texts.add(text)
            items.append({"id": reader.id("item", text), "html": markdown.render_inline(text) if text else ""})
        return {"items": items}

    def draw_order(self, spec, rng, *, shuffle_choices):
        return always_shuffled([item["id"] for item in spec["items"]], rng)

    def answer_from_form(self, spec, data, name):
        return fields_by_id(data, name, [item["id"] for item in spec["items"]])

    def clean(self, spec, raw):
        items = ids(spec, "items")

        def position(given):
            # ASCII digits only, a few of them: `²`.isdigit() is true, and int() of 5,000 digits raises.
            if isinstance(given, str) and POSITION_RE.match(given):
                given = int(given)
            if not isinstance(given, int) or isinstance(given, bool) or not 1 <= given <= len(items):
                raise AnswerRefused(_("A position is a number from 1 to %(count)s.") % {"count": len(items)})
            return given

        return answer_by_id(raw, items, wrong_shape=_("Give each item a position."), value=position)

    def samples(self, spec):
        return [(("items",), {item["id"]: index for index, item in enumerate(spec["items"], start=1)}, True)]

    def grade(self, spec, answer):
        """Credit for each item placed right after the one that precedes it in the right order."""
        order = [item["id"] for item in spec["items"]]
        linked = sum(
            1 for before, after in zip(order, order[1:])
            if before in answer and after in answer and answer[after] == answer[before] + 1
        )
        return Grade(round(linked / (len(order) - 1), 4))

    def fields_html(self, q, *, language):
        aria = format_html(' aria-label="{}"', _("Position"))
        items = format_html_join("\n", '  <li>\n    {select}\n    <label for="{name}" lang="{lang}">{html}</label>\n  </li>', ({
            "name": f"{q['name']}-{item['id']}", "lang": language, "html": mark_safe(item["html"]),
            "select": select_html(f"{q['name']}-{item['id']}", ((p, p, p == item["position"]) for p in q["positions"]), attributes=aria),
        } for item in q["items"]))
        return format_html('<p class="help">{}</p>\n<ul class="ordering">\n{}\n</ul>', _("Give each item its position, from 1 (first)."), items)

    def view(self, spec, order, answer, *, review):
        items = {item["id"]: item for item in spec["items"]}
        positions = answer or {}
        view = {
            "positions": list(range(1, len(items) + 1)),
            "items": [{"id": iid, "html": items[iid]["html"], "position": positions.get(iid, "")} for iid in order],
        }
        if review:
            view["by_position"] = sorted(
                ({"html": items[iid]["html"], "position": pos} for iid, pos in positions.items() if iid in items),
                key=lambda item: item["position"],
            )
            view["right_order"] = [item["html"] for item in spec["items"]]
        return view
