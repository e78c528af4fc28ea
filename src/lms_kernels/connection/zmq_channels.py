"""A kernel's ZeroMQ channels, opened for one WebSocket connection (or one control request).

Each connection gets its own DEALER sockets for shell, control and stdin, all with one identity (the kernel
sends ``input_request`` on stdin to the identity that sent the ``execute_request`` on shell), and its own
iopub SUB socket. The SUB socket's receive high-water mark is 0 (unlimited), so ZeroMQ's I/O thread drains
the kernel's PUB socket as fast as TCP allows and the kernel never drops output for a slow reader; the output
cap, not a buffer limit, bounds what is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import zmq

from .messages import DELIMITER, Signer, new_message, pack_message

__all__ = ["CHANNELS", "ZmqKernelChannels", "control_request", "kernel_request", "relay_knows"]

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


#: Frames larger than this are passed on as memoryviews instead of copied into bytes.
_VIEW_THRESHOLD = 64 * 1024


class _Readable:
    """Wakes a coroutine when a ZeroMQ socket may have messages, through the event loop's own reader.

    ZeroMQ's file descriptor is edge-triggered: it signals that the socket's events *may* have changed, and
    ``zmq.EVENTS`` must then be read. Plain sockets with one reader per socket cost less per message than
    ``zmq.asyncio`` (no future per receive or send), which matters on the execute round trip.
    """

    __slots__ = ("_event", "_fd", "_loop", "sock")

    def __init__(self, sock: zmq.Socket, loop: asyncio.AbstractEventLoop):
        self.sock = sock
        self._loop = loop
        self._event = asyncio.Event()
        self._fd = sock.getsockopt(zmq.FD)
        loop.add_reader(self._fd, self._event.set)

    async def recv_multipart(self) -> list[bytes | memoryview]:
        """The next message's frames: small ones as bytes, large ones as views of ZeroMQ's own buffer
        (a 20 MB output is not copied once more on its way through)."""
        sock = self.sock
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                return [frame.buffer if len(frame) > _VIEW_THRESHOLD else frame.bytes for frame in frames]
            except zmq.Again:
                self._event.clear()
                if sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    continue
                await self._event.wait()

    def after_send(self) -> None:
        """A send processes the socket's pending commands, and with them the edge that would have told the
        loop of a message that arrived meanwhile (a reply on the same DEALER socket): wake the receiver if
        one is there, or it would wait for the next message, which may never come."""
        if self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self._event.set()

    def close(self) -> None:
        # Only a reader of this loop can be removed; a loop that is already closed has dropped it.
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self.sock.close(linger=0)


class ZmqKernelChannels:
    """The four channels of one kernel for one client, speaking in message parts.

    ``send(channel, parts)`` signs and sends; ``await recv(channel)`` returns the next verified message's
    parts (messages with a bad signature are logged and skipped). Use it on one event loop.
    """

    readable = ("iopub", "shell", "control", "stdin")

    def __init__(self, connection_info: Mapping, identity: bytes, *, context: zmq.Context | None = None):
        self.connection_info = dict(connection_info)
        self.identity = identity
        self.signer = _signer(connection_info)
        self._context = context or zmq.Context.instance()
        self._sockets: dict[str, _Readable] = {}
        self._monitors: dict[str, _Readable] = {}
        self._replay: _Readable | None = None

    def connect(self, channels: tuple[str, ...] = tuple(CHANNELS), *, monitor: bool | None = None) -> None:
        """Open and connect the sockets (ZeroMQ connects in the background).

        With ``monitor`` (the default when all four channels are opened), :meth:`wait_connected` can wait
        until every socket has completed its handshake with the kernel, and the first ``recv("iopub")``
        does so before it returns: a connection that has seen iopub is then connected on every channel.
        """
        if monitor is None:
            monitor = "iopub" in channels and len(channels) > 1
        loop = asyncio.get_running_loop()
        for channel in channels:
            kind, port_key = CHANNELS[channel]
            sock = self._context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.RCVHWM, 0)
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                sock.setsockopt(zmq.IDENTITY, self.identity)
            if monitor:
                self._monitors[channel] = _Readable(
                    sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED), loop
                )
            sock.connect(_url(self.connection_info, port_key))
            self._sockets[channel] = _Readable(sock, loop)

    @property
    def has_relay(self) -> bool:
        """Whether the kernel has a relay that keeps its iopub messages (:mod:`lms_kernels.relay`)."""
        return bool(self.connection_info.get("lms_replay_port")) and "iopub" in self._sockets

    def connect_relay(self) -> None:
        """Open the socket to the kernel's relay (:mod:`lms_kernels.relay`)."""
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(_url(self.connection_info, "lms_replay_port"))
        self._replay = _Readable(sock, asyncio.get_running_loop())

    async def fetch_replay(self, session: str, until: str, timeout: float) -> tuple[list[list[bytes]], int]:
        """The iopub messages ``session`` missed up to and including the message ``until`` (the first one
        this connection's own subscription delivered), oldest first, and how many the relay no longer had.

        Messages with a bad signature are skipped. :class:`TimeoutError` if the relay does not answer.
        """
        replay = self._replay
        replay.sock.send_multipart([b"replay", session.encode("utf-8", "replace"), until.encode()])
        replay.after_send()
        messages = []
        async with asyncio.timeout(timeout):
            while True:
                kind, *rest = await replay.recv_multipart()
                if kind == b"end":
                    return messages, int(rest[0])
                parts = self._verified(rest[1:], "iopub")
                if parts is not None:
                    messages.append(parts)

    def acknowledge(self, session: str, msg_id: str) -> None:
        """Tell the relay that ``session``'s client has been handed every iopub message up to ``msg_id``."""
        if self._replay is not None:
            with contextlib.suppress(zmq.Again):
                self._replay.sock.send_multipart(
                    [b"ack", session.encode("utf-8", "replace"), msg_id.encode()], flags=zmq.NOBLOCK
                )

    def tell_relay(self, kind: str, session: str) -> None:
        """``away`` (this session's client left; the bridge stays) or ``back`` (it came back here)."""
        if self._replay is not None:
            with contextlib.suppress(zmq.Again):
                self._replay.sock.send_multipart(
                    [kind.encode(), session.encode("utf-8", "replace")], flags=zmq.NOBLOCK
                )

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until every monitored socket has shaken hands with the kernel; ``False`` on timeout.

        A kernel sends ``input_request`` on stdin to the identity that sent the ``execute_request``, and
        drops it if that identity has not connected its stdin socket yet: so a connection is ready only when
        all of its sockets are, not just the one a first reply came on.
        """
        monitors, self._monitors = self._monitors, {}
        try:
            async with asyncio.timeout(timeout):
                for monitor in monitors.values():
                    await monitor.recv_multipart()
            return True
        except TimeoutError:
            return False
        finally:
            for channel, monitor in monitors.items():
                readable = self._sockets.get(channel)
                if readable is not None:
                    readable.sock.disable_monitor()
                monitor.close()

    @property
    def closed(self) -> bool:
        return not self._sockets

    def send(self, channel: str, parts: list[bytes]) -> None:
        readable = self._sockets[channel]
        # DEALER sockets queue while the kernel is (re)connecting; a full queue raises zmq.Again.
        readable.sock.send_multipart(self.signer.wire_frames(parts), flags=zmq.NOBLOCK)
        readable.after_send()

    async def recv(self, channel: str) -> list[bytes]:
        readable = self._sockets[channel]
        if channel == "iopub" and self._monitors:
            # Readiness is judged by iopub (see KernelBridge): make it mean "every channel is connected".
            # A kernel sends input_request on stdin to the identity that sent the execute_request and drops
            # it if that identity's stdin socket has not finished its handshake.
            await self.wait_connected(timeout=30.0)
        while True:
            frames = await readable.recv_multipart()
            parts = self._verified(frames, channel)
            if parts is not None:
                return parts

    def _verified(self, frames: list, channel: str) -> list | None:
        try:
            start = frames.index(DELIMITER)
        except ValueError:
            logger.warning("Dropped a message without delimiter on %s.", channel)
            return None
        signature, parts = frames[start + 1], frames[start + 2 :]
        if len(parts) < 4 or not self.signer.verify(signature, parts):
            logger.warning("Dropped a message with a bad signature on %s.", channel)
            return None
        return parts

    def close(self) -> None:
        monitors, self._monitors = self._monitors, {}
        for channel, monitor in monitors.items():
            # Stop the monitor before closing its reader: ZeroMQ's I/O thread sends monitor events with
            # blocking sends, and one sent to a reader that is gone blocks that thread, and with it every
            # socket of the process (a handshake that completes late, after the reader was closed).
            readable = self._sockets.get(channel)
            if readable is not None:
                readable.sock.disable_monitor()
            monitor.close()
        sockets, self._sockets = self._sockets, {}
        for readable in sockets.values():
            readable.close()
        if self._replay is not None:
            self._replay.close()
            self._replay = None


async def relay_knows(connection_info: Mapping, session: str, *, timeout: float = 1.0) -> bool | None:
    """Whether the kernel's iopub relay has served ``session`` (``None``: no relay, or no answer)."""
    if not connection_info.get("lms_replay_port"):
        return None
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(_url(connection_info, "lms_replay_port"))
    readable = _Readable(sock, asyncio.get_running_loop())
    try:
        sock.send_multipart([b"known", session.encode("utf-8", "replace")], flags=zmq.NOBLOCK)
        readable.after_send()
        async with asyncio.timeout(timeout):
            _kind, answer = await readable.recv_multipart()
        return answer == b"1"
    except (TimeoutError, zmq.Again, ValueError):
        return None
    finally:
        readable.close()


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
                parent = json.loads(bytes(parts[1]))
                if parent.get("msg_id") == msg["msg_id"]:
                    return json.loads(bytes(parts[3]))
    except TimeoutError:
        return None
    finally:
        channels.close()
