"""Matching: each item paired with one answer from a shuffled list, with extra wrong answers (distractors)."""

from django.utils.html import format_html, format_html_join, strip_tags
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy

from courses import markdown
from quizzes.question_types.base import AnswerRefused, Grade, QuestionType, always_shuffled, answer_by_id, fields_by_id, ids, select_html

PAIR_KEYS = {"left": True, "right": True}


class Matching(QuestionType):
    kind = "matching"
    label = gettext_lazy("matching")
    keys = {"pairs": True, "distractors": False}

    def read_spec(self, reader, data):
        pairs, options, lefts = [], {}, set()
        for index, _pair in enumerate(reader.items(data.get("pairs"), ("pairs",), minimum=2, what="a matching question needs at least two pairs")):
            pair = reader.mapping(("pairs", index), PAIR_KEYS, "a pair")
            if pair is None:
                continue
            left = reader.text(pair.get("left"), ("pairs", index, "left"))
            right = reader.text(pair.get("right"), ("pairs", index, "right"))
            if left in lefts:
                reader.problem(("pairs", index, "left"), f"duplicate item {left!r}")
            lefts.add(left)
            option = options.setdefault(right, {"id": reader.id("option", right), "html": markdown.render_inline(right) if right else ""})
            pairs.append({"id": reader.id("item", left), "html": markdown.render_inline(left) if left else "", "match": option["id"]})
        distractors = data.get("distractors")
        for index, text in enumerate(reader.items(distractors, ("distractors",), minimum=1, what="must be a list of extra answers") if distractors is not None else []):
            text = reader.text(text, ("distractors", index))
            if text in options:
                reader.problem(("distractors", index), f"{text!r} is already the answer of a pair")
            elif text:
                options[text] = {"id": reader.id("option", text), "html": markdown.render_inline(text)}
        return {"pairs": pairs, "options": list(options.values())}

    def draw_order(self, spec, rng, *, shuffle_choices):
        return always_shuffled([option["id"] for option in spec["options"]], rng)

    def answer_from_form(self, spec, data, name):
        return fields_by_id(data, name, [pair["id"] for pair in spec["pairs"]])

    def clean(self, spec, raw):
        options = ids(spec, "options")

        def option(given):
            if not isinstance(given, str) or given not in options:
                raise AnswerRefused(_("This answer is not one of the question's answers."))
            return given

        return answer_by_id(raw, ids(spec, "pairs"), wrong_shape=_("Match each item with one answer."), value=option)

    def samples(self, spec):
        return [(("pairs",), {pair["id"]: pair["match"] for pair in spec["pairs"]}, True)]

    def grade(self, spec, answer):
        right = sum(1 for pair in spec["pairs"] if answer.get(pair["id"]) == pair["match"])
        return Grade(round(right / len(spec["pairs"]), 4))

    def fields_html(self, q, *, language):
        options = [(option["id"], strip_tags(option["html"])) for option in q["options"]]
        lang = format_html(' lang="{}"', language)
        rows = format_html_join("\n", (
            '    <tr>\n      <th scope="row"><label for="{name}"{lang}>{html}</label></th>\n'
            '      <td>\n        {select}\n      </td>\n    </tr>'
        ), ({
            "name": f"{q['name']}-{pair['id']}", "lang": lang, "html": mark_safe(pair["html"]),
            "select": select_html(f"{q['name']}-{pair['id']}", ((oid, text, oid == pair["chosen"]) for oid, text in options), attributes=lang),
        } for pair in q["pairs"]))
        return format_html('<table class="matching">\n  <tbody>\n{}\n  </tbody>\n</table>', rows)

    def view(self, spec, order, answer, *, review):
        options = {option["id"]: option for option in spec["options"]}
        chosen = answer or {}
        return {"options": [options[oid] for oid in order], "pairs": [
            {"id": pair["id"], "html": pair["html"], "chosen": chosen.get(pair["id"], ""),
             "chosen_html": options[chosen[pair["id"]]]["html"] if chosen.get(pair["id"]) in options else "",
             **({"right_html": options[pair["match"]]["html"], "is_right": chosen.get(pair["id"]) == pair["match"]} if review else {})}
            for pair in spec["pairs"]
        ]}
