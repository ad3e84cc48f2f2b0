"""The lab page is told when its sandbox or a Check's verdict changes (labs/push.py), on the in-memory engine and
channel layer: what is said, to whom, in which order, and that a channel layer that fails loses nothing else."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.utils import timezone

from courses.models import Chapter, Course
from grader.fake_engine import FakeEngine
from grader.snapshot import Image, Snapshot
from labs import grading, push, queue, sandboxes
from labs.models import Lab, LabTask, Sandbox, Submission
from tests.test_live_checks_integration import live_page

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY
    return get_channel_layer()


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(course=course, chapter=chapter, slug="tirer", title="Tirer", minutes=5, position=1,
                             source_path="labs/tirer.yaml", instructions_markdown="", instructions_html="",
                             setup=[{"label": "Préparer le dossier", "run": "mkdir -p /root/site"}])
    LabTask.objects.create(lab=lab, slug="tirer-nginx", title="Tirer nginx", position=1, prompt_html="", check_name="image_present", check_params={"image": "nginx:1.22"})
    return lab


@pytest.fixture
def no_tasks_queued(monkeypatch):
    monkeypatch.setattr(queue, "after_commit", lambda *args, **kwargs: None)


def listening(layer, user, lab):
    """A channel in the learner's page group of the lab, as labs/live_consumer.py joins it."""
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(push.group_name(user.pk, lab.pk), channel)
    return channel


def told(layer, channel):
    """Everything the channel was sent so far, in order."""
    async def drain():
        heard = []
        while True:
            try:
                heard.append(await asyncio.wait_for(layer.receive(channel), 0.05))
            except TimeoutError:
                return heard

    return async_to_sync(drain)()


@pytest.mark.usefixtures("no_tasks_queued")
def test_a_learners_page_is_told_of_each_step_of_the_sandbox_and_when_it_is_ready(layer, lab, django_capture_on_commit_callbacks):
    lea = User.objects.create_user("lea")
    channel = listening(layer, lea, lab)
    fake = FakeEngine()
    with django_capture_on_commit_callbacks(execute=True):
        row = sandboxes.request_sandbox(user=lea, lab=lab, engine=fake)
    with django_capture_on_commit_callbacks(execute=True):
        row = sandboxes.provision(row.pk, engine=fake)
    assert row.status == Sandbox.Status.READY
    # Given room on a host (waiting for a worker), then prepared: the container (step 0), its daemon (1),
    # the lab's one set-up step (2), ready.
    assert told(layer, channel) == [{"type": "page.changed", "what": "sandbox", "sandbox": row.pk}] * 5
    with django_capture_on_commit_callbacks(execute=True):
        sandboxes.stop(row)
    assert told(layer, channel) == [{"type": "page.changed", "what": "sandbox", "sandbox": row.pk}]


@pytest.mark.usefixtures("no_tasks_queued")
def test_nobody_is_told_of_a_warm_pool_sandbox_nor_is_another_learner(layer, lab, django_capture_on_commit_callbacks):
    lea, max_ = User.objects.create_user("lea"), User.objects.create_user("max")
    heard_by_lea, heard_by_max = listening(layer, lea, lab), listening(layer, max_, lab)
    fake = FakeEngine()
    now = timezone.now()
    pool = Sandbox.objects.create(owner=None, lab=lab, expires_at=now + timedelta(minutes=30), last_activity_at=now, steps_total=3)
    with django_capture_on_commit_callbacks(execute=True):
        sandboxes.provision(pool.pk, engine=fake)
        own = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert own.owner == lea
    assert told(layer, heard_by_max) == []
    assert {message["sandbox"] for message in told(layer, heard_by_lea)} == {own.pk}


@pytest.mark.usefixtures("no_tasks_queued")
def test_a_checks_verdict_is_told_to_the_page_with_its_task(layer, lab, django_capture_on_commit_callbacks):
    lea = User.objects.create_user("lea")
    fake = FakeEngine()
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    channel = listening(layer, lea, lab)
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=(Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",), digests=("nginx@sha256:" + "d" * 64,)),))
    submission = grading.submit(user=lea, task=lab.tasks.get(), sandbox=sandbox)
    assert told(layer, channel) == []  # queued: nothing to show yet
    with django_capture_on_commit_callbacks(execute=True):
        graded = grading.grade(submission.pk, engine=fake)
    assert graded.status == Submission.Status.PASSED
    assert told(layer, channel) == [{"type": "page.changed", "what": "check", "task": "tirer-nginx", "submission": submission.pk}]


@pytest.mark.usefixtures("no_tasks_queued")
def test_a_channel_layer_that_fails_costs_the_page_a_delay_and_the_sandbox_nothing(lab, django_capture_on_commit_callbacks, monkeypatch, caplog):
    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(push, "get_channel_layer", lambda: BrokenLayer())
    lea = User.objects.create_user("lea")
    fake = FakeEngine()
    with django_capture_on_commit_callbacks(execute=True):
        row = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert row.status == Sandbox.Status.READY
    assert "not told of sandbox" in caplog.text and "Redis is restarting" in caplog.text


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_live_channel_passes_on_what_changed_and_nothing_else_of_the_message(layer, lab):
    lea = await sync_to_async(User.objects.create_user)("lea")
    socket = await live_page(lea, lab)
    try:
        await layer.group_send(push.group_name(lea.pk, lab.pk), {"type": "page.changed", "what": "check", "task": "tirer-nginx", "submission": 7, "secret": "x"})
        assert await socket.receive_json_from(timeout=5) == {"type": "changed", "what": "check", "task": "tirer-nginx", "submission": 7}
    finally:
        await socket.disconnect()


@pytest.mark.asyncio
async def test_a_send_on_an_event_loops_own_thread_goes_from_that_loop_without_blocking_it(layer):
    channel = await layer.new_channel()
    await layer.group_add(push.group_name(7, 3), channel)
    # What a sandbox fixture of an async test does, provisioning on the loop's thread: async_to_sync cannot run there.
    push._send(push.group_name(7, 3), {"type": "page.changed", "what": "sandbox", "sandbox": 41})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "page.changed", "what": "sandbox", "sandbox": 41}
