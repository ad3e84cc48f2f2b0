"""The path through a course that the pager follows: in each chapter its lessons, then its labs,
then its quizzes, then the next chapter.

The lesson, lab and quiz pages lead along it with the same previous/next
pager, and the end of a lesson leads to the next step, whatever it is. Labs
and quizzes come from the apps that own them through `courses.activities`
(each kind's outline, in registration order: labs, then quizzes); one that a
chapter attaches to a lesson (its `lesson_id`) comes right after that lesson,
as the course outline shows it.

Each web process keeps a course's path for COURSE_PATH_SECONDS, by the course's `updated_at` (which
loading a pack renews when anything in it changed): building it costs three queries and a URL per
step, on every lesson, lab and quiz page, the first page a whole class opens at once in an exam
(bench/request_cpu.py). An edit in the admin shows in the pager within that time.
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from courses import activities, progress

_PATHS = {}  # (course id, updated_at) -> (monotonic time it was built, path)
_PATHS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Step:
    key: str  # "lessons", or the activity kind's key ("labs", "quizzes")
    slug: str
    title: str
    url: str


def course_path(user, course):
    """Every published step of the course, in reading order (a tuple of Steps, shared: never changed)."""
    seconds = settings.COURSE_PATH_SECONDS
    if not seconds or any(kind.path is None for kind in activities.kinds()):  # an outline may be the learner's own
        return _build_path(user, course)
    key, now = (course.pk, course.updated_at), time.monotonic()
    kept = _PATHS.get(key)
    if kept is not None and now - kept[0] < seconds:
        return kept[1]
    path = _build_path(user, course)
    with _PATHS_LOCK:
        for old in [k for k, (built, _) in _PATHS.items() if now - built >= seconds or k[0] == course.pk]:
            del _PATHS[old]
        _PATHS[key] = (now, path)
    return path


def forget_paths():
    """Drop the paths every course keeps (tests that change a course in place)."""
    with _PATHS_LOCK:
        _PATHS.clear()


def _build_path(user, course):
    # The columns a step needs, not the lessons' text: every lesson, lab and quiz page builds this path.
    lessons = list(progress.published_lessons(course).only("slug", "title", "chapter_id", "course__slug").order_by("position"))
    # Every chapter has lessons, and lessons are numbered through the course in chapter order.
    chapters = list(dict.fromkeys(lesson.chapter_id for lesson in lessons))
    items = [(kind.key, item) for kind in activities.kinds() for item in (kind.path(course) if kind.path else kind.outline(user, course))]
    path = []
    for chapter_id in chapters:
        chapter_lessons = [lesson for lesson in lessons if lesson.chapter_id == chapter_id]
        placed = {lesson.pk for lesson in chapter_lessons}
        chapter_items = [(key, item) for key, item in items if item.chapter_id == chapter_id]
        for lesson in chapter_lessons:
            path.append(Step("lessons", lesson.slug, lesson.title, lesson.get_absolute_url()))
            path += [_step(key, item) for key, item in chapter_items if getattr(item, "lesson_id", None) == lesson.pk]
        path += [_step(key, item) for key, item in chapter_items if getattr(item, "lesson_id", None) not in placed]
    return tuple(path)


def _step(key, item):
    return Step(key, item.slug, item.title, item.get_absolute_url())


def neighbours(user, course, key, slug):
    """(previous step, next step) around one lesson, lab or quiz; None at either end or when it is not on the path."""
    path = course_path(user, course)
    index = next((i for i, step in enumerate(path) if step.key == key and step.slug == slug), None)
    if index is None:
        return None, None
    return (path[index - 1] if index else None), (path[index + 1] if index + 1 < len(path) else None)


def pager_context(user, course, key, slug):
    """What templates/courses/_pager.html reads, for a view's context."""
    previous_step, next_step = neighbours(user, course, key, slug)
    return {"previous_step": previous_step, "next_step": next_step}
