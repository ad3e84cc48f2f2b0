"""A task's solution: offered once its hint shows (two failed checks) or once the task passed, and recorded when opened."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from labs.models import SolutionView, Submission

# The hint shows after this many failed checks (templates/labs/lab_detail.html, static/js/lab.js); the solution with it.
FAILURES_BEFORE_HINT = 2


class SolutionRefused(Exception):
    status_code = 403


def may_see_solution(*, passed, failures):
    return passed or failures >= FAILURES_BEFORE_HINT


def reveal(*, user, task):
    """Record that the user opened the task's solution (the first time only) and return the SolutionView."""
    if not task.solution_html:
        raise SolutionRefused(_("This task has no solution."))
    checks = Submission.objects.filter(user=user, task=task)
    passed = checks.filter(status=Submission.Status.PASSED).exists()
    failures = checks.filter(status=Submission.Status.FAILED).count()
    if not may_see_solution(passed=passed, failures=failures):
        raise SolutionRefused(_("The solution is offered after the hint: check the task twice first."))
    view = SolutionView.objects.filter(user=user, task=task).first()
    if view is not None:
        return view
    try:
        with transaction.atomic():
            return SolutionView.objects.create(user=user, task=task)
    except IntegrityError:
        # Two clicks at once: the other request recorded it.
        return SolutionView.objects.get(user=user, task=task)


def seen_by(user, lab):
    """{task_id: seen_at} of the lab's solutions the user opened."""
    return dict(SolutionView.objects.filter(user=user, task__lab=lab).values_list("task_id", "seen_at"))
