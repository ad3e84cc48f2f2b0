"""The web process's ASGI application: a bounded number of requests in Django at once, on threads made once."""

import asyncio
import threading
import time

import pytest
from django.http import HttpResponse

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
