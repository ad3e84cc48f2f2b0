"""Work handed to the Celery workers, by task name, once the current transaction commits.

The tasks (labs/tasks.py) call into the sandbox lifecycle and grading; queueing
by name lets those modules hand work over without importing the tasks that
import them. The row the task will read is committed before the task is sent.

Work on one sandbox names its Docker host (`host=`, a DockerHost's name) and
goes to that host's queue of its kind (settings.SANDBOX_HOST_QUEUES, from
drydock/queues.py), whose worker talks to that host's engine.
"""

from celery import current_app
from django.conf import settings
from django.db import transaction

PROVISION_SANDBOX = "labs.provision_sandbox"
REMOVE_SANDBOX = "labs.remove_sandbox"
GRADE_SUBMISSION = "labs.grade_submission"
REAP_SANDBOXES = "labs.reap_sandboxes"
REFILL_POOLS = "labs.refill_pools"
REAP_HOST = "labs.reap_host"
HOST_HEARTBEAT = "labs.host_heartbeat"
CHECK_HOSTS = "labs.check_hosts"


def queue_for(task_name, host):
    """The queue of `host` that runs this task (None: the task's route in the settings)."""
    template = settings.SANDBOX_HOST_QUEUES.get(task_name)
    return template.format(host=host) if template and host else None


def send(task_name, *args, host=None, **options):
    """Send now (not after a commit): for tasks that read no row this transaction writes."""
    queue = queue_for(task_name, host)
    current_app.send_task(task_name, args=args, **({"queue": queue} if queue else {}), **options)


def after_commit(task_name, *args, host=None, **options):
    # current_app is the project's (drydock/__init__.py makes it so when Django starts); a Celery app
    # made elsewhere with set_as_current left on would take over, and the workers would never hear.
    transaction.on_commit(lambda: send(task_name, *args, host=host, **options))
