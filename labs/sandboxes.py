"""A sandbox's life: request, provision, extend, stop, reap. State of record is the Sandbox row.

Every transition is one conditional UPDATE on the row's status, so a task
delivered twice, a page submitted twice or a reaper running beside a worker
cannot both act; container names are derived from the row id, so a retry
finds (and replaces) what an earlier try made.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import engine as docker_engine
from labs import queue
from labs.models import LabFile, Sandbox

log = logging.getLogger(__name__)
Status = Sandbox.Status


class SandboxRefused(Exception):
    """The learner may not start a sandbox now; the message says why, for their eyes."""


def socket_dir(sandbox):
    return str(settings.SANDBOX_SOCKET_ROOT / sandbox.container_name)


def spec_for(sandbox):
    return docker_engine.SandboxSpec(
        name=sandbox.container_name,
        image=settings.SANDBOX_IMAGE,
        labels={
            **settings.SANDBOX_LABELS,
            docker_engine.SANDBOX_LABEL: str(sandbox.pk),
            docker_engine.DEPLOYMENT_LABEL: settings.SANDBOX_NAME_PREFIX,
            "drydock.owner": str(sandbox.owner_id),
            "drydock.lab": sandbox.lab.slug,
        },
        socket_dir=socket_dir(sandbox),
        network=settings.SANDBOX_NETWORK,
        bridge=settings.SANDBOX_BRIDGE,
        registry_mirror=settings.SANDBOX_REGISTRY_MIRROR,
        memory_mb=settings.SANDBOX_MEMORY_MB,
        pids_limit=settings.SANDBOX_PIDS_LIMIT,
        cpus=settings.SANDBOX_CPUS,
        log_max_size=settings.SANDBOX_LOG_MAX_SIZE,
        disk_gb=settings.SANDBOX_DISK_GB,
        disk_templates=str(settings.SANDBOX_DISK_TEMPLATES),
        seccomp_profile=str(settings.SANDBOX_SECCOMP_PROFILE),
        allow_without_user_namespaces=settings.SANDBOX_WITHOUT_USER_NAMESPACES,
    )


def request_sandbox(*, user, lab):
    """Create the learner's sandbox row and queue its provisioning; return the live one if it exists."""
    existing = Sandbox.objects.filter(owner=user, lab=lab, status__in=Sandbox.LIVE).first()
    if existing:
        return existing
    live = Sandbox.objects.filter(status__in=Sandbox.LIVE)
    others = live.filter(owner=user).exclude(lab=lab).select_related("lab")
    if others.count() >= settings.SANDBOX_MAX_PER_LEARNER:
        titles = ", ".join(f"« {s.lab.title} »" for s in others)
        raise SandboxRefused(_("You already have a running sandbox (%(labs)s). Stop it before starting another one.") % {"labs": titles})
    if live.count() >= settings.SANDBOX_MAX_PER_HOST:
        raise SandboxRefused(_("All sandboxes are in use right now. Try again in a few minutes."))
    now = timezone.now()
    try:
        with transaction.atomic():
            sandbox = Sandbox.objects.create(
                owner=user, lab=lab, expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES),
                last_activity_at=now, steps_total=2 + len(lab.setup), step_label=_("Waiting for a worker"),
            )
    except IntegrityError:
        # A second click raced the first: the constraint kept one live row, use it.
        return Sandbox.objects.get(owner=user, lab=lab, status__in=Sandbox.LIVE)
    queue.after_commit(queue.PROVISION_SANDBOX, sandbox.pk)
    return sandbox


def _progress(sandbox, step, label):
    Sandbox.objects.filter(pk=sandbox.pk, status=Status.PROVISIONING).update(step=step, step_label=label)


def provision(sandbox_id, *, engine):
    """Start the container, wait for its daemon, run the lab's setup, mark it ready."""
    claimed = Sandbox.objects.filter(pk=sandbox_id, status=Status.REQUESTED).update(
        status=Status.PROVISIONING, provisioning_at=timezone.now(), step=0, step_label=_("Starting the sandbox")
    )
    sandbox = Sandbox.objects.select_related("lab").get(pk=sandbox_id)
    if not claimed and sandbox.status != Status.PROVISIONING:
        return sandbox  # stopped, failed or already ready: nothing to do
    started = time.monotonic()
    try:
        engine.start_sandbox(spec_for(sandbox))
        _progress(sandbox, 1, _("Starting the sandbox's Docker daemon"))
        engine.wait_for_daemon(sandbox.container_name, socket_dir(sandbox), timeout=settings.SANDBOX_READY_TIMEOUT_SECONDS)
        archives = {f.source: bytes(f.archive) for f in LabFile.objects.filter(lab=sandbox.lab)}
        for number, step in enumerate(sandbox.lab.setup, start=2):
            _progress(sandbox, number, step["label"])
            if "copy" in step:
                engine.copy_into_sandbox(sandbox.container_name, archives[step["copy"]], step["to"])
                continue
            result = engine.exec_in_sandbox(sandbox.container_name, step["run"], timeout=settings.SANDBOX_SETUP_STEP_TIMEOUT_SECONDS)
            if result.exit_code != 0:
                raise docker_engine.EngineUnavailable(
                    f"setup step « {step['label']} » failed (exit code {result.exit_code}): {result.output.strip()[-500:]}"
                )
    except docker_engine.EngineUnavailable as exc:
        log.warning("sandbox %s failed to provision: %s", sandbox.pk, exc)
        fail(sandbox, reason=str(exc))
        return Sandbox.objects.get(pk=sandbox_id)
    now = timezone.now()
    became_ready = Sandbox.objects.filter(pk=sandbox_id, status=Status.PROVISIONING).update(
        status=Status.READY, ready_at=now, last_activity_at=now, step=sandbox.steps_total, step_label=_("Ready"),
    )
    if not became_ready:
        # Stopped or reaped while we worked: what we made must not outlive the row.
        engine.remove_sandbox(sandbox.container_name, socket_dir(sandbox))
    log.info("sandbox %s provisioned in %.2f s", sandbox.pk, time.monotonic() - started)
    return Sandbox.objects.get(pk=sandbox_id)


def _end(sandbox, status, *, reason=""):
    ended = Sandbox.objects.filter(pk=sandbox.pk, status__in=Sandbox.LIVE).update(
        status=status, ended_at=timezone.now(), failure=reason,
    )
    if ended:
        queue.after_commit(queue.REMOVE_SANDBOX, sandbox.pk)
    return bool(ended)


def stop(sandbox):
    return _end(sandbox, Status.STOPPED)


def fail(sandbox, *, reason):
    return _end(sandbox, Status.FAILED, reason=reason)


def expire(sandbox, *, reason):
    return _end(sandbox, Status.EXPIRED, reason=reason)


def remove_container(sandbox_id, *, engine):
    sandbox = Sandbox.objects.get(pk=sandbox_id)
    if sandbox.is_live:
        return False
    engine.remove_sandbox(sandbox.container_name, socket_dir(sandbox))
    return True


def reset(sandbox):
    """A fresh sandbox for the same lab: stop this one, request another."""
    stop(sandbox)
    return request_sandbox(user=sandbox.owner, lab=sandbox.lab)


def extend(sandbox):
    """Push the expiry back, up to the maximum lifetime; return whether it moved."""
    new_expiry = min(sandbox.expires_at + timedelta(minutes=settings.SANDBOX_EXTEND_MINUTES), sandbox.max_expiry)
    if new_expiry <= sandbox.expires_at:
        return False
    return bool(
        Sandbox.objects.filter(pk=sandbox.pk, status=Status.READY, expires_at=sandbox.expires_at).update(
            expires_at=new_expiry, extensions=sandbox.extensions + 1, last_activity_at=timezone.now()
        )
    )


def touch(sandbox):
    """The learner is active on the sandbox's page: push the idle deadline back."""
    Sandbox.objects.filter(pk=sandbox.pk, status__in=Sandbox.LIVE).update(last_activity_at=timezone.now())


def reap(*, engine, now=None):
    """Expire, fail and clean up; return counts of what was done (for logs and the command)."""
    now = now or timezone.now()
    counts = {"expired": 0, "idle": 0, "stuck": 0, "vanished": 0, "orphans": 0, "leftovers": 0}
    live = Sandbox.objects.filter(status__in=Sandbox.LIVE)
    for sandbox in live.filter(expires_at__lte=now):
        counts["expired"] += expire(sandbox, reason=_("Its time to live ran out."))
    idle_before = now - timedelta(minutes=settings.SANDBOX_IDLE_MINUTES)
    for sandbox in live.filter(status=Status.READY, last_activity_at__lte=idle_before):
        counts["idle"] += expire(sandbox, reason=_("Nobody used it for %(minutes)s minutes.") % {"minutes": settings.SANDBOX_IDLE_MINUTES})
    stuck_before = now - timedelta(seconds=settings.SANDBOX_PROVISION_DEADLINE_SECONDS)
    for sandbox in live.filter(status__in=[Status.REQUESTED, Status.PROVISIONING], requested_at__lte=stuck_before):
        counts["stuck"] += fail(sandbox, reason=_("Its preparation was interrupted (the worker stopped). Start a new one."))

    containers = {c.name: c for c in engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}
    live_rows = {s.container_name: s for s in Sandbox.objects.filter(status__in=Sandbox.LIVE)}
    for name, container in containers.items():
        if name not in live_rows:
            row_id = container.labels.get(docker_engine.SANDBOX_LABEL, "")
            engine.remove_sandbox(name, str(settings.SANDBOX_SOCKET_ROOT / name))
            counts["orphans"] += 1
            log.info("removed orphan sandbox container %s (row %s)", name, row_id)
    for name, sandbox in live_rows.items():
        if sandbox.status == Status.READY and (name not in containers or containers[name].status != "running"):
            counts["vanished"] += fail(sandbox, reason=_("Its container stopped or disappeared."))
    # A worker killed between making a sandbox's disk and its container, or a removal cut short, leaves a
    # folder (and its mounted disk) that no container or row names any more.
    # A folder younger than the provisioning deadline may be one a worker is making this instant.
    swept = engine.sweep_folders(
        settings.SANDBOX_SOCKET_ROOT, deployment=settings.SANDBOX_NAME_PREFIX, keep=set(live_rows),
        older_than=settings.SANDBOX_PROVISION_DEADLINE_SECONDS,
    )
    for name in swept:
        counts["leftovers"] += 1
        log.info("removed the leftover folder and disk of sandbox %s", name)
    return counts
