"""Celery tasks: thin wrappers that take ids, load rows, and call the domain functions.

Each task's time limits are the ones of record (there is no global default):
provisioning waits for a nested daemon and runs a lab's setup steps, so it
gets minutes; a removal, a check or a reaper pass gets a minute or two.

Work on a sandbox runs on its host's queue (labs/queue.py) and drives that
host's engine (labs/hosts.py), never a global one.
"""

import logging

from celery import shared_task
from django.conf import settings

from labs import grading, holding, hosts, playgrounds, queue, sandboxes
from labs.models import DockerHost, Submission

log = logging.getLogger(__name__)


@shared_task(name=queue.PROVISION_SANDBOX, acks_late=True, soft_time_limit=600, time_limit=660)
def provision_sandbox(sandbox_id):
    sandboxes.provision(sandbox_id, engine=hosts.engine_for_sandbox(sandbox_id))


@shared_task(name=queue.REMOVE_SANDBOX, acks_late=True, soft_time_limit=60, time_limit=90)
def remove_sandbox_container(sandbox_id):
    # The sandbox's end: what had to hold until then is judged a last time, while its daemon still answers.
    sandbox_engine = hosts.engine_for_sandbox(sandbox_id)
    holding.judge_at_end(sandbox_id, engine=sandbox_engine)
    sandboxes.remove_container(sandbox_id, engine=sandbox_engine)


@shared_task(name=queue.GRADE_SUBMISSION, acks_late=True, soft_time_limit=60, time_limit=90)
def grade_submission(submission_id):
    sandbox_id = Submission.objects.filter(pk=submission_id).values_list("sandbox_id", flat=True).first()
    grading.grade(submission_id, engine=hosts.engine_for_sandbox(sandbox_id))


@shared_task(name=queue.REAP_SANDBOXES, soft_time_limit=120, time_limit=150)
def reap_sandboxes():
    """The central pass over the rows; each host that answers then sweeps its own engine on its own queue."""
    counts = sandboxes.reap_rows()
    for host in DockerHost.objects.exclude(state=DockerHost.State.DOWN):
        queue.send(queue.REAP_HOST, host.name, host=host.name, expires=120)
    counts["admitted"] = len(sandboxes.admit_waiting())
    return counts


@shared_task(name=queue.REAP_HOST, soft_time_limit=120, time_limit=150)
def reap_host(host_name):
    host = DockerHost.objects.get(name=host_name)
    engine = hosts.engine_for(host)
    counts = sandboxes.reap_host(host, engine=engine)
    counts["admitted"] = len(sandboxes.admit_waiting())
    return {**counts, **playgrounds.reap_storage(engine=engine)}


@shared_task(name=queue.REFILL_POOLS, soft_time_limit=60, time_limit=90)
def refill_pools():
    made = sandboxes.refill_pools()
    if made:
        log.info("warm pool: requested sandboxes %s", made)
    return len(made)


@shared_task(name=queue.HOST_HEARTBEAT, soft_time_limit=20, time_limit=30)
def host_heartbeat(host_name):
    hosts.beat(host_name)


@shared_task(name=queue.CHECK_HOSTS, soft_time_limit=30, time_limit=45)
def check_hosts():
    """Ask every host's worker for a heartbeat (expiring with the next ask), then mark the silent ones down."""
    hosts.default_host()
    for name in DockerHost.objects.values_list("name", flat=True):
        queue.send(queue.HOST_HEARTBEAT, name, host=name, expires=settings.HOST_HEARTBEAT_EVERY_SECONDS)
    return sandboxes.fail_silent_hosts()
