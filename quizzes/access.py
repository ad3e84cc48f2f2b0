"""Fetch quizzes and attempts only when the user may see them (404 otherwise)."""

from django.shortcuts import get_object_or_404

from courses.access import get_course_for_user
from quizzes.models import Attempt, AttemptQuestion, Quiz


def get_quiz_for_user(user, course_slug, quiz_slug):
    course = get_course_for_user(user, course_slug)
    quizzes = Quiz.objects.select_related("course", "chapter").filter(course=course)
    if not user.is_staff:
        quizzes = quizzes.filter(is_published=True, chapter__is_published=True)
    return get_object_or_404(quizzes, slug=quiz_slug)


def get_attempt_for_user(user, pk, *, with_quiz=True):
    """A learner's own attempt; another learner's is indistinguishable from a missing one.

    `with_quiz=False` reads the attempt's row alone, for the requests that only save or grade its
    answers (autosave, submit): a class saves thousands of answers a minute during an exam.
    """
    attempts = Attempt.objects.select_related("quiz", "quiz__course") if with_quiz else Attempt.objects.all()
    return get_object_or_404(attempts, pk=pk, user=user)


def get_attempt_slots_for_user(user, pk, slot_ids):
    """A learner's own attempt and those of its questions named in `slot_ids`: (attempt, {slot id: slot}).

    One query when the request names a question of the attempt, as every autosave does: the questions
    with their attempt, found only through the learner's own attempt. Otherwise (no such question, or
    another learner's attempt) as get_attempt_for_user: the attempt alone, or a 404.
    """
    ids = [key for key in slot_ids if isinstance(key, int) and 0 < key < 2**63]
    if ids:
        found = AttemptQuestion.objects.select_related("attempt").filter(attempt_id=pk, attempt__user=user, pk__in=ids).order_by()
        slots = {slot.pk: slot for slot in found}
        if slots:
            return next(iter(slots.values())).attempt, slots
    return get_attempt_for_user(user, pk, with_quiz=False), {}
