"""The lab page's live channel to one learner's page of one lab: what the sandbox watcher pushes (tasks passed,
passes undone, timeline lines), and word that the page's sandbox or a Check's verdict changed (labs/push.py)."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from labs import push
from labs.models import Lab

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REFUSED = 4403


class LiveConsumer(AsyncJsonWebsocketConsumer):
    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        lab_id = self.scope["url_route"]["kwargs"]["lab_id"]
        # The group is the learner's own: nobody hears another learner's page.
        if not await database_sync_to_async(Lab.objects.filter(pk=lab_id, is_published=True).exists)():
            await self.close(code=CLOSE_REFUSED)
            return
        self.group = push.group_name(user.pk, lab_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_update(self, event):
        await self.send_json({
            "type": "update", "passed": event.get("passed", []), "regressed": event.get("regressed", []), "lines": event.get("lines", []),
        })

    async def page_changed(self, event):
        # Which of the page's things changed (labs/push.py): the page asks for it again through its views.
        await self.send_json({"type": "changed", **{key: event[key] for key in ("what", "sandbox", "task", "submission") if key in event}})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
