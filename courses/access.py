"""Fetch course objects only when the user may see them (404 otherwise)."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from courses.models import Attempt, Course, Lesson, Quiz


def get_course_for_user(user, slug):
    courses = Course.objects.all() if user.is_staff else Course.objects.filter(is_published=True)
    return get_object_or_404(courses, slug=slug)


def get_lesson_for_user(user, course, slug):
    lessons = Lesson.objects.select_related("chapter", "course").filter(course=course)
    lesson = get_object_or_404(lessons, slug=slug)
    if not (lesson.is_published and lesson.chapter.is_published) and not user.is_staff:
        raise Http404("This lesson is no longer part of the course.")
    return lesson


def get_quiz_for_user(user, course_slug, quiz_slug):
    course = get_course_for_user(user, course_slug)
    quizzes = Quiz.objects.select_related("course", "chapter").filter(course=course)
    if not user.is_staff:
        quizzes = quizzes.filter(is_published=True, chapter__is_published=True)
    return get_object_or_404(quizzes, slug=quiz_slug)


def get_attempt_for_user(user, pk):
    """A learner's own attempt; another learner's is indistinguishable from a missing one."""
    return get_object_or_404(Attempt.objects.select_related("quiz", "quiz__course", "quiz__chapter"), pk=pk, user=user)
