"""A learner's playground: a free sandbox (no tasks) whose disk is kept between runs.

Its sandboxes are ordinary Sandbox rows (lab NULL, the playground set, an owner from the
start, so the warm pool never sees them) with the same isolation, limits, lifetime,
admission queue and terminal as a lab's; only their disk differs: the playground's
image for its current generation, mounted as it was left instead of a fresh copy of
the template. "Start fresh" moves the playground to a new generation (an empty disk);
the reaper deletes disks of past generations, and the current one once it has not been
used for PLAYGROUND_RETENTION_DAYS.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import disks
from labs import sandboxes
from labs.models import Playground, Sandbox

log = logging.getLogger(__name__)
Status = Sandbox.Status


def playground_for(user):
    """The learner's playground, made on first use."""
    playground, _made = Playground.objects.get_or_create(owner=user, defaults={"last_used_at": timezone.now()})
    return playground


def live_sandbox(playground):
    return Sandbox.objects.filter(playground=playground, status__in=Sandbox.LIVE).first()


def latest_sandbox(playground):
    return Sandbox.objects.filter(playground=playground).order_by("-requested_at").first()


def start(playground):
    """The playground's live sandbox, or a new one on its kept disk (queued for room like any other)."""
    existing = live_sandbox(playground)
    if existing:
        return existing
    others = Sandbox.objects.filter(status__in=Sandbox.LIVE, owner=playground.owner_id).select_related("lab", "playground")
    if others.count() >= settings.SANDBOX_MAX_PER_LEARNER:
        titles = ", ".join(f"« {s.title} »" for s in others)
        raise sandboxes.SandboxRefused(_("You already have a running sandbox (%(labs)s). Stop it before starting another one.") % {"labs": titles})
    if sandboxes.room_on_host() <= 0:
        sandboxes.trim_pool()
    now = timezone.now()
    try:
        with transaction.atomic():
            Playground.objects.filter(pk=playground.pk).update(has_storage=True, last_used_at=now)
            playground.refresh_from_db()
            sandbox = Sandbox.objects.create(
                owner_id=playground.owner_id, playground=playground, persistent_disk=playground.disk_path, status=Status.WAITING,
                expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES), last_activity_at=now, steps_total=2,
                step_label=_("Waiting for room on the host"),
            )
    except IntegrityError:
        # A second click raced the first: the constraint kept one live row.
        return live_sandbox(playground)
    sandboxes.admit_waiting()
    return Sandbox.objects.get(pk=sandbox.pk)


def stop(playground):
    """Stop its sandbox (the disk stays); return whether one was running."""
    sandbox = live_sandbox(playground)
    if sandbox is None:
        return False
    return sandboxes.stop(sandbox)


def start_fresh(playground):
    """Forget what the playground held: stop its sandbox and move to a new, empty disk; the old one is reaped."""
    stop(playground)
    moved = Playground.objects.filter(pk=playground.pk, generation=playground.generation).update(
        generation=F("generation") + 1, has_storage=False, last_used_at=timezone.now(),
    )
    playground.refresh_from_db()
    log.info("playground %s started fresh (generation %s)", playground.pk, playground.generation)
    return bool(moved)


def storage_usage(playground):
    """Bytes its current disk takes on the host, or None without one."""
    if not playground.has_storage:
        return None
    return disks.image_usage_bytes(playground.disk_path)


def reap_storage(*, engine, now=None):
    """Let go of disks unused for PLAYGROUND_RETENTION_DAYS, then delete every disk no playground holds now."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PLAYGROUND_RETENTION_DAYS)
    counts = {"playgrounds_expired": 0, "playground_disks": 0}
    stale = Playground.objects.filter(has_storage=True, last_used_at__lte=cutoff).exclude(sandboxes__status__in=Sandbox.LIVE)
    for playground in stale:
        # Conditional on what was read: a start meanwhile keeps the disk.
        counts["playgrounds_expired"] += Playground.objects.filter(
            pk=playground.pk, generation=playground.generation, last_used_at=playground.last_used_at,
        ).exclude(sandboxes__status__in=Sandbox.LIVE).update(generation=F("generation") + 1, has_storage=False)
    keep = [p.disk_path for p in Playground.objects.filter(has_storage=True)]
    # The disk a live sandbox uses is kept whatever its playground says (a start fresh while it stops).
    keep += list(Sandbox.objects.filter(status__in=Sandbox.LIVE).exclude(persistent_disk="").values_list("persistent_disk", flat=True))
    removed = engine.sweep_persistent_disks(settings.PLAYGROUND_DISK_ROOT, deployment=settings.SANDBOX_NAME_PREFIX, keep=keep)
    counts["playground_disks"] = len(removed)
    for path in removed:
        log.info("deleted the playground disk %s", path)
    return counts
