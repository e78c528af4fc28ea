"""Bad input on the WebSocket: each frame is answered or closed with a documented code; nothing crashes."""

import json

import pytest
from django.test import override_settings

from lms_kernels.connection.bridge import MAX_INVALID_FRAMES

from .conftest import kernel_socket, logged_in_client, start_kernel
from .test_protocol import BAD_FRAMES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

JSON_BAD = {name: frame for name, frame in BAD_FRAMES.items() if frame["protocol"] is None}
V1_BAD = {name: frame for name, frame in BAD_FRAMES.items() if frame["protocol"] is not None}


async def next_refusal(ws) -> dict:
    """Skip kernel traffic up to the service's stderr notice."""
    while True:
        message = await ws.receive()
        if message["msg_type"] == "stream" and message["content"]["text"].startswith("Message refused"):
            return message


@pytest.mark.parametrize("protocol, frames", [(None, JSON_BAD), ("v1", V1_BAD)], ids=["json", "v1"])
async def test_every_malformed_frame_is_answered_and_the_socket_stays_usable(kernels, user, protocol, frames):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with (
        kernel_socket(client, kernel["id"], protocol=protocol) as ws,
        kernel_socket(client, kernel["id"]) as bystander,
    ):
        await ws.wait_ready()
        await bystander.wait_ready()
        for name, frame in frames.items():
            await ws.send_raw(text=frame["text"], data=frame["data"])
            notice = await next_refusal(ws)
            assert notice["channel"] == "iopub" and notice["content"]["name"] == "stderr", name
        # Still usable, and another connection to the same kernel never noticed.
        assert (await ws.execute("1+1")).result == "2"
        assert (await bystander.execute("2+2")).result == "4"


async def test_a_bad_request_with_a_readable_header_gets_an_error_reply(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        msg = ws.request("execute_request", {"code": "1"})
        msg["channel"] = "nowhere"
        await ws.send_raw(text=json.dumps(msg))
        # Answered as a kernel answers: busy, the reply, a notice, idle (so a client's cell finishes).
        result = await ws.collect(msg["header"]["msg_id"], timeout=10)
        assert result.statuses == ["busy", "idle"]
        reply = result.reply
        assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
        assert reply["channel"] == "shell"
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "InvalidMessage"
        assert "nowhere" in reply["content"]["evalue"]


async def test_oversized_frame_closes_4413_and_spares_other_connections(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    with override_settings(LMS_KERNELS={"MAX_MESSAGE_SIZE": 2048, "ACTIVITY_SAVE_INTERVAL": 0}):
        async with kernel_socket(client, kernel["id"]) as ws, kernel_socket(client, kernel["id"]) as other:
            await ws.wait_ready()
            msg = ws.request("execute_request", {"code": "x = '" + "a" * 4096 + "'"})
            await ws.send(msg)
            assert await ws.receive_close() == 4413
            assert (await other.execute("'fine'")).result == "'fine'"


async def test_too_many_bad_frames_close_4400(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        for _ in range(MAX_INVALID_FRAMES + 1):
            await ws.send_raw(text="not json")
        assert await ws.receive_close() == 4400
