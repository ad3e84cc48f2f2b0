"""Celery tasks: thin wrappers that take ids and call the domain functions.

Each task's time limits are the ones of record (there is no global default):
provisioning waits for a nested daemon and runs a lab's setup steps, so it
gets minutes; a removal, a check or a reaper pass gets a minute or two.
"""

import logging

from celery import shared_task

from grader import engine
from labs import grading, holding, playgrounds, queue, sandboxes

log = logging.getLogger(__name__)


@shared_task(name=queue.PROVISION_SANDBOX, acks_late=True, soft_time_limit=600, time_limit=660)
def provision_sandbox(sandbox_id):
    sandboxes.provision(sandbox_id, engine=engine.default())


@shared_task(name=queue.REMOVE_SANDBOX, acks_late=True, soft_time_limit=60, time_limit=90)
def remove_sandbox_container(sandbox_id):
    # The sandbox's end: what had to hold until then is judged a last time, while its daemon still answers.
    holding.judge_at_end(sandbox_id, engine=engine.default())
    sandboxes.remove_container(sandbox_id, engine=engine.default())


@shared_task(name=queue.GRADE_SUBMISSION, acks_late=True, soft_time_limit=60, time_limit=90)
def grade_submission(submission_id):
    grading.grade(submission_id, engine=engine.default())


@shared_task(name=queue.REAP_SANDBOXES, soft_time_limit=120, time_limit=150)
def reap_sandboxes():
    counts = sandboxes.reap(engine=engine.default())
    return {**counts, **playgrounds.reap_storage(engine=engine.default())}


@shared_task(name=queue.REFILL_POOLS, soft_time_limit=60, time_limit=90)
def refill_pools():
    made = sandboxes.refill_pools()
    if made:
        log.info("warm pool: requested sandboxes %s", made)
    return len(made)
