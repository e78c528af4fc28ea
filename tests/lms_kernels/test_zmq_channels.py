"""ZeroMQ channels: a reply that arrives while the same socket sends is still received.

ZeroMQ's file descriptor is edge-triggered, and a send processes the socket's pending commands: the edge that
announced a message that arrived meanwhile is consumed by the send, and the event loop is never told. The
kernel here is a plain ROUTER socket (this tests our socket handling, not a kernel).
"""

import asyncio
import time
import uuid

import pytest
import zmq

from lms_kernels.connection.messages import Signer, new_message, pack_message
from lms_kernels.connection.zmq_channels import ZmqKernelChannels

KEY = "a-test-key"


@pytest.fixture
def router():
    context = zmq.Context.instance()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, {"transport": "tcp", "ip": "127.0.0.1", "shell_port": port, "key": KEY}
    sock.close(linger=0)


def reply_frames(identity: bytes, msg_type: str) -> list[bytes]:
    msg = new_message(msg_type, {"status": "ok"}, session="kernel")
    return [identity, *Signer(KEY, "hmac-sha256").wire_frames(pack_message(msg))]


@pytest.mark.asyncio
async def test_a_reply_that_arrives_while_the_socket_sends_wakes_the_receiver(router):
    sock, connection_info = router
    identity = uuid.uuid4().bytes
    channels = ZmqKernelChannels(connection_info, identity=identity)
    channels.connect(("shell",))
    try:
        first = new_message("kernel_info_request", {}, session="client")
        channels.send("shell", pack_message(first))
        assert sock.poll(5000), "the request did not reach the kernel"
        sock.recv_multipart()
        receiver = asyncio.ensure_future(channels.recv("shell"))
        await asyncio.sleep(0.05)  # the receiver waits for the socket's edge
        # The reply arrives, and before the loop runs again, the same socket sends (a second request). The
        # event loop does not run in between: the blocking sleep lets ZeroMQ's I/O thread queue the reply.
        sock.send_multipart(reply_frames(identity, "kernel_info_reply"))
        time.sleep(0.2)
        channels.send("shell", pack_message(new_message("kernel_info_request", {}, session="client")))
        parts = await asyncio.wait_for(receiver, timeout=3)
        assert b"kernel_info_reply" in bytes(parts[0])
    finally:
        channels.close()
