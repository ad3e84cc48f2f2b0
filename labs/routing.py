from django.urls import path

from labs.terminal import TerminalConsumer

websocket_urlpatterns = [
    path("ws/bacs-a-sable/<int:pk>/terminal/", TerminalConsumer.as_asgi()),
]
