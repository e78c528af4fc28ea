"""The WebSocket consumer of ``/api/kernels/<id>/channels``: authorise, then hand frames to a bridge.

Refusals are reported with a close code (see :mod:`lms_kernels.exceptions`): the socket is accepted only
to deliver the code and its reason, and nothing else is sent. Origin is checked by the project's
:class:`~lms_kernels.security.KernelOriginValidator` before this consumer runs.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from .auth import authenticate_scope
from .backends import get_backend
from .connection import replay
from .connection.bridge import KernelBridge
from .connection.protocol import V1_SUBPROTOCOL
from .connection.zmq_channels import relay_knows
from .events import group_name
from .exceptions import BackendUnavailable, InvalidBackendError, KernelServiceError, KernelStartFailed
from .services import ensure_alive, get_kernel

__all__ = ["KernelChannelsConsumer"]

logger = logging.getLogger(__name__)


class KernelChannelsConsumer(AsyncWebsocketConsumer):
    bridge: KernelBridge | None = None
    group: str | None = None

    async def dispatch(self, message):
        # Frames from the client go straight to the bridge: Channels would otherwise close stale database
        # connections (a thread hop) before every frame, and the message path does no database work.
        if message["type"] == "websocket.receive":
            if self.bridge is not None:
                await self.bridge.receive(message.get("text"), message.get("bytes"))
            return
        await super().dispatch(message)

    async def connect(self):
        protocol = V1_SUBPROTOCOL if V1_SUBPROTOCOL in self.scope.get("subprotocols", ()) else None
        try:
            user = await authenticate_scope(self.scope)
            kernel = await get_kernel(user, self.scope["url_route"]["kwargs"]["kernel_id"])
            try:
                backend = get_backend(kernel.backend)
            except InvalidBackendError as exc:
                logger.error("%s", exc)
                raise BackendUnavailable() from exc
            kernel = await ensure_alive(kernel, backend)
            query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
            session_id = (query.get("session_id") or [uuid.uuid4().hex])[0][:128]
        except KernelServiceError as exc:
            await self.accept(protocol)
            reason = exc.detail.encode("utf-8")[:120].decode("utf-8", "ignore")
            await self.close(code=exc.close_code, reason=reason)
            return
        # A bridge left behind by an earlier connection of this kernel (the learner's connection dropped,
        # or they closed the tab) is adopted, with what it kept meanwhile; its siblings are closed.
        # With an iopub relay, a session that was connected (here or through another worker) catches up from
        # the relay; another session's bridge would repeat what it has seen.
        known = await relay_knows(kernel.connection_info or {}, session_id)
        adopted, others = replay.adopt(kernel.id, session_id, any_session=not known)
        for other in others:
            await other.close()
        if adopted is not None and adopted.closed:
            adopted = None
        await self.accept(protocol)
        if self.channel_layer is not None:
            self.group = group_name(kernel.id)
            await self.channel_layer.group_add(self.group, self.channel_name)
        if adopted is not None:
            self.bridge = adopted
            await adopted.attach(
                protocol=protocol, send_frame=self._send_frame, close_socket=self._close_socket
            )
            return
        try:
            self.bridge = KernelBridge(
                kernel=kernel,
                backend=backend,
                protocol=protocol,
                session_id=session_id,
                send_frame=self._send_frame,
                close_socket=self._close_socket,
                user_id=user.pk,
            )
        except KernelServiceError as exc:  # e.g. the backend cannot reach the kernel from this worker
            reason = exc.detail.encode("utf-8")[:120].decode("utf-8", "ignore")
            await self.close(code=exc.close_code, reason=reason)
            return
        try:
            await self.bridge.open()
        except Exception:
            logger.exception("Could not connect to kernel %s.", kernel.id)
            error = KernelStartFailed(_("Could not connect to the kernel."))
            await self.close(code=error.close_code, reason=error.detail)
            await self.bridge.close()

    async def disconnect(self, code):
        if self.group is not None and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.bridge is not None:
            # The kernel lives on: keep what it sends for the learner's next connection.
            await self.bridge.detach()

    async def lms_kernels_event(self, event):
        """An event of :mod:`lms_kernels.events` (type ``lms_kernels.event``) for this kernel."""
        if self.bridge is not None:
            await self.bridge.on_event(event)

    async def _send_frame(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            await self.send(text_data=frame)
        else:
            await self.send(bytes_data=frame)

    async def _close_socket(self, code: int, reason: str) -> None:
        await self.close(code=code, reason=reason)
