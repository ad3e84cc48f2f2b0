"""CSV exports of a classroom, UTF-8 with a byte order mark so spreadsheets (Excel included) read accents right.

- the matrix: one row per learner, one column per activity in course order, then totals;
- the attempts: one row per quiz attempt of the classroom's learners.
Comma-separated, RFC 4180 quoting; times in the site's time zone (TIME_ZONE), to the second, the zone named
in the column's header; statuses in the reader's language.
"""

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms import matrix as progress_matrix
from classrooms.access import member_ids
from quizzes.models import Attempt

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_time(moment):
    """2025-03-04 14:05:09 in the site's zone: what a spreadsheet reads as a date, no microseconds, no offset to decode."""
    return timezone.localtime(moment).strftime(TIME_FORMAT) if moment else ""

BOM = "\ufeff"


def _value(activity, value):
    if value is None:
        return ""
    if activity.kind == "lesson":
        return "1"
    if activity.kind == "quiz":
        return str(round(100 * value))
    return str(value)


def matrix_csv(classroom):
    """The matrix as CSV text (BOM first). Lessons: 1 when read; quizzes: best score in %; labs: tasks passed."""
    matrix = progress_matrix.build(classroom)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    header = [_("Username"), _("Name")]
    header += [f"{activity.short_kind}: {activity.title}" + (f" (/{activity.tasks})" if activity.kind == "lab" else " (%)" if activity.kind == "quiz" else "") for activity in matrix.activities]
    header += [
        _("Lessons read (/%(n)s)") % {"n": matrix.lesson_count},
        _("Quiz average (%)"),
        _("Lab tasks passed (/%(n)s)") % {"n": matrix.task_count},
        _("Progress (%)"),
    ]
    writer.writerow(header)
    for row in matrix.rows:
        writer.writerow([
            row.user.get_username(), row.user.get_full_name(),
            *[_value(activity, row.values.get(activity.key)) for activity in matrix.activities],
            row.lessons_read,
            round(100 * row.quiz_points / matrix.quiz_count) if matrix.quiz_count else "",
            row.tasks_passed,
            row.percent,
        ])
    return out.getvalue()


def attempts_csv(classroom):
    """One row per quiz attempt (submitted or not) of the classroom's learners, oldest first."""
    attempts = (
        Attempt.objects.filter(quiz__course=classroom.course_id, user__in=member_ids(classroom)).order_by("started_at", "pk")
        .values_list("user__username", "user__first_name", "user__last_name", "quiz__title", "number", "status", "started_at", "submitted_at", "score", "is_late")
    )
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    zone = timezone.get_current_timezone_name()
    writer.writerow([
        _("Username"), _("Name"), _("Quiz"), _("Attempt"), _("Status"),
        _("Started (%(zone)s)") % {"zone": zone}, _("Submitted (%(zone)s)") % {"zone": zone}, _("Score (%)"), _("Late"),
    ])
    labels = dict(Attempt.Status.choices)
    for username, first, last, title, number, status, started, submitted, score, late in attempts.iterator(chunk_size=2000):
        writer.writerow([
            username, f"{first} {last}".strip(), title, number, str(labels.get(status, status)), local_time(started), local_time(submitted),
            "" if score is None else round(score * 100), _("yes") if late else _("no"),
        ])
    return out.getvalue()
