import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drydock.settings")


class BoundedASGIHandler(ASGIHandler):
    """Django's ASGI handler with at most `limit` requests in Django at once, each on one of `limit` threads.

    Django runs each request's sync middleware and view in a thread. Unbounded, a class opening a
    quiz at once starts hundreds of threads in one process: they take turns on one GIL while each
    holds a pooled database connection, and the requests behind them time out waiting for a
    connection (bench/exam_burst.py). Here a request waits in the event loop, which costs nothing,
    until one of the process's `limit` threads is free, once its body is read: a slow upload holds
    no thread. It keeps that thread until its response is sent and closed, as Django needs: the
    request's database connection goes back to the pool, in that thread, when the response closes.

    What this saves per request (bench/request_cpu.py):
    - threads are made once, not twice per request (Django's per-request context starts one to
      run the request and one to join it);
    - the middleware chain is one synchronous call in that thread, as under WSGI. Loaded in async
      mode, Django hands the request to a thread and back for every sync-only middleware (ours,
      WhiteNoise) and each process_request/process_response of the async-capable ones;
    - a request goes to its thread once (`handle`): the request_started signal, the request, the
      response and, for a response whose body is all there (not streamed), its close and the
      request_finished signal, in one call. Django's handler goes to the thread and back three times,
      ~0.2 ms of CPU each, and starts two tasks to watch for the client leaving meanwhile.
    """

    def __init__(self, limit):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.limit = limit
        self._threads = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._threads is None:  # made on the first request, in the server's event loop
            self._threads = asyncio.Queue()
            for number in range(self.limit):
                self._threads.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-{number}"))
        thread = _RequestThread(self._threads)
        token = _request_thread.set(thread)
        try:
            await self.handle(scope, receive, send)
        finally:
            await thread.release()
            _request_thread.reset(token)

    async def read_body(self, receive):
        body_file = await super().read_body(receive)
        # Django's handle() reads the body first; everything it does afterwards in a thread runs in this one.
        await _request_thread.get().take()
        return body_file

    async def handle(self, scope, receive, send):
        """Django's ASGIHandler.handle, with the request's work in its thread done by one call (`_answer`).

        Django also listens for the client leaving while the view runs, to stop waiting for it; here
        that would change nothing but cost two tasks per request: the view runs to its end in its
        thread whatever the client does (the middleware chain is one synchronous call), and uvicorn
        drops what is sent on a closed connection. A streamed body is still stopped when the client leaves.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await sync_to_async(self._answer, thread_sensitive=True)(scope, body_file)
            if response.streaming:
                await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def _stream(self, response, receive, send):
        """A streamed response as Django sends it: stopped if the client leaves, then closed in the request's thread."""
        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)), asyncio.create_task(self.send_response(response, send))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if not task.done():
                    task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, RequestAborted):
                    pass
        finally:
            await sync_to_async(response.close, thread_sensitive=True)()

    def _answer(self, scope, body_file):
        """In the request's thread: what Django's handler does there, in three calls, for one request."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            response = error_response
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            # Its content is built: closing it now (request_finished: the database connection back to the
            # pool) instead of after sending changes nothing the client gets.
            response.close()
        return response


class _RequestThread:
    """The thread one request runs on: taken from the free ones, given back when the request is done."""

    def __init__(self, free):
        self.free = free
        self.executor = self.context = None

    async def take(self):
        self.executor = await self.free.get()
        # Django's thread-sensitive calls in this request (signals, the view, the response's close) go to it.
        self.context = ThreadSensitiveContext(executor=self.executor)
        await self.context.__aenter__()

    async def release(self):
        if self.executor is None:
            return
        try:
            await self.context.__aexit__(None, None, None)
        finally:
            self.free.put_nowait(self.executor)
            self.executor = self.context = None


_request_thread = contextvars.ContextVar("drydock_request_thread")


# Django must be set up before anything imports models (the websocket routes do).
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from labs.routing import websocket_urlpatterns  # noqa: E402

django_asgi_app = BoundedASGIHandler(settings.WEB_REQUESTS_PER_PROCESS)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
