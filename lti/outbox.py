"""Posting the outbox's scores to the platforms' line items (LTI AGS), one row at a time, until acknowledged.

A row is claimed with a conditional UPDATE (a lease), so a Celery retry and
the beat's flush never post it at the same instant; every try sends the
row's own timestamp, which the AGS spec tells platforms to use to ignore a
score they already hold. An answer worth trying again (no answer, 401, 429,
5xx) leaves the row pending with the time of its next try; one that can
never succeed (400, 403, 404…) marks it failed, logged.
"""

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from lti import platform_client, tokens
from lti.models import Score

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)
# The beat re-sends a pending row only once its Celery retry is this late: the worker lost it, or gave up.
FLUSH_GRACE = timedelta(minutes=2)
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600


class RetryLater(Exception):
    """The platform did not take the score this time; the row waits for its next try."""


def backoff(retries):
    """Seconds before try number `retries + 1`: 30 s, doubling, at most an hour."""
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** retries)


def payload(score):
    return {
        "userId": score.lti_user.sub,
        "scoreGiven": score.score_given,
        "scoreMaximum": score.score_maximum,
        "activityProgress": score.activity_progress,
        "gradingProgress": score.grading_progress,
        "timestamp": score.timestamp.isoformat(timespec="milliseconds"),
    }


def send(score_id, *, retries=0, now=None):
    """Post one pending score. Returns the row; raises RetryLater when the platform should be asked again."""
    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    claimed = Score.objects.filter(free, pk=score_id, status=Score.Status.PENDING).update(
        claimed_until=now + LEASE, attempts=F("attempts") + 1,
    )
    if not claimed:
        return Score.objects.filter(pk=score_id).first()
    score = Score.objects.select_related("lti_user", "resource_link__deployment__platform").get(pk=score_id)
    platform = score.resource_link.deployment.platform
    scopes = [platform_client.SCORE_SCOPE]
    try:
        token = tokens.get(platform, scopes)
        platform_client.post_score(lineitem_url=score.resource_link.lineitem_url, token=token, score=payload(score))
    except platform_client.PlatformError as exc:
        if exc.status == 401:
            tokens.forget(platform, scopes)
        if exc.retryable or exc.status == 401:
            delay = backoff(retries)
            Score.objects.filter(pk=score.pk).update(
                claimed_until=None, last_error=str(exc)[:2000], next_attempt_at=now + timedelta(seconds=delay),
            )
            log.warning("lti: score %s not taken by %s (try %s), again in %s s: %s", score.pk, platform.name, score.attempts, delay, exc)
            raise RetryLater(str(exc)) from exc
        Score.objects.filter(pk=score.pk, status=Score.Status.PENDING).update(
            status=Score.Status.FAILED, claimed_until=None, last_error=str(exc)[:2000],
        )
        log.error("lti: score %s refused by %s for good: %s", score.pk, platform.name, exc)
        return Score.objects.get(pk=score.pk)
    Score.objects.filter(pk=score.pk, status=Score.Status.PENDING).update(
        status=Score.Status.SENT, sent_at=timezone.now(), claimed_until=None, last_error="",
    )
    log.info("lti: score %s posted to %s (%s/%s)", score.pk, platform.name, score.score_given, score.score_maximum)
    return Score.objects.get(pk=score.pk)


def overdue(now=None):
    """Pending rows whose retry is long past: the ones the beat sends again."""
    now = now or timezone.now()
    return list(
        Score.objects.filter(status=Score.Status.PENDING, next_attempt_at__lt=now - FLUSH_GRACE)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at").values_list("pk", flat=True)[:500]
    )
