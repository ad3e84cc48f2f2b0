"""What an LMS activity can open in Drydock: a course, chapter, lesson, quiz or lab, named by a stable key.

A key reads "kind:course-slug" or "kind:course-slug/slug"; launches carry it
in a custom parameter of the activity (set by deep linking), else it is read
from the launch's target_link_uri.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve, reverse

from courses.models import Chapter, Course, Lesson
from labs.models import Lab
from quizzes.models import Quiz

KINDS = ("course", "chapter", "lesson", "quiz", "lab")
GRADED = ("course", "chapter", "quiz", "lab")
CUSTOM_PARAMETER = "drydock_target"
# URL names of the pages a target_link_uri may point at, and the kind they open.
PAGES = {"courses:course": "course", "courses:lesson": "lesson", "quizzes:quiz": "quiz", "labs:lab": "lab"}


@dataclass(frozen=True)
class Target:
    kind: str
    key: str
    obj: object
    course: Course

    @property
    def title(self):
        return self.obj.title

    @property
    def url(self):
        if self.kind == "chapter":
            return reverse("courses:course", args=[self.course.slug]) + f"#chapitre-{self.obj.slug}"
        return self.obj.get_absolute_url()

    @property
    def graded(self):
        return self.kind in GRADED


def key_of(obj):
    if isinstance(obj, Course):
        return f"course:{obj.slug}"
    kind = {Chapter: "chapter", Lesson: "lesson", Quiz: "quiz", Lab: "lab"}[type(obj)]
    return f"{kind}:{obj.course.slug}/{obj.slug}"


def resolve_key(key):
    """The published Target of a key, or None."""
    kind, _, rest = (key or "").partition(":")
    if kind not in KINDS or not rest:
        return None
    course_slug, _, slug = rest.partition("/")
    course = Course.objects.filter(slug=course_slug, is_published=True).first()
    if course is None:
        return None
    if kind == "course":
        return None if slug else Target("course", key, course, course)
    model = {"chapter": Chapter, "lesson": Lesson, "quiz": Quiz, "lab": Lab}[kind]
    objects = model.objects.filter(course=course, slug=slug, is_published=True)
    if kind != "chapter":
        objects = objects.filter(chapter__is_published=True)
    obj = objects.select_related("course").first()
    return None if obj is None else Target(kind, key, obj, course)


def resolve_url(url, *, host):
    """The Target a URL of this site opens (None for the bare launch URL or a URL of another host)."""
    parts = urlsplit(url or "")
    if not parts.path or (parts.netloc and parts.netloc != host):
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    kind = PAGES.get(match.view_name)
    if kind is None:
        return None
    values = list(match.kwargs.values())
    return resolve_key(f"{kind}:{'/'.join(values)}")


def catalogue():
    """Every published course with its chapters, and each chapter's quizzes and labs: what deep linking offers."""
    courses = list(Course.objects.filter(is_published=True).order_by("title"))
    chapters = Chapter.objects.filter(course__in=courses, is_published=True).select_related("course").order_by("position")
    quizzes = Quiz.objects.filter(chapter__in=chapters, is_published=True).select_related("course").order_by("position")
    labs = Lab.objects.filter(chapter__in=chapters, is_published=True).select_related("course").order_by("position")
    by_chapter = {}
    for item in [*quizzes, *labs]:
        by_chapter.setdefault(item.chapter_id, []).append(Target("quiz" if isinstance(item, Quiz) else "lab", key_of(item), item, item.course))
    by_course = {}
    for chapter in chapters:
        by_course.setdefault(chapter.course_id, []).append((Target("chapter", key_of(chapter), chapter, chapter.course), by_chapter.get(chapter.pk, [])))
    return [(Target("course", key_of(course), course, course), by_course.get(course.pk, [])) for course in courses]
