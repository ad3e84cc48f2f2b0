"""Reading one question's spec from a pack's YAML, with problems named `file:line: field: message`.

A type's `read_spec` gets a SpecReader for its question: each helper checks
one value at a path relative to the question, reports what is wrong there and
returns something usable, so one read reports every problem at once.
`whole` and `flag` also check the quiz's own settings (quizzes.packs).
"""

import hashlib

from courses import markdown

WRONG_KEYS = {"answer": True, "feedback": True}


def opaque_id(*parts):
    """A short id that says nothing about what it names (not its place, not whether it is right)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:10]


def whole(check, doc, value, path, file, *, what, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        check.add(file, doc.line(*path), path, f"{value!r} is not {what}")
        return None
    return value


def flag(check, doc, value, path, file, default):
    if value is None:
        return default
    if not isinstance(value, bool):
        check.add(file, doc.line(*path), path, f"{value!r} is not true or false")
        return default
    return value


class SpecReader:
    """Reads the fields of the question at `path` of `doc`; `rel` paths are relative to the question."""

    def __init__(self, check, doc, path, file, *, quiz_slug, slug):
        self.check, self.doc, self.path, self.file = check, doc, path, file
        self.quiz_slug, self.slug = quiz_slug, slug

    def problem(self, rel, message):
        path = self.path + tuple(rel)
        self.check.add(self.file, self.doc.line(*path), path, message)

    def mapping(self, rel, allowed, what):
        return self.check.mapping(self.doc, self.path + tuple(rel), allowed, self.file, what)

    def flag(self, value, rel, default):
        return flag(self.check, self.doc, value, self.path + tuple(rel), self.file, default)

    def whole(self, value, rel, *, what):
        return whole(self.check, self.doc, value, self.path + tuple(rel), self.file, what=what)

    def text(self, value, rel, *, required=True):
        if value is None and not required:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
            self.problem(rel, "must be a non-empty text")
            return ""
        return str(value).strip()

    def html(self, value, rel, *, inline=False, required=False):
        text = self.text(value, rel, required=required)
        if not text:
            return ""
        # A quiz asks; its commands are read, never run from the page.
        return markdown.render_inline(text) if inline else markdown.render(text, runnable=False).html

    def items(self, value, rel, *, minimum, what):
        if not isinstance(value, list) or len(value) < minimum:
            self.problem(rel, what)
            return []
        return value

    def id(self, role, text):
        return opaque_id(self.quiz_slug, self.slug, role, text)

    def wrong_answers(self, data, *, compare):
        """Targeted feedback for expected wrong answers: [{answer, feedback_html}]."""
        wrong = []
        for index, _ in enumerate(self.items(data, ("wrong",), minimum=0, what="must be a list of {answer, feedback}") if data is not None else []):
            entry = self.mapping(("wrong", index), WRONG_KEYS, "a wrong answer")
            if entry is None:
                continue
            answer = compare(entry.get("answer"), ("wrong", index, "answer"))
            feedback = self.html(entry.get("feedback"), ("wrong", index, "feedback"), required=True)
            if answer is not None:
                wrong.append({"answer": answer, "feedback_html": feedback})
        return wrong
