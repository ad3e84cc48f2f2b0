"""Tell a learner's open lab page that what it shows has changed: their sandbox (a step, its status) or a Check's verdict.

The page (static/js/lab.js) listens on its live channel (labs/live_consumer.py) and, told, asks for the new
state once, instead of asking every 300 ms while a sandbox is prepared and every few hundred ms while a
Check is graded. The message says what changed, never the state itself: the page reads that through the
same views and access helpers as ever, in the learner's language. It still asks now and then, so a message
lost (Redis restarting, the socket reconnecting) only delays what it shows.
"""

import asyncio
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def group_name(user_id, lab_id):
    """The channel layer group of one learner's page of one lab."""
    return f"live.{user_id}.{lab_id}"


def sandbox_changed(sandbox):
    """After the transaction: the owner's page of the sandbox's lab asks for its state again."""
    if sandbox.owner_id and sandbox.lab_id:
        _after_commit(group_name(sandbox.owner_id, sandbox.lab_id), {"type": "page.changed", "what": "sandbox", "sandbox": sandbox.pk})


def check_done(submission):
    """After the transaction: the learner's page of the task's lab asks for the Check's verdict."""
    task = submission.task
    _after_commit(group_name(submission.user_id, task.lab_id), {
        "type": "page.changed", "what": "check", "task": task.slug, "submission": submission.pk,
    })


def _after_commit(group, message):
    transaction.on_commit(partial(_send, group, message))


# A worker waits at most this long for Redis to take a message: a page's notice never holds up a sandbox's start.
SEND_SECONDS = 2


def _send(group, message):
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            async_to_sync(_bounded_send)(layer, group, message)
            return
    except Exception as exc:
        _lost(group, message, exc)
        return
    # Called on an event loop's own thread (an async caller's transaction): sent from that loop, not waited for.
    sending = loop.create_task(_bounded_send(layer, group, message))
    _sending.add(sending)
    sending.add_done_callback(partial(_sent, group, message))


_sending = set()  # the sends under way on an event loop, kept until they end


async def _bounded_send(layer, group, message):
    await asyncio.wait_for(layer.group_send(group, message), SEND_SECONDS)


def _sent(group, message, task):
    _sending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        _lost(group, message, task.exception())


def _lost(group, message, exc):
    # The page asks by itself a little later: a lost message costs a delay, nothing more.
    log.warning("lab page %s not told of %s: %r", group, message["what"], exc)
