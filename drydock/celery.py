import os

from celery import Celery
from celery.signals import celeryd_after_setup

from drydock import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drydock.settings")

app = Celery("drydock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def run_at_the_priority_of_its_kind(sender, **_kwargs):
    """A worker of background work (provisioning, housekeeping) lowers its priority before its pool forks, so
    its processes and the commands they run (cp, mount, mkfs) yield the cores to the web and to grading."""
    steps = queues.niceness(queues.kind_of_node(str(sender)))
    if steps:
        os.nice(steps)
