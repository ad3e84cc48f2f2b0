"""A sandbox's life: request, provision, extend, stop, reap. State of record is the Sandbox row.

Every transition is one conditional UPDATE on the row's status, so a task
delivered twice, a page submitted twice or a reaper running beside a worker
cannot both act; container names are derived from the row id, so a retry
finds (and replaces) what an earlier try made.
"""

import logging
import math
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from grader import engine as docker_engine
from labs import hosts, push, queue
from labs.models import DEFAULT_HOST_NAME, DockerHost, Lab, LabFile, Playground, Sandbox, Submission

log = logging.getLogger(__name__)
Status = Sandbox.Status


class SandboxRefused(Exception):
    """The learner may not start a sandbox now; the message says why, for their eyes. `running` holds the
    learner's live sandboxes that stand in the way, for a page that links to them or offers to stop them."""

    def __init__(self, message, *, running=()):
        super().__init__(message)
        self.running = list(running)


class SetupStepFailed(Exception):
    """A lab's set-up step exited with an error: (words for the learner, the step's output for operators)."""


def socket_dir(sandbox):
    return str(settings.SANDBOX_SOCKET_ROOT / sandbox.container_name)


def spec_for(sandbox):
    """What its host's engine is asked to start: the settings' limits, its host's network, bridge and registry."""
    host = sandbox.host if sandbox.host_id else None
    return docker_engine.SandboxSpec(
        name=sandbox.container_name,
        image=settings.SANDBOX_IMAGE,
        labels={
            **settings.SANDBOX_LABELS,
            docker_engine.SANDBOX_LABEL: str(sandbox.pk),
            docker_engine.DEPLOYMENT_LABEL: settings.SANDBOX_NAME_PREFIX,
            # Labels cannot change once the container exists: a warm sandbox keeps these after its claim,
            # and its row says whose it is.
            "drydock.owner": str(sandbox.owner_id) if sandbox.owner_id else "pool",
            "drydock.lab": sandbox.lab.slug if sandbox.lab_id else ("playground" if sandbox.playground_id else "blank"),
            **({docker_engine.KEPT_DISK_LABEL: sandbox.persistent_disk} if sandbox.persistent_disk else {}),
        },
        socket_dir=socket_dir(sandbox),
        network=host.sandbox_network if host else settings.SANDBOX_NETWORK,
        bridge=host.sandbox_bridge if host else settings.SANDBOX_BRIDGE,
        registry_mirror=host.sandbox_registry_mirror if host else settings.SANDBOX_REGISTRY_MIRROR,
        memory_mb=settings.SANDBOX_MEMORY_MB,
        pids_limit=settings.SANDBOX_PIDS_LIMIT,
        cpus=settings.SANDBOX_CPUS,
        log_max_size=settings.SANDBOX_LOG_MAX_SIZE,
        disk_gb=settings.SANDBOX_DISK_GB,
        disk_templates=str(settings.SANDBOX_DISK_TEMPLATES),
        seccomp_profile=str(settings.SANDBOX_SECCOMP_PROFILE),
        allow_without_user_namespaces=settings.SANDBOX_WITHOUT_USER_NAMESPACES,
        persistent_disk=sandbox.persistent_disk,
        # A warm pool's sandbox has its daemon started ahead, as the rest of it: the learner who claims it is
        # typing at once, in a class whose others are too (bench/class_start.py: warm p95 416 -> 1101 ms on demand).
        daemon_on_demand=settings.SANDBOX_DAEMON_ON_DEMAND and not sandbox.persistent_disk and sandbox.owner_id is not None,
        network_by_engine=settings.SANDBOX_NETWORK_BY_ENGINE,
        cpu_group=settings.SANDBOX_CPU_GROUP,
        cpu_group_shares=settings.SANDBOX_CPU_GROUP_SHARES,
    )


def request_sandbox(*, user, lab, engine=None):
    """The learner's sandbox for the lab: the live one if it exists, else a warm one claimed from the
    pool (ready at once), else a new row: provisioned at once if the host has room, otherwise waiting
    in the admission queue, started as soon as room frees up."""
    existing = Sandbox.objects.filter(owner=user, lab=lab, status__in=Sandbox.LIVE).first()
    if existing:
        return existing
    others = Sandbox.objects.filter(status__in=Sandbox.LIVE, owner=user).exclude(lab=lab).select_related("lab")
    if others.count() >= settings.SANDBOX_MAX_PER_LEARNER:
        titles = ", ".join(f"« {s.title} »" for s in others)
        raise SandboxRefused(
            _("You already have a running sandbox (%(labs)s). Stop it before starting another one.") % {"labs": titles},
            running=others,
        )
    claimed = claim_warm(user=user, lab=lab, engine=engine)
    if claimed:
        return claimed
    if room_on_host() <= 0:
        trim_pool()
    now = timezone.now()
    try:
        with transaction.atomic():
            sandbox = Sandbox.objects.create(
                owner=user, lab=lab, status=Status.WAITING, expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES),
                last_activity_at=now, steps_total=2 + len(lab.setup), step_label=_("Waiting for room on the host"),
            )
    except IntegrityError:
        # A second click raced the first: the constraint kept one live row, use it.
        return Sandbox.objects.get(owner=user, lab=lab, status__in=Sandbox.LIVE)
    admit_waiting()
    return Sandbox.objects.get(pk=sandbox.pk)


# --- Admission: the hosts' room, and the queue of those waiting for it ------------------------------


def room_on_host():
    """Sandboxes the active hosts may still take, all together (labs/hosts.py places each on one of them)."""
    return hosts.room_anywhere()


def admit_waiting():
    """Start the oldest waiting sandboxes the hosts have room for, in the order they were asked for, each placed on
    a host (labs/hosts.py); return their ids."""
    admitted = []
    free = room_on_host()
    if free <= 0:
        return admitted
    for sandbox in Sandbox.objects.filter(status=Status.WAITING).order_by("requested_at", "pk")[:free]:
        now = timezone.now()
        host = hosts.place(
            sandbox, step_label=_("Waiting for a worker"), expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES),
        )
        if host is None:
            if Sandbox.objects.filter(pk=sandbox.pk, status=Status.WAITING).exists():
                break  # no host has room left: those asked for later wait too, in order
            continue  # another admission took this one
        queue.after_commit(queue.PROVISION_SANDBOX, sandbox.pk, host=host.name)
        push.sandbox_changed(sandbox)
        admitted.append(sandbox.pk)
    return admitted


def place_in_queue(sandbox):
    """(position, estimated seconds or None) of a waiting sandbox: 1 is next; the estimate comes from how
    often sandboxes ended in the last half hour."""
    ahead = Sandbox.objects.filter(status=Status.WAITING).filter(
        models.Q(requested_at__lt=sandbox.requested_at) | models.Q(requested_at=sandbox.requested_at, pk__lt=sandbox.pk)
    ).count()
    position = ahead + 1
    window = 30 * 60
    ended = Sandbox.objects.filter(ended_at__gte=timezone.now() - timedelta(seconds=window)).count()
    if not ended:
        return position, None
    return position, math.ceil(position * window / ended)


# --- The warm pool ---------------------------------------------------------------------------------


def warm_candidates(lab):
    """Unclaimed ready sandboxes this lab may take, on any active host: its own pool first, then blank ones if it
    has no set-up. A draining host's pool is never handed out."""
    ready = Sandbox.objects.filter(owner__isnull=True, status=Status.READY, host__state=DockerHost.State.ACTIVE).select_related("host")
    if lab.setup:
        ready = ready.filter(lab=lab)
    else:
        ready = ready.filter(lab=lab) | ready.filter(lab__isnull=True)
    return ready.order_by(F("lab").asc(nulls_last=True), "ready_at")


# A claim tries at most this many warm sandboxes, each taken at random among the oldest CLAIM_SPREAD of its kind:
# a class clicking together all tried the same oldest three, and a learner who lost all three to classmates got a
# cold start while the pool still held warm sandboxes (8 of 30 in bench/class_start.py on a loaded machine).
CLAIM_TRIES = 8
CLAIM_SPREAD = 8


def claim_warm(*, user, lab, engine=None):
    """Hand a warm sandbox to the learner with one conditional UPDATE (two learners never get the same one).

    A warm sandbox whose container died while it waited is never handed out: it is failed (the
    reaper and the removal task clean it up) and the next one is tried; so is the next one when a classmate
    took this one meanwhile. Its host's engine is asked (or `engine`, for all of them).
    """
    tried = []
    for _attempt in range(CLAIM_TRIES):
        oldest = list(warm_candidates(lab).exclude(pk__in=tried)[:CLAIM_SPREAD])
        if not oldest:
            return None
        # The lab's own pool before blank sandboxes: the choice stays among the best kind there is.
        candidate = random.choice([row for row in oldest if row.lab_id == oldest[0].lab_id])
        tried.append(candidate.pk)
        try:
            alive = (engine or hosts.engine_for(candidate.host)).sandbox_running(candidate.container_name)
        except docker_engine.EngineUnavailable:
            return None
        if not alive:
            fail(candidate, reason=_("Its container stopped or disappeared."))
            continue
        now = timezone.now()
        try:
            with transaction.atomic():
                taken = Sandbox.objects.filter(pk=candidate.pk, owner__isnull=True, status=Status.READY).update(
                    owner=user, lab=lab, claimed_at=now, requested_at=now, last_activity_at=now,
                    expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES),
                )
        except IntegrityError:
            # A second click of the same learner claimed another one a moment ago: that one is theirs.
            return Sandbox.objects.get(owner=user, lab=lab, status__in=Sandbox.LIVE)
        if taken:
            # Refilled once the claims pause (refill_pools): sent for then, so the last claim of a burst has one.
            queue.after_commit(queue.REFILL_POOLS, countdown=settings.SANDBOX_POOL_REFILL_QUIET_SECONDS)
            log.info("sandbox %s claimed from the warm pool by user %s for %s", candidate.pk, user.pk, lab.slug)
            return Sandbox.objects.get(pk=candidate.pk)
    return None


def pool_sizes():
    """Warm sandboxes wanted: {lab id: count}, with None for the blank pool (labs without set-up)."""
    wanted = {None: settings.SANDBOX_POOL_BLANK}
    for lab in Lab.objects.filter(slug__in=settings.SANDBOX_POOL_LABS, is_published=True):
        wanted[lab.pk] = settings.SANDBOX_POOL_LABS[lab.slug]
    return {lab_id: size for lab_id, size in wanted.items() if size > 0}


def pooled(host=None):
    """Live, unclaimed sandboxes (on one host, if given), by lab id (None: blank)."""
    rows = Sandbox.objects.filter(owner__isnull=True, status__in=Sandbox.ON_HOST)
    if host is not None:
        rows = rows & hosts.on_host(host)
    counts = rows.values("lab").annotate(n=Count("pk")).order_by()
    return {row["lab"]: row["n"] for row in counts}


def refill_pools(*, now=None):
    """Request the warm sandboxes each active host's pools lack, leaving one slot of each host for a learner;
    return their ids. Nothing while learners wait for room, nor while warm sandboxes are being claimed (a class
    starting): the first call after SANDBOX_POOL_REFILL_QUIET_SECONDS without a claim refills."""
    # Learners waiting for room come first: the pool refills only when nobody waits.
    admit_waiting()
    if Sandbox.objects.filter(status=Status.WAITING).exists():
        return []
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=settings.SANDBOX_POOL_REFILL_QUIET_SECONDS)
    if Sandbox.objects.filter(status__in=Sandbox.LIVE, claimed_at__gt=quiet_since).exists():
        return []
    sizes = pool_sizes()
    labs = {lab.pk: lab for lab in Lab.objects.filter(pk__in=[k for k in sizes if k])}
    made = []
    for host in hosts.active_hosts():
        made += _refill_host(host, sizes, labs)
    return made


def _refill_host(host, sizes, labs):
    made = []
    now = timezone.now()
    with transaction.atomic():
        # Counted under the host's lock, as a placement is: a learner's admission meanwhile waits its turn.
        if not hosts.lock(host, now=now):
            return made
        room = hosts.room_on(host) - 1
        have = pooled(host)
        for lab_id, size in sizes.items():
            lab = labs.get(lab_id)
            for _unused in range(size - have.get(lab_id, 0)):
                if room <= 0:
                    return made
                sandbox = Sandbox.objects.create(
                    owner=None, lab=lab, host=host, expires_at=now + timedelta(minutes=settings.SANDBOX_TTL_MINUTES), last_activity_at=now,
                    steps_total=2 + len(lab.setup if lab else ()), step_label=_("Waiting for a worker"),
                )
                queue.after_commit(queue.PROVISION_SANDBOX, sandbox.pk, host=host.name)
                made.append(sandbox.pk)
                room -= 1
    return made


def trim_pool():
    """Make room for a learner when the hosts are full: stop the oldest unclaimed sandbox of an active host;
    return whether one was."""
    pool = Sandbox.objects.filter(owner__isnull=True, status__in=Sandbox.ON_HOST, host__state=DockerHost.State.ACTIVE)
    for victim in pool.order_by("requested_at")[:3]:
        if stop(victim):
            log.info("sandbox %s trimmed from the warm pool: the host is full", victim.pk)
            return True
    return False


def _progress(sandbox, step, label):
    if Sandbox.objects.filter(pk=sandbox.pk, status=Status.PROVISIONING).update(step=step, step_label=label):
        push.sandbox_changed(sandbox)


def provision(sandbox_id, *, engine):
    """Start the container, wait for its daemon, run the lab's setup, mark it ready."""
    claimed = Sandbox.objects.filter(pk=sandbox_id, status=Status.REQUESTED).update(
        status=Status.PROVISIONING, provisioning_at=timezone.now(), step=0, step_label=_("Starting the sandbox")
    )
    sandbox = Sandbox.objects.select_related("lab", "host").get(pk=sandbox_id)
    if not claimed and sandbox.status != Status.PROVISIONING:
        return sandbox  # stopped, failed or already ready: nothing to do
    push.sandbox_changed(sandbox)
    started = time.monotonic()
    try:
        if sandbox.persistent_disk:
            release_kept_disk(sandbox, engine=engine)
        spec = spec_for(sandbox)
        engine.start_sandbox(spec)
        _progress(sandbox, 1, _("Starting the sandbox's Docker daemon"))
        setup = sandbox.lab.setup if sandbox.lab_id else ()
        # A set-up step that runs a command talks to the daemon: started now, so that one that never answers
        # says so, not the step. Otherwise ready once its sockets listen; the learner's first command starts it.
        engine.wait_for_daemon(sandbox.container_name, socket_dir(sandbox), timeout=settings.SANDBOX_READY_TIMEOUT_SECONDS,
                               on_demand=spec.daemon_on_demand and not any("run" in step for step in setup))
        archives = {f.source: bytes(f.archive) for f in LabFile.objects.filter(lab=sandbox.lab_id)} if sandbox.lab_id else {}
        for number, step in enumerate(setup, start=2):
            _progress(sandbox, number, step["label"])
            if "copy" in step:
                engine.copy_into_sandbox(sandbox.container_name, archives[step["copy"]], step["to"])
                continue
            result = engine.exec_in_sandbox(sandbox.container_name, step["run"], timeout=settings.SANDBOX_SETUP_STEP_TIMEOUT_SECONDS)
            if result.exit_code != 0:
                raise SetupStepFailed(
                    _("The lab's set-up step « %(label)s » failed. Start a new sandbox to try again; if it fails again, tell your instructor.") % {"label": step["label"]},
                    f"setup step « {step['label']} » failed (exit code {result.exit_code}): {result.output.strip()[-500:]}",
                )
        # Set up: from here it weighs on the cores as every started sandbox does, the learner's work with it.
        engine.settle_sandbox(sandbox.container_name)
    except SetupStepFailed as exc:
        learner_words, detail = exc.args
        log.warning("sandbox %s failed to provision: %s", sandbox.pk, detail)
        _settle_quietly(engine, sandbox)
        fail(sandbox, reason=learner_words, detail=detail)
        return Sandbox.objects.get(pk=sandbox_id)
    except docker_engine.EngineUnavailable as exc:
        log.warning("sandbox %s failed to provision: %s", sandbox.pk, exc)
        _settle_quietly(engine, sandbox)
        fail(sandbox, reason=_("The sandbox could not be started: the platform's Docker engine reported a problem. "
                               "Start a new sandbox to try again; if it fails again, tell your instructor."), detail=str(exc))
        return Sandbox.objects.get(pk=sandbox_id)
    now = timezone.now()
    became_ready = Sandbox.objects.filter(pk=sandbox_id, status=Status.PROVISIONING).update(
        status=Status.READY, ready_at=now, last_activity_at=now, step=sandbox.steps_total, step_label=_("Ready"),
    )
    if became_ready:
        push.sandbox_changed(sandbox)
    else:
        # Stopped or reaped while we worked: what we made must not outlive the row.
        engine.remove_sandbox(sandbox.container_name, socket_dir(sandbox))
    log.info("sandbox %s provisioned in %.2f s", sandbox.pk, time.monotonic() - started)
    return Sandbox.objects.get(pk=sandbox_id)


def _settle_quietly(engine, sandbox):
    """A sandbox that failed waits for its removal (the housekeeping queue's) at the weight of a started one."""
    try:
        engine.settle_sandbox(sandbox.container_name)
    except docker_engine.EngineUnavailable:
        pass  # gone, or the engine is not answering: its removal takes it either way


def release_kept_disk(sandbox, *, engine):
    """Remove the earlier sandboxes on this sandbox's kept disk now, rather than when their removal task comes:
    an ext4 disk is mounted by one sandbox at a time."""
    earlier = Sandbox.objects.filter(persistent_disk=sandbox.persistent_disk).exclude(pk=sandbox.pk).exclude(status__in=Sandbox.LIVE)
    for previous in earlier.order_by("-requested_at")[:3]:
        engine.remove_sandbox(previous.container_name, socket_dir(previous))


def _end(sandbox, status, *, reason="", detail=""):
    ended = Sandbox.objects.filter(pk=sandbox.pk, status__in=Sandbox.LIVE).update(
        status=status, ended_at=timezone.now(), failure=reason, failure_detail=detail,
    )
    if ended:
        # Its host's worker removes it: on a host that is down, once it answers again.
        queue.after_commit(queue.REMOVE_SANDBOX, sandbox.pk, host=hosts.name_of(sandbox))
        push.sandbox_changed(sandbox)
        if sandbox.playground_id:
            # A playground's disk is kept PLAYGROUND_RETENTION_DAYS from its last use.
            Playground.objects.filter(pk=sandbox.playground_id).update(last_used_at=timezone.now())
    return bool(ended)


def stop(sandbox):
    return _end(sandbox, Status.STOPPED)


def fail(sandbox, *, reason, detail=""):
    """`reason` is for the learner; `detail`, the engine's words, for operators only."""
    return _end(sandbox, Status.FAILED, reason=reason, detail=detail)


def expire(sandbox, *, reason):
    return _end(sandbox, Status.EXPIRED, reason=reason)


def remove_container(sandbox_id, *, engine):
    sandbox = Sandbox.objects.get(pk=sandbox_id)
    if sandbox.is_live:
        return False
    engine.remove_sandbox(sandbox.container_name, socket_dir(sandbox))
    # Its room is free now: the next learner waiting for it starts.
    admit_waiting()
    return True


def running_elsewhere(*, user, lab):
    """The learner's live sandboxes of other labs, when they use up the learner's allowance: starting one
    here would be refused, so the lab page links to them and offers to stop them instead."""
    others = list(Sandbox.objects.filter(status__in=Sandbox.LIVE, owner=user).exclude(lab=lab).select_related("lab", "lab__course"))
    return others if len(others) >= settings.SANDBOX_MAX_PER_LEARNER else []


def replace_and_request(*, user, lab, replaced):
    """Stop the learner's sandbox of another lab (the caller fetched it for the user) and request one here."""
    stop(replaced)
    return request_sandbox(user=user, lab=lab)


def reset(sandbox):
    """A fresh sandbox for the same lab: stop this one, request another."""
    if sandbox.playground_id:
        raise SandboxRefused(_("A playground is started again, or started fresh, from its own page."))
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


def reap(*, engine, now=None, host=None):
    """A whole pass for one host (the default one unless named) on its engine: the rows, then what the engine
    holds; return counts of what was done (for logs and the command)."""
    counts = reap_rows(now=now)
    counts.update(reap_host(host or hosts.default_host(), engine=engine))
    counts["admitted"] = len(admit_waiting())
    return counts


def reap_rows(*, now=None):
    """Expire and fail by the rows alone, whatever host they are on (the central beat task's part)."""
    now = now or timezone.now()
    counts = {"expired": 0, "idle": 0, "stuck": 0}
    live = Sandbox.objects.filter(status__in=Sandbox.LIVE)
    for sandbox in live.filter(expires_at__lte=now):
        counts["expired"] += expire(sandbox, reason=_("Its time to live ran out."))
    idle_before = now - timedelta(minutes=settings.SANDBOX_IDLE_MINUTES)
    # A warm sandbox waits for a learner: it is never idle, only expired (and then replaced).
    for sandbox in live.filter(status=Status.READY, owner__isnull=False, last_activity_at__lte=idle_before):
        counts["idle"] += expire(sandbox, reason=_("Nobody used it for %(minutes)s minutes.") % {"minutes": settings.SANDBOX_IDLE_MINUTES})
    stuck_before = now - timedelta(seconds=settings.SANDBOX_PROVISION_DEADLINE_SECONDS)
    # Counted from when it left the admission queue: the time spent waiting for room is not a worker's fault.
    started_before = models.Q(admitted_at__lte=stuck_before) | models.Q(admitted_at__isnull=True, requested_at__lte=stuck_before)
    for sandbox in live.filter(started_before, status__in=[Status.REQUESTED, Status.PROVISIONING]):
        counts["stuck"] += fail(sandbox, reason=_("Its preparation was interrupted (the worker stopped). Start a new one."))
    # A Check sent while its host was being marked down would wait for that host as long as it is down.
    end_checks_on_down_hosts(now=now)
    return counts


def reap_host(host, *, engine):
    """What one host's engine holds against the rows (its worker's part): containers without a live row
    removed, its ready rows whose container vanished failed, leftover folders swept."""
    counts = {"vanished": 0, "orphans": 0, "leftovers": 0}
    containers = {c.name: c for c in engine.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}
    # Every host's live rows: names are unique across hosts, and two hosts may share an engine or a folder root.
    live_rows = {s.container_name: s for s in Sandbox.objects.filter(status__in=Sandbox.LIVE)}
    for name, container in containers.items():
        if name not in live_rows:
            row_id = container.labels.get(docker_engine.SANDBOX_LABEL, "")
            engine.remove_sandbox(name, str(settings.SANDBOX_SOCKET_ROOT / name))
            counts["orphans"] += 1
            log.info("removed orphan sandbox container %s (row %s) from host %s", name, row_id, host.name)
    for sandbox in hosts.on_host(host).filter(status=Status.READY):
        container = containers.get(sandbox.container_name)
        if container is None or container.status != "running":
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


# --- Hosts that stop answering ---------------------------------------------------------------------


def fail_silent_hosts(*, now=None):
    """Mark down every host whose heartbeat stopped HOST_HEARTBEAT_TIMEOUT_SECONDS ago and fail its sandboxes
    (their learners' next Start places new ones elsewhere; their Checks and grades stay); return the hosts' names.

    A host that never beat is left alone: with no heartbeat seen, silence says nothing (a single machine
    run without beat). Its removals wait on its queue until it answers again.
    """
    now = now or timezone.now()
    silent_since = now - timedelta(seconds=settings.HOST_HEARTBEAT_TIMEOUT_SECONDS)
    marked = []
    for host in DockerHost.objects.filter(state__in=[DockerHost.State.ACTIVE, DockerHost.State.DRAINING], last_heartbeat__lt=silent_since):
        # Conditional on what was read: a heartbeat meanwhile keeps it up.
        if not DockerHost.objects.filter(pk=host.pk, state=host.state, last_heartbeat=host.last_heartbeat).update(
            state=DockerHost.State.DOWN, state_changed_at=now,
        ):
            continue
        failed = 0
        for sandbox in hosts.on_host(host):
            failed += fail(sandbox, reason=_(
                "The machine running your sandbox stopped answering. Start it again: a new sandbox is prepared on "
                "another machine. Your checks and grades are kept."
            ))
        checks = end_checks_on_down_hosts(now=now)
        log.warning("docker host %s silent since %s: marked down, %s sandbox(es) failed, %s check(s) ended", host.name,
                    host.last_heartbeat, failed, checks)
        marked.append(host.name)
    return marked


def end_checks_on_down_hosts(*, now=None):
    """End the Checks queued or being graded on sandboxes of hosts that are down, with a message the learner reads:
    their grading job waits on that host's queue (and a worker that took one died with it), so none would ever
    come back. The learner checks again on their new sandbox; a job the host runs when it answers again finds its
    Check no longer queued and does nothing. Return how many were ended."""
    down = DockerHost.objects.filter(state=DockerHost.State.DOWN)
    on_down = models.Q(sandbox__host__in=down)
    if down.filter(name=DEFAULT_HOST_NAME).exists():
        on_down |= models.Q(sandbox__isnull=False, sandbox__host__isnull=True)  # rows from before hosts are the default's
    ended = Submission.objects.filter(on_down, status__in=[Submission.Status.QUEUED, Submission.Status.GRADING]).update(
        status=Submission.Status.ERROR, graded_at=now or timezone.now(), message=_(
            "This check did not run: the machine running your sandbox stopped answering. Start your sandbox again, "
            "then check again on the new one."
        ),
    )
    if ended:
        log.warning("%s check(s) on sandboxes of hosts that are down ended with an error", ended)
    return ended
