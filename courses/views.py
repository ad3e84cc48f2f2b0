from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from courses import activities, pager, progress
from courses.access import get_course_for_user, get_lesson_for_user
from courses.http import wants_json
from courses.models import Course, CourseAsset


def home(request):
    courses = progress.courses_with_progress(request.user, Course.objects.filter(is_published=True))
    return render(request, "courses/home.html", {"courses": courses})


def course_detail(request, course_slug):
    course = get_course_for_user(request.user, course_slug)
    read_ids = progress.read_lesson_ids(request.user, course)
    lessons = list(progress.published_lessons(course).order_by("position"))
    # Labs, quizzes: each app's activities, in registration order, ready for their outline template.
    items = []
    for kind in activities.kinds():
        for item in kind.outline(request.user, course):
            item.outline_template = kind.outline_template
            items.append(item)
    chapters = []
    for chapter in course.chapters.filter(is_published=True).order_by("position"):
        chapter_lessons = [lesson for lesson in lessons if lesson.chapter_id == chapter.pk]
        chapter_items = [item for item in items if item.chapter_id == chapter.pk]
        for lesson in chapter_lessons:
            lesson.is_read = lesson.pk in read_ids
            lesson.activities = [item for item in chapter_items if getattr(item, "lesson_id", None) == lesson.pk]
        done = sum(lesson.is_read for lesson in chapter_lessons)
        chapter.lesson_list = chapter_lessons
        placed = {lesson.pk for lesson in chapter_lessons}
        chapter.activities = [item for item in chapter_items if getattr(item, "lesson_id", None) not in placed]
        chapter.progress = progress.Progress(done=done, total=len(chapter_lessons))
        chapter.minutes = sum(lesson.minutes for lesson in chapter_lessons)
        chapters.append(chapter)
    overall = progress.Progress(done=sum(c.progress.done for c in chapters), total=len(lessons))
    next_lesson = next((lesson for lesson in lessons if not lesson.is_read), None)
    return render(
        request,
        "courses/course_detail.html",
        {
            "course": course,
            "chapters": chapters,
            "overall": overall,
            "total_minutes": sum(lesson.minutes for lesson in lessons),
            "next_lesson": next_lesson,
        },
    )


def lesson_detail(request, course_slug, lesson_slug):
    course = get_course_for_user(request.user, course_slug)
    lesson = get_lesson_for_user(request.user, course, lesson_slug)
    ordered = list(progress.published_lessons(course).order_by("position").values_list("slug", flat=True))
    index = next((i for i, slug in enumerate(ordered) if slug == lesson.slug), None)
    previous_step, next_step = pager.neighbours(request.user, course, "lessons", lesson.slug)
    return render(
        request,
        "courses/lesson_detail.html",
        {
            "course": course,
            "lesson": lesson,
            "is_read": lesson.pk in progress.read_lesson_ids(request.user, course),
            "read_min_seconds": progress.read_min_seconds(lesson),
            "previous_step": previous_step,
            "next_step": next_step,
            "position": (index + 1) if index is not None else None,
            "lesson_count": len(ordered),
        },
    )


@login_required
@require_POST
def mark_lesson_read(request, course_slug, lesson_slug):
    course = get_course_for_user(request.user, course_slug)
    lesson = get_lesson_for_user(request.user, course, lesson_slug)
    progress.mark_read(user=request.user, lesson=lesson)
    if wants_json(request):
        return JsonResponse({"lesson": lesson.slug, "read": True})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("courses:lesson", args=[course.slug, lesson.slug])
    return redirect(target)


@login_required
@require_POST
def mark_lesson_unread(request, course_slug, lesson_slug):
    course = get_course_for_user(request.user, course_slug)
    lesson = get_lesson_for_user(request.user, course, lesson_slug)
    progress.mark_unread(user=request.user, lesson=lesson)
    if wants_json(request):
        return JsonResponse({"lesson": lesson.slug, "read": False})
    return redirect("courses:lesson", course.slug, lesson.slug)


@login_required
def my_progress(request):
    courses = progress.started_courses(request.user)
    for course in courses:
        course.activities = progress.activity_progress(request.user, course)
    return render(request, "courses/my_progress.html", {"courses": courses})


@cache_control(max_age=3600)
def course_asset(request, course_slug, path):
    course = get_course_for_user(request.user, course_slug)
    asset = get_object_or_404(CourseAsset, course=course, path=path)
    response = HttpResponse(bytes(asset.content), content_type=asset.content_type)
    # An SVG opened on its own must not run anything, whatever the pack holds.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["ETag"] = f'"{asset.sha256}"'
    return response
