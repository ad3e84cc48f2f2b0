"""Grading of every question type, from plain specs and answers: scores, partial credit, feedback, refused shapes."""

import pytest
from django.http import QueryDict
from django.utils import translation

from quizzes.question_types import AnswerRefused, answer_from_form, clean, grade, same_answer, self_check

SINGLE = {"choices": [
    {"id": "a", "html": "Elle s'exécute", "correct": False, "feedback_html": "<p>Non : une image est inerte.</p>"},
    {"id": "b", "html": "Elle est inerte", "correct": True, "feedback_html": "<p>Oui.</p>"},
    {"id": "c", "html": "Elle écrit", "correct": False, "feedback_html": ""},
]}
MULTIPLE = {"choices": [
    {"id": "r1", "html": "Noyau", "correct": True, "feedback_html": ""},
    {"id": "r2", "html": "Couches", "correct": True, "feedback_html": "<p>Les couches sont partagées.</p>"},
    {"id": "w1", "html": "OS invité", "correct": False, "feedback_html": "<p>Pas d'OS invité.</p>"},
    {"id": "w2", "html": "Matériel virtuel", "correct": False, "feedback_html": ""},
]}
TRUE_FALSE = {"answer": False, "feedback_true_html": "<p>Une base garde des données.</p>", "feedback_false_html": "<p>Exact.</p>"}
SHORT = {"accept": ["Docker Hub"], "regex": "", "case_sensitive": False, "ignore_accents": True, "normalize_spaces": True,
         "max_length": 50, "wrong": [{"answer": "Quay", "feedback_html": "<p>Quay est un autre registre.</p>"}]}
NUMERIC = {"answer": 12.0, "tolerance": 0.0, "unit": "caractères", "wrong": [{"answer": 64.0, "feedback_html": "<p>64, c'est l'empreinte complète.</p>"}]}
MATCHING = {"pairs": [
    {"id": "p1", "html": "TAG", "match": "o1"}, {"id": "p2", "html": "IMAGE ID", "match": "o2"},
    {"id": "p3", "html": "CREATED", "match": "o3"}, {"id": "p4", "html": "SIZE", "match": "o4"},
], "options": [{"id": f"o{i}", "html": f"option {i}"} for i in range(1, 6)]}
ORDERING = {"items": [{"id": f"i{n}", "html": f"couche {n}"} for n in range(1, 5)]}
COMMAND = {"accept": ["docker images --no-trunc", "docker image ls --no-trunc"],
           "wrong": [{"answer": "docker images", "feedback_html": "<p>Sans --no-trunc, l'identifiant est tronqué.</p>"}]}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def score(kind, spec, raw):
    return grade(kind, spec, clean(kind, spec, raw)).score


def test_single_choice_scores_the_right_choice_and_shows_the_picked_choices_feedback():
    assert score("single", SINGLE, "b") == 1
    wrong = grade("single", SINGLE, clean("single", SINGLE, "a"))
    assert wrong.score == 0 and wrong.status == "wrong"
    assert wrong.feedback == ("<p>Non : une image est inerte.</p>",)


def test_multiple_choice_gives_partial_credit_and_wrong_picks_cost_but_never_below_zero():
    assert score("multiple", MULTIPLE, ["r1", "r2"]) == 1
    assert score("multiple", MULTIPLE, ["r1"]) == 0.5
    assert score("multiple", MULTIPLE, ["r1", "r2", "w1"]) == 0.5
    assert score("multiple", MULTIPLE, ["r1", "w1"]) == 0
    assert score("multiple", MULTIPLE, ["w1", "w2"]) == 0
    assert score("multiple", MULTIPLE, ["r1", "r2", "w1", "w2"]) == 0
    partial = grade("multiple", MULTIPLE, clean("multiple", MULTIPLE, ["r2", "w1"]))
    assert partial.status == "wrong"
    assert partial.feedback == ("<p>Les couches sont partagées.</p>", "<p>Pas d'OS invité.</p>")
    assert grade("multiple", MULTIPLE, ["r1"]).status == "partial"


def test_multiple_choice_answer_is_stored_sorted_without_duplicates():
    assert clean("multiple", MULTIPLE, ["r2", "r1", "r2"]) == ["r1", "r2"]
    assert clean("multiple", MULTIPLE, "r1") == ["r1"]
    assert clean("multiple", MULTIPLE, []) is None


def test_true_false_reads_form_values_and_shows_the_feedback_of_the_answer_given():
    assert score("true_false", TRUE_FALSE, "false") == 1
    wrong = grade("true_false", TRUE_FALSE, clean("true_false", TRUE_FALSE, "true"))
    assert wrong.score == 0 and wrong.feedback == ("<p>Une base garde des données.</p>",)
    assert clean("true_false", TRUE_FALSE, False) is False


@pytest.mark.parametrize("answer", ["Docker Hub", "docker hub", "  Docker   Hub ", "DOCKER HUB", "Dócker Hüb"])
def test_short_text_normalizes_case_accents_and_spaces(answer):
    assert score("short", SHORT, answer) == 1


def test_short_text_options_can_make_case_accents_and_spaces_count():
    strict = {**SHORT, "case_sensitive": True, "ignore_accents": False, "normalize_spaces": False}
    assert score("short", strict, "Docker Hub") == 1
    assert score("short", strict, "docker hub") == 0
    assert score("short", strict, "Docker  Hub") == 0
    accents = {**SHORT, "accept": ["démon"], "ignore_accents": False}
    assert score("short", accents, "Démon") == 1
    assert score("short", accents, "demon") == 0


def test_short_text_accepts_a_regex_and_gives_targeted_feedback_to_a_known_wrong_answer():
    spec = {**SHORT, "accept": [], "regex": r"(docker\.io/)?(library/)?nginx(:latest)?"}
    for answer in ("nginx", "NGINX:latest", "docker.io/library/nginx"):
        assert score("short", spec, answer) == 1, answer
    assert score("short", spec, "nginx:1.22") == 0
    wrong = grade("short", SHORT, "quay")
    assert wrong.score == 0 and wrong.feedback == ("<p>Quay est un autre registre.</p>",)


@pytest.mark.parametrize("answer, expected", [("12", 1), ("12,0", 1), ("12.0", 1), (" 12 ", 1), ("13", 0), ("64", 0)])
def test_numeric_answers_within_the_tolerance_pass(answer, expected):
    assert score("numeric", NUMERIC, answer) == expected


def test_numeric_tolerance_and_targeted_feedback():
    spec = {**NUMERIC, "answer": 142.0, "tolerance": 2.0}
    assert score("numeric", spec, "140") == 1 and score("numeric", spec, "144,0") == 1
    assert score("numeric", spec, "144.5") == 0
    assert grade("numeric", NUMERIC, "64").feedback == ("<p>64, c'est l'empreinte complète.</p>",)
    assert clean("numeric", NUMERIC, 12) == "12"


def test_matching_scores_the_share_of_right_pairs():
    assert score("matching", MATCHING, {"p1": "o1", "p2": "o2", "p3": "o3", "p4": "o4"}) == 1
    assert score("matching", MATCHING, {"p1": "o1", "p2": "o2", "p3": "o5", "p4": "o3"}) == 0.5
    assert score("matching", MATCHING, {"p1": "o1", "p2": ""}) == 0.25
    assert clean("matching", MATCHING, {"p1": "", "p2": None}) is None


def test_ordering_credits_each_item_placed_right_after_its_predecessor():
    assert score("ordering", ORDERING, {"i1": 1, "i2": 2, "i3": 3, "i4": 4}) == 1
    assert score("ordering", ORDERING, {"i1": "1", "i2": "2", "i3": "3", "i4": "4"}) == 1
    assert score("ordering", ORDERING, {"i4": 1, "i3": 2, "i2": 3, "i1": 4}) == 0
    assert score("ordering", ORDERING, {"i1": 1, "i2": 2, "i4": 3, "i3": 4}) == pytest.approx(1 / 3, abs=1e-3)
    assert score("ordering", ORDERING, {"i2": 1, "i3": 2, "i4": 3, "i1": 4}) == pytest.approx(2 / 3, abs=1e-3)
    assert score("ordering", ORDERING, {"i1": 1, "i2": 1, "i3": 1, "i4": 1}) == 0


def test_command_accepts_equivalent_spellings():
    for typed in ("docker images --no-trunc", "docker image ls  --no-trunc", "docker image list --no-trunc", "docker images --no-trunc=true"):
        assert score("command", COMMAND, typed) == 1, typed


def test_command_feedback_says_what_is_wrong():
    assert grade("command", COMMAND, "docker image ls").feedback == ("<p>Sans --no-trunc, l'identifiant est tronqué.</p>",)
    assert grade("command", COMMAND, "docker images --notrunc").feedback == ("<p>Unknown flag for docker image ls: --notrunc.</p>",)
    assert grade("command", COMMAND, "docker images -a").feedback == ("<p>Right command, but not with the right options or arguments.</p>",)
    assert grade("command", COMMAND, "docker ps --no-trunc").feedback == ("<p>This command does something else.</p>",)
    assert grade("command", COMMAND, "docker images '<script>'").feedback == ("<p>Right command, but not with the right options or arguments.</p>",)
    escaped = grade("command", COMMAND, "docker '<b>'").feedback[0]
    assert "<b>" not in escaped and "&lt;b&gt;" in escaped


def test_no_answer_scores_zero_and_says_so():
    result = grade("single", SINGLE, None)
    assert result.score == 0 and result.feedback == ("<p>Not answered.</p>",)


@pytest.mark.parametrize("kind, spec, raw, message", [
    ("single", SINGLE, "z", "This choice is not one of the question's choices."),
    ("single", SINGLE, ["a"], "Pick one choice."),
    ("multiple", MULTIPLE, ["r1", "nope"], "This choice is not one of the question's choices."),
    ("multiple", MULTIPLE, {"r1": True}, "Pick choices from the list."),
    ("true_false", TRUE_FALSE, "maybe", "Answer true or false."),
    ("short", SHORT, "x" * 51, "This answer is too long (50 characters at most)."),
    ("short", SHORT, 42, "This answer must be a text."),
    ("numeric", NUMERIC, "douze", "Enter a number, such as 12 or 1,5."),
    ("numeric", NUMERIC, True, "Enter a number."),
    ("numeric", NUMERIC, ["12"], "Enter a number."),
    ("numeric", NUMERIC, "1" * 41, "This answer is too long (40 characters at most)."),
    ("command", COMMAND, "docker images " + "x" * 300, "This answer is too long (300 characters at most)."),
    ("matching", MATCHING, {"p9": "o1"}, "This item is not one of the question's items."),
    ("matching", MATCHING, {"p1": "o9"}, "This answer is not one of the question's answers."),
    ("matching", MATCHING, ["o1"], "Match each item with one answer."),
    ("ordering", ORDERING, {"i1": 5}, "A position is a number from 1 to 4."),
    ("ordering", ORDERING, {"i1": "first"}, "A position is a number from 1 to 4."),
    ("ordering", ORDERING, {"i9": 1}, "This item is not one of the question's items."),
    ("ordering", ORDERING, [1, 2], "Give each item a position."),
])
def test_answers_of_the_wrong_shape_are_refused_with_a_clear_message(kind, spec, raw, message):
    with pytest.raises(AnswerRefused) as refused:
        clean(kind, spec, raw)
    assert str(refused.value) == message


def test_a_form_gives_each_type_its_raw_answer():
    data = QueryDict(mutable=True)
    data.setlist("q-1", ["r1", "r2"])
    data.update({"q-2-p1": "o1", "q-2-p2": "", "q-3-i1": "2", "q-4": "docker ps"})
    assert answer_from_form("multiple", MULTIPLE, data, "q-1") == ["r1", "r2"]
    assert answer_from_form("matching", MATCHING, data, "q-2") == {"p1": "o1", "p2": ""}
    assert answer_from_form("ordering", ORDERING, data, "q-3") == {"i1": "2"}
    assert answer_from_form("command", COMMAND, data, "q-4") == "docker ps"
    assert answer_from_form("single", SINGLE, data, "q-9") is None


def test_an_accented_regex_matches_the_answers_folded_like_it():
    spec = {**SHORT, "accept": [], "regex": "conteneurs? arrêtés?"}
    for answer in ("conteneur arrêté", "Conteneurs arretes", "CONTENEUR  ARRÊTÉS", "conteneur arrete\u0301"):
        assert score("short", spec, answer) == 1, answer
    assert score("short", spec, "conteneur") == 0
    strict = {**spec, "ignore_accents": False}
    assert score("short", strict, "conteneur arrêté") == 1
    assert score("short", strict, "conteneur arrete") == 0


def test_short_answers_fold_typographic_look_alikes():
    spec = {**SHORT, "accept": ["l'image de base", "docker-compose"]}
    for answer in ("l\u2019image de base", "l'image\u00a0de\u202fbase", "l'ima\u200bge de base", "docker\u2013compose"):
        assert score("short", spec, answer) == 1, answer


def test_a_right_command_with_shell_around_it_is_right_and_says_what_was_left_aside():
    result = grade("command", COMMAND, clean("command", COMMAND, "$ docker images --no-trunc | more"))
    assert result.score == 1
    assert result.feedback == ("<p>Only the docker command is graded; left aside: | more.</p>",)
    assert grade("command", COMMAND, "docker images --no-trunc").feedback == ()


def test_typed_answers_that_grade_alike_are_grouped_as_one():
    assert same_answer("command", COMMAND, "docker images -a") == same_answer("command", COMMAND, "docker image ls --all | more")
    assert same_answer("short", SHORT, "Dócker  HUB") == same_answer("short", SHORT, "docker hub")
    assert same_answer("numeric", NUMERIC, "12,0") == same_answer("numeric", NUMERIC, "12")


def test_self_check_grades_the_answers_a_question_claims_right_or_wrong():
    assert [(rel, right, problem) for rel, _raw, right, problem in self_check("command", COMMAND)] == [
        (("accept", 0), True, ""), (("accept", 1), True, ""), (("wrong", 0, "answer"), False, ""),
    ]
    loose = {**SHORT, "wrong": [{"answer": "DOCKER HUB", "feedback_html": ""}]}
    [*_, (rel, _raw, right, problem)] = self_check("short", loose)
    assert rel == ("wrong", 0, "answer") and problem == "'DOCKER HUB' is given as wrong but grades right"
    assert all(not problem for kind, spec in (("single", SINGLE), ("multiple", MULTIPLE), ("true_false", TRUE_FALSE),
               ("numeric", NUMERIC), ("matching", MATCHING), ("ordering", ORDERING)) for *_, problem in self_check(kind, spec))
