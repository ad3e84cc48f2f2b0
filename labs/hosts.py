"""Docker hosts: which one a sandbox goes to, the engine of each, and their heartbeats.

A sandbox is placed when it leaves the admission queue: on an active host
with room (its ceiling less the sandboxes on it, and the memory labs/capacity.py
admits on), the learner's own host for this lab first if they had one lately
(their images are there), else the one with the most room. Placements on one
host are counted one after the other: each takes the host row's lock with a
conditional UPDATE before counting, so two placements never both fill its last
slot (PostgreSQL holds the row until the commit; SQLite's IMMEDIATE
transactions take the database's write lock at BEGIN).

Hosts whose workers report the same machine (its kernel's boot id) share its
memory: two engines on one machine take one budget of MemAvailable, counted once.
A host on a unix socket that has not reported yet is on this machine (machine_of).

Each host's worker records a heartbeat (labs.host_heartbeat, on its own
housekeeping queue) with its machine, its memory and, every ISOLATION_EVERY_SECONDS,
what keeps its sandboxes from being isolated there (/healthz shows it per host);
labs/sandboxes.py marks a silent host down and fails its sandboxes. Draining: no
new placement, live sandboxes run to their end.
"""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from grader import engine as docker_engine
from labs import capacity
from labs.models import DEFAULT_HOST_NAME, DockerHost, Sandbox

log = logging.getLogger(__name__)
State = DockerHost.State
Status = Sandbox.Status
# A heartbeat checks the host's isolation (a dozen commands as root) at most this often.
ISOLATION_EVERY_SECONDS = 30
STARTING = [Status.REQUESTED, Status.PROVISIONING]


def default_host():
    """The host of a single machine ("local", on settings.DOCKER_HOST), made if missing (idempotent)."""
    host, made = DockerHost.objects.get_or_create(name=DEFAULT_HOST_NAME)
    if made:
        log.info("docker host %s created on %s", host.name, host.engine)
    return host


def engine_for(host):
    """The Engine of a host (one per engine URL and TLS folder); the default engine for the default host or none."""
    if host is None or not host.engine_url:
        return docker_engine.default()
    return docker_engine.for_url(host.engine_url, host.tls_dir)


def host_of(sandbox):
    """Where a sandbox runs (rows older than hosts, and the unplaced, count as the default host's)."""
    return sandbox.host if sandbox.host_id else default_host()


def name_of(sandbox):
    """The name of the host whose queues take the sandbox's work."""
    if not sandbox.host_id:
        return DEFAULT_HOST_NAME
    return DockerHost.objects.filter(pk=sandbox.host_id).values_list("name", flat=True).first() or DEFAULT_HOST_NAME


def engine_for_sandbox(sandbox_id):
    sandbox = Sandbox.objects.select_related("host").filter(pk=sandbox_id).first()
    return engine_for(sandbox.host if sandbox else None)


def on_host(host):
    """The sandboxes taking room on a host (the default host also holds the rows from before hosts)."""
    rows = Sandbox.objects.filter(status__in=Sandbox.ON_HOST)
    if host.name == DEFAULT_HOST_NAME:
        return rows.filter(Q(host=host) | Q(host__isnull=True))
    return rows.filter(host=host)


def machine_of(host):
    """The machine a host's engine runs on: the one its worker last reported; before any report, this machine's
    for an engine on a unix socket (it can only be here, where this process reads it); "" when nothing says."""
    if host.machine_id:
        return host.machine_id
    return capacity.machine_id() if host.is_on_this_machine else ""


def memory_of(host):
    """MemAvailable of the host in MiB: read here for a host on this machine (machine_of), else its worker's last
    report. A unix socket is not enough once its worker reported another machine: its own machine's socket."""
    here = capacity.machine_id()
    if (here and machine_of(host) == here) or (not here and host.is_on_this_machine):
        return capacity.memory_available_mb()
    return host.memory_available_mb


def machine_mates(host, among=None):
    """The hosts on the same machine as `host` (machine_of), itself included; `among`: only those rows."""
    machine = machine_of(host)
    if not machine:
        return [host]
    # Every row (a handful): a host not reported yet is here or not by its engine URL (DOCKER_HOST when empty), not a column.
    rows = among if among is not None else DockerHost.objects.all()
    return [other for other in rows if other.pk == host.pk or machine_of(other) == machine] or [host]


def memory_room(mates):
    """Sandboxes the memory of one machine still admits, over all its hosts (None: its memory is not known)."""
    known = [mb for mb in (memory_of(mate) for mate in mates) if mb is not None]
    if not known:
        return None
    starting = Sandbox.objects.filter(status__in=STARTING, host__in=[mate.pk for mate in mates]).count()
    if any(mate.name == DEFAULT_HOST_NAME for mate in mates):
        starting += Sandbox.objects.filter(status__in=STARTING, host__isnull=True).count()
    # Two workers read one MemAvailable a few seconds apart: the lower reading is the safer.
    return capacity.room(on_host=0, starting=starting, available_mb=min(known), ceiling=10**9)


def room_on(host):
    """Room on a host: its ceiling less its sandboxes, and no more than its machine's memory admits."""
    by_ceiling = capacity.room(on_host=on_host(host).count(), starting=0, available_mb=None, ceiling=host.ceiling)
    by_memory = memory_room(machine_mates(host))
    return by_ceiling if by_memory is None else min(by_ceiling, by_memory)


def active_hosts():
    """Hosts that take new sandboxes. With no host at all yet, the default one is made."""
    if not DockerHost.objects.exists():
        default_host()
    return list(DockerHost.objects.filter(state=State.ACTIVE))


def room_anywhere():
    """Room on every active host, each machine's memory counted once however many hosts it runs."""
    total, counted = 0, set()
    hosts = active_hosts()
    for host in hosts:
        if host.pk in counted:
            continue
        mates = machine_mates(host, among=hosts)
        counted.update(mate.pk for mate in mates)
        by_ceiling = sum(capacity.room(on_host=on_host(mate).count(), starting=0, available_mb=None, ceiling=mate.ceiling) for mate in mates)
        # The memory over all the machine's hosts, draining ones too: their sandboxes starting take it as well.
        by_memory = memory_room(machine_mates(host))
        total += by_ceiling if by_memory is None else min(by_ceiling, by_memory)
    return total


def affinity(sandbox):
    """Host ids to try first: a playground's disk stays where it was used; a learner's lab goes back to the
    host of their last sandbox for it within HOST_AFFINITY_HOURS."""
    earlier = Sandbox.objects.filter(host__isnull=False).exclude(pk=sandbox.pk).order_by("-requested_at")
    if sandbox.persistent_disk:
        earlier = earlier.filter(persistent_disk=sandbox.persistent_disk)
    elif sandbox.owner_id and sandbox.lab_id:
        since = timezone.now() - timedelta(hours=settings.HOST_AFFINITY_HOURS)
        earlier = earlier.filter(owner_id=sandbox.owner_id, lab_id=sandbox.lab_id, requested_at__gte=since)
    else:
        return []
    return list(earlier.values_list("host_id", flat=True)[:1])


def candidates(sandbox):
    """Active hosts with room, in the order placement tries them: affinity, then most room, then fewest sandboxes."""
    hosts = active_hosts()
    if not hosts:
        return []
    counts = dict(
        Sandbox.objects.filter(status__in=Sandbox.ON_HOST, host__in=hosts).values_list("host").annotate(n=Count("pk")).order_by()
    )
    preferred = affinity(sandbox)
    rooms = [(host, room_on(host)) for host in hosts]
    ranked = sorted(
        ((host, room) for host, room in rooms if room > 0),
        key=lambda pair: (pair[0].pk not in preferred, -pair[1], counts.get(pair[0].pk, 0), pair[0].name),
    )
    return [host for host, _room in ranked]


def lock(host, *, now):
    """Take the row locks of the host and of its machine's other hosts for this transaction, if it is still active:
    placements on one machine then count one after the other. False when it stopped taking sandboxes meanwhile."""
    mates = machine_mates(host)
    if len(mates) > 1:
        # In one order (by id), whichever mate a placement starts from: two placements wait, never deadlock.
        list(DockerHost.objects.select_for_update().filter(pk__in=[mate.pk for mate in mates]).order_by("pk").values_list("pk"))
    return bool(DockerHost.objects.filter(pk=host.pk, state=State.ACTIVE).update(last_placement_at=now))


def place(sandbox, **fields):
    """Move a waiting sandbox onto a host with room (status requested, `fields` set too); return the host, else None.

    None also when the sandbox is no longer waiting (another admission took it first).
    """
    for host in candidates(sandbox):
        now = timezone.now()
        with transaction.atomic():
            if not lock(host, now=now) or room_on(host) <= 0:
                continue
            moved = Sandbox.objects.filter(pk=sandbox.pk, status=Status.WAITING).update(
                status=Status.REQUESTED, host=host, admitted_at=now, **fields,
            )
        if not moved:
            return None
        log.info("sandbox %s placed on host %s", sandbox.pk, host.name)
        return host
    return None


def beat(host_name, *, engine=None, now=None):
    """A host's worker says it is alive: its engine answered, here are its machine and memory, and now and then
    its isolation. A down host comes back."""
    host = DockerHost.objects.get(name=host_name)
    engine = engine or engine_for(host)
    engine.engine_info()  # EngineUnavailable: no heartbeat, the host is as good as down
    now = now or timezone.now()
    # The heartbeat first: a slow isolation check below must never make a live host look silent (and so down).
    DockerHost.objects.filter(pk=host.pk).update(
        last_heartbeat=now, memory_available_mb=capacity.memory_available_mb(), machine_id=capacity.machine_id(),
    )
    if DockerHost.objects.filter(pk=host.pk, state=State.DOWN).update(state=State.ACTIVE, state_changed_at=now):
        log.warning("docker host %s answers again: active", host.name)
    due = now - timedelta(seconds=ISOLATION_EVERY_SECONDS)
    # Claimed before it runs, so the beats meanwhile do not start the same check again.
    if DockerHost.objects.filter(pk=host.pk).filter(Q(isolation_checked_at__isnull=True) | Q(isolation_checked_at__lte=due)).update(isolation_checked_at=now):
        report_isolation(host, engine=engine)
    return DockerHost.objects.get(pk=host.pk)


def report_isolation(host, *, engine):
    """Check the host's isolation and write the report, dated when it is written. A check that does not finish
    (its task's time limit, any error) still writes a report, that it did not finish, and lets the error go on:
    the last good report must not stand for a check that never ended."""
    try:
        found = isolation_problems(host, engine=engine)
    except BaseException as exc:
        DockerHost.objects.filter(pk=host.pk).update(
            isolation_problems=[f"the isolation check did not finish: {': '.join(filter(None, (type(exc).__name__, str(exc))))}"],
            isolation_reported_at=timezone.now(),
        )
        raise
    DockerHost.objects.filter(pk=host.pk).update(isolation_problems=found, isolation_reported_at=timezone.now())


def isolation_problems(host, *, engine):
    """What keeps the host's sandboxes from being isolated, checked on its own machine (its worker's): its engine's
    user namespaces, the host rules and ports of its sandboxes' bridge; empty when all holds."""
    try:
        return engine.isolation_problems(
            bridge=host.sandbox_bridge, registry=urlsplit(host.sandbox_registry_mirror).hostname,
            allow_without_user_namespaces=settings.SANDBOX_WITHOUT_USER_NAMESPACES,
        )
    except docker_engine.EngineUnavailable as exc:
        return [f"cannot check isolation: {exc}"]


def set_state(host, state):
    """An operator's drain or activate (manage.py docker_hosts); return whether it changed."""
    changed = DockerHost.objects.filter(pk=host.pk).exclude(state=state).update(state=state, state_changed_at=timezone.now())
    if changed:
        log.info("docker host %s is now %s", host.name, state)
    return bool(changed)


def summary():
    """[(host, live sandboxes on it)] of every host, for /healthz, /metrics and the command."""
    return [(host, on_host(host).count()) for host in DockerHost.objects.all()]
