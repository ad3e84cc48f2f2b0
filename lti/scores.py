"""Grades as the LMS sees them: a target's score for a learner, and an outbox row per score to post.

A lab scores the share of its published tasks passed; a quiz its grade (the
quiz's own rule: best, last or average attempt); a chapter or a course the
mean of its labs and quizzes (one never attempted counts 0). Each is posted
on the activity's own maximum (100 unless deep linking said otherwise).
"""

import logging

from django.db import transaction
from django.utils import timezone

from labs.models import Lab, Submission
from lti import queue, targets
from lti.models import Launch, LtiUser, Score
from quizzes.models import Attempt, Quiz

log = logging.getLogger(__name__)


def lab_fraction(user, lab):
    total = lab.tasks.filter(is_published=True).count()
    if not total:
        return None
    # Passes that still hold: a task that had to hold until the end and no longer does is not counted.
    passed = Submission.objects.holding().filter(user=user, task__lab=lab, task__is_published=True).values("task_id").distinct().count()
    return passed / total


def quiz_fraction(user, quiz):
    scores = list(
        Attempt.objects.filter(quiz=quiz, user=user, status=Attempt.Status.SUBMITTED).order_by("number").values_list("score", flat=True)
    )
    return quiz.final_score([s for s in scores if s is not None])


def activities_of(target):
    """The labs and quizzes a target's grade is made of."""
    if target.kind == "lab":
        return [target.obj]
    if target.kind == "quiz":
        return [target.obj]
    where = {"chapter": target.obj} if target.kind == "chapter" else {"course": target.course, "chapter__is_published": True}
    return [*Quiz.objects.filter(is_published=True, **where), *Lab.objects.filter(is_published=True, **where)]


def fraction(user, target):
    """(share from 0 to 1, complete?) of a graded target for a learner; None when there is nothing to grade yet.

    Complete: every lab's tasks all passed and every quiz graded.
    """
    parts = []
    for activity in activities_of(target):
        if isinstance(activity, Lab):
            value = lab_fraction(user, activity)
            if value is None:
                continue  # a lab without tasks grades nothing
            parts.append((value, value >= 1))
        else:
            value = quiz_fraction(user, activity)
            parts.append((value, value is not None))
    if not parts or all(value is None for value, _ in parts):
        return None
    values = [value or 0.0 for value, _ in parts]
    return sum(values) / len(values), all(done for _, done in parts)


def keys_covering(*, lab=None, quiz=None):
    """Target keys whose grade moves when this lab or quiz does: itself, its chapter, its course."""
    activity = lab or quiz
    return [targets.key_of(activity), targets.key_of(activity.chapter), targets.key_of(activity.course)]


def came_from_an_lms(user_id):
    """Whether the learner ever launched from an LMS: one indexed query, so a grade of anyone else costs no more."""
    return LtiUser.objects.filter(user_id=user_id).exists()


def record(*, user, lab=None, quiz=None, now=None):
    """An outbox row for each of the learner's LMS activities this grade changes; each is posted after commit."""
    now = now or timezone.now()
    launches = Launch.objects.filter(
        lti_user__user=user, resource_link__target__in=keys_covering(lab=lab, quiz=quiz),
    ).exclude(resource_link__lineitem_url="").select_related("resource_link", "lti_user")
    made = []
    for launch in launches:
        link = launch.resource_link
        if not link.posts_scores:
            continue
        target = targets.resolve_key(link.target)
        result = fraction(user, target) if target is not None else None
        if result is None:
            continue
        share, complete = result
        with transaction.atomic():
            # A newer grade replaces one still waiting: the platform only ever needs the latest.
            Score.objects.filter(resource_link=link, lti_user=launch.lti_user, status=Score.Status.PENDING).update(status=Score.Status.SUPERSEDED)
            score = Score.objects.create(
                resource_link=link, lti_user=launch.lti_user,
                score_given=round(share * link.score_maximum, 2), score_maximum=link.score_maximum,
                activity_progress="Completed" if complete else "InProgress", grading_progress="FullyGraded",
                timestamp=now, next_attempt_at=now,
            )
        queue.after_commit(queue.POST_SCORE, score.pk)
        log.info("lti: score %s queued for %s on %s: %s/%s", score.pk, user, link, score.score_given, score.score_maximum)
        made.append(score)
    return made
