"""Events to a kernel's WebSocket connections in every worker, over the channel layer.

Each connection joins its kernel's group (:func:`group_name`); the service sends ``restarting``,
``restarted`` (with the new ``generation``), ``died`` (with a ``message``, and whether it is ``restarting``),
``culled`` (with the ``reason`` and a ``message``), ``shutdown`` and ``dead`` to it, and for a kernel that waits
in the queue ``queue`` (with its new ``position``), ``started`` (its process runs: sent on every start) and
``queue_timeout`` (with a ``message``); each connection tells its client (a ``status`` message, a notice, a
close code). With the in-memory layer this reaches one process; with Redis, all of them.
"""

from __future__ import annotations

import logging
import uuid

__all__ = ["EVENT_TYPE", "group_name", "notify"]

logger = logging.getLogger(__name__)

#: The channel-layer message type; consumers handle it in ``lms_kernels_event``.
EVENT_TYPE = "lms_kernels.event"


def group_name(kernel_id: uuid.UUID | str) -> str:
    return f"lms_kernels.kernel.{uuid.UUID(str(kernel_id)).hex}"


async def notify(kernel_id: uuid.UUID | str, event: str, **data) -> None:
    """Send ``event`` to every connection of the kernel; never fails the caller (the layer may be down)."""
    try:
        from channels.layers import get_channel_layer
    except ImportError:  # pragma: no cover - channels is a dependency of the kernels extra
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group_name(kernel_id), {"type": EVENT_TYPE, "event": event, **data})
    except Exception:
        logger.exception("Could not send the %r event of kernel %s to its connections.", event, kernel_id)
