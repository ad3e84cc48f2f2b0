"""Lab statistics read from the sandboxes' activity timelines (labs/live.py): time from ready to pass, wrong actions.

- ready to pass: from the moment the sandbox of a learner's first pass of the task was ready to that pass;
- wrong actions before passing: what the learner did to the daemon while on the task and that did not pass it:
  the daemon's actions (those that can change a verdict) after the sandbox was ready or the learner's previous
  pass in it, and before the burst of events that passed the task (for a pass on Check: before its last action).
  Counted once per learner, most frequent first.
"""

from collections import Counter, defaultdict

from classrooms.access import member_ids
from classrooms.statistics import median
from grader import events as daemon_events
from labs import live
from labs.models import SandboxEvent, Submission

TOP_WRONG_ACTIONS = 3


def first_passes(task_ids, members):
    """{(task, user): (passed at, sandbox id, sandbox ready at)} of each learner's first pass of each task."""
    rows = (
        Submission.objects.filter(task__in=task_ids, user__in=members, status=Submission.Status.PASSED)
        .order_by("created_at", "pk").values_list("task_id", "user_id", "created_at", "sandbox_id", "sandbox__ready_at", "sandbox__claimed_at")
    )
    found = {}
    for task_id, user_id, at, sandbox_id, ready_at, claimed_at in rows:
        found.setdefault((task_id, user_id), (at, sandbox_id, max(t for t in (ready_at, claimed_at) if t) if (ready_at or claimed_at) else None))
    return found


def wrong_actions(rows, *, start, end):
    """Descriptions of the verdict-changing actions among timeline rows (oldest first) with start <= at < end."""
    return [
        live.describe(row) for row in rows
        if row.kind == SandboxEvent.Kind.DAEMON and (start is None or row.at >= start) and row.at < end
        and daemon_events.can_change_verdict(daemon_events.DaemonEvent(row.type, row.action, row.object, row.detail, 0))
    ]


def attach(labs, classroom):
    """Add `median_ready_seconds` and `wrong_actions` ([(text, learners)]) to each TaskStats of lab_statistics()."""
    stats = [entry for _lab, entries in labs for entry in entries]
    passes = first_passes([entry.task.pk for entry in stats], member_ids(classroom))
    sandbox_ids = {sandbox_id for _at, sandbox_id, _ready in passes.values() if sandbox_id}
    timeline = defaultdict(list)
    for row in SandboxEvent.objects.filter(sandbox__in=sandbox_ids).order_by("at", "pk").iterator(chunk_size=5000):
        timeline[row.sandbox_id].append(row)
    seconds, wrong = defaultdict(list), defaultdict(Counter)
    for (task_id, _user_id), (passed_at, sandbox_id, ready_at) in passes.items():
        if ready_at is not None:
            seconds[task_id].append(max(0.0, (passed_at - ready_at).total_seconds()))
        rows = timeline.get(sandbox_id, [])
        if not rows:
            continue
        own = next((r for r in rows if r.kind == SandboxEvent.Kind.PASSED and r.task_id == task_id), None)
        end = own.since if own is not None and own.since else None
        previous = [r.at for r in rows if r.kind == SandboxEvent.Kind.PASSED and r.task_id != task_id and r.at < passed_at]
        start = max([*previous, *([ready_at] if ready_at else [])], default=None)
        if end is None:
            # A pass on Check: its last action before the check was the right one.
            before = [r.at for r in rows if r.kind == SandboxEvent.Kind.DAEMON and r.at < passed_at]
            end = before[-1] if before else passed_at
        wrong[task_id].update(set(wrong_actions(rows, start=start, end=end)))
    for entry in stats:
        entry.median_ready_seconds = median(seconds.get(entry.task.pk, []))
        entry.wrong_actions = sorted(wrong.get(entry.task.pk, Counter()).items(), key=lambda item: (-item[1], item[0]))[:TOP_WRONG_ACTIONS]
    return labs
