"""Quiz and lab statistics against values computed by hand on the small fixture (tests/classrooms_fixtures.py).

Quiz, one attempt per learner, scores per question (q1 single, q2 true/false, q3 short):
    l1: 1 1 1 (total 3)   l2: 1 0 1 (2)   l3: 0 1 0 (1)   l4: 0 0 0 (0)
q1: facility 2/4 = 50 %. Rest of attempt = total - q1 = [2, 1, 1, 0].
    x̄ = .5, r̄ = 1; Σ(x-x̄)(r-r̄) = .5·1 + .5·0 - .5·0 - .5·-1 = 1; Σ(x-x̄)² = 1; Σ(r-r̄)² = 2
    discrimination = 1/√2 = 70.71 %.
q2: rest = [2, 2, 0, 0]; Σ(x-x̄)(r-r̄) = .5 - .5 - .5 + .5 = 0 → discrimination 0 %, facility 50 %.
q1 picks: a (right) 2, b 1, c 1.

Lab task 1: l1 fails twice then passes at +300 s (sandbox at +0) → 3 checks, 300 s;
l2 passes at once at +60 s → 1 check, 60 s; l3 fails twice, never passes; l4 gets an error.
Median checks (3, 1) = 2; median time (300, 60) = 180 s; passed 2 of 4 who checked;
failures: « Image absente » ×3, « Mauvaise version » ×1 (errors are not failures).
"""

import math


from classrooms import statistics
from quizzes.models import Question
from labs.models import Submission
from tests.classrooms_fixtures import world  # noqa: F401


def test_median_of_odd_even_and_empty_lists():
    assert statistics.median([3, 1, 2]) == 2
    assert statistics.median([3, 1]) == 2
    assert statistics.median([]) is None


def test_facility_index_is_the_mean_score_in_percent():
    assert statistics.facility_index([1, 1, 0, 0]) == 50
    assert statistics.facility_index([1, 0.5]) == 75
    assert statistics.facility_index([]) is None


def test_discrimination_index_is_the_correlation_with_the_rest_of_the_attempt():
    assert math.isclose(statistics.discrimination_index([1, 1, 0, 0], [2, 1, 1, 0]), 100 / math.sqrt(2))
    assert statistics.discrimination_index([1, 0, 1, 0], [2, 2, 0, 0]) == 0
    assert statistics.discrimination_index([0, 1], [1, 0]) == -100
    # Undefined without variance: everyone right, or a single attempt.
    assert statistics.discrimination_index([1, 1, 1], [0, 1, 2]) is None
    assert statistics.discrimination_index([1], [2]) is None


def test_pick_frequencies_count_each_choice_and_ignore_blank_answers():
    assert statistics.pick_frequencies(Question.Kind.SINGLE, ["a", "b", "c"], ["a", "a", "b", None]) == {"a": 2, "b": 1, "c": 0}
    assert statistics.pick_frequencies(Question.Kind.MULTIPLE, ["a", "b", "c"], [["a", "b"], ["a"], None]) == {"a": 2, "b": 1, "c": 0}


def test_checks_until_pass_counts_up_to_the_first_pass():
    P, F, E = Submission.Status.PASSED, Submission.Status.FAILED, Submission.Status.ERROR
    assert statistics.checks_until_pass([F, E, P, F, P]) == 3
    assert statistics.checks_until_pass([P]) == 1
    assert statistics.checks_until_pass([F, F]) is None


def test_frequent_failures_are_counted_most_frequent_first():
    assert statistics.frequent_failures(["b", "a", "b", "c", "a", "b"], limit=2) == [("b", 3), ("a", 2)]


def test_quiz_statistics_of_the_fixture_match_the_hand_computed_values(world):
    [(quiz, attempts, stats)] = statistics.quiz_statistics(world.class_a)
    assert quiz == world.quiz and attempts == 4  # Zoé's attempt is in another classroom
    q1, q2, q3 = stats
    assert q1.attempts == q2.attempts == q3.attempts == 4
    assert q1.facility == 50 and q2.facility == 50 and q3.facility == 50
    assert math.isclose(q1.discrimination, 70.7107, abs_tol=1e-3)
    assert q2.discrimination == 0
    assert math.isclose(q3.discrimination, 70.7107, abs_tol=1e-3)
    assert [(c["id"], c["count"], c["percent"], c["correct"]) for c in q1.choices] == [("a", 2, 50, True), ("b", 1, 25, False), ("c", 1, 25, False)]
    assert [(c["id"], c["count"]) for c in q2.choices] == [(True, 2), (False, 2)]
    assert q3.choices == []
    assert q2.flag == "weak" and q1.flag == ""


def test_lab_statistics_of_the_fixture_match_the_hand_computed_values(world):
    [(lab, (t1, t2))] = statistics.lab_statistics(world.class_a)
    assert lab == world.lab
    assert (t1.learners_checked, t1.learners_passed) == (4, 2)
    assert t1.median_checks == 2
    assert t1.median_seconds == 180
    assert t1.failures == [("Image absente", 3), ("Mauvaise version", 1)]
    assert (t2.learners_checked, t2.learners_passed, t2.median_checks, t2.median_seconds) == (1, 1, 1, 400)
    assert t2.failures == []


def test_statistics_of_another_classroom_count_only_its_learners(world):
    [(_quiz, attempts, stats)] = statistics.quiz_statistics(world.class_b)
    assert attempts == 1 and stats[0].facility == 0
    [(_lab, (t1, _t2))] = statistics.lab_statistics(world.class_b)
    assert t1.failures == [("Message de Zoé", 1)] and t1.learners_passed == 0


def test_quiz_statistics_keep_each_attempts_score_for_the_distribution(world):
    [entry] = statistics.quiz_statistics(world.class_a)
    assert sorted(round(score, 4) for score in entry.scores) == [0, 0.3333, 0.6667, 1]


def test_top_wrong_answers_group_spellings_that_grade_alike_most_frequent_first():
    spec = {"accept": ["docker images --no-trunc"], "wrong": []}
    typed = ["docker images -a", "docker image ls --all", "docker images -a", "docker ps", "docker ps", "docker ps", "docker imagez", None, ""]
    assert statistics.top_wrong_answers(Question.Kind.COMMAND, spec, typed) == [
        {"text": "docker images -a", "count": 3, "spellings": 2},
        {"text": "docker ps", "count": 3, "spellings": 1},
        {"text": "docker imagez", "count": 1, "spellings": 1},
    ]
    short = {"accept": ["IPAddress"], "case_sensitive": False}
    assert statistics.top_wrong_answers(Question.Kind.SHORT, short, ["Ip", "ip", "IP adresse"], limit=1) == [{"text": "Ip", "count": 2, "spellings": 2}]


def test_quiz_statistics_show_what_learners_typed_for_typed_answers(world):
    [(_quiz, _attempts, (q1, q2, q3))] = statistics.quiz_statistics(world.class_a)
    assert q3.wrong_answers == [{"text": "ip", "count": 1, "spellings": 1, "percent": 25}]
    assert q1.wrong_answers == [] and q2.wrong_answers == []
