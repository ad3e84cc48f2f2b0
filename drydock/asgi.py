import asyncio
import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drydock.settings")


class BoundedASGIHandler(ASGIHandler):
    """Django's ASGI handler with at most `limit` requests in the middleware and views at once.

    Django runs each request's sync middleware and view in a thread of its own. Unbounded, a class
    opening a quiz at once starts hundreds of threads in one process: they take turns on one GIL
    while each holds a pooled database connection, and the requests behind them time out waiting
    for a connection (bench/exam_burst.py). Bounded, the others wait their turn in the event loop,
    which costs nothing. Reading the request body and sending the response stay outside the bound,
    so a slow client holds no slot.
    """

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self._slots = None

    async def get_response_async(self, request):
        if self._slots is None:  # made on the first request, in the server's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            return await super().get_response_async(request)


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
