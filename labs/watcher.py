"""The sandbox watcher: one asyncio process following the event stream of every ready sandbox's nested daemon.

`manage.py watch_sandboxes` runs `Watcher().run()`. Every second it reads the
ready sandboxes from the database: it opens one connection (grader.events, on
the sandbox's own peer-checked socket) for each new one whose daemon was
started (one started on demand waits for its first client: the watcher's
connection would start it) and ends the watch of each that is no longer ready. A burst of events is coalesced (grader.events.
Coalescer: at most one re-grade per sandbox per 300 ms), and a check probing an
HTTP port that failed after them is tried once more 1.5 s later (a server that
listens a moment after its container started); the database and the
snapshot run in a thread pool (labs.live.record_and_regrade), so the loop never
blocks. What passed is pushed to the learner's lab page over the channel layer.
A lost connection is opened again and the sandbox re-graded once (what changed
meanwhile is caught up); a restarted watcher resumes every ready sandbox so.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.utils import translation

from grader import engine as docker_engine
from grader import events as daemon_events
from labs import live, push

log = logging.getLogger(__name__)

DISCOVER_EVERY_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 600
# A refused socket (not the sandbox's daemon) is tried again this much later; a lost one sooner, doubling.
REFUSED_RETRY_SECONDS = 5.0
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class SandboxWatch:
    """The watch of one sandbox: its event stream, its coalescer, its re-grades."""

    def __init__(self, watcher, sandbox_id, name, socket_dir, since):
        self.watcher, self.sandbox_id, self.name, self.socket_dir, self.since = watcher, sandbox_id, name, socket_dir, since
        self.coalescer = daemon_events.Coalescer()
        self.pending = []
        self.force = False
        self.closed = False
        self.job = None
        self.replayed_until_us = self.seen_us = 0
        self.connections = 0
        self.task = asyncio.create_task(self.run(), name=f"watch-{sandbox_id}")

    async def run(self):
        loop = asyncio.get_running_loop()
        resume = await self.watcher.in_thread(live.resume_from, self.sandbox_id, self.since)
        self.replayed_until_us = int(resume * 1_000_000) if resume else 0
        delay = RETRY_FIRST_SECONDS
        log.info("watch start sandbox %s", self.sandbox_id)
        try:
            while not self.closed:
                try:
                    namespace = await self.watcher.in_thread(self.watcher.engine.sandbox_pid_namespace, self.name)
                    since = self.replayed_until_us / 1_000_000 if self.replayed_until_us else None
                    async for event, kept in daemon_events.stream(
                        docker_engine.daemon_socket(self.socket_dir), pid_namespace=namespace, since=since, on_open=self._opened,
                    ):
                        if event.time_ns // 1000 <= self.replayed_until_us:
                            continue  # asked again from the last one seen: recorded already
                        self.seen_us = max(self.seen_us, event.time_ns // 1000)
                        self.pending.append((event, kept))
                        self._poke(loop)
                    raise daemon_events.StreamLost("the stream ended")
                except daemon_events.StreamRefused as exc:
                    log.warning("watch sandbox %s refused: %s", self.sandbox_id, exc)
                    wait = REFUSED_RETRY_SECONDS
                except (docker_engine.EngineUnavailable, OSError, asyncio.TimeoutError) as exc:
                    log.info("watch sandbox %s lost: %s", self.sandbox_id, exc)
                    wait, delay = delay, min(delay * 2, RETRY_MAX_SECONDS)
                self.replayed_until_us = max(self.replayed_until_us, self.seen_us)
                await asyncio.sleep(wait)
        finally:
            log.info("watch end sandbox %s", self.sandbox_id)

    async def _opened(self):
        self.connections += 1
        log.info("watch connected sandbox %s (%s)", self.sandbox_id, self.connections)
        # Once per (re)connection: whatever changed while nobody listened is graded now.
        self.force = True
        self._poke(asyncio.get_running_loop())

    def _poke(self, loop):
        at = self.coalescer.event(loop.time())
        if at is not None:
            loop.call_at(at, self._start_job, loop)

    def _start_job(self, loop):
        if self.closed:
            return
        self.coalescer.started(loop.time())
        events, self.pending = self.pending, []
        force, self.force = self.force, False
        self.job = asyncio.ensure_future(self._job(loop, events, force))

    async def _job(self, loop, events, force):
        try:
            burst = await self.watcher.in_thread(self.watcher.grade, self.sandbox_id, events, force)
            if burst.graded:
                self.watcher.regrades += 1
            if burst.probe_again and not self.closed:
                at = self.coalescer.follow_up(loop.time(), daemon_events.PROBE_AGAIN_SECONDS)
                if at is not None:
                    loop.call_at(at, self._follow_up_due, loop)
            await self.watcher.push(burst)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live check of sandbox %s", self.sandbox_id)
        finally:
            if not self.closed:
                at = self.coalescer.finished(loop.time())
                if at is not None:
                    loop.call_at(at, self._start_job, loop)

    def _follow_up_due(self, loop):
        if self.closed:
            return
        # No event of its own: the re-grade must run all the same.
        self.force = True
        at = self.coalescer.follow_up_due(loop.time())
        if at is not None:
            loop.call_at(at, self._start_job, loop)

    def stop(self):
        self.closed = True
        self.task.cancel()


class Watcher:
    def __init__(self, *, engine=None, threads=None, host=None):
        # One watcher per Docker host on its machine (--host): the sockets it reads are that machine's folders.
        self.host = host
        self.engine = engine or docker_engine.default()
        self.pool = ThreadPoolExecutor(max_workers=threads or settings.LIVE_GRADE_THREADS, thread_name_prefix="live-check")
        self.watches = {}
        self.regrades = 0
        self.layer = get_channel_layer()

    async def in_thread(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, _in_thread, function, *args)

    def grade(self, sandbox_id, events, force):
        return live.record_and_regrade(sandbox_id, engine=self.engine, events=events, force=force)

    async def push(self, burst):
        message = burst.message()
        if burst.user_id is None or not (message["passed"] or message["regressed"] or message["lines"]):
            return
        try:
            await self.layer.group_send(push.group_name(burst.user_id, burst.lab_id), message)
        except Exception as exc:  # the page will show it on its next load: a push is never worth the watcher
            log.warning("live push for sandbox of user %s: %s", burst.user_id, exc)

    async def discover(self):
        found = await self.in_thread(live.watched_sandboxes, self.host)
        for sandbox_id in [pk for pk in self.watches if pk not in found]:
            self.watches.pop(sandbox_id).stop()
        # A daemon started on demand is followed once something started it (the learner's first docker command, a
        # Check): connecting sooner would start the daemon of every idle sandbox. Its events are read from the
        # sandbox's start all the same.
        new = {pk: where for pk, where in found.items() if pk not in self.watches}
        started = await self.in_thread(self._started, new)
        for sandbox_id in started:
            name, socket_dir, since = new[sandbox_id]
            self.watches[sandbox_id] = SandboxWatch(self, sandbox_id, name, socket_dir, since)

    def _started(self, sandboxes):
        return [pk for pk, (name, socket_dir, _since) in sandboxes.items() if self.engine.daemon_started(name, socket_dir)]

    async def run(self, *, stop=None):
        stop = stop or asyncio.Event()
        pruned = 0.0
        log.info("watcher started")
        try:
            while not stop.is_set():
                try:
                    await self.discover()
                    if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:
                        pruned = time.monotonic()
                        removed = await self.in_thread(live.prune_old)
                        if removed:
                            log.info("timeline: %s rows past retention removed", removed)
                except Exception:
                    log.exception("watcher: discovering sandboxes")
                try:
                    await asyncio.wait_for(stop.wait(), DISCOVER_EVERY_SECONDS)
                except asyncio.TimeoutError:
                    pass
        finally:
            for watch in self.watches.values():
                watch.stop()
            await asyncio.gather(*(w.task for w in self.watches.values()), return_exceptions=True)
            self.pool.shutdown(wait=False, cancel_futures=True)
            log.info("watcher stopped")


def _in_thread(function, *args):
    # The timeline's lines are in the course's language; a thread's connection may have gone stale.
    translation.activate(settings.LANGUAGE_CODE)
    close_old_connections()
    return function(*args)
