"""Celery tasks of the LTI app: thin, they take ids and call lti/outbox.py."""

import logging

from celery import shared_task

from lti import outbox, queue

log = logging.getLogger(__name__)


@shared_task(bind=True, name=queue.POST_SCORE, acks_late=True, max_retries=8, soft_time_limit=60, time_limit=90)
def post_score(self, score_id):
    try:
        outbox.send(score_id, retries=self.request.retries)
    except outbox.RetryLater as exc:
        if self.request.retries >= self.max_retries:
            # Still pending in the outbox: the beat's flush keeps trying, nothing is lost.
            log.warning("lti: score %s: Celery retries used up, left to the outbox flush", score_id)
            return
        raise self.retry(exc=exc, countdown=outbox.backoff(self.request.retries))


@shared_task(name=queue.FLUSH_SCORES, soft_time_limit=60, time_limit=90)
def flush_scores():
    overdue = outbox.overdue()
    for score_id in overdue:
        post_score.delay(score_id)
    return len(overdue)
