"""A WebSocket round trip through Channels with the Redis channel layer between two connections."""

import uuid

import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.urls import path

# Channels consumers close stale database connections around each message, so the test needs database access.
pytestmark = [pytest.mark.redis, pytest.mark.asyncio, pytest.mark.django_db]


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """Relays every message to everyone in the room, through the channel layer."""

    async def connect(self):
        self.room = "room-" + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.room, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.channel_layer.group_send(self.room, {"type": "room.message", "content": content})

    async def room_message(self, event):
        await self.send_json(event["content"])


application = URLRouter([path("rooms/<str:room>/", RoomConsumer.as_asgi())])


@pytest.fixture
def redis_layer(redis_url):
    prefix = f"groundup-test-{uuid.uuid4().hex[:8]}"
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        yield get_channel_layer()


async def test_message_crosses_the_redis_layer(redis_layer):
    assert type(redis_layer).__module__ == "channels_redis.core"
    alice = WebsocketCommunicator(application, "/rooms/lesson-1/")
    bob = WebsocketCommunicator(application, "/rooms/lesson-1/")
    assert (await alice.connect())[0]
    assert (await bob.connect())[0]
    try:
        await alice.send_json_to({"text": "안녕하세요", "n": 1})
        assert await bob.receive_json_from(timeout=5) == {"text": "안녕하세요", "n": 1}
        assert await alice.receive_json_from(timeout=5) == {"text": "안녕하세요", "n": 1}
    finally:
        await alice.disconnect()
        await bob.disconnect()
    await redis_layer.flush()  # remove this test's keys from Redis
