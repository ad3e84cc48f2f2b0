"""The Celery tasks, as registered: what bounds them."""

from drydock.celery import app
from labs import tasks


def test_every_task_bounds_its_own_run_time():
    assert tasks.provision_sandbox.name in app.tasks
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    unbounded = [name for name, task in ours.items() if not (task.soft_time_limit and task.time_limit and task.time_limit > task.soft_time_limit)]
    assert ours and unbounded == []
