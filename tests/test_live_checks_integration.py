"""Live checks for real: a sandbox on the Docker engine, the real watcher process, Redis's channel layer.

A `docker pull` in the sandbox turns the task green on the lab page's channel with no click; a wrong one
does not; a watcher killed and started again resumes (and catches up what happened meanwhile); a stopped
sandbox's watch ends; the timeline shows what was done, in order; a server that listens a moment after its
container started turns its task green by the watcher's one follow-up re-grade, with no event after the start.
"""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from drydock.asgi import application
from grader import engine
from labs import sandboxes
from labs.models import Lab, SandboxEvent, Submission
from tests.conftest import wait_until
from tests.test_sandboxes import alice, course, in_sandbox  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
LAB = "tirer-une-version"


def passed(user, slug):
    return Submission.objects.filter(user=user, task__slug=slug, status=Submission.Status.PASSED).first()


def watching(watcher, sandbox, connections=1):
    return f"watch connected sandbox {sandbox.pk} ({connections})" in watcher.text()


async def live_page(user, lab):
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    socket = WebsocketCommunicator(application, f"/ws/tp/{lab.pk}/direct/", headers=[(b"origin", b"http://localhost"), cookie])
    connected, code = await socket.connect(timeout=10)
    assert connected, code
    return socket


async def until_passed(socket, slug, timeout):
    """Messages pushed to the page until one passes `slug`; returns (seconds, lines seen)."""
    started, lines = time.monotonic(), []
    while True:
        message = await socket.receive_json_from(timeout=max(0.01, timeout - (time.monotonic() - started)))
        if message["type"] != "update":
            continue  # word that the sandbox or a Check changed (labs/push.py)
        lines += [line["text"] for line in message["lines"]]
        if any(p["task"] == slug for p in message["passed"]):
            return time.monotonic() - started, lines


def test_a_docker_pull_turns_the_task_green_on_the_page_without_a_click(course, alice, ready_sandbox_for, live_watcher):
    lab = Lab.objects.get(slug=LAB)
    sandbox = ready_sandbox_for(alice, LAB)
    # Its daemon starts on demand (the lab has no set-up command): the watcher, which looks every second, does not start it.
    time.sleep(2.5)
    assert not watching(live_watcher, sandbox) and not engine.default().daemon_started(sandbox.container_name, sandboxes.socket_dir(sandbox))

    async def scenario():
        socket = await live_page(alice, lab)
        try:
            # A wrong pull, which starts the daemon: the watcher follows it from then, from the sandbox's start.
            await asyncio.to_thread(in_sandbox, sandbox, "docker pull nginx:1.26")
            await asyncio.to_thread(wait_until, lambda: watching(live_watcher, sandbox), 20, message="the watcher to follow the sandbox")
            await asyncio.sleep(1.0)
            assert await asyncio.to_thread(passed, alice, "tirer-nginx-1-22") is None
            started = time.monotonic()
            await asyncio.to_thread(in_sandbox, sandbox, "docker pull nginx:1.22")
            pulled = time.monotonic() - started
            seconds, lines = await until_passed(socket, "tirer-nginx-1-22", timeout=5)
            return pulled, seconds, lines
        finally:
            await socket.disconnect()

    pulled, seconds, lines = asyncio.run(scenario())
    submission = passed(alice, "tirer-nginx-1-22")
    assert submission.automatic and submission.sandbox_id == sandbox.pk
    # After the pull command returned, the page heard of it within a second.
    assert seconds < 1.0, (pulled, seconds)
    assert "a tiré nginx:1.22" in lines and "tâche 1 réussie (Tirer nginx en version 1.22)" in lines
    # The answer-field task is left to Check; nginx:1.22 and 1.26 on the daemon pass "autre-version" too.
    assert passed(alice, "identifiant-de-latest") is None
    assert passed(alice, "autre-version").automatic

    # The page and its timeline, in order, the wrong action first.
    page = Client()
    page.force_login(alice)
    text = page.get(lab.get_absolute_url()).text
    assert text.index("a tiré nginx:1.26") < text.index("a tiré nginx:1.22") < text.index("tâche 1 réussie")
    assert 'class="task is-passed" id="tache-tirer-nginx-1-22"' in text


def test_a_killed_watcher_resumes_and_catches_up_and_a_stopped_sandboxs_watch_ends(course, alice, ready_sandbox_for, live_watcher):
    sandbox = ready_sandbox_for(alice, LAB)
    in_sandbox(sandbox, "docker pull busybox:1.35")  # starts its daemon (on demand)
    wait_until(lambda: watching(live_watcher, sandbox), 20, message="the watcher to follow the sandbox")
    wait_until(lambda: SandboxEvent.objects.filter(sandbox=sandbox, object="busybox:1.35").exists(), 5, message="the first event recorded")

    live_watcher.kill()
    # Done while nobody watched: the restarted watcher grades it, and the timeline gets the event once.
    in_sandbox(sandbox, "docker pull nginx:1.22")
    live_watcher.start()
    wait_until(lambda: passed(alice, "tirer-nginx-1-22"), 20, message="the task passed after the restart")
    wait_until(lambda: SandboxEvent.objects.filter(sandbox=sandbox, action="pull", object="nginx:1.22").exists(), 5, message="the missed event")
    time.sleep(0.5)
    assert SandboxEvent.objects.filter(sandbox=sandbox, object="busybox:1.35").count() == 1
    assert SandboxEvent.objects.filter(sandbox=sandbox, action="pull", object="nginx:1.22").count() == 1

    sandboxes.stop(sandbox)
    wait_until(lambda: f"watch end sandbox {sandbox.pk}" in live_watcher.text(), 10, message="the stopped sandbox's watch to end")


def test_a_server_that_listens_a_moment_after_its_start_turns_green_without_another_event(course, alice, ready_sandbox_for, live_watcher):
    lab = Lab.objects.get(slug="publier-un-port")
    sandbox = ready_sandbox_for(alice, "publier-un-port")
    wait_until(lambda: watching(live_watcher, sandbox), 20, message="the watcher to follow the sandbox")
    # nginx:1.22 was pulled by the lab's setup: the container's start is the last event; its server listens a second later.
    command = """docker run -d --name web -p 8080:80 nginx:1.22 sh -c 'sleep 1; exec nginx -g "daemon off;"'"""

    async def scenario():
        socket = await live_page(alice, lab)
        try:
            started = time.monotonic()
            await asyncio.to_thread(in_sandbox, sandbox, command)
            ran = time.monotonic() - started
            seconds, _lines = await until_passed(socket, "publier-web", timeout=6)
            return ran, seconds
        finally:
            await socket.disconnect()

    ran, seconds = asyncio.run(scenario())
    submission = passed(alice, "publier-web")
    assert submission.automatic and "répond 200" in submission.message
    # Not at the start's re-grade (nothing listened yet), but at the follow-up ~1.5 s later.
    assert 0.8 < ran + seconds < 4.0, (ran, seconds)
    start = SandboxEvent.objects.filter(sandbox=sandbox, type="container", action="start", object="web").get()
    later = SandboxEvent.objects.filter(sandbox=sandbox, kind=SandboxEvent.Kind.DAEMON, at__gt=start.at).exclude(action__startswith="exec")
    assert list(later.values_list("type", "action")) == []


def test_a_task_that_must_hold_turns_back_on_the_page_when_the_learner_undoes_it(course, alice, ready_sandbox_for, live_watcher):
    lab = Lab.objects.get(slug="faire-le-menage")
    sandbox = ready_sandbox_for(alice, "faire-le-menage")
    wait_until(lambda: watching(live_watcher, sandbox), 20, message="the watcher to follow the sandbox")

    async def scenario():
        socket = await live_page(alice, lab)
        try:
            await asyncio.to_thread(in_sandbox, sandbox, "docker container prune -f --filter label!=garder=oui")
            await until_passed(socket, "conteneurs-arretes", timeout=5)
            # The container the task keeps, removed afterwards: the page hears the task is no longer passed.
            await asyncio.to_thread(in_sandbox, sandbox, "docker rm journal")
            while True:
                message = await socket.receive_json_from(timeout=5)
                undone = [r for r in message["regressed"] if r["task"] == "conteneurs-arretes"]
                if undone:
                    return undone[0]
        finally:
            await socket.disconnect()

    undone = asyncio.run(scenario())
    assert undone["message"].startswith("Ce n'est plus vrai : ") and "journal" in undone["message"]
    history = list(Submission.objects.filter(user=alice, task__slug="conteneurs-arretes").order_by("pk").values_list("status", "automatic"))
    assert history == [("passed", True), ("regressed", True)]
    page = Client()
    page.force_login(alice)
    text = page.get(lab.get_absolute_url()).text
    assert 'class="task" id="tache-conteneurs-arretes"' in text and "tâche 2 plus réussie" in text
