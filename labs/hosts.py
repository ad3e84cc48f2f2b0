"""Docker hosts: which one a sandbox goes to, the engine of each, and their heartbeats.

A sandbox is placed when it leaves the admission queue: on an active host
with room (its ceiling less the sandboxes on it, and the memory labs/capacity.py
admits on), the learner's own host for this lab first if they had one lately
(their images are there), else the one with the most room. Placements on one
host are counted one after the other: each takes the host row's lock with a
conditional UPDATE before counting, so two placements never both fill its last
slot (PostgreSQL holds the row until the commit; SQLite's IMMEDIATE
transactions take the database's write lock at BEGIN).

Each host's worker records a heartbeat (labs.host_heartbeat, on its own
housekeeping queue); labs/sandboxes.py marks a silent host down and fails its
sandboxes. Draining: no new placement, live sandboxes run to their end.
"""

import logging
from datetime import timedelta

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


def memory_of(host):
    """MemAvailable of the host in MiB: read here for an engine on this machine, else its worker's last report."""
    if host.is_on_this_machine:
        return capacity.memory_available_mb()
    return host.memory_available_mb


def room_on(host):
    rows = on_host(host)
    return capacity.room(
        on_host=rows.count(), starting=rows.filter(status__in=[Status.REQUESTED, Status.PROVISIONING]).count(),
        available_mb=memory_of(host), ceiling=host.ceiling,
    )


def active_hosts():
    """Hosts that take new sandboxes. With no host at all yet, the default one is made."""
    if not DockerHost.objects.exists():
        default_host()
    return list(DockerHost.objects.filter(state=State.ACTIVE))


def room_anywhere():
    return sum(room_on(host) for host in active_hosts())


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
    """Take the host row's lock for this transaction, if it is still active: placements on it then count one
    after the other. False when it stopped taking sandboxes meanwhile."""
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
    """A host's worker says it is alive: its engine answered, here is its memory. A down host comes back."""
    host = DockerHost.objects.get(name=host_name)
    (engine or engine_for(host)).engine_info()  # EngineUnavailable: no heartbeat, the host is as good as down
    now = now or timezone.now()
    DockerHost.objects.filter(pk=host.pk).update(last_heartbeat=now, memory_available_mb=capacity.memory_available_mb())
    if DockerHost.objects.filter(pk=host.pk, state=State.DOWN).update(state=State.ACTIVE, state_changed_at=now):
        log.warning("docker host %s answers again: active", host.name)
    return DockerHost.objects.get(pk=host.pk)


def set_state(host, state):
    """An operator's drain or activate (manage.py docker_hosts); return whether it changed."""
    changed = DockerHost.objects.filter(pk=host.pk).exclude(state=state).update(state=state, state_changed_at=timezone.now())
    if changed:
        log.info("docker host %s is now %s", host.name, state)
    return bool(changed)


def summary():
    """[(host, live sandboxes on it)] of every host, for /healthz, /metrics and the command."""
    return [(host, on_host(host).count()) for host in DockerHost.objects.all()]
