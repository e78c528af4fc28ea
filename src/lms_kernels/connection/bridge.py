"""The connection object between one WebSocket and one kernel (what a thin consumer hands its frames to).

Life of a connection:

1. :meth:`KernelBridge.open` connects the kernel's channels and *nudges* the kernel: it sends
   ``kernel_info_request`` on control (answered even while the kernel is busy) until a message arrives on
   iopub, which proves the iopub subscription is live (ZeroMQ drops what is published before a subscriber
   has joined). Client messages that arrive meanwhile wait in a queue, so no output of theirs is lost.
   The nudges' replies and status messages are the service's own and are not forwarded.
2. Kernel messages are forwarded as they come, in the client's protocol; the content is not parsed.
3. Client frames are checked (:mod:`.protocol`); a bad one is answered (an error ``*_reply`` for a request,
   and a ``stream`` message on stderr saying why) and the socket stays open, up to a limit.
4. Events from the channel layer: ``restarting`` (status ``restarting`` to the client; client messages wait),
   ``restarted`` (nudge again), ``shutdown`` and ``dead`` (status ``dead``, then a close code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import zmq
from django.db.models import F
from django.utils.translation import gettext as _

from ..activity import recorder
from ..conf import app_settings
from ..exceptions import (
    KernelGone,
    KernelNotResponding,
    KernelServiceError,
    KernelStartFailed,
    MessageTooLarge,
    TooManyInvalidMessages,
)
from .messages import new_message, pack_message
from .protocol import CLIENT_CHANNELS, BadFrame, ClientMessage, decode_client_frame, encode_message

__all__ = ["KernelBridge"]

logger = logging.getLogger(__name__)

#: Invalid frames one connection may send before it is closed (4400).
MAX_INVALID_FRAMES = 100
#: Client messages held while the kernel (re)connects; more are refused.
MAX_QUEUED = 1000


class KernelBridge:
    """Carries one WebSocket connection's messages to and from one kernel.

    ``send_frame(text_or_bytes)`` and ``close_socket(code, reason)`` are the consumer's; the bridge never
    touches the consumer otherwise, so it can be driven by anything that speaks WebSocket.
    """

    def __init__(
        self,
        *,
        kernel,
        backend,
        protocol: str | None,
        session_id: str,
        send_frame: Callable[[str | bytes], Awaitable[None]],
        close_socket: Callable[[int, str], Awaitable[None]],
    ):
        self.kernel_id = kernel.id
        self._kernel = kernel
        self._backend = backend
        self.protocol = protocol
        self.session_id = session_id
        self._send_frame = send_frame
        self._close_socket = close_socket
        self._server_session = uuid.uuid4().hex
        self.channels = backend.open_channels(kernel, identity=f"lms-{uuid.uuid4().hex}".encode())
        self.ready = asyncio.Event()
        self._iopub_seen = asyncio.Event()
        self._nudges: dict[str, float] = {}
        self._queued: list[ClientMessage] = []
        self._tasks: list[asyncio.Task] = []
        self._nudge_task: asyncio.Task | None = None
        self._invalid = 0
        self._closed = False
        self._counted = False

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def open(self) -> None:
        self.channels.connect()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(channel)) for channel in self.channels.readable]
        self._start_nudging()
        await self._count_connection(+1)

    async def close(self) -> None:
        """Release everything; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self.ready.set()
        tasks = [*self._tasks, *([self._nudge_task] if self._nudge_task else [])]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.channels.close()
        self._queued.clear()
        await recorder.flush(self.kernel_id)
        await self._count_connection(-1)

    async def _close_with(self, error: KernelServiceError) -> None:
        if self._closed:
            return
        reason = error.detail.encode("utf-8")[:120].decode("utf-8", "ignore")
        with contextlib.suppress(Exception):
            await self._close_socket(error.close_code, reason)
        await self.close()

    async def _count_connection(self, delta: int) -> None:
        from ..models import Kernel

        try:
            if delta > 0:
                await Kernel.objects.filter(pk=self.kernel_id).aupdate(connections=F("connections") + 1)
                self._counted = True
            elif self._counted:
                self._counted = False
                await Kernel.objects.filter(pk=self.kernel_id, connections__gt=0).aupdate(
                    connections=F("connections") - 1
                )
        except Exception:
            logger.exception("Could not update the connection count of kernel %s.", self.kernel_id)

    # -- nudging -------------------------------------------------------------------------------------------

    def _start_nudging(self) -> None:
        self.ready.clear()
        self._iopub_seen.clear()
        if self._nudge_task is not None and not self._nudge_task.done():
            self._nudge_task.cancel()
        self._nudge_task = asyncio.get_running_loop().create_task(self._nudge())

    async def _nudge(self) -> None:
        timeout = app_settings.KERNEL_STARTUP_TIMEOUT
        deadline = time.monotonic() + timeout
        delay = 0.05
        while not self._iopub_seen.is_set():
            now = time.monotonic()
            if now >= deadline:
                await self._give_up()
                return
            self._forget_old_nudges(now)
            msg = new_message("kernel_info_request", session=self._server_session)
            self._nudges[msg["msg_id"]] = now
            with contextlib.suppress(zmq.Again):
                self.channels.send("control", pack_message(msg))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._iopub_seen.wait(), min(delay, max(deadline - now, 0.01)))
            delay = min(delay * 2, 1.0)
        self.ready.set()
        queued, self._queued = self._queued, []
        for message in queued:
            await self._to_kernel(message)

    def _forget_old_nudges(self, now: float) -> None:
        for msg_id, sent in list(self._nudges.items()):
            if now - sent > 30:
                del self._nudges[msg_id]

    async def _give_up(self) -> None:
        alive = await self._backend.is_alive(self._kernel)
        if alive:
            error = KernelNotResponding()
        else:
            error = KernelStartFailed(_("The kernel died before it could answer."))
        await self._send_status("dead")
        await self._close_with(error)

    # -- kernel -> client ----------------------------------------------------------------------------------

    async def _pump(self, channel: str) -> None:
        try:
            while True:
                parts = await self.channels.recv(channel)
                await self._forward(channel, parts)
        except asyncio.CancelledError:
            raise
        except Exception:
            if not self._closed:
                logger.exception("The %s channel of kernel %s failed.", channel, self.kernel_id)
                await self._close_with(KernelServiceError(_("The connection to the kernel failed.")))

    async def _forward(self, channel: str, parts: list[bytes]) -> None:
        try:
            header = json.loads(parts[0])
            msg_type = header["msg_type"]
        except (ValueError, KeyError, TypeError):
            logger.warning("Dropped a kernel message with an unreadable header on %s.", channel)
            return
        state = None
        if channel == "iopub":
            self._iopub_seen.set()
            if msg_type == "status":
                with contextlib.suppress(ValueError, AttributeError):
                    state = json.loads(parts[3]).get("execution_state")
            recorder.record(self.kernel_id, state)
        if self._nudges:
            with contextlib.suppress(ValueError, AttributeError):
                parent_id = json.loads(parts[1]).get("msg_id")
                if parent_id in self._nudges:
                    if state == "idle":
                        self._nudges.pop(parent_id, None)
                    return
        try:
            frame = encode_message(self.protocol, channel, parts, header)
        except UnicodeDecodeError:
            logger.warning("Dropped a kernel message that is not UTF-8 on %s.", channel)
            return
        await self._send_frame(frame)

    async def _send_server_message(self, channel: str, msg: dict) -> None:
        parts = pack_message(msg)
        with contextlib.suppress(Exception):
            await self._send_frame(encode_message(self.protocol, channel, parts, msg["header"]))

    async def _send_status(self, execution_state: str) -> None:
        msg = new_message("status", {"execution_state": execution_state}, session=self._server_session)
        await self._send_server_message("iopub", msg)

    # -- client -> kernel ----------------------------------------------------------------------------------

    async def receive(self, text: str | None = None, data: bytes | None = None) -> None:
        if self._closed:
            return
        size = len(text) if text is not None else len(data or b"")
        if size > app_settings.MAX_MESSAGE_SIZE:
            await self._close_with(
                MessageTooLarge(
                    _("Messages may be at most %(limit)d bytes.") % {"limit": app_settings.MAX_MESSAGE_SIZE}
                )
            )
            return
        try:
            message = decode_client_frame(text=text, data=data, protocol=self.protocol)
        except BadFrame as exc:
            await self._refuse(exc)
            return
        if not self.ready.is_set():
            if len(self._queued) >= MAX_QUEUED:
                await self._refuse(BadFrame(_("The kernel is not ready yet."), header=message.header))
                return
            self._queued.append(message)
            return
        await self._to_kernel(message)

    async def _to_kernel(self, message: ClientMessage) -> None:
        try:
            self.channels.send(message.channel, message.parts)
        except zmq.Again:
            await self._refuse(
                BadFrame(
                    _("The kernel is not accepting messages."), header=message.header, channel=message.channel
                )
            )
            return
        except Exception:
            if not self._closed:
                logger.exception("Could not send to kernel %s.", self.kernel_id)
            return
        recorder.record(self.kernel_id)

    async def _refuse(self, exc: BadFrame) -> None:
        """Answer a bad frame: an error reply to a request, and a notice on stderr."""
        self._invalid += 1
        logger.info("Refused a frame on kernel %s: %s", self.kernel_id, exc.detail)
        if self._invalid > MAX_INVALID_FRAMES:
            await self._close_with(TooManyInvalidMessages())
            return
        header = exc.header or {}
        msg_type, msg_id = header.get("msg_type"), header.get("msg_id")
        parent = header if isinstance(msg_id, str) and isinstance(msg_type, str) else {}
        if parent and msg_type.endswith("_request"):
            reply = new_message(
                msg_type[: -len("_request")] + "_reply",
                {"status": "error", "ename": "InvalidMessage", "evalue": exc.detail, "traceback": []},
                session=self._server_session,
                parent_header=parent,
            )
            channel = exc.channel if exc.channel in CLIENT_CHANNELS else "shell"
            await self._send_server_message(channel, reply)
        notice = new_message(
            "stream",
            {"name": "stderr", "text": _("Message refused: %(reason)s\n") % {"reason": exc.detail}},
            session=self._server_session,
            parent_header=parent,
        )
        await self._send_server_message("iopub", notice)

    # -- events from the service ---------------------------------------------------------------------------

    async def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if self._closed:
            return
        if kind == "restarting":
            self.ready.clear()
            self._iopub_seen.clear()
            await self._send_status("restarting")
        elif kind == "restarted":
            self._start_nudging()
        elif kind == "shutdown":
            await self._send_status("dead")
            await self._close_with(KernelGone())
        elif kind == "dead":
            await self._send_status("dead")
            await self._close_with(KernelStartFailed(event.get("reason") or None))
