"""A nested daemon's event stream (`GET /events`), read with asyncio, and the plain decisions made on it.

One long-lived connection per sandbox: `stream()` is an async generator of
DaemonEvent, on the sandbox's own socket only. The socket is checked as the
grader's (`engine._SandboxDaemonConnection`): it must be a socket, and the
process at its far end (SO_PEERCRED) must be in the sandbox's own pid
namespace, or nothing is sent to it. What answers may be a learner's program:
its header, each line and the rate of events are bounded, and anything that is
not Docker's API ends the stream (`StreamLost`), never the watcher.

`can_change_verdict`, `probe_again` and `Coalescer` are pure: tested on plain data.
"""

import asyncio
import json
import os
import socket
import stat
import struct
import time
from dataclasses import dataclass

from grader import engine

EVENTS_PATH = engine.NESTED_API + "/events"
# The most of one event (a line of the stream) and of the answer's status line and headers, in bytes.
LINE_LIMIT = 64 * 1024
HEADER_LIMIT = 16 * 1024
# Events a second kept on average, and at once: beyond, an event still counts (a re-grade follows) but is not recorded.
EVENTS_PER_SECOND = 50
EVENTS_BURST = 200
# Seconds to wait for the answer's headers.
OPEN_SECONDS = 5

# Actions that change nothing a check reads: an exec, a tty, a look at a container.
QUIET_ACTIONS = frozenset({
    "exec_create", "exec_start", "exec_die", "exec_detach", "attach", "detach", "resize", "top", "export", "archive-path", "commit-start",
})
VERDICT_TYPES = frozenset({"container", "image", "volume", "network", "builder", "plugin"})
# A container's server may listen a moment after its start event: a failed HTTP probe is tried once more this much later.
PROBE_AGAIN_SECONDS = 1.5


class StreamRefused(engine.EngineUnavailable):
    """What answers on the sandbox's socket is not a process of that sandbox."""


class StreamLost(engine.EngineUnavailable):
    """The stream ended, or said something that is not Docker's event API."""


@dataclass(frozen=True)
class DaemonEvent:
    type: str  # container, image, volume, network, builder, ...
    action: str  # start, pull, create, ... (without what follows a colon: "exec_start: sh" is exec_start)
    object: str  # the container's name, the image's reference, the volume's or network's name
    detail: str  # the container's image, the health status, the container a network was connected to
    time_ns: int

    @property
    def seconds(self):
        return self.time_ns / 1e9


def parse_event(data):
    """A DaemonEvent from one decoded line of /events; None when it is not the shape Docker writes."""
    if not isinstance(data, dict):
        return None
    kind, action = data.get("Type"), data.get("Action")
    actor = data.get("Actor")
    if not isinstance(kind, str) or not isinstance(action, str) or not isinstance(actor, dict):
        return None
    attributes = actor.get("Attributes") if isinstance(actor.get("Attributes"), dict) else {}
    base, _, rest = action.partition(":")
    ident = str(actor.get("ID") or "")
    if kind == "container":
        obj, detail = attributes.get("name") or ident[:12], attributes.get("image") or ""
        if base == "health_status":
            detail = rest.strip()
        elif base == "die":
            detail = str(attributes.get("exitCode") or "0")
    elif kind == "image":
        # A pull names the reference; a tag or an untag names the image's id and the new name in `name`.
        obj, detail = ident, str(attributes.get("name") or "")
        if base in ("tag", "untag", "delete") and obj.startswith("sha256:"):
            obj, detail = detail or obj[7:19], obj[7:19]
    elif kind == "network":
        obj, detail = str(attributes.get("name") or ident[:12]), str(attributes.get("container") or "")[:12]
    else:
        obj, detail = ident, str(attributes.get("container") or "")[:12]
    try:
        time_ns = int(data.get("timeNano") or int(data.get("time") or 0) * 1_000_000_000)
    except (TypeError, ValueError):
        return None
    return DaemonEvent(type=kind[:16], action=base.strip()[:32], object=str(obj)[:200], detail=str(detail)[:200], time_ns=time_ns)


def can_change_verdict(event):
    """Whether a check could read something different after this event."""
    return event.type in VERDICT_TYPES and event.action not in QUIET_ACTIONS


def probe_again(events, *, probing_failed):
    """Whether to re-grade once more PROBE_AGAIN_SECONDS later, with no new event.

    After events that can change a verdict (a `docker run -p` above all), a check that probes an HTTP port
    (port_answers) failed: the container's server may not listen yet. A re-grade with no event of its own
    (a reconnection's, or this follow-up) asks for none, so there is at most one per burst of events.
    """
    return probing_failed and any(can_change_verdict(event) for event in events)


class Coalescer:
    """When to re-grade one sandbox: at most one run per `window` seconds, never two at once.

    The first event of a quiet spell waits `settle` seconds, so that the create, connect and
    start of one `docker run` are graded together; events during a run ask for one more after it.
    Times are given (monotonic seconds), so that the decisions are plain data.
    """

    def __init__(self, *, window=0.3, settle=0.05):
        self.window, self.settle = window, settle
        self.last_started = float("-inf")
        self.scheduled = self.running = self.dirty = False
        self.follow_up_at = None

    def event(self, now):
        """An event came: the time to run at, or None when a run is already due (or under way and will be followed)."""
        if self.running:
            self.dirty = True
            return None
        if self.scheduled:
            return None
        self.scheduled = True
        return max(now + self.settle, self.last_started + self.window)

    def started(self, now):
        self.scheduled, self.running, self.dirty = False, True, False
        self.last_started = now

    def finished(self, now):
        """The run ended: the time of the next one if events came meanwhile, else None."""
        self.running = False
        if not self.dirty:
            return None
        self.dirty, self.scheduled = False, True
        return max(now, self.last_started + self.window)

    def follow_up(self, now, delay):
        """A run asks for one more `delay` seconds from now (probe_again): the time to call `follow_up_due` at.

        None when one is already waiting (at most one at a time: a follow-up is a single extra run, not a poll).
        """
        if self.follow_up_at is not None:
            return None
        self.follow_up_at = now + delay
        return self.follow_up_at

    def follow_up_due(self, now):
        """The follow-up's time came: it counts as an event (coalesced with any run due or under way)."""
        self.follow_up_at = None
        return self.event(now)


class RateBudget:
    """A token bucket: `rate` a second on average, `burst` at once; `take()` says whether one more fits."""

    def __init__(self, rate=EVENTS_PER_SECOND, burst=EVENTS_BURST, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = float(burst), clock()

    def take(self):
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def peer_pid_namespace(sock):
    """The pid namespace of the process at the far end of a connected unix socket, as the host names it; None if unknown."""
    pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") if pid > 0 else None
    except OSError:
        return None


async def connect_checked(path, *, pid_namespace):
    """A connected non-blocking unix socket to `path`, whose peer runs in `pid_namespace`; StreamRefused otherwise."""
    try:
        is_socket = stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError as exc:
        raise StreamLost(f"no socket at {path}") from exc
    if not is_socket:
        raise StreamRefused(f"{path} is not a socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, path), OPEN_SECONDS)
        if peer_pid_namespace(sock) != pid_namespace:
            raise StreamRefused(f"the process answering on {path} is not in the sandbox")
    except BaseException:
        sock.close()
        raise
    return sock


async def stream(path, *, pid_namespace, since=None, on_open=None, budget=None):
    """Yield (DaemonEvent, kept) from the daemon's /events; `kept` is False past the rate budget.

    `on_open()` is awaited once the daemon has answered 200. Ends with StreamLost when the
    connection ends or carries anything else than Docker's events.
    """
    budget = budget or RateBudget()
    sock = await connect_checked(path, pid_namespace=pid_namespace)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=LINE_LIMIT)
    try:
        query = f"?since={since:.9f}" if since else ""
        writer.write(f"GET {EVENTS_PATH}{query} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
        await writer.drain()
        chunked = await asyncio.wait_for(_read_headers(reader), OPEN_SECONDS)
        if on_open is not None:
            await on_open()
        lines = _chunked_lines(reader) if chunked else _plain_lines(reader)
        async for line in lines:
            if not line.strip():
                continue
            try:
                event = parse_event(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise StreamLost("the daemon's events are not JSON") from exc
            if event is None:
                raise StreamLost("the daemon sent something that is not an event")
            yield event, budget.take()
        raise StreamLost("the daemon closed its event stream")
    except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, ValueError) as exc:
        raise StreamLost(f"the daemon's answer broke a bound or ended midway: {exc!r}"[:200]) from exc
    except ConnectionError as exc:
        raise StreamLost(f"the connection was lost: {exc}") from exc
    finally:
        writer.close()


async def _read_headers(reader):
    """Read the status line and headers (at most HEADER_LIMIT bytes); return whether the body is chunked."""
    head = b""
    while True:
        line = await reader.readline()
        if not line:
            raise StreamLost("the daemon closed the connection before answering")
        head += line
        if len(head) > HEADER_LIMIT:
            raise StreamLost("the daemon's answer has headers beyond the limit")
        if line in (b"\r\n", b"\n"):
            break
    status_line, *headers = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or parts[1] != "200":
        raise StreamLost(f"the daemon answered {status_line[:60]!r} to /events")
    return any(h.lower().replace(" ", "") == "transfer-encoding:chunked" for h in headers)


async def _plain_lines(reader):
    while True:
        line = await reader.readline()
        if not line:
            return
        if not line.endswith(b"\n") and len(line) >= LINE_LIMIT:
            raise StreamLost("an event is longer than the limit")
        yield line


async def _chunked_lines(reader):
    pending = b""
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"x", 16)
        if size == 0:
            return
        if size > LINE_LIMIT:
            raise StreamLost("a chunk of the event stream is longer than the limit")
        pending += await reader.readexactly(size)
        await reader.readexactly(2)
        *lines, pending = pending.split(b"\n")
        if len(pending) > LINE_LIMIT:
            raise StreamLost("an event is longer than the limit")
        for line in lines:
            yield line
