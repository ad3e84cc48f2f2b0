"""Tasks that must still hold at the end (`must_hold: true` on a task of the pack): their passes are provisional.

A provisional pass is a still-holding pass of a must_hold task, made in the sandbox being judged, while the
learner has not finished the lab (every published task holding). It is judged again from a snapshot:
- by the watcher, on every re-grade of the sandbox (labs/live.py), in the same snapshot as the open tasks;
- when a Check passes the lab's last task (labs/grading.py): finishing is judged on the whole lab at once;
- when the sandbox ends (stopped, reset, expired), before its container is removed (labs/tasks.py).
A pass that no longer holds gets a new Submission, REGRESSED, automatic, with the check's message (what is
wrong now): the pass is kept as it was, this row undoes it (`Submission.objects.holding()`), and the task
is open again, so a later pass counts anew. Once the lab is finished, its passes are final.
"""

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from grader import checks
from grader import engine as docker_engine
from labs import sandboxes, signals
from labs.models import LabTask, Sandbox, SandboxEvent, Submission

log = logging.getLogger(__name__)


def lab_finished(user_id, lab_id):
    """Every published task of the lab holds for the learner."""
    published = LabTask.objects.filter(lab_id=lab_id, is_published=True)
    total = published.count()
    holding = Submission.objects.holding().filter(user_id=user_id, task__in=published).values("task_id").distinct().count()
    return total > 0 and holding >= total


def provisional(sandbox, *, finished_too=False):
    """[(task, the pass)] of must_hold tasks passed in this sandbox and still holding, in task order.

    Empty once the lab is finished (its passes are final), unless `finished_too`: the judgement of the finish.
    """
    rows = (
        Submission.objects.holding()
        .filter(sandbox_id=sandbox.pk, user_id=sandbox.owner_id, task__lab_id=sandbox.lab_id, task__must_hold=True, task__is_published=True)
        .select_related("task").order_by("-pk")
    )
    latest = {}
    for submission in rows:
        latest.setdefault(submission.task_id, submission)
    if not latest or (not finished_too and lab_finished(sandbox.owner_id, sandbox.lab_id)):
        return []
    return sorted(((s.task, s) for s in latest.values()), key=lambda pair: pair[0].position)


def needs(tasks):
    """(files, probes) a snapshot must fetch for these tasks' checks."""
    files = {f for task in tasks for f in checks.files_needed(task.check_name, task.check_params)}
    probes = {p for task in tasks for p in checks.http_needed(task.check_name, task.check_params)}
    return sorted(files), sorted(probes)


def judge(sandbox, snapshot, pairs):
    """Run each provisional pass's check on the snapshot; record a regression for each that fails. Returns them.

    A regression has its task loaded and `event`, the SandboxEvent row it added to the timeline.
    """
    regressed = []
    for task, held in pairs:
        try:
            verdict = checks.run_check(task.check_name, snapshot, task.check_params, held.answer)
        except Exception:  # a check's bug must not undo a pass
            log.exception("must-hold check %s of sandbox %s", task.check_name, sandbox.pk)
            continue
        if verdict.passed:
            continue
        now = timezone.now()
        submission = Submission.objects.create(
            sandbox_id=sandbox.pk, task=task, user_id=sandbox.owner_id, status=Submission.Status.REGRESSED, automatic=True,
            answer=held.answer, message=_("This no longer holds: %(message)s") % {"message": verdict.message},
            expected=verdict.expected, found=verdict.found, graded_at=now,
        )
        submission.task = task
        submission.event = SandboxEvent.objects.create(
            sandbox_id=sandbox.pk, at=now, kind=SandboxEvent.Kind.REGRESSED, task=task, object=task.title[:200], detail=verdict.message[:200],
        )
        signals.task_regressed.send_robust(sender=Submission, submission=submission)
        regressed.append(submission)
    return regressed


def judge_now(sandbox, *, engine, finished_too=False):
    """Judge the sandbox's provisional passes from a fresh snapshot; [] when there are none or the daemon does not answer."""
    pairs = provisional(sandbox, finished_too=finished_too)
    if not pairs:
        return []
    files, probes = needs([task for task, _held in pairs])
    try:
        snapshot = engine.take_snapshot(sandbox.container_name, sandboxes.socket_dir(sandbox), files=files, probes=probes)
    except docker_engine.EngineUnavailable as exc:
        # Nothing to judge from: the pass stands (a daemon that died is not the learner undoing the task).
        log.info("must-hold judgement of sandbox %s: no snapshot: %s", sandbox.pk, exc)
        return []
    return judge(sandbox, snapshot, pairs)


def judge_at_end(sandbox_id, *, engine):
    """The sandbox ended (its row is no longer live, its container not yet removed): its provisional passes are judged a last time."""
    sandbox = Sandbox.objects.filter(pk=sandbox_id, owner__isnull=False, lab__isnull=False).first()
    if sandbox is None or sandbox.is_live:
        return []
    return judge_now(sandbox, engine=engine)
