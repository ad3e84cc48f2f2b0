"""GIFT, the plain-text quiz format of Moodle, read into a quiz's pool of questions.

Supported, as in Moodle's documentation:

    // a comment               $CATEGORY: lines are ignored
    ::Titre:: Une image est… {=inerte#Oui. ~exécutée#Non : c'est le conteneur.}   single choice
    ::T2:: Partagé ? {~%50%le noyau ~%50%les couches ~%-100%l'OS invité}          multiple choice
    ::T3:: Une base de données est sans état. {F#Feedback if wrong#Feedback if right}
    ::T4:: Registre par défaut ? {=Docker Hub =hub.docker.com}                     short answer
    ::T5:: Caractères d'un IMAGE ID ? {#12:0}   or {#11..13}                       numeric, with tolerance
    ::T6:: Associez. {=TAG -> version =CREATED -> date de construction}           matching
    Le tag par défaut est {=latest} .                                              missing word (short answer)
    …{…####General feedback}                                                       becomes the explanation

Questions are separated by blank lines; `\\~ \\= \\# \\{ \\} \\:` escape the
special characters. Texts are read as Markdown (raw HTML is shown as text).
Multiple-choice weights only say which choices are right (each right pick
earns the same share, wrong picks cost); partial-credit short or numeric
answers are refused. Essays (`{}`) are refused.

`parse` returns the questions in the pack's question format, already
validated by quizzes.packs; problems name the file and the line.
`import_questions` upserts them into a quiz by slug (`gift-` + the title),
marked as imported so that reloading the pack leaves them alone.
"""

import hashlib
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from quizzes import packs as quiz_packs
from quizzes.models import Question
from courses.packs import Checker, PackError, Problem, YamlDoc

FIRST_POSITION = 1000  # after the pack's questions, which the loader numbers from 1


@dataclass
class _Char:
    char: str
    escaped: bool


def _chars(text):
    chars, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            chars.append(_Char("\n" if following == "n" else following, True))
            index += 2
            continue
        chars.append(_Char(char, False))
        index += 1
    return chars


def _lstrip(chars):
    index = 0
    while index < len(chars) and chars[index].char.isspace() and not chars[index].escaped:
        index += 1
    return chars[index:]


def _text(chars):
    return "".join(c.char for c in chars)


def _find(chars, target, start=0):
    """Index of the first unescaped `target` (a string) at or after `start`, or -1."""
    for index in range(start, len(chars) - len(target) + 1):
        if all(not c.escaped and c.char == t for c, t in zip(chars[index:index + len(target)], target)):
            return index
    return -1


def _split(chars, markers):
    """Split at each unescaped marker character, keeping the marker at the start of each part."""
    parts, current = [], []
    for c in chars:
        if not c.escaped and c.char in markers:
            if current:
                parts.append(current)
            current = [c]
        else:
            current.append(c)
    if current:
        parts.append(current)
    return parts


def _answer_and_feedback(chars):
    cut = _find(chars, "#")
    if cut < 0:
        return _text(chars).strip(), ""
    return _text(chars[:cut]).strip(), _text(chars[cut + 1:]).strip()


_WEIGHT_RE = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


def _weight(text):
    match = _WEIGHT_RE.match(text)
    if not match:
        return None, text
    return float(match.group(1)), text[match.end():].strip()


class _GiftError(Exception):
    pass


def _blocks(text):
    """(line of its first line, text) of each question, comments and categories left out."""
    blocks, current, start = [], [], None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("//") or stripped.startswith("$CATEGORY:"):
            continue
        if not stripped:
            if current:
                blocks.append((start, "\n".join(current)))
            current, start = [], None
            continue
        if start is None:
            start = number
        current.append(line)
    if current:
        blocks.append((start, "\n".join(current)))
    return blocks


def _question(text):
    """One GIFT question as a dict in the pack's question format (slug left out)."""
    chars = _lstrip(_chars(text))
    title = ""
    if _find(chars, "::") == 0:
        end = _find(chars, "::", 2)
        if end < 0:
            raise _GiftError("the title opened with :: is not closed with ::")
        title = _text(chars[2:end]).strip()
        chars = chars[end + 2:]
    leading = _text(chars).lstrip()
    format_match = re.match(r"\[(html|markdown|plain|moodle)\]", leading)
    if format_match:
        skip = len(_text(chars)) - len(leading) + format_match.end()
        chars = chars[skip:]
    opening = _find(chars, "{")
    if opening < 0:
        raise _GiftError("no answers: a GIFT question ends with its answers between { and }")
    closing = _find(chars, "}", opening)
    if closing < 0:
        raise _GiftError("the answers opened with { are not closed with }")
    before, after = _text(chars[:opening]).strip(), _text(chars[closing + 1:]).strip()
    prompt = f"{before} _____ {after}".strip() if after else before
    if not prompt:
        raise _GiftError("the question has no text")
    block = chars[opening + 1:closing]
    general = _find(block, "####")
    explanation = ""
    if general >= 0:
        explanation = _text(block[general + 4:]).strip()
        block = block[:general]
    question = {"title": title, "prompt": prompt}
    if explanation:
        question["explanation"] = explanation
    question.update(_answers(block))
    return question


def _answers(block):
    raw = _text(block).strip()
    if not raw:
        raise _GiftError("essay questions ({}) are not supported")
    stripped = _lstrip(block)
    cut = _find(stripped, "#")
    word = _text(stripped[:cut] if cut >= 0 else stripped).strip().upper()
    if word in ("T", "TRUE", "F", "FALSE"):
        answer = word.startswith("T")
        parts = [_text(part[1:]).strip() for part in _split(stripped[cut:], "#")] if cut >= 0 else []
        wrong, right = (parts + ["", ""])[:2]
        spec = {"type": "true_false", "answer": answer}
        right_key, wrong_key = ("feedback_true", "feedback_false") if answer else ("feedback_false", "feedback_true")
        if right:
            spec[right_key] = right
        if wrong:
            spec[wrong_key] = wrong
        return spec
    if stripped and not stripped[0].escaped and stripped[0].char == "#":
        return _numeric(stripped[1:])
    parts = _split(stripped, "=~")
    if not parts or parts[0][0].escaped or parts[0][0].char not in "=~":
        raise _GiftError("answers start with = (right) or ~ (wrong)")
    answers = []
    for part in parts:
        marker = part[0].char
        text, feedback = _answer_and_feedback(part[1:])
        weight, text = _weight(text)
        answers.append({"marker": marker, "text": text, "feedback": feedback, "weight": weight, "chars": part[1:]})
    if any(_find(a["chars"], "->") >= 0 for a in answers):
        return _matching(answers)
    if all(a["marker"] == "=" for a in answers):
        if any(a["weight"] is not None and a["weight"] < 100 for a in answers):
            raise _GiftError("short answers with partial credit (=%50%…) are not supported")
        return {"type": "short", "accept": [a["text"] for a in answers]}
    return _choices(answers)


def _choices(answers):
    weighted = any(a["weight"] is not None for a in answers)
    choices = []
    for a in answers:
        right = (a["weight"] or 0) > 0 if weighted else a["marker"] == "="
        choice = {"text": a["text"], "correct": right}
        if a["feedback"]:
            choice["feedback"] = a["feedback"]
        choices.append(choice)
    rights = sum(c["correct"] for c in choices)
    if not weighted and rights > 1:
        raise _GiftError("several answers start with =: for a multiple-choice question, weight them (~%50%…)")
    return {"type": "multiple" if weighted else "single", "choices": choices}


def _matching(answers):
    pairs, distractors = [], []
    for a in answers:
        if a["marker"] != "=":
            raise _GiftError("in a matching question every pair starts with =")
        arrow = _find(a["chars"], "->")
        if arrow < 0:
            raise _GiftError(f"the pair {a['text']!r} has no -> between the item and its match")
        left, (right, _) = _text(a["chars"][:arrow]).strip(), _answer_and_feedback(a["chars"][arrow + 2:])
        if not left:
            distractors.append(right)
        else:
            pairs.append({"left": left, "right": right})
    spec = {"type": "matching", "pairs": pairs}
    if distractors:
        spec["distractors"] = distractors
    return spec


_NUMBER = r"-?\d+(?:[.,]\d+)?"


def _numeric(chars):
    parts = _split(chars, "=") if any(not c.escaped and c.char == "=" for c in chars) else [[_Char("=", False)] + chars]
    full, wrong = [], []
    for part in parts:
        text, feedback = _answer_and_feedback(part[1:])
        weight, text = _weight(text)
        range_match = re.fullmatch(rf"({_NUMBER})\.\.({_NUMBER})", text)
        value_match = re.fullmatch(rf"({_NUMBER})(?::({_NUMBER}))?", text)
        if range_match:
            low, high = (float(g.replace(",", ".")) for g in range_match.groups())
            value, tolerance = (low + high) / 2, (high - low) / 2
        elif value_match:
            value = float(value_match.group(1).replace(",", "."))
            tolerance = float(value_match.group(2).replace(",", ".")) if value_match.group(2) else 0.0
        else:
            raise _GiftError(f"{text!r} is not a number (write 12, 12:0.5 or 11..13)")
        if weight is None or weight >= 100:
            full.append((value, tolerance))
        elif weight == 0 and feedback:
            wrong.append({"answer": value, "feedback": feedback})
        else:
            raise _GiftError("numeric answers with partial credit (=%50%…) are not supported")
    if len(full) != 1:
        raise _GiftError("a numeric question needs exactly one fully right answer")
    spec = {"type": "numeric", "answer": full[0][0], "tolerance": full[0][1]}
    if wrong:
        spec["wrong"] = wrong
    return spec


def _slug(title, prompt, taken):
    base = slugify(title)[:80] if title and slugify(title) else hashlib.sha256(prompt.encode()).hexdigest()[:10]
    slug = f"{quiz_packs.RESERVED_PREFIX}{base}"
    candidate, number = slug, 2
    while candidate in taken:
        candidate, number = f"{slug}-{number}", number + 1
    taken.add(candidate)
    return candidate


def parse(text, *, file, quiz_slug):
    """The questions of a GIFT text as validated PackQuestions; PackError naming file and line otherwise."""
    problems, questions, taken = [], [], set()
    for line, block in _blocks(text):
        try:
            data = _question(block)
        except _GiftError as error:
            problems.append(Problem(file, line, None, str(error)))
            continue
        title = data.pop("title")
        data["slug"] = _slug(title, data["prompt"], taken)
        check = Checker(None)
        question = quiz_packs.read_question(
            check, YamlDoc(data, {(): line}), (), file, quiz_slug=quiz_slug, require_explanation=False,
        )
        problems.extend(check.problems)
        if question is not None and not check.problems:
            questions.append(question)
    if problems:
        raise PackError(problems)
    if not questions:
        raise PackError([Problem(file, None, None, "no question found")])
    return questions


@transaction.atomic
def import_questions(quiz, questions):
    """Upsert imported questions into the quiz's pool, by slug; return {created, updated, unchanged}."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for index, question in enumerate(questions):
        values = {
            "kind": question.kind, "position": FIRST_POSITION + index, "prompt_html": question.prompt_html,
            "explanation_html": question.explanation_html, "points": question.points, "spec": question.spec,
            "source": Question.Source.GIFT, "is_published": True,
        }
        row = Question.objects.filter(quiz=quiz, slug=question.slug).first()
        if row is None:
            Question.objects.create(quiz=quiz, slug=question.slug, **values)
            counts["created"] += 1
            continue
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if not changed:
            counts["unchanged"] += 1
            continue
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=changed + ["updated_at"])
        counts["updated"] += 1
    return counts
