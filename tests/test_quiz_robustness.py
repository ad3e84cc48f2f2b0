"""Arbitrary answers, of every shape, for every question type: refused with a message, never a crash.

Property-based (hypothesis): any JSON value given to `clean` is either refused
with a message or stored in a shape that `grade`, `view` and the statistics
read; any JSON body or form data posted to the save and submit pages gets an
answer (200, 302, 400 or 409), never a 500, and the pages still render.
"""

import json
import random

import pytest
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, given, settings, strategies as st

from quizzes import attempts
from quizzes.models import Attempt, Quiz
from quizzes.question_types import TYPES, AnswerRefused, clean, grade, same_answer, view
from courses.packs import load_pack, read_pack
from tests.quizzes import add_quiz, quiz
from tests.test_quiz_grading import COMMAND, MATCHING, MULTIPLE, NUMERIC, ORDERING, SHORT, SINGLE, TRUE_FALSE

SPECS = {
    "single": SINGLE, "multiple": MULTIPLE, "true_false": TRUE_FALSE, "short": SHORT, "numeric": NUMERIC,
    "matching": MATCHING, "ordering": ORDERING, "command": COMMAND,
}
# Values that once crashed a type, or that look like what a type takes.
TRICKY = [
    "²", "٣", "9" * 5000, "1e999", "nan", "-0", " 3 ", "1.0", "\ud800", "\x00", "\u200b", "true", "false", "TRUE", "", " ",
    "docker images \u2014no-trunc", "docker ps\ndocker images", "docker inspect web | more", "docker '<b>'", 2**70, -1, 0, 1,
    1.0, 2.5, float("inf"), True, False, None, [], {}, "i1", "o1", "p1", "a", "r1",
]
ids = st.sampled_from(["i1", "i2", "i3", "i4", "p1", "p2", "p3", "o1", "o5", "a", "b", "r1", "w1", "zz"])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | st.sampled_from(TRICKY)
answers = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(ids | st.text(max_size=5), children, max_size=5),
    max_leaves=12,
)
NOT_IN_ATTEMPT = "Cette question ne fait pas partie de cette tentative."
QUICK = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize("kind", list(TYPES))
@settings(QUICK, max_examples=100)
@given(raw=answers)
def test_any_answer_is_refused_with_a_message_or_graded_and_shown(kind, raw):
    spec = SPECS[kind]
    try:
        answer = clean(kind, spec, raw)
    except AnswerRefused as refused:
        assert str(refused)
        return
    json.dumps(answer)  # stored in a JSONField
    result = grade(kind, spec, answer)
    assert 0 <= result.score <= 1
    order = TYPES[kind].draw_order(spec, random.Random(1), shuffle_choices=False)
    view(kind, spec, order, answer, name="q-1", review=True)
    if answer is not None and TYPES[kind].answered_by_typing:
        assert isinstance(same_answer(kind, spec, answer), str)


@pytest.mark.parametrize("raw, message", [
    ({"i1": "²"}, "A position is a number from 1 to 4."),
    ({"i1": "9" * 5000}, "A position is a number from 1 to 4."),
    ({"i1": 2.0}, "A position is a number from 1 to 4."),
    ({"i1": [1]}, "A position is a number from 1 to 4."),
])
def test_ordering_positions_of_the_wrong_shape_are_refused(raw, message):
    with pytest.raises(AnswerRefused) as refused:
        clean("ordering", ORDERING, raw)
    assert str(refused.value) == message


@pytest.mark.parametrize("kind, raw, message", [
    ("true_false", 1, "Answer true or false."),
    ("true_false", 0, "Answer true or false."),
    ("true_false", ["true"], "Answer true or false."),
    ("short", "Docker\x00Hub", "This answer holds an invisible control character: type it again."),
    ("short", "Docker \ud800", "This answer holds a character that is not valid text."),
    pytest.param("numeric", 10**5000, "Enter a number, such as 12 or 1,5.", id="numeric-5000-digits"),
    ("numeric", float("nan"), "Enter a number, such as 12 or 1,5."),
    ("command", "docker images \u2014no-trunc", "A long dash \u2014 comes before no-trunc: type two hyphens, --no-trunc."),
    ("command", "docker ps\ndocker images", "Your answer holds 2 lines: write a single command (a line that ends with \\ goes on to the next)."),
])
def test_answers_of_the_wrong_shape_are_refused_for_every_type(kind, raw, message):
    with pytest.raises(AnswerRefused) as refused:
        clean(kind, SPECS[kind], raw)
    assert str(refused.value) == message


# --- Through the pages ----------------------------------------------------------------------------


@pytest.fixture
def open_attempt(pack_builder, learner):
    load_pack(read_pack(add_quiz(pack_builder, quiz()).write()))
    the_quiz = Quiz.objects.get(slug="bases-quiz")

    def fresh():
        # Each example may submit; the next one starts again (the fixture quiz allows any number of attempts).
        return attempts.start_attempt(user=learner, quiz=the_quiz)
    return fresh


def field_names(attempt):
    names = ["slot", "q-0", "q-x"]
    for slot in attempt.slots.all():
        names.append(slot.field_name)
        names += [f"{slot.field_name}-{entry}" for entry in slot.order]
        names += [f"{slot.field_name}-{item['id']}" for item in slot.spec.get("items", []) + slot.spec.get("pairs", [])]
    return names


form_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from([t for t in TRICKY if isinstance(t, str) and t != "\ud800"])


def one_of(values):
    """One of these values, drawn the same way whatever they are: each example's attempt has its own ids (and may
    draw another number of questions), and hypothesis refuses a strategy whose shape changes between examples."""
    return st.integers(min_value=0, max_value=10**6).map(lambda index: values[index % len(values)])


def dictionaries_of(values, other_keys, value, max_size):
    """A dict whose keys are some of `values` or drawn by `other_keys`. Drawn as a list of (index or other key, value)
    pairs, not with st.dictionaries: its keys are unique by what they map to, and two indexes that meet in `values`
    depend on how many values this example's attempt has, which hypothesis refuses as a flaky strategy. A key
    drawn twice keeps its last value."""
    pairs = st.lists(st.tuples(st.integers(min_value=0, max_value=10**6) | other_keys, value), max_size=max_size)
    return pairs.map(lambda drawn: {(values[key % len(values)] if isinstance(key, int) else key): item for key, item in drawn})


def check_pages(client, attempt, response):
    assert response.status_code in (200, 302, 400, 409), response.status_code
    attempt.refresh_from_db()
    page = "quizzes:attempt_results" if attempt.status == Attempt.Status.SUBMITTED else "quizzes:attempt"
    assert client.get(reverse(page, args=[attempt.pk])).status_code == 200


@pytest.mark.django_db
@settings(QUICK, max_examples=40)
@given(data=st.data())
def test_any_json_posted_to_save_and_submit_gets_an_answer_never_a_500(learner_client, open_attempt, data):
    attempt = open_attempt()
    slot_ids = [str(pk) for pk in attempt.slots.values_list("pk", flat=True)]
    keys = slot_ids + ["²", "9" * 30, "-1", "0"]
    body = data.draw(
        st.builds(lambda a: json.dumps({"answers": a}), dictionaries_of(keys, st.text(max_size=5), answers, max_size=8))
        | st.builds(json.dumps, answers)
        | st.sampled_from(["[" * 50000, '{"answers": ' + "[" * 20000 + "]" * 20000 + "}", "\xff\xfe", ""])
        | st.binary(max_size=50).map(lambda b: b.decode("latin-1"))
    )
    url = reverse("quizzes:attempt_save", args=[attempt.pk])
    response = learner_client.post(url, body.encode("utf-8", "surrogatepass"), content_type="application/json", HTTP_ACCEPT="application/json")
    check_pages(learner_client, attempt, response)
    if data.draw(st.booleans()):
        response = learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), body.encode("utf-8", "surrogatepass"), content_type="application/json")
        check_pages(learner_client, attempt, response)


@pytest.mark.django_db
@settings(QUICK, max_examples=40)
@given(data=st.data())
def test_any_form_posted_to_save_and_submit_gets_an_answer_never_a_500(learner_client, open_attempt, data):
    attempt = open_attempt()
    names = field_names(attempt)
    slot_ids = [str(pk) for pk in attempt.slots.values_list("pk", flat=True)]
    form = data.draw(dictionaries_of(names, st.text(max_size=8), st.lists(form_text, min_size=1, max_size=3), max_size=12))
    if data.draw(st.booleans()):
        form["slot"] = data.draw(st.lists(one_of(slot_ids + ["²", "x", ""]), min_size=1, max_size=10))
    view_name = data.draw(st.sampled_from(["quizzes:attempt_save", "quizzes:attempt_submit"]))
    headers = {"HTTP_ACCEPT": "application/json"} if data.draw(st.booleans()) else {}
    response = learner_client.post(reverse(view_name, args=[attempt.pk]), form, **headers)
    check_pages(learner_client, attempt, response)


@pytest.mark.django_db
def test_nested_json_and_odd_slot_keys_are_a_400_not_a_500(learner_client, open_attempt):
    attempt = open_attempt()
    url = reverse("quizzes:attempt_save", args=[attempt.pk])
    deep = learner_client.post(url, "[" * 50000, content_type="application/json", HTTP_ACCEPT="application/json")
    assert deep.status_code == 400 and deep.json()["error"] == "Cette requête n'est pas du JSON valide."
    odd = learner_client.post(url, json.dumps({"answers": {"²": "x", "9" * 40: "x"}}), content_type="application/json", HTTP_ACCEPT="application/json")
    assert odd.status_code == 400
    assert odd.json()["errors"] == {"²": NOT_IN_ATTEMPT, "9" * 40: NOT_IN_ATTEMPT}
