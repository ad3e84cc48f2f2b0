"""The browser terminal: a websocket attached to a tty exec (a tmux session) in the learner's sandbox.

The exec is opened on the engine of the sandbox's host (labs/hosts.py), so a
sandbox on any Docker host is reached the same way, after the same owner check.
Input and output stream both ways without blocking the event loop (the exec's
socket is read with the loop's own non-blocking reads). Everything is bounded:
message size, output rate, terminals per learner. Only the sandbox's owner can
attach; anyone else is refused without a word about the sandbox.
"""

import asyncio
import json
import logging
import time
import uuid

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from grader import engine
from labs import hosts, sandboxes
from labs.access import find_sandbox_for_user
from labs.models import Sandbox

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REFUSED = 4403
CLOSE_TOO_BIG = 4413
CLOSE_TOO_MANY = 4429
CLOSE_ENDED = 4410
MAX_MESSAGE_BYTES = 64 * 1024
READ_CHUNK = 64 * 1024
ACTIVITY_EVERY_SECONDS = 30
WATCH_EVERY_SECONDS = 3
# An open terminal renews its lease as it watches its sandbox; a crashed server's leases lapse.
TERMINAL_LEASE_SECONDS = 60
# How long a closing terminal waits for each of its clean-ups (its tasks, Redis) before going on.
CLEANUP_SECONDS = 3


def tabs_limit():
    """How many terminals (tabs, each its own shell) the lab page offers on one sandbox."""
    return min(settings.TERMINALS_PER_LEARNER, engine.TERMINAL_SESSIONS)


class OutputBudget:
    """A token bucket: at most `rate` bytes a second on average, `burst` at once."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def delay_for(self, size):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= size
        return 0 if self.tokens >= 0 else -self.tokens / self.rate


@database_sync_to_async
def _status(pk):
    return Sandbox.objects.filter(pk=pk).values_list("status", "failure").first()


@database_sync_to_async
def _touch(sandbox):
    sandboxes.touch(sandbox)


def ended_message(status, failure):
    messages = {
        Sandbox.Status.STOPPED: _("Your sandbox was stopped."),
        Sandbox.Status.EXPIRED: _("Your sandbox expired."),
        Sandbox.Status.FAILED: _("Your sandbox failed."),
    }
    text = messages.get(status, _("Your sandbox is not ready yet."))
    return f"{text} {failure}".strip()


class TerminalConsumer(AsyncWebsocketConsumer):
    # A terminal is sent nothing through the channel layer: with no layer (an alias that names none)
    # it holds no blocking Redis read of its own while it lives, and has none to cancel when it closes.
    channel_layer_alias = "no-channel-layer"
    terminal = None
    counted = False

    async def connect(self):
        # Messages follow the interface language the learner chose (French unless they picked another).
        chosen = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        translation.activate(chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.sandbox = await database_sync_to_async(find_sandbox_for_user)(user, self.scope["url_route"]["kwargs"]["pk"])
        if self.sandbox is None:
            await self.close(code=CLOSE_REFUSED)
            return
        await self.accept()
        if self.sandbox.status != Sandbox.Status.READY:
            await self._end(self.sandbox.status, self.sandbox.failure)
            return
        self.redis = aioredis.from_url(settings.REDIS_URL)
        self.registry_key = f"drydock:terminal-leases:{user.pk}"
        self.lease = uuid.uuid4().hex
        self.counted = True
        if await self._register() > settings.TERMINALS_PER_LEARNER:
            self.counted = False
            await self._forget_lease()
            await self._send_status("error", _("Too many terminals are open (%(max)s at most): close one, then reload.") % {"max": settings.TERMINALS_PER_LEARNER})
            await self.close(code=CLOSE_TOO_MANY)
            return
        rows, cols, session = self._from_query()
        # The engine of the sandbox's own host (an exec connection to that host's engine URL), whichever host it is.
        self.engine = hosts.engine_for(self.sandbox.host)
        try:
            self.terminal = await asyncio.to_thread(
                self.engine.open_terminal, self.sandbox.container_name, rows=rows, cols=cols, session=session,
            )
        except engine.EngineUnavailable as exc:
            log.warning("terminal for sandbox %s: %s", self.sandbox.pk, exc)
            status, failure = await _status(self.sandbox.pk)
            await self._end(status if status != Sandbox.Status.READY else "unreachable", failure)
            return
        self.budget = OutputBudget(settings.TERMINAL_OUTPUT_BYTES_PER_SECOND, settings.TERMINAL_OUTPUT_BYTES_PER_SECOND // 2)
        self.last_activity = 0.0
        self.tasks = [asyncio.create_task(self._pump_output()), asyncio.create_task(self._watch_sandbox())]
        await self._send_status("ready", "")

    async def _register(self):
        """Note this terminal as open (refreshed while it lives); return how many the learner has open."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self.registry_key, 0, now - TERMINAL_LEASE_SECONDS)
            pipe.zadd(self.registry_key, {self.lease: now})
            pipe.expire(self.registry_key, TERMINAL_LEASE_SECONDS)
            pipe.zcard(self.registry_key)
            return (await pipe.execute())[-1]

    def _from_query(self):
        """Rows, columns and which of the sandbox's terminals (its tabs: 1 up to the learner's limit) to attach."""
        query = dict(part.split("=", 1) for part in self.scope.get("query_string", b"").decode().split("&") if "=" in part)
        try:
            rows, cols = max(5, min(int(query.get("rows", 24)), 300)), max(20, min(int(query.get("cols", 80)), 500))
        except ValueError:
            rows, cols = 24, 80
        session = query.get("session", "1")
        session = int(session) if session.isdigit() and 1 <= int(session) <= tabs_limit() else 1
        return rows, cols, session

    async def _send_status(self, kind, message, **extra):
        await self.send(text_data=json.dumps({"type": kind, "message": message, **extra}))

    async def _end(self, status, failure):
        if status == "unreachable":
            message = _("The terminal could not reach your sandbox. Reset it if this goes on.")
        else:
            message = ended_message(status, failure)
        await self._send_status("ended", message, status=status)
        await self.close(code=CLOSE_ENDED)

    async def _pump_output(self):
        loop = asyncio.get_running_loop()
        sock = self.terminal.socket
        try:
            while True:
                data = await loop.sock_recv(sock, READ_CHUNK)
                if not data:
                    break
                await self.send(bytes_data=data)
                delay = self.budget.delay_for(len(data))
                if delay:
                    # Not reading is the back-pressure: the program writing in the sandbox waits.
                    await asyncio.sleep(delay)
        except (OSError, asyncio.CancelledError):
            return
        status, failure = await _status(self.sandbox.pk)
        if status == Sandbox.Status.READY:
            await self._send_status("exited", _("The shell ended. Reconnect to open a new one."))
            await self.close(code=CLOSE_ENDED)
        else:
            await self._end(status, failure)

    async def _watch_sandbox(self):
        while True:
            await asyncio.sleep(WATCH_EVERY_SECONDS)
            await self._register()
            status, failure = await _status(self.sandbox.pk)
            if status != Sandbox.Status.READY:
                await self._end(status, failure)
                return

    async def receive(self, text_data=None, bytes_data=None):
        if self.terminal is None:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_MESSAGE_BYTES:
            await self._send_status("error", _("Message too large."))
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            message = json.loads(text_data) if text_data is not None else {"type": "input", "data": bytes_data.decode("utf-8", "replace")}
        except json.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "input" and isinstance(message.get("data"), str):
            loop = asyncio.get_running_loop()
            try:
                await loop.sock_sendall(self.terminal.socket, message["data"].encode("utf-8"))
            except OSError:
                return
            await self._note_activity()
        elif kind == "resize":
            try:
                rows, cols = int(message["rows"]), int(message["cols"])
            except (KeyError, TypeError, ValueError):
                return
            if 5 <= rows <= 300 and 20 <= cols <= 500:
                try:
                    await asyncio.to_thread(self.engine.resize_terminal, self.terminal.exec_id, rows=rows, cols=cols)
                except engine.EngineUnavailable:
                    pass
        elif kind == "ping":
            await self._send_status("pong", "")

    async def _note_activity(self):
        now = time.monotonic()
        if now - self.last_activity >= ACTIVITY_EVERY_SECONDS:
            self.last_activity = now
            await _touch(self.sandbox)

    async def disconnect(self, code):
        # The pump and the watch end first, so nothing else uses the Redis client or the exec's
        # socket while they are put away; each step is bounded, so a slow Redis or engine cannot
        # keep a closed websocket's consumer (and whatever awaits it) waiting.
        tasks = getattr(self, "tasks", [])
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                await asyncio.wait(tasks, timeout=CLEANUP_SECONDS)
            if self.counted:
                self.counted = False
                await self._forget_lease()
        finally:
            if self.terminal is not None:
                terminal, self.terminal = self.terminal, None
                await asyncio.to_thread(terminal.close)

    async def _forget_lease(self):
        """Take this terminal off the learner's open ones and close the Redis client, each within a
        bound: a lease left behind lapses by itself after TERMINAL_LEASE_SECONDS."""
        await self._within_bound(self.redis.zrem(self.registry_key, self.lease), "lease kept until it lapses")
        await self._within_bound(self.redis.aclose(), "Redis client not closed cleanly")

    async def _within_bound(self, step, failure):
        try:
            async with asyncio.timeout(CLEANUP_SECONDS):
                await step
        except Exception as exc:  # whatever Redis does, the next clean-up still runs
            log.warning("terminal %s: %s: %r", self.lease, failure, exc)
