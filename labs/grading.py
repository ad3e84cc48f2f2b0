"""Checking a lab task: queue a submission, grade it from a snapshot of the sandbox's daemon."""

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import checks
from grader import engine as docker_engine
from labs import hosts, queue, sandboxes, signals
from labs.models import Lab, LabTask, Sandbox, Submission

log = logging.getLogger(__name__)
MAX_ANSWER_LENGTH = 500


class SubmissionRefused(Exception):
    """The check cannot be queued; the message says why, for the learner."""

    status_code = 409


class TooManyChecks(SubmissionRefused):
    """The learner asked for more Checks in the last minute than CHECKS_PER_MINUTE allows."""

    status_code = 429

    def __init__(self, retry_after):
        self.retry_after = retry_after
        super().__init__(
            _("You checked %(limit)s times in the last minute: wait %(seconds)s s, then check again.")
            % {"limit": settings.CHECKS_PER_MINUTE, "seconds": retry_after}
        )


def _refuse_when_too_many(user):
    """At most CHECKS_PER_MINUTE new Checks per learner in any 60 s (a click while one waits is not a new one)."""
    since = timezone.now() - timedelta(seconds=60)
    recent = list(
        Submission.objects.filter(user=user, created_at__gte=since).order_by("-created_at").values_list("created_at", flat=True)[: settings.CHECKS_PER_MINUTE]
    )
    if len(recent) >= settings.CHECKS_PER_MINUTE:
        # The oldest of those leaves the window first.
        retry_after = max(1, math.ceil((recent[-1] - since).total_seconds()))
        raise TooManyChecks(retry_after)


def submit(*, user, task, sandbox, answer=""):
    if sandbox is None or sandbox.status != Sandbox.Status.READY:
        raise SubmissionRefused(_("Your sandbox is not ready: start it (or wait until it is ready) before checking."))
    if sandbox.lab_id != task.lab_id:
        raise SubmissionRefused(_("This sandbox belongs to another lab."))
    answer = (answer or "").strip()
    if len(answer) > MAX_ANSWER_LENGTH:
        raise SubmissionRefused(_("Your answer is too long (%(max)s characters at most).") % {"max": MAX_ANSWER_LENGTH})
    if not task.answer_label:
        answer = ""
    sandboxes.touch(sandbox)
    waiting = Submission.objects.filter(user=user, task=task, sandbox=sandbox, status=Submission.Status.QUEUED)
    # A check already waiting for a worker takes the latest answer; no second job is queued.
    if waiting.update(answer=answer):
        return waiting.get()
    _refuse_when_too_many(user)
    try:
        with transaction.atomic():
            submission = Submission.objects.create(user=user, task=task, sandbox=sandbox, answer=answer)
    except IntegrityError:
        # Another click queued one between the two statements above: it is this one.
        waiting.update(answer=answer)
        return waiting.get()
    # Graded by the worker of the sandbox's host, which reads that host's daemon.
    queue.after_commit(queue.GRADE_SUBMISSION, submission.pk, host=hosts.name_of(sandbox))
    return submission


def grade(submission_id, *, engine):
    claimed = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(status=Submission.Status.GRADING)
    if not claimed:
        return Submission.objects.get(pk=submission_id)
    submission = Submission.objects.select_related("task", "sandbox").get(pk=submission_id)
    task, sandbox = submission.task, submission.sandbox
    if sandbox is None or sandbox.status != Sandbox.Status.READY:
        return _finish(submission, Submission.Status.ERROR, _("The sandbox was stopped before the check ran. Start it again, then check."))
    try:
        snapshot = engine.take_snapshot(
            sandbox.container_name, sandboxes.socket_dir(sandbox), files=checks.files_needed(task.check_name, task.check_params),
            probes=checks.http_needed(task.check_name, task.check_params),
        )
    except docker_engine.EngineUnavailable as exc:
        log.warning("grading %s: sandbox %s did not answer: %s", submission.pk, sandbox.pk, exc)
        return _finish(submission, Submission.Status.ERROR, _("Your sandbox did not answer. Check again in a moment, or reset the sandbox."))
    verdict = checks.run_check(task.check_name, snapshot, task.check_params, submission.answer)
    status = Submission.Status.PASSED if verdict.passed else Submission.Status.FAILED
    graded = _finish(submission, status, verdict.message, expected=verdict.expected, found=verdict.found)
    if graded.status == Submission.Status.PASSED:
        signals.task_passed.send_robust(sender=Submission, submission=graded)
    return graded


def _finish(submission, status, message, *, expected="", found=""):
    Submission.objects.filter(pk=submission.pk, status=Submission.Status.GRADING).update(
        status=status, message=message, expected=expected, found=found, graded_at=timezone.now(),
    )
    return Submission.objects.get(pk=submission.pk)


def tasks_with_progress(user, lab):
    """The lab's published tasks, each with `passed` and `last` (the learner's latest submission)."""
    passed = Submission.objects.filter(user=user, task=OuterRef("pk"), status=Submission.Status.PASSED)
    tasks = list(LabTask.objects.filter(lab=lab, is_published=True).annotate(passed=Exists(passed)).order_by("position"))
    latest, failures = {}, {}
    for submission in Submission.objects.filter(user=user, task__lab=lab).order_by("task_id", "-created_at"):
        latest.setdefault(submission.task_id, submission)
        if submission.status == Submission.Status.FAILED:
            failures[submission.task_id] = failures.get(submission.task_id, 0) + 1
    for task in tasks:
        task.last = latest.get(task.pk)
        task.failures = failures.get(task.pk, 0)
    return tasks


def labs_with_progress(user, course):
    """The course's published labs, each with `task_count` and `passed_count` for the user, in one query."""
    published = Q(tasks__is_published=True)
    counts = {"task_count": Count("tasks", filter=published, distinct=True)}
    if user.is_authenticated:
        counts["passed_count"] = Count(
            "tasks", distinct=True,
            filter=published & Q(tasks__submissions__user=user, tasks__submissions__status=Submission.Status.PASSED),
        )
    labs = Lab.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course").annotate(**counts)
    labs = list(labs.order_by("position"))
    for lab in labs:
        lab.passed_count = getattr(lab, "passed_count", 0)
        lab.complete = lab.task_count > 0 and lab.passed_count >= lab.task_count
    return labs
