"""The Celery queues, one per kind of work, and how many processes each worker runs.

Standard library only: read by the settings (routes), by bin/drydock (one
worker per queue) and by the tests' worker fixture, so that all three agree.
A Check waits only behind other Checks, never behind a sandbox being
provisioned (seconds to minutes) or removed.
"""

import os

GRADE = "grade"
PROVISION = "provision"
HOUSEKEEPING = "housekeeping"
# Posting grades to an LMS waits on a server outside: never in front of removals and the reaper (housekeeping
# has one process, and a full host's admission queue moves only as removals free room).
LMS = "lms"

# Queue -> (environment variable of its concurrency, default).
CONCURRENCY = {
    GRADE: ("CELERY_GRADE_CONCURRENCY", 2),
    PROVISION: ("CELERY_PROVISION_CONCURRENCY", 2),
    HOUSEKEEPING: ("CELERY_HOUSEKEEPING_CONCURRENCY", 1),
    LMS: ("CELERY_LMS_CONCURRENCY", 1),
}

ROUTES = {
    "labs.grade_submission": {"queue": GRADE},
    "labs.provision_sandbox": {"queue": PROVISION},
    "labs.remove_sandbox": {"queue": HOUSEKEEPING},
    "labs.reap_sandboxes": {"queue": HOUSEKEEPING},
    "labs.refill_pools": {"queue": HOUSEKEEPING},
    "lti.post_score": {"queue": LMS},
    "lti.flush_scores": {"queue": LMS},
}


def concurrency(queue, environ=os.environ):
    """Processes for a queue's worker: the environment's value, else the default; at least 1."""
    variable, default = CONCURRENCY[queue]
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number of worker processes, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{variable} must be at least 1, not {value}")
    return value


def worker_command(celery, queue, environ=os.environ):
    """The `celery worker` command line of one queue's worker (its node name says which queue)."""
    return [
        str(celery), "-A", "drydock", "worker", "--loglevel", "INFO", "-Q", queue, "-n", f"{queue}@%h",
        "--concurrency", str(concurrency(queue, environ)),
    ]
