"""Taking a quiz: the draw is fixed per attempt, time limits and attempt limits hold, submitting twice grades once."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone, translation

from quizzes import attempts
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz
from courses.packs import load_pack, read_pack
from tests.quizzes import add_quiz, quiz, right_answers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def load_quiz(pack_builder):
    def load(**settings):
        root = add_quiz(pack_builder, quiz(**settings)).write()
        load_pack(read_pack(root))
        return Quiz.objects.get(slug="bases-quiz")
    return load


def slots_of(attempt):
    return list(attempt.slots.order_by("position"))


def test_the_draw_is_fixed_by_the_seed(load_quiz):
    the_quiz = load_quiz(pool=5, shuffle_questions=True, shuffle_choices=True)
    questions = list(the_quiz.questions.order_by("position"))
    first = attempts.draw(questions, seed=42, pool_size=5, shuffle_questions=True, shuffle_choices=True)
    again = attempts.draw(questions, seed=42, pool_size=5, shuffle_questions=True, shuffle_choices=True)
    assert [(q.slug, order) for q, order in first] == [(q.slug, order) for q, order in again]
    assert len(first) == 5
    draws = {tuple(q.slug for q, _ in attempts.draw(questions, seed=seed, pool_size=5)) for seed in range(30)}
    assert len(draws) > 5, "different seeds draw different questions"


def test_matching_answers_and_ordering_items_are_never_shown_in_their_right_order(load_quiz):
    questions = list(load_quiz().questions.order_by("position"))
    for seed in range(50):
        for question, order in attempts.draw(questions, seed=seed):
            if question.kind == "ordering":
                assert order != [item["id"] for item in question.spec["items"]]
            if question.kind == "matching":
                assert order != [option["id"] for option in question.spec["options"]]


def test_an_attempt_stores_its_draw_and_a_second_start_resumes_it(load_quiz, learner):
    the_quiz = load_quiz(pool=5, shuffle_choices=True)
    attempt = attempts.start_attempt(user=learner, quiz=the_quiz)
    stored = [(s.question_id, s.order) for s in slots_of(attempt)]
    assert len(stored) == 5
    again = attempts.start_attempt(user=learner, quiz=the_quiz)
    assert again.pk == attempt.pk
    assert [(s.question_id, s.order) for s in slots_of(again)] == stored
    redrawn = attempts.draw(list(the_quiz.questions.order_by("position")), seed=attempt.seed, pool_size=5, shuffle_choices=True)
    assert [(q.pk, order) for q, order in redrawn] == stored


def test_answers_are_saved_as_the_learner_goes_and_graded_on_submit(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    slots = slots_of(attempt)
    assert attempts.save_answers(attempt=attempt, answers=right_answers(slots)) == {}
    assert all(s.answer is not None for s in slots_of(attempt))
    graded = attempts.submit(attempt=attempt)
    assert graded.status == Attempt.Status.SUBMITTED and graded.score == 1 and not graded.is_late
    assert [s.score for s in slots_of(graded)] == [1.0] * 8


def test_score_weighs_questions_by_their_points(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    slots = slots_of(attempt)
    AttemptQuestion.objects.filter(pk=slots[0].pk).update(points=3)
    attempts.save_answers(attempt=attempt, answers={slots[0].pk: right_answers(slots)[slots[0].pk]})
    assert attempts.submit(attempt=attempt).score == pytest.approx(3 / 10)


def test_an_answer_of_the_wrong_shape_is_refused_and_the_attempt_stays_intact(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    slots = slots_of(attempt)
    good = right_answers(slots)
    attempts.save_answers(attempt=attempt, answers=good)
    errors = attempts.save_answers(attempt=attempt, answers={
        slots[0].pk: "not-a-choice", slots[3].pk: "x" * 201, slots[7].pk: "docker ps", 999999: "a",
    })
    assert errors == {
        slots[0].pk: "This choice is not one of the question's choices.",
        slots[3].pk: "This answer is too long (200 characters at most).",
        999999: "This question is not part of this attempt.",
    }
    stored = {s.pk: s.answer for s in slots_of(attempt)}
    assert stored[slots[0].pk] == good[slots[0].pk] and stored[slots[3].pk] == good[slots[3].pk]
    assert stored[slots[7].pk] == "docker ps"


def test_submitting_twice_grades_once(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    first = attempts.submit(attempt=attempt)
    stamp = first.submitted_at
    AttemptQuestion.objects.filter(attempt=attempt).update(answer="changed", score=0.5)
    second = attempts.submit(attempt=attempt, now=timezone.now() + timedelta(minutes=5))
    assert second.submitted_at == stamp and second.score == first.score == 0
    assert set(AttemptQuestion.objects.filter(attempt=attempt).values_list("score", flat=True)) == {0.5}


def test_no_answer_is_saved_into_a_submitted_attempt(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    attempts.submit(attempt=attempt)
    attempt.refresh_from_db()
    with pytest.raises(attempts.AttemptClosed):
        attempts.save_answers(attempt=attempt, answers=right_answers(slots_of(attempt)))


def test_an_answer_racing_the_submission_is_not_written_into_the_graded_attempt(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz())
    read_before = Attempt.objects.get(pk=attempt.pk)  # an autosave that read the attempt while it was open
    slots = slots_of(attempt)
    graded = attempts.submit(attempt=attempt)
    assert attempts.save_answers(attempt=read_before, answers=right_answers(slots)) == {}
    assert all(slot.answer is None for slot in slots_of(attempt)) and graded.score == 0


def test_a_time_limit_sets_a_deadline_and_refuses_answers_after_it(load_quiz, learner):
    start = timezone.now()
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz(time_limit=10), now=start)
    assert attempt.deadline == start + timedelta(minutes=10)
    assert attempt.seconds_left(start + timedelta(minutes=4)) == 360
    slots = slots_of(attempt)
    with pytest.raises(attempts.AttemptClosed) as closed:
        attempts.save_answers(attempt=attempt, answers=right_answers(slots), now=start + timedelta(minutes=11))
    assert str(closed.value) == "Time is up: answers can no longer change."
    # Within the few seconds of grace for the network, it still counts.
    assert attempts.save_answers(attempt=attempt, answers=right_answers(slots), now=start + timedelta(minutes=10, seconds=3)) == {}


def test_a_late_submission_is_graded_as_at_the_deadline_and_flagged(load_quiz, learner):
    attempt = attempts.start_attempt(user=learner, quiz=load_quiz(time_limit=10))
    slots = slots_of(attempt)
    answers = right_answers(slots)
    attempts.save_answers(attempt=attempt, answers={slots[0].pk: answers[slots[0].pk], slots[1].pk: answers[slots[1].pk]})
    # The clock moved on: the attempt started 15 minutes ago; one answer was written after the deadline.
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=timezone.now() - timedelta(minutes=15), deadline=timezone.now() - timedelta(minutes=5),
    )
    AttemptQuestion.objects.filter(pk=slots[0].pk).update(answered_at=timezone.now() - timedelta(minutes=10))
    AttemptQuestion.objects.filter(pk=slots[1].pk).update(answered_at=timezone.now() - timedelta(minutes=1))
    attempt.refresh_from_db()
    graded = attempts.submit(attempt=attempt)
    assert graded.is_late
    assert [s.score for s in slots_of(graded)][:2] == [1.0, 0.0]
    assert graded.score == pytest.approx(1 / 8)


def test_an_attempt_left_open_past_its_deadline_is_closed_on_the_next_visit(load_quiz, learner):
    the_quiz = load_quiz(time_limit=5)
    attempt = attempts.start_attempt(user=learner, quiz=the_quiz)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    attempts.close_overdue(user=learner, quiz=the_quiz)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and attempt.is_late and attempt.score == 0


def test_the_deadline_never_passes_the_quiz_closing_date(load_quiz, learner):
    the_quiz = load_quiz(time_limit=60)
    closes = timezone.now() + timedelta(minutes=20)
    Quiz.objects.filter(pk=the_quiz.pk).update(closes_at=closes)
    the_quiz.refresh_from_db()
    assert attempts.start_attempt(user=learner, quiz=the_quiz).deadline == closes


def test_attempt_limit_refuses_a_new_attempt(load_quiz, learner):
    the_quiz = load_quiz(attempts=2)
    for _ in range(2):
        attempts.submit(attempt=attempts.start_attempt(user=learner, quiz=the_quiz))
    with pytest.raises(attempts.AttemptRefused) as refused:
        attempts.start_attempt(user=learner, quiz=the_quiz)
    assert str(refused.value) == "You have used all your attempts at this quiz."
    assert Attempt.objects.filter(user=learner).count() == 2
    other = User.objects.create(username="bob")
    assert attempts.start_attempt(user=other, quiz=the_quiz).number == 1


def test_a_closed_quiz_or_one_without_questions_refuses_to_start(load_quiz, learner):
    the_quiz = load_quiz()
    Quiz.objects.filter(pk=the_quiz.pk).update(closes_at=timezone.now() - timedelta(days=1))
    the_quiz.refresh_from_db()
    with pytest.raises(attempts.AttemptRefused, match="closed"):
        attempts.start_attempt(user=learner, quiz=the_quiz)
    Quiz.objects.filter(pk=the_quiz.pk).update(closes_at=None)
    Question.objects.update(is_published=False)
    the_quiz.refresh_from_db()
    with pytest.raises(attempts.AttemptRefused, match="no questions"):
        attempts.start_attempt(user=learner, quiz=the_quiz)


@pytest.mark.parametrize("method, expected", [("best", 0.75), ("last", 0.25), ("average", 0.5)])
def test_the_grading_method_picks_the_grade_across_attempts(load_quiz, learner, method, expected):
    the_quiz = load_quiz(grading=method)
    for score in (0.5, 0.75, 0.25):
        attempt = attempts.submit(attempt=attempts.start_attempt(user=learner, quiz=the_quiz))
        Attempt.objects.filter(pk=attempt.pk).update(score=score)
    assert attempts.learner_standing(user=learner, quiz=the_quiz)["grade"] == pytest.approx(expected)


def test_review_after_close_opens_once_the_learner_has_no_attempt_left(load_quiz, learner):
    the_quiz = load_quiz(attempts=2, review={"when": "after_close"})
    attempts.submit(attempt=attempts.start_attempt(user=learner, quiz=the_quiz))
    assert not attempts.learner_standing(user=learner, quiz=the_quiz)["review_open"]
    attempts.start_attempt(user=learner, quiz=the_quiz)
    assert not attempts.learner_standing(user=learner, quiz=the_quiz)["review_open"], "not while the last attempt is open"
    attempts.submit(attempt=Attempt.objects.get(number=2))
    assert attempts.learner_standing(user=learner, quiz=the_quiz)["review_open"]


def test_outline_progress_gives_each_quiz_its_status_and_best_score(load_quiz, learner, mini_course):
    the_quiz = load_quiz(pool=5)
    [listed] = attempts.quizzes_with_progress(learner, the_quiz.course)
    assert (listed.question_count, listed.best, listed.open_count) == (5, None, 0)
    attempt = attempts.start_attempt(user=learner, quiz=the_quiz)
    attempts.save_answers(attempt=attempt, answers=right_answers(slots_of(attempt)))
    attempts.submit(attempt=attempt)
    attempts.start_attempt(user=learner, quiz=the_quiz)
    [listed] = attempts.quizzes_with_progress(learner, the_quiz.course)
    assert (listed.best_percent, listed.open_count, listed.done_count) == (100, 1, 1)


def test_an_attempts_questions_are_stored_as_the_orm_stores_them_quotes_backslashes_and_all(load_quiz, learner):
    the_quiz = load_quiz()
    tricky = '<p class="x">C:\\\\data "quoted" {braces} , é — \'single\' NULL</p>'
    the_quiz.questions.update(prompt_html=tricky, explanation_html="")
    attempt = attempts.start_attempt(user=learner, quiz=the_quiz)
    stored = slots_of(attempt)
    by_the_orm = AttemptQuestion.objects.bulk_create([
        AttemptQuestion(attempt=attempt, question=slot.question, position=100 + slot.position, kind=slot.kind, prompt_html=slot.prompt_html,
                        explanation_html=slot.explanation_html, points=slot.points, spec=slot.spec, order=slot.order)
        for slot in stored
    ])
    again = {slot.position - 100: slot for slot in AttemptQuestion.objects.filter(pk__in=[slot.pk for slot in by_the_orm])}
    fields = [field.attname for field in AttemptQuestion._meta.concrete_fields if field.attname not in ("id", "position")]
    assert len(stored) == 8 and stored[0].prompt_html == tricky
    assert [[getattr(slot, name) for name in fields] for slot in stored] == [[getattr(again[slot.position], name) for name in fields] for slot in stored]
    assert stored[0].answer is None and stored[0].feedback == [] and stored[0].score is None
