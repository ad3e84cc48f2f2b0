"""Fetch quizzes and attempts only when the user may see them (404 otherwise)."""

from django.shortcuts import get_object_or_404

from courses.access import get_course_for_user
from quizzes.models import Attempt, Quiz


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
