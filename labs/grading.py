"""Checking a lab task: queue a submission, grade it from a snapshot of the sandbox's daemon."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import checks
from grader import engine as docker_engine
from labs import holding, hosts, push, queue, sandboxes, signals, throttle
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
    """At most CHECKS_PER_MINUTE new Checks per learner in any minute (a click while one waits is not a new one):
    the Submission rows are the count."""
    now = timezone.now()
    recent = Submission.objects.filter(user=user, created_at__gt=now - timedelta(seconds=throttle.WINDOW_SECONDS)).order_by("-created_at")
    times = [at.timestamp() for at in recent.values_list("created_at", flat=True)[: settings.CHECKS_PER_MINUTE]]
    retry_after = throttle.seconds_to_wait(times, limit=settings.CHECKS_PER_MINUTE, now=now.timestamp())
    if retry_after:
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
        held_before = Submission.objects.holding().filter(user_id=graded.user_id, task=task).exclude(pk=graded.pk).exists()
        if not held_before and holding.lab_finished(graded.user_id, task.lab_id):
            # This pass finished the lab: what had to hold until the end is judged now, on the whole lab.
            holding.judge_now(sandbox, engine=engine, finished_too=True)
    return graded


def _finish(submission, status, message, *, expected="", found=""):
    finished = Submission.objects.filter(pk=submission.pk, status=Submission.Status.GRADING).update(
        status=status, message=message, expected=expected, found=found, graded_at=timezone.now(),
    )
    if finished:
        push.check_done(submission)
    return Submission.objects.get(pk=submission.pk)


def tasks_with_progress(user, lab):
    """The lab's published tasks, each with `passed` and `last` (the learner's latest submission)."""
    passed = Submission.objects.holding().filter(user=user, task=OuterRef("pk"))
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


def labs_on_path(course):
    """The course's published labs in outline order, with only what the pager reads of them."""
    labs = Lab.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course")
    return list(labs.only("slug", "title", "chapter_id", "course__slug").order_by("position"))


def labs_with_progress(user, course):
    """The course's published labs, each with `task_count` and `passed_count` (tasks whose pass holds) for the user, in one query."""
    counts = {"task_count": Count("tasks", filter=Q(tasks__is_published=True), distinct=True)}
    if user.is_authenticated:
        holding_tasks = (
            Submission.objects.holding().filter(user=user, task__lab=OuterRef("pk"), task__is_published=True)
            .order_by().values("task__lab").annotate(n=Count("task_id", distinct=True)).values("n")
        )
        counts["passed_count"] = Coalesce(Subquery(holding_tasks, output_field=IntegerField()), 0)
    labs = Lab.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course").annotate(**counts)
    labs = list(labs.order_by("position"))
    for lab in labs:
        lab.passed_count = getattr(lab, "passed_count", 0)
        lab.complete = lab.task_count > 0 and lab.passed_count >= lab.task_count
    return labs
