"""The web process's ASGI application: a bounded number of requests in Django at once, on threads made once."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import signals
from django.http import HttpResponse, StreamingHttpResponse

import drydock.asgi
from drydock.asgi import BoundedASGIHandler, django_asgi_app


def test_the_web_process_bounds_the_requests_it_runs_in_django_by_the_setting(settings):
    assert isinstance(django_asgi_app, BoundedASGIHandler) and django_asgi_app.limit == settings.WEB_REQUESTS_PER_PROCESS


def test_the_middleware_chain_is_one_synchronous_call():
    # Loaded in async mode, each sync-only middleware would cost the request two hand-offs between threads.
    assert not asyncio.iscoroutinefunction(BoundedASGIHandler(limit=1)._middleware_chain)


class Views:
    """Stands for Django's middleware and views: counts the requests in it at once and the threads they ran on."""

    def __init__(self):
        self.running = self.peak = 0
        self.threads = set()
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return HttpResponse(f"answer to {request.path}")


async def get(handler, path, body_sent=None):
    """One request through the ASGI handler as uvicorn makes it: (status, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    messages, sent = [], False
    never = asyncio.Event()

    async def receive():
        nonlocal sent
        if sent:
            await never.wait()  # the client stays connected: Django listens for a disconnect until it answers
        if body_sent is not None:
            await body_sent.wait()
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await handler(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


@pytest.mark.asyncio
async def test_requests_past_the_bound_wait_their_turn_and_all_get_their_answer():
    handler, views = BoundedASGIHandler(limit=3), Views()
    handler.get_response = views
    answers = await asyncio.gather(*(get(handler, f"/{number}/") for number in range(20)))
    assert answers == [(200, f"answer to /{number}/".encode()) for number in range(20)]
    assert views.peak == 3
    first = set(views.threads)
    await asyncio.gather(*(get(handler, f"/{number}/") for number in range(20)))
    # Three threads, made once: the next requests run on the same ones.
    assert len(first) <= 3 and views.threads == first


@pytest.mark.asyncio
async def test_a_request_whose_body_is_still_coming_holds_no_thread():
    handler, views = BoundedASGIHandler(limit=1), Views()
    handler.get_response = views
    body_sent = asyncio.Event()
    slow = asyncio.ensure_future(get(handler, "/slow/", body_sent))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(get(handler, "/quick/"), 5) == (200, b"answer to /quick/")
    body_sent.set()
    assert await asyncio.wait_for(slow, 5) == (200, b"answer to /slow/")


class CountingExecutor(ThreadPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):
        CountingExecutor.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.mark.asyncio
async def test_a_request_goes_to_its_thread_once_with_the_signals_in_that_thread(monkeypatch):
    # Each hand-off between the event loop and the thread costs ~0.2 ms of CPU; Django's handler makes three.
    monkeypatch.setattr(drydock.asgi, "ThreadPoolExecutor", CountingExecutor)
    handler, views = BoundedASGIHandler(limit=1), Views()
    handler.get_response = views
    seen = []

    def started(**kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        CountingExecutor.submitted = 0
        assert await get(handler, "/one/") == (200, b"answer to /one/")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert CountingExecutor.submitted == 1
    assert seen == [("started", next(iter(views.threads))), ("finished", next(iter(views.threads)))]


@pytest.mark.asyncio
async def test_a_streamed_response_is_closed_once_sent_in_the_request_s_thread():
    handler, closed = BoundedASGIHandler(limit=1), []

    async def parts():
        yield b"one "
        yield b"two"

    def stream(request):
        response = StreamingHttpResponse(parts())
        response._resource_closers.append(lambda: closed.append(threading.get_ident()))
        return response

    handler.get_response = stream
    assert await get(handler, "/streamed/") == (200, b"one two")
    assert len(closed) == 1 and closed[0] != threading.get_ident()


async def leaving(handler, path):
    """A request whose client leaves as soon as its body is sent: the messages sent back."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    replies, messages = iter([{"type": "http.request", "body": b"", "more_body": False}]), []

    async def receive():
        return next(replies, {"type": "http.disconnect"})

    async def send(message):
        messages.append(message)
        await asyncio.sleep(0)

    await asyncio.wait_for(handler(scope, receive, send), 5)
    return messages


@pytest.mark.asyncio
async def test_a_view_whose_client_left_runs_to_its_end_and_its_response_is_closed_once():
    handler, views, closed = BoundedASGIHandler(limit=1), Views(), []

    def view(request):
        response = views(request)
        response._resource_closers.append(lambda: closed.append(request.path))
        return response

    handler.get_response = view
    await leaving(handler, "/left/")
    assert closed == ["/left/"]
    # The thread is free again: the next request is answered.
    assert await asyncio.wait_for(get(handler, "/next/"), 5) == (200, b"answer to /next/")


@pytest.mark.asyncio
async def test_a_streamed_response_stops_when_its_client_leaves_and_is_closed():
    handler, sent_parts, closed = BoundedASGIHandler(limit=1), [], []

    async def endless():
        while True:
            sent_parts.append(1)
            yield b"part "
            await asyncio.sleep(0)

    def stream(request):
        response = StreamingHttpResponse(endless())
        response._resource_closers.append(lambda: closed.append(True))
        return response

    handler.get_response = stream
    await leaving(handler, "/endless/")
    assert closed == [True] and len(sent_parts) < 1000
