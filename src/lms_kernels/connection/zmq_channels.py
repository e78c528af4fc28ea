"""A kernel's ZeroMQ channels, opened for one WebSocket connection (or one control request).

Each connection gets its own DEALER sockets for shell, control and stdin, all with one identity (the kernel
sends ``input_request`` on stdin to the identity that sent the ``execute_request`` on shell), and its own
iopub SUB socket. The SUB socket's receive high-water mark is 0 (unlimited), so ZeroMQ's I/O thread drains
the kernel's PUB socket as fast as TCP allows and the kernel never drops output for a slow reader; the output
cap, not a buffer limit, bounds what is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import zmq
import zmq.asyncio

from .messages import DELIMITER, Signer, new_message, pack_message

__all__ = ["CHANNELS", "ZmqKernelChannels", "control_request", "kernel_request"]

logger = logging.getLogger(__name__)

#: Channel name -> (socket type, connection-info key).
CHANNELS = {
    "shell": (zmq.DEALER, "shell_port"),
    "control": (zmq.DEALER, "control_port"),
    "stdin": (zmq.DEALER, "stdin_port"),
    "iopub": (zmq.SUB, "iopub_port"),
}


def _url(connection_info: Mapping, port_key: str) -> str:
    transport = connection_info.get("transport", "tcp")
    ip = connection_info.get("ip", "127.0.0.1")
    port = connection_info[port_key]
    if transport == "ipc":
        return f"ipc://{ip}-{port}"
    return f"{transport}://{ip}:{port}"


def _signer(connection_info: Mapping) -> Signer:
    return Signer(connection_info.get("key", ""), connection_info.get("signature_scheme", "hmac-sha256"))


class ZmqKernelChannels:
    """The four channels of one kernel for one client, speaking in message parts.

    ``send(channel, parts)`` signs and sends; ``await recv(channel)`` returns the next verified message's
    parts (messages with a bad signature are logged and skipped).
    """

    readable = ("iopub", "shell", "control", "stdin")

    def __init__(
        self, connection_info: Mapping, identity: bytes, *, context: zmq.asyncio.Context | None = None
    ):
        self.connection_info = dict(connection_info)
        self.identity = identity
        self.signer = _signer(connection_info)
        self._context = context or zmq.asyncio.Context.instance()
        self._sockets: dict[str, zmq.asyncio.Socket] = {}

    def connect(self, channels: tuple[str, ...] = tuple(CHANNELS)) -> None:
        for channel in channels:
            kind, port_key = CHANNELS[channel]
            sock = self._context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.RCVHWM, 0)
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                sock.setsockopt(zmq.IDENTITY, self.identity)
            sock.connect(_url(self.connection_info, port_key))
            self._sockets[channel] = sock

    @property
    def closed(self) -> bool:
        return not self._sockets

    def send(self, channel: str, parts: list[bytes]) -> None:
        sock = self._sockets[channel]
        # DEALER sockets queue while the kernel is (re)connecting; a full queue raises zmq.Again.
        sock.send_multipart(self.signer.wire_frames(parts), flags=zmq.NOBLOCK)

    async def recv(self, channel: str) -> list[bytes]:
        sock = self._sockets[channel]
        while True:
            frames = await sock.recv_multipart()
            try:
                start = frames.index(DELIMITER)
            except ValueError:
                logger.warning("Dropped a message without delimiter on %s.", channel)
                continue
            signature, parts = frames[start + 1], frames[start + 2 :]
            if len(parts) < 4 or not self.signer.verify(signature, parts):
                logger.warning("Dropped a message with a bad signature on %s.", channel)
                continue
            return parts

    def close(self) -> None:
        sockets, self._sockets = self._sockets, {}
        for sock in sockets.values():
            sock.close(linger=0)


async def control_request(
    connection_info: Mapping, msg_type: str, content: dict | None = None, *, timeout: float = 2.0
) -> dict | None:
    """Send one request on the control channel and wait for its reply's content (``None`` on timeout).

    Used by backends for ``shutdown_request`` and ``interrupt_request``; it needs nothing but the stored
    connection info, so any worker can do it.
    """
    return await kernel_request(connection_info, "control", msg_type, content, timeout=timeout)


async def kernel_request(
    connection_info: Mapping,
    channel: str,
    msg_type: str,
    content: dict | None = None,
    *,
    timeout: float = 2.0,
) -> dict | None:
    """Send one request on ``channel`` (``shell`` or ``control``) and wait for its reply's content.

    ``None`` on timeout. On ``shell`` the reply only comes once the kernel has finished what it is running,
    which makes ``kernel_info_request`` there a probe of whether the kernel is idle.
    """
    import json
    import uuid

    channels = ZmqKernelChannels(connection_info, identity=f"lms-probe-{uuid.uuid4().hex}".encode())
    channels.connect((channel,))
    try:
        msg = new_message(msg_type, content, session=uuid.uuid4().hex)
        channels.send(channel, pack_message(msg))
        async with asyncio.timeout(timeout):
            while True:
                parts = await channels.recv(channel)
                parent = json.loads(parts[1])
                if parent.get("msg_id") == msg["msg_id"]:
                    return json.loads(parts[3])
    except TimeoutError:
        return None
    finally:
        channels.close()
