"""Kinds of activity that other apps attach to a course's chapters: labs, quizzes.

courses owns courses, chapters and lessons, and imports none of the apps built
on them. Each of those apps describes its kind of activity once, in its
AppConfig.ready(): the chapter key that lists its files in course.yaml, how to
read, load and summarise them, and how the course outline shows them. The
pack reader (courses.packs) and the course page go through this table.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ActivityKind:
    # The chapter's key in course.yaml ("labs"); also its key in pack summaries.
    key: str
    # One of them, in pack messages ("lab").
    noun: str
    # Where their files sit in a pack, for the "not listed in any chapter" warning.
    files: str
    # read(check, relative, *, lessons) -> an item with a .slug, or None once its problems are in `check`.
    read: Callable
    # load(report, *, course, chapter, position, item, lessons_by_slug) -> id of the row written.
    load: Callable
    # unpublish(course, kept_ids) -> how many rows left the course.
    unpublish: Callable
    # describe(item) -> plain data for `load_course --check` and --json.
    describe: Callable
    # totals(items) -> counts added to the summary's totals.
    totals: Callable
    # Keys of the load report's counters this kind adds to ("labs", "tasks").
    counts: tuple
    # outline(user, course) -> published items, each with chapter_id and lesson_id
    # (None: listed after the chapter's lessons), ready for `outline_template`.
    outline: Callable
    outline_template: str
    # path(course) -> the same published items without the learner's progress, and only the columns
    # the pager reads (slug, title, chapter_id, lesson_id, the URL): every lesson, lab and quiz page
    # builds the course's path. None: outline() is used.
    path: Callable | None = None
    # done(item) -> whether the learner finished an outline item (a lab all of whose tasks passed, a
    # quiz submitted), and what "My progress" calls those: "labs completed".
    done: Callable | None = None
    done_label: str = ""


KINDS: dict[str, ActivityKind] = {}


def register(kind):
    if kind.key in KINDS:
        raise ImproperlyConfigured(f"two apps register the activity kind {kind.key!r}")
    KINDS[kind.key] = kind


def kinds():
    return list(KINDS.values())
