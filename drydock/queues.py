"""The Celery queues, one per kind of work and Docker host, and how many processes each worker runs.

Standard library only: read by the settings (routes), by bin/drydock (one
worker per queue) and by the tests' worker fixture, so that all three agree.
A Check waits only behind other Checks, never behind a sandbox being
provisioned (seconds to minutes) or removed.

Work on one sandbox runs on a worker of the Docker host the sandbox lives on
(labs.DockerHost): each host has a queue per kind, `grade.<host>`,
`provision.<host>`, `housekeeping.<host>`, and the sender names the host at
call time (labs/queue.py). What concerns no one host (the reaper's pass over
the rows, the pools' refill, watching the hosts' heartbeats, posting grades to
an LMS) stays on the central queues `housekeeping` and `lms`, which the
default host's workers also consume.
"""

import os

GRADE = "grade"
PROVISION = "provision"
HOUSEKEEPING = "housekeeping"
# Posting grades to an LMS waits on a server outside: never in front of removals and the reaper (housekeeping
# has one process, and a full host's admission queue moves only as removals free room).
LMS = "lms"

# The host of a single-machine install (labs.models.DEFAULT_HOST_NAME): the engine bin/drydock runs.
DEFAULT_HOST = "local"
# Kinds of work that run on the sandbox's own host.
HOST_KINDS = (GRADE, PROVISION, HOUSEKEEPING)
# Kinds with a central queue too (not tied to a host); its worker is the default host's of that kind.
CENTRAL_KINDS = (HOUSEKEEPING, LMS)

# Kind -> (environment variable of its workers' concurrency, default).
CONCURRENCY = {
    GRADE: ("CELERY_GRADE_CONCURRENCY", 2),
    # A start mostly waits (on runc, on the sandbox's entrypoint): four overlap on two cores once the starts have the
    # cores before the sandboxes' work (grader/cpu_priority.py): a class's click -> ready p95 1.4-1.6 s, 1.9-4.5 s with 2.
    PROVISION: ("CELERY_PROVISION_CONCURRENCY", 4),
    HOUSEKEEPING: ("CELERY_HOUSEKEEPING_CONCURRENCY", 1),
    LMS: ("CELERY_LMS_CONCURRENCY", 1),
}
# Kind -> (environment variable of its workers' niceness, default). On a busy host the cores go first to the web
# and to Checks (niceness 0), then to removals and the reaper, then to sandboxes being prepared: a class's starts
# take what the pages and the grading leave, not the other way round. (dockerd's own share of a start is not
# the worker's to lower.)
# Both 0 by default: measured on bench/class_start.py once the niceness really applied (drydock/celery.py
# lower_session), provisioning at 10 made a cold class start p50 12.0 -> 15.4 s and the Checks no faster (the
# Checks wait mostly on dockerd, which runs at its own priority).
NICENESS = {
    PROVISION: ("CELERY_PROVISION_NICE", 0),
    HOUSEKEEPING: ("CELERY_HOUSEKEEPING_NICE", 0),
}

# Tasks about one sandbox or one host -> the kind of its host's queue they run on.
HOST_TASKS = {
    "labs.grade_submission": GRADE,
    "labs.provision_sandbox": PROVISION,
    "labs.remove_sandbox": HOUSEKEEPING,
    "labs.reap_host": HOUSEKEEPING,
    "labs.host_heartbeat": HOUSEKEEPING,
}


def host_queue(kind, host):
    """The queue of one kind of work on one Docker host."""
    return f"{kind}.{host}"


# Sent without a host (an old caller, a task in flight from before hosts), a host task goes to the default host.
ROUTES = {
    **{task: {"queue": host_queue(kind, DEFAULT_HOST)} for task, kind in HOST_TASKS.items()},
    "labs.reap_sandboxes": {"queue": HOUSEKEEPING},
    "labs.refill_pools": {"queue": HOUSEKEEPING},
    "labs.check_hosts": {"queue": HOUSEKEEPING},
    "lti.post_score": {"queue": LMS},
    "lti.flush_scores": {"queue": LMS},
}
# What labs/queue.py names a host task's queue with (through the settings: labs does not import drydock).
HOST_TASK_QUEUES = {task: host_queue(kind, "{host}") for task, kind in HOST_TASKS.items()}


def queues_of(kind, host=DEFAULT_HOST, *, central=None):
    """The queues a worker of one kind for one host consumes: its host's, and the central one of its kind
    when it is the default host's (or `central` says so)."""
    central = host == DEFAULT_HOST if central is None else central
    names = [host_queue(kind, host)] if kind in HOST_KINDS else []
    if kind in CENTRAL_KINDS and (central or kind not in HOST_KINDS):
        names.append(kind)
    return names


def all_queues(hosts=(DEFAULT_HOST,)):
    """Every queue the given hosts' workers and the central workers consume."""
    return [host_queue(kind, host) for host in hosts for kind in HOST_KINDS] + list(CENTRAL_KINDS)


def _whole_number(environ, variable, default, *, what, allowed, limits):
    """The environment's whole number for `variable` (else `default`), refused in words unless `allowed(value)`."""
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number {what}, not {raw!r}") from None
    if not allowed(value):
        raise ValueError(f"{variable} must be {limits}, not {value}")
    return value


def concurrency(kind, environ=os.environ):
    """Processes for a kind's worker: the environment's value, else the default; at least 1."""
    variable, default = CONCURRENCY[kind]
    return _whole_number(environ, variable, default, what="of worker processes", allowed=lambda n: n >= 1, limits="at least 1")


def niceness(kind, environ=os.environ):
    """How much lower than the web's a kind's worker runs (0 to 19, `nice`'s steps): the environment's, else the default."""
    if kind not in NICENESS:
        return 0
    variable, default = NICENESS[kind]
    return _whole_number(environ, variable, default, what="from 0 to 19 (nice's steps)", allowed=lambda n: 0 <= n <= 19,
                         limits="from 0 to 19 (nice's steps)")


def kind_of_node(node):
    """The kind of work of a worker from its node name (worker_command's `-n`: grade.local@host, lms@host), or None."""
    kind = node.split("@", 1)[0].split(".", 1)[0]
    return kind if kind in CONCURRENCY else None


def worker_command(celery, kind, environ=os.environ, *, host=DEFAULT_HOST, central=None):
    """The `celery worker` command line of one kind's worker for one host (its node name says which).

    The LMS worker is central only: `host` does not change it.
    """
    node = kind if kind not in HOST_KINDS else host_queue(kind, host)
    niceness(kind, environ)  # a wrong setting is refused here, before a worker runs at the wrong priority
    return [
        str(celery), "-A", "drydock", "worker", "--loglevel", "INFO", "-Q", ",".join(queues_of(kind, host, central=central)),
        "-n", f"{node}@%h", "--concurrency", str(concurrency(kind, environ)),
    ]


def host_worker_kinds(host=DEFAULT_HOST, *, central=None):
    """The kinds of worker to start for a host: every host kind, and the LMS one with the central queues."""
    central = host == DEFAULT_HOST if central is None else central
    return [*HOST_KINDS, *([LMS] if central else [])]
