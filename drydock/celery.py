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
        lower_session(steps)


def lower_session(steps):
    """Where the kernel schedules by session (autogroup, Debian's default: kernel.sched_autogroup_enabled=1), a
    niceness weighs only against the session's own processes, and each session shares the cores equally with the
    others: a worker leading its own session (as bin/drydock starts them) also lowers its session's weight."""
    if os.getsid(0) != os.getpid():
        return  # in someone else's session (a shell's, a test's): theirs is not ours to lower
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(steps))
    except OSError:
        pass  # no autogroup in this kernel, or not allowed: the niceness above is all there is
