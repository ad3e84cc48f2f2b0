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


def get_attempt_for_user(user, pk):
    """A learner's own attempt; another learner's is indistinguishable from a missing one."""
    return get_object_or_404(Attempt.objects.select_related("quiz", "quiz__course", "quiz__chapter"), pk=pk, user=user)
