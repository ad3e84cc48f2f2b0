"""Reading progress: which lessons a learner has read, per chapter and per course."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from courses import activities
from courses.models import Course, Lesson, LessonProgress


@dataclass
class Progress:
    done: int
    total: int

    @property
    def percent(self):
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def complete(self):
        return self.total > 0 and self.done >= self.total


def read_lesson_ids(user, course):
    if not user.is_authenticated:
        return set()
    return set(LessonProgress.objects.filter(user=user, lesson__course=course).values_list("lesson_id", flat=True))


def mark_read(*, user, lesson):
    """Record that the user read the lesson; reading it again keeps the first date."""
    try:
        with transaction.atomic():
            LessonProgress.objects.get_or_create(user=user, lesson=lesson, defaults={"read_at": timezone.now()})
    except IntegrityError:
        # Two requests raced (the end-of-page marker and the button): the row exists.
        pass


def mark_unread(*, user, lesson):
    """The learner takes the mark back (read by mistake, or to read it again)."""
    LessonProgress.objects.filter(user=user, lesson=lesson).delete()


def read_min_seconds(lesson):
    """How long a learner stays on a lesson before reaching its end marks it read: a quarter of its
    announced time, between 10 s and 2 min."""
    return max(10, min(120, lesson.minutes * 60 // 4))


def published_lessons(course):
    return Lesson.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course")


def courses_with_progress(user, courses):
    """Annotate each course with `progress` for the user, in one query."""
    published = Q(lessons__is_published=True, lessons__chapter__is_published=True)
    counts = {"total": Count("lessons", filter=published, distinct=True)}
    if user.is_authenticated:
        counts["done"] = Count("lessons", filter=published & Q(lessons__progress__user=user), distinct=True)
    annotated = courses.annotate(**counts)
    for course in annotated:
        course.progress = Progress(done=getattr(course, "done", 0), total=course.total)
    return list(annotated)


def started_courses(user):
    started = LessonProgress.objects.filter(user=user).values("lesson__course_id")
    courses = Course.objects.filter(is_published=True, pk__in=started)
    return courses_with_progress(user, courses)


def activity_progress(user, course):
    """[(label, Progress)] for each kind of activity that says when one is done: labs completed, quizzes submitted."""
    found = []
    for kind in activities.kinds():
        if kind.done is None:
            continue
        items = kind.outline(user, course)
        if items:
            found.append((kind.done_label, Progress(done=sum(1 for item in items if kind.done(item)), total=len(items))))
    return found
