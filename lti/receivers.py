"""Grades announced by the quizzes and labs become outbox rows for the LMS (connected in LtiConfig.ready())."""

from django.dispatch import receiver

from labs.signals import task_passed, task_regressed
from lti import scores
from quizzes.signals import attempt_graded


@receiver(task_passed, dispatch_uid="lti.task_passed")
def lab_task_passed(sender, submission, **kwargs):
    if not scores.came_from_an_lms(submission.user_id):
        return
    scores.record(user=submission.user, lab=submission.task.lab)


@receiver(task_regressed, dispatch_uid="lti.task_regressed")
def lab_task_regressed(sender, submission, **kwargs):
    # A task that had to hold until the end no longer does: the lab's score goes down, and the LMS is told.
    if not scores.came_from_an_lms(submission.user_id):
        return
    scores.record(user=submission.user, lab=submission.task.lab)


@receiver(attempt_graded, dispatch_uid="lti.attempt_graded")
def quiz_attempt_graded(sender, attempt, **kwargs):
    if not scores.came_from_an_lms(attempt.user_id):
        return
    scores.record(user=attempt.user, quiz=attempt.quiz)
