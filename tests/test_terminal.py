"""The terminal consumer, with Channels' communicator, against a real sandbox."""

import asyncio
import json
import re
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from courses.packs import load_pack
from drydock.asgi import application
from grader import engine
from labs.models import Sandbox
from labs.terminal import CLOSE_ENDED, CLOSE_REFUSED, CLOSE_TOO_BIG, CLOSE_TOO_MANY, CLOSE_UNAUTHENTICATED

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def no_terminal_leases_from_earlier_runs(settings):
    """User ids restart with each test database; leases of an earlier run must not count against them."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("drydock:terminal-leases:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def course(transactional_db, shipped_pack):
    return load_pack(shipped_pack).course


@pytest.fixture
def alice(transactional_db):
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123456")


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def communicator(sandbox_id, user=None, origin=ORIGIN, query="rows=24&cols=80"):
    headers = [origin] + ([await sync_to_async(session_cookie)(user)] if user else [])
    return WebsocketCommunicator(application, f"/ws/bacs-a-sable/{sandbox_id}/terminal/?{query}", headers=headers)


async def attached(sandbox, user):
    """A terminal of the user's sandbox, connected and ready for input."""
    socket = await communicator(sandbox.pk, user)
    connected, code = await socket.connect(timeout=20)
    assert connected, code
    await expect_status(socket, "ready")
    return socket


async def expect_status(socket, kind, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await socket.receive_from(timeout=timeout)
        if isinstance(message, str):
            data = json.loads(message)
            if data["type"] == kind:
                return data


ANSI = re.compile(r"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|[=>])")


async def type_and_read(socket, text, until, timeout=20):
    await socket.send_to(text_data=json.dumps({"type": "input", "data": text}))
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = await socket.receive_output(timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if message["type"] == "websocket.send" and message.get("bytes"):
            seen += message["bytes"]
            text = ANSI.sub("", seen.decode("utf-8", "replace"))
            if until in text:
                return text
        elif message["type"] == "websocket.close":
            break
    raise AssertionError(f"did not see {until!r} in {seen[-500:]!r}")


@pytest.mark.asyncio
async def test_owner_runs_docker_version_and_resizes(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    output = await type_and_read(socket, "docker version --format 'server={{.Server.Version}}'\r", "server=26.")
    assert "server=26." in output  # Debian 13's Docker 26 in the sandbox
    await socket.send_to(text_data=json.dumps({"type": "resize", "rows": 40, "cols": 132}))
    await asyncio.sleep(0.3)
    assert "40 132" in await type_and_read(socket, "stty size\r", "40 132")
    await socket.disconnect()


@pytest.mark.asyncio
async def test_reconnecting_finds_the_same_shell(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    first = await attached(sandbox, alice)
    await type_and_read(first, "export DRYDOCK_MARK=kept-$((6*7)); sleep 600 &\r", "$")
    await first.disconnect()
    second = await attached(sandbox, alice)
    output = await type_and_read(second, "echo mark=$DRYDOCK_MARK jobs=$(jobs | wc -l)\r", "jobs=1")
    assert "mark=kept-42" in output
    await second.disconnect()


@pytest.mark.asyncio
async def test_another_learner_is_refused_without_details(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    bob = await sync_to_async(User.objects.create_user)("bob", "bob@example.com", "pw-bob-1234567")
    socket = await communicator(sandbox.pk, bob)
    connected, code = await socket.connect(timeout=10)
    assert not connected and code == CLOSE_REFUSED
    missing = await communicator(sandbox.pk + 1000, bob)
    connected, code = await missing.connect(timeout=10)
    assert not connected and code == CLOSE_REFUSED  # the same answer as for a sandbox that exists


@pytest.mark.asyncio
async def test_anonymous_and_foreign_origins_are_refused(alice, course):
    connected, code = await (await communicator(1, None)).connect(timeout=10)
    assert not connected and code == CLOSE_UNAUTHENTICATED
    foreign = await communicator(1, alice, origin=(b"origin", b"http://evil.example"))
    connected, _ = await foreign.connect(timeout=10)
    assert not connected


@pytest.mark.asyncio
async def test_an_ended_sandbox_closes_the_terminal_and_says_why(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    await sync_to_async(Sandbox.objects.filter(pk=sandbox.pk).update)(status=Sandbox.Status.EXPIRED, failure="Sa durée de vie est écoulée.")
    ended = await expect_status(socket, "ended", timeout=15)
    assert ended["status"] == "expired" and "expiré" in ended["message"] and "durée de vie" in ended["message"]
    assert (await socket.receive_output(timeout=5))["code"] == CLOSE_ENDED


@pytest.mark.asyncio
async def test_a_yes_flood_is_bounded_and_ctrl_c_still_works(alice, course, ready_sandbox_for, settings):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    await socket.send_to(text_data=json.dumps({"type": "input", "data": "yes drydock\r"}))
    received, started = 0, time.monotonic()
    while time.monotonic() - started < 3:
        try:
            message = await socket.receive_output(timeout=0.5)
        except asyncio.TimeoutError:
            continue
        received += len(message.get("bytes") or b"")
    rate = settings.TERMINAL_OUTPUT_BYTES_PER_SECOND
    assert 0 < received <= rate * 4 + rate // 2
    output = await type_and_read(socket, "\x03echo flood-$((1+1))\r", "flood-2", timeout=30)
    assert "flood-2" in output
    await socket.disconnect()


@pytest.mark.asyncio
async def test_an_oversized_message_closes_the_terminal(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    await socket.send_to(text_data=json.dumps({"type": "input", "data": "x" * 70_000}))
    while True:
        message = await socket.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            assert message["code"] == CLOSE_TOO_BIG
            break


@pytest.mark.asyncio
async def test_an_idle_terminal_stays_connected(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    await asyncio.sleep(8)  # longer than the channel layer's blocking read
    assert "idle-ok" in await type_and_read(socket, "echo idle-$((1-1))ok | tr -d 0\r", "idle-ok")
    await socket.disconnect()


@pytest.mark.asyncio
async def test_tab_completion_interactive_containers_and_typing_counts_as_activity(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    await sync_to_async(Sandbox.objects.filter(pk=sandbox.pk).update)(last_activity_at=sandbox.requested_at)
    socket = await attached(sandbox, alice)
    assert "version" in await type_and_read(socket, "docker vers\t", "version")
    await socket.send_to(text_data=json.dumps({"type": "input", "data": "\x15"}))  # Ctrl-U clears the line
    await type_and_read(socket, "docker pull -q busybox:1.35\r", "busybox:1.35")
    await type_and_read(socket, "docker run --rm -it busybox:1.35 sh\r", "/ #")
    assert "inside-5" in await type_and_read(socket, "echo inside-$((2+3))\r", "inside-5")
    await type_and_read(socket, "exit\r", "#")
    refreshed = await sync_to_async(Sandbox.objects.get)(pk=sandbox.pk)
    assert refreshed.last_activity_at > sandbox.requested_at
    await socket.disconnect()


@pytest.mark.asyncio
async def test_a_learner_cannot_open_more_terminals_than_allowed(alice, course, ready_sandbox_for, settings):
    settings.TERMINALS_PER_LEARNER = 2
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    opened = []
    for _ in range(2):
        socket = await attached(sandbox, alice)
        opened.append(socket)
    third = await communicator(sandbox.pk, alice)
    await third.connect(timeout=20)
    refused = await expect_status(third, "error")
    assert "Trop de terminaux" in refused["message"]
    assert (await third.receive_output(timeout=5))["code"] == CLOSE_TOO_MANY
    await opened[0].disconnect(timeout=10)
    again = await communicator(sandbox.pk, alice)
    await again.connect(timeout=20)
    assert (await expect_status(again, "ready"))["type"] == "ready"
    for socket in [opened[1], again]:
        await socket.disconnect()


@pytest.mark.asyncio
async def test_a_second_terminal_is_another_shell_on_the_same_sandbox(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    first = await attached(sandbox, alice)
    await type_and_read(first, "export DRYDOCK_TAB=one; touch /root/made-in-one; echo ok-$((1+1))\r", "ok-2")
    second = await communicator(sandbox.pk, alice, query="rows=24&cols=80&session=2")
    connected, code = await second.connect(timeout=20)
    assert connected, code
    await expect_status(second, "ready")
    output = await type_and_read(second, "echo s=$(tmux display-message -p '#S') tab=${DRYDOCK_TAB:-none} files=$(ls /root/made-in-one | wc -l)\r", "files=1")
    assert "s=drydock-2 tab=none files=1" in output
    # A number past the learner's limit is the first terminal, not a new shell.
    beyond = await communicator(sandbox.pk, alice, query="rows=24&cols=80&session=9")
    await beyond.connect(timeout=20)
    await expect_status(beyond, "ready")
    assert "s=drydock tab=one" in await type_and_read(beyond, "echo s=$(tmux display-message -p '#S') tab=$DRYDOCK_TAB\r", "tab=one")
    for socket in [first, second, beyond]:
        await socket.disconnect()


@pytest.mark.asyncio
async def test_the_wheel_keys_scroll_tmux_history_of_thousands_of_lines(alice, course, ready_sandbox_for):
    sandbox = await sync_to_async(ready_sandbox_for)(alice)
    socket = await attached(sandbox, alice)
    await type_and_read(socket, "seq 1 6000; echo seq-$((2*3))k\r", "seq-6k")
    await asyncio.sleep(0.5)
    # What static/js/terminal.js sends for a long turn of the wheel: tmux shows how far up it is.
    output = await type_and_read(socket, engine.TERMINAL_KEYS["line-up"] * 5000, "[5000/")
    assert int(re.search(r"\[5000/(\d+)\]", output)[1]) >= 5900  # tmux holds the whole output
    assert re.search(r"(?<![\d\[])10\d\d(?![\d/])", output)  # and shows line 1000 or so, not only its count
    back = await type_and_read(socket, engine.TERMINAL_KEYS["leave-history"] + "echo back-$((40+2))\r", "back-42")
    assert "back-42" in back
    await socket.disconnect()
