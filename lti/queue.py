"""LTI work handed to Celery by task name, once the current transaction commits (as labs/queue.py does)."""

from celery import current_app
from django.db import transaction

POST_SCORE = "lti.post_score"
FLUSH_SCORES = "lti.flush_scores"


def after_commit(task_name, *args):
    transaction.on_commit(lambda: current_app.send_task(task_name, args=args))
