"""The web process's ASGI application: a bounded number of requests in Django at once."""

import asyncio

import pytest
from django.core.handlers.asgi import ASGIHandler

from drydock.asgi import BoundedASGIHandler, django_asgi_app


def test_the_web_process_bounds_the_requests_it_runs_in_django_by_the_setting(settings):
    assert isinstance(django_asgi_app, BoundedASGIHandler) and django_asgi_app.limit == settings.WEB_REQUESTS_PER_PROCESS


@pytest.mark.asyncio
async def test_requests_past_the_bound_wait_their_turn_and_all_get_their_answer(monkeypatch):
    running, peak = 0, 0

    async def view(self, request):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return f"response to {request}"

    monkeypatch.setattr(ASGIHandler, "get_response_async", view)
    handler = BoundedASGIHandler(limit=3)
    answers = await asyncio.gather(*(handler.get_response_async(number) for number in range(20)))
    assert peak == 3 and answers == [f"response to {number}" for number in range(20)]
