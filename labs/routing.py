from django.urls import path

from labs.live_consumer import LiveConsumer
from labs.terminal import TerminalConsumer

websocket_urlpatterns = [
    path("ws/bacs-a-sable/<int:pk>/terminal/", TerminalConsumer.as_asgi()),
    path("ws/tp/<int:lab_id>/direct/", LiveConsumer.as_asgi()),
]
