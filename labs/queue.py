"""Work handed to the Celery workers, by task name, once the current transaction commits.

The tasks (labs/tasks.py) call into the sandbox lifecycle and grading; queueing
by name lets those modules hand work over without importing the tasks that
import them. The row the task will read is committed before the task is sent.
"""

from celery import current_app
from django.db import transaction

PROVISION_SANDBOX = "labs.provision_sandbox"
REMOVE_SANDBOX = "labs.remove_sandbox"
GRADE_SUBMISSION = "labs.grade_submission"
REAP_SANDBOXES = "labs.reap_sandboxes"
REFILL_POOLS = "labs.refill_pools"


def after_commit(task_name, *args):
    # current_app is the project's (drydock/__init__.py makes it so when Django starts); a Celery app
    # made elsewhere with set_as_current left on would take over, and the workers would never hear.
    transaction.on_commit(lambda: current_app.send_task(task_name, args=args))
