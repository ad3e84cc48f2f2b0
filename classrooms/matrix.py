"""The progress matrix of a classroom: learners × activities, in a fixed number of queries.

Activities, in course order: lessons (read or not), quizzes (the learner's best
submitted score) and labs (tasks passed out of the lab's tasks). A learner's
progress is the share of the course done: each lesson counts 1, each quiz its
best score (0..1), each lab task 1.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q
from django.utils.translation import gettext as _

from classrooms.access import member_ids
from courses.models import Lesson, LessonProgress
from quizzes.models import Attempt, Quiz
from labs.models import Lab, Submission

KINDS = ("lesson", "quiz", "lab")


@dataclass
class Activity:
    kind: str
    pk: int
    title: str
    chapter_position: int
    position: int
    tasks: int = 0  # labs only
    done: int = 0  # learners who completed it
    total_value: float = 0.0

    def __post_init__(self):
        self.key = f"{self.kind}-{self.pk}"  # read 20 000 times on a large class: an attribute, not a property

    @property
    def weight(self):
        return self.tasks if self.kind == "lab" else 1

    @property
    def short_kind(self):
        return {"lesson": _("Lesson"), "quiz": _("Quiz"), "lab": _("Lab")}[self.kind]


@dataclass
class Row:
    user: object
    values: dict = field(default_factory=dict)  # activity key -> value: True (read), 0..1 (quiz), int (lab tasks passed)
    lessons_read: int = 0
    quiz_points: float = 0.0
    tasks_passed: int = 0
    progress: float = 0.0  # 0..1

    @property
    def name(self):
        return self.user.get_full_name() or self.user.get_username()

    @property
    def percent(self):
        return round(100 * self.progress)


@dataclass
class Matrix:
    activities: list
    rows: list
    lesson_count: int
    quiz_count: int
    task_count: int

    @property
    def weight(self):
        return self.lesson_count + self.quiz_count + self.task_count

    def cell(self, row, activity):
        """(text, css level) of one cell; level in '', 'low', 'mid', 'done'."""
        return cell(activity, row.values.get(activity.key))

    def cells_html(self, row):
        """The row's cells as HTML (texts are numbers and marks made here, nothing from users)."""
        parts = []
        for activity in self.activities:
            text, level = cell(activity, row.values.get(activity.key))
            parts.append(f'<td class="cell cell-{level}">{text}</td>' if level else f'<td class="cell">{text}</td>')
        return "".join(parts)


def cell(activity, value):
    """(text, css level) of one cell; level in '', 'low', 'mid', 'done'."""
    if activity.kind == "lesson":
        return ("✓", "done") if value else ("", "")
    if activity.kind == "quiz":
        if value is None:
            return ("", "")
        percent = round(100 * value)
        return (f"{percent} %", "done" if percent >= 80 else "mid" if percent >= 50 else "low")
    passed = value or 0
    if not passed:
        return (f"0/{activity.tasks}", "")
    return (f"{passed}/{activity.tasks}", "done" if passed >= activity.tasks else "mid")


def activities_of(course, kinds=KINDS):
    activities = []
    if "lesson" in kinds:
        for pk, title, chapter_position, position in Lesson.objects.filter(course=course, is_published=True, chapter__is_published=True).values_list("pk", "title", "chapter__position", "position"):
            activities.append(Activity("lesson", pk, title, chapter_position, position))
    if "quiz" in kinds:
        for pk, title, chapter_position, position in Quiz.objects.filter(course=course, is_published=True, chapter__is_published=True).values_list("pk", "title", "chapter__position", "position"):
            activities.append(Activity("quiz", pk, title, chapter_position, 10_000 + position))
    if "lab" in kinds:
        labs = Lab.objects.filter(course=course, is_published=True, chapter__is_published=True).annotate(n=Count("tasks", filter=Q(tasks__is_published=True)))
        for pk, title, chapter_position, position, n in labs.values_list("pk", "title", "chapter__position", "position", "n"):
            activities.append(Activity("lab", pk, title, chapter_position, 20_000 + position, tasks=n))
    activities.sort(key=lambda a: (a.chapter_position, a.position))
    return activities


def build(classroom, *, kinds=KINDS, search="", sort="name"):
    """The matrix of the classroom; `search` filters learners by name, `sort` is name, progress or -progress."""
    course = classroom.course
    every = activities_of(course)  # totals always cover the whole course, whatever columns are shown
    members = get_user_model().objects.filter(pk__in=member_ids(classroom)).order_by("username")
    if search:
        members = members.filter(Q(username__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search))
    rows = {user.pk: Row(user=user) for user in members.only("pk", "username", "first_name", "last_name")}
    users = member_ids(classroom)
    by_key = {activity.key: activity for activity in every}
    lessons = {a.pk: a for a in every if a.kind == "lesson"}
    for user_id, lesson_id in LessonProgress.objects.filter(user__in=users, lesson__course=course).values_list("user_id", "lesson_id"):
        row, activity = rows.get(user_id), lessons.get(lesson_id)
        if row is not None and activity is not None:
            row.values[activity.key] = True
            row.lessons_read += 1
            activity.done += 1
            activity.total_value += 1
    quizzes = {a.pk: a for a in every if a.kind == "quiz"}
    best = Attempt.objects.filter(user__in=users, quiz__course=course, status=Attempt.Status.SUBMITTED).values("user_id", "quiz_id").annotate(best=Max("score"))
    for user_id, quiz_id, score in best.values_list("user_id", "quiz_id", "best"):
        row, activity = rows.get(user_id), quizzes.get(quiz_id)
        if row is not None and activity is not None and score is not None:
            row.values[activity.key] = score
            row.quiz_points += score
            activity.done += 1
            activity.total_value += score
    labs = {a.pk: a for a in every if a.kind == "lab"}
    passed = (
        # Passes that hold: one of a task that had to stay true until the end and no longer did is not counted.
        Submission.objects.holding().filter(user__in=users, task__lab__course=course, task__is_published=True)
        .values("user_id", "task__lab_id").annotate(n=Count("task_id", distinct=True))
    )
    for user_id, lab_id, n in passed.values_list("user_id", "task__lab_id", "n"):
        row, activity = rows.get(user_id), labs.get(lab_id)
        if row is not None and activity is not None:
            row.values[activity.key] = n
            row.tasks_passed += n
            activity.done += n >= activity.tasks
            activity.total_value += n
    matrix = Matrix(
        activities=[by_key[a.key] for a in every if a.kind in kinds],
        rows=list(rows.values()),
        lesson_count=len(lessons), quiz_count=len(quizzes),
        task_count=sum(a.tasks for a in labs.values()),
    )
    for row in matrix.rows:
        row.progress = (row.lessons_read + row.quiz_points + row.tasks_passed) / matrix.weight if matrix.weight else 0.0
    if sort == "progress":
        matrix.rows.sort(key=lambda r: (r.progress, r.name.lower()))
    elif sort == "-progress":
        matrix.rows.sort(key=lambda r: (-r.progress, r.name.lower()))
    else:
        matrix.rows.sort(key=lambda r: r.name.lower())
    return matrix


def activity_average(activity, learners):
    """Mean value per learner of an activity, in percent (lessons: share who read it; labs: share of tasks passed)."""
    if not learners:
        return None
    if activity.kind == "lab":
        return round(100 * activity.total_value / (learners * activity.tasks)) if activity.tasks else None
    return round(100 * activity.total_value / learners)
