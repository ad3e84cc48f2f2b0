"""Live checks: what the sandbox watcher (labs/watcher.py) records and grades, and the activity timeline it leaves.

Plain functions of rows, run in the watcher's threads: `record_and_regrade`
stores a burst of daemon events and, when one of them can change a verdict,
grades the learner's open tasks of the lab from one fresh snapshot. A task
that passes is stored as a Submission marked automatic and stays passed,
unless the pack says it must still hold at the end (`must_hold`): such a pass
is judged again in the same snapshot, and undone when it no longer holds
(labs/holding.py). Tasks that take an answer are left to the Check button.
"""

import datetime
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import checks
from grader import engine as docker_engine
from grader import events as daemon_events
from labs import holding, hosts, sandboxes, signals
from labs.models import LabTask, Sandbox, SandboxEvent, Submission

log = logging.getLogger(__name__)


def watched_sandboxes(host=None):
    """{sandbox id: (container name, socket folder, since)} of every ready sandbox a learner holds (on one host, if given)."""
    rows = Sandbox.objects.filter(status=Sandbox.Status.READY, owner__isnull=False, lab__isnull=False)
    if host is not None:
        rows = rows & hosts.on_host(host)
    rows = rows.values_list("pk", "ready_at", "claimed_at")
    found = {}
    for pk, ready_at, claimed_at in rows:
        sandbox = Sandbox(pk=pk)
        found[pk] = (sandbox.container_name, sandboxes.socket_dir(sandbox), max(t for t in (ready_at, claimed_at) if t) if (ready_at or claimed_at) else None)
    return found


def resume_from(sandbox_id, since):
    """Unix seconds to ask the daemon's events from: after the last one recorded, else from when the learner got the sandbox."""
    last = SandboxEvent.objects.filter(sandbox_id=sandbox_id, kind=SandboxEvent.Kind.DAEMON).order_by("-at").values_list("at", flat=True).first()
    moment = last or since
    return moment.timestamp() if moment else None


def _at(event):
    return datetime.datetime.fromtimestamp(event.time_ns / 1e9, tz=datetime.timezone.utc)


@dataclass
class Burst:
    """What one re-grade did: for the learner's page of the lab (user, lab) the passes, the passes undone and the new timeline lines."""

    user_id: int = None
    lab_id: int = None
    passed: list = field(default_factory=list)  # automatic Submissions, task loaded
    regressed: list = field(default_factory=list)  # REGRESSED Submissions of must_hold tasks (labs/holding.py), task loaded
    lines: list = field(default_factory=list)  # live_entry() of each row added
    graded: bool = False
    # Grade once more a little later: a check probing an HTTP port failed after these events (grader.events.probe_again).
    probe_again: bool = False

    def message(self):
        return {
            "type": "live.update",
            "passed": [{"task": s.task.slug, "message": s.message, "id": s.pk} for s in self.passed],
            "regressed": [{"task": s.task.slug, "message": s.message, "id": s.pk} for s in self.regressed],
            "lines": [line for line in self.lines if line["text"]],
        }


def record_and_regrade(sandbox_id, *, engine, events=(), force=False):
    """Store the events (DaemonEvent, kept) of a burst; re-grade if one can change a verdict (or `force`).

    A sandbox no longer ready (or not a learner's) is left alone.
    """
    sandbox = Sandbox.objects.select_related("lab").filter(pk=sandbox_id, status=Sandbox.Status.READY, owner__isnull=False).first()
    if sandbox is None:
        return Burst()
    burst = Burst(user_id=sandbox.owner_id, lab_id=sandbox.lab_id)
    kept = [event for event, keep in events if keep]
    if kept:
        rows = SandboxEvent.objects.bulk_create([
            SandboxEvent(sandbox=sandbox, at=_at(e), type=e.type, action=e.action, object=e.object, detail=e.detail) for e in kept
        ])
        burst.lines += [live_entry(row) for row in rows]
        prune(sandbox_id)
    if not force and not any(daemon_events.can_change_verdict(event) for event, _keep in events):
        return burst
    burst.graded = True
    since = min((_at(event) for event, _keep in events), default=None)
    burst.passed, burst.regressed, probing_failed = regrade(sandbox, engine=engine, since=since)
    burst.lines += [live_entry(submission.event) for submission in burst.regressed]
    burst.lines += [submission.timeline_entry for submission in burst.passed]
    burst.probe_again = daemon_events.probe_again([event for event, _keep in events], probing_failed=probing_failed)
    return burst


def open_tasks(sandbox):
    """The lab's published tasks whose pass does not hold for the learner and that take no answer."""
    passed = Submission.objects.holding().filter(user_id=sandbox.owner_id, task__lab_id=sandbox.lab_id).values("task_id")
    return list(LabTask.objects.filter(lab_id=sandbox.lab_id, is_published=True, answer_label="").exclude(pk__in=passed).order_by("position"))


def regrade(sandbox, *, engine, since=None):
    """From one snapshot, grade the open tasks and judge the provisional passes (labs/holding.py).

    Returns (passes, regressions, probing_failed): probing_failed says a check that probes an HTTP port did not pass.
    """
    tasks = open_tasks(sandbox)
    held = holding.provisional(sandbox)
    if not tasks and not held:
        return [], [], False
    files, probes = holding.needs(tasks + [task for task, _pass in held])
    try:
        snapshot = engine.take_snapshot(sandbox.container_name, sandboxes.socket_dir(sandbox), files=files, probes=probes)
    except docker_engine.EngineUnavailable as exc:
        log.info("live check of sandbox %s: no snapshot: %s", sandbox.pk, exc)
        return [], [], False
    regressed = holding.judge(sandbox, snapshot, held)
    passed, probing_failed = [], False
    for task in tasks:
        try:
            verdict = checks.run_check(task.check_name, snapshot, task.check_params, "")
        except Exception:  # a check's bug must not stop the others, nor the watcher
            log.exception("live check %s of sandbox %s", task.check_name, sandbox.pk)
            continue
        if not verdict.passed:
            probing_failed = probing_failed or bool(checks.http_needed(task.check_name, task.check_params))
            continue
        now = timezone.now()
        submission = Submission.objects.create(
            sandbox=sandbox, task=task, user_id=sandbox.owner_id, status=Submission.Status.PASSED, automatic=True,
            message=verdict.message, expected=verdict.expected, found=verdict.found, graded_at=now,
        )
        row = SandboxEvent.objects.create(sandbox=sandbox, at=now, kind=SandboxEvent.Kind.PASSED, task=task, object=task.title[:200], since=since)
        submission.task = task
        submission.timeline_entry = live_entry(row)
        signals.task_passed.send_robust(sender=Submission, submission=submission)
        passed.append(submission)
    return passed, regressed, probing_failed


def prune(sandbox_id):
    """Keep the newest LIVE_EVENTS_PER_SANDBOX rows of the sandbox."""
    limit = settings.LIVE_EVENTS_PER_SANDBOX
    rows = SandboxEvent.objects.filter(sandbox_id=sandbox_id)
    cutoff = rows.order_by("-at", "-pk").values_list("at", "pk")[limit:limit + 1]
    if cutoff:
        at, pk = cutoff[0]
        rows.filter(Q(at__lt=at) | Q(at=at, pk__lte=pk)).delete()


def prune_old(now=None):
    """Remove timeline rows older than LIVE_EVENTS_RETENTION_DAYS; return how many."""
    before = (now or timezone.now()) - timedelta(days=settings.LIVE_EVENTS_RETENTION_DAYS)
    return SandboxEvent.objects.filter(at__lt=before).delete()[0]


# --- The timeline, in the learner's words ---------------------------------------------------------------------

# Daemon events not worth a line of the timeline (they are stored all the same).
UNSHOWN = daemon_events.QUIET_ACTIONS | {"exec_create", "exec_start", "exec_die"}


def describe(row):
    """One timeline line for a SandboxEvent, in the interface's language ('' for an event not shown)."""
    if row.kind == SandboxEvent.Kind.PASSED:
        return _("task %(number)s passed (%(title)s)") % {"number": row.task.position if row.task else "?", "title": row.object}
    if row.kind == SandboxEvent.Kind.REGRESSED:
        return _("task %(number)s no longer passed (%(title)s): %(message)s") % {
            "number": row.task.position if row.task else "?", "title": row.object, "message": row.detail,
        }
    kind, action, obj, detail = row.type, row.action, row.object, row.detail
    if action in UNSHOWN:
        return ""
    words = {
        ("image", "pull"): _("pulled %(object)s"),
        ("image", "tag"): _("tagged %(object)s"),
        ("image", "untag"): _("untagged %(object)s"),
        ("image", "delete"): _("deleted the image %(object)s"),
        ("image", "push"): _("pushed %(object)s"),
        ("image", "load"): _("loaded the image %(object)s"),
        ("image", "import"): _("imported the image %(object)s"),
        ("image", "save"): _("saved the image %(object)s"),
        ("container", "create"): _("created %(object)s from %(detail)s"),
        ("container", "start"): _("ran %(object)s from %(detail)s"),
        ("container", "stop"): _("stopped %(object)s"),
        ("container", "kill"): _("killed %(object)s"),
        ("container", "die"): _("%(object)s ended (exit code %(detail)s)"),
        ("container", "destroy"): _("removed the container %(object)s"),
        ("container", "rename"): _("renamed a container to %(object)s"),
        ("container", "restart"): _("restarted %(object)s"),
        ("container", "pause"): _("paused %(object)s"),
        ("container", "unpause"): _("unpaused %(object)s"),
        ("container", "health_status"): _("%(object)s is %(detail)s"),
        ("container", "commit"): _("committed %(object)s to an image"),
        ("container", "extract-to-dir"): _("copied files into %(object)s"),
        ("volume", "create"): _("created the volume %(object)s"),
        ("volume", "mount"): _("mounted the volume %(object)s"),
        ("volume", "destroy"): _("removed the volume %(object)s"),
        ("network", "create"): _("created the network %(object)s"),
        ("network", "connect"): _("connected a container to %(object)s"),
        ("network", "disconnect"): _("disconnected a container from %(object)s"),
        ("network", "destroy"): _("removed the network %(object)s"),
        ("builder", "prune"): _("pruned the build cache"),
    }
    if (kind, action) == ("volume", "unmount"):
        return ""
    template = words.get((kind, action))
    if template is None:
        return f"{kind} {action} {obj}".strip()
    return template % {"object": obj, "detail": detail}


def timeline(user, lab, *, limit=300):
    """The learner's activity on the lab, oldest first: [{"at", "kind": action|passed|regressed|failed|checked, "text"}].

    The daemon's events and the tasks the watcher saw pass, with the learner's own Checks between them.
    """
    rows = SandboxEvent.objects.filter(sandbox__owner=user, sandbox__lab=lab).select_related("task").order_by("-at", "-pk")[: limit * 2]
    entries = []
    for row in rows:
        text = describe(row)
        if text:
            entries.append({"at": row.at, "kind": _entry_kind(row), "text": text})
    checks_done = Submission.objects.filter(user=user, task__lab=lab, automatic=False, status__in=[Submission.Status.PASSED, Submission.Status.FAILED])
    for check in checks_done.select_related("task").order_by("-created_at")[:limit]:
        if check.status == Submission.Status.FAILED:
            text = _("check of task %(number)s failed: %(message)s") % {"number": check.task.position, "message": check.message}
        else:
            text = _("task %(number)s passed on Check (%(title)s)") % {"number": check.task.position, "title": check.task.title}
        entries.append({"at": check.graded_at or check.created_at, "kind": "failed" if check.status == Submission.Status.FAILED else "checked", "text": text})
    entries.sort(key=lambda entry: entry["at"])
    return entries[-limit:]


def live_entry(row):
    """What the lab page is pushed for a new timeline row."""
    return {"at": row.at.isoformat(), "kind": _entry_kind(row), "text": describe(row)}


def _entry_kind(row):
    return {SandboxEvent.Kind.PASSED: "passed", SandboxEvent.Kind.REGRESSED: "regressed"}.get(row.kind, "action")


def timelines(user, course):
    """[(lab, timeline)] of the course's labs the learner did something in, in the course's order."""
    labs = course.labs.filter(
        Q(sandboxes__owner=user, sandboxes__events__isnull=False) | Q(tasks__submissions__user=user)
    ).distinct().order_by("chapter__position", "position")
    return [(lab, entries) for lab in labs if (entries := timeline(user, lab))]
