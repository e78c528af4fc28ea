"""What a kernel sends while nobody is connected: kept (bounded) and replayed when the learner comes back.

When a WebSocket closes while its kernel lives on, its :class:`~lms_kernels.connection.bridge.KernelBridge`
is not closed but *detached*: it keeps its ZeroMQ sockets (so output published meanwhile, and the replies
to requests already sent, still arrive) and writes what arrives into a :class:`ReplayBuffer` instead of a
socket. The next WebSocket of the same kernel in this process *adopts* the detached bridge (the one with
its ``session_id`` if there is one, else the most recent): the buffer is replayed to it first, in order,
then messages flow as before. So a learner whose connection dropped for a moment misses nothing, and one
who closed the tab during a long training run sees, on coming back, what it printed meanwhile.

Bounds: each buffer keeps at most ``REPLAY_BUFFER_SIZE`` bytes (the oldest messages go first, and the
replay starts with a notice saying how many were dropped); a detached bridge is closed after
``REPLAY_TIMEOUT`` seconds, when its kernel is shut down, or when another WebSocket adopts a sibling.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bridge import KernelBridge

__all__ = ["ReplayBuffer", "adopt", "detached_bridges", "register"]

logger = logging.getLogger(__name__)


class ReplayBuffer:
    """Messages as ``(channel, parts, header)``, at most ``limit`` bytes of parts; the oldest drop first."""

    __slots__ = ("_items", "dropped", "limit", "size")

    def __init__(self, limit: int):
        self.limit = limit
        self._items: deque[tuple[str, list[bytes], dict]] = deque()
        self.size = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def append(self, channel: str, parts: list[bytes], header: dict) -> None:
        size = sum(len(part) for part in parts)
        if size > self.limit:
            self.dropped += 1
            return
        self._items.append((channel, parts, header))
        self.size += size
        while self.size > self.limit:
            _channel, old, _header = self._items.popleft()
            self.size -= sum(len(part) for part in old)
            self.dropped += 1

    def drain(self) -> list[tuple[str, list[bytes], dict]]:
        items = list(self._items)
        self._items.clear()
        self.size = 0
        return items


#: kernel id -> session id -> detached bridge, in detach order (the last one is the most recent).
_detached: dict[uuid.UUID, dict[str, KernelBridge]] = {}


def detached_bridges(kernel_id: uuid.UUID | str | None = None) -> list[KernelBridge]:
    """The detached bridges of one kernel (or of all kernels) in this process."""
    if kernel_id is not None:
        return list(_detached.get(uuid.UUID(str(kernel_id)), {}).values())
    return [bridge for bridges in _detached.values() for bridge in bridges.values()]


def register(bridge: KernelBridge) -> None:
    bridges = _detached.setdefault(bridge.kernel_id, {})
    bridges.pop(bridge.session_id, None)
    bridges[bridge.session_id] = bridge


def unregister(bridge: KernelBridge) -> None:
    bridges = _detached.get(bridge.kernel_id)
    if bridges is not None and bridges.get(bridge.session_id) is bridge:
        del bridges[bridge.session_id]
        if not bridges:
            del _detached[bridge.kernel_id]


def adopt(
    kernel_id: uuid.UUID, session_id: str, *, any_session: bool = True
) -> tuple[KernelBridge | None, list[KernelBridge]]:
    """Take the kernel's detached bridge for ``session_id`` (else the most recent) out of the registry.

    Returns it (or ``None``) and the kernel's other detached bridges, which the caller closes: their
    output is the same kernel's iopub the adopted bridge has, so keeping them would only hold memory.

    With ``any_session=False`` (a kernel whose iopub relay replays what a session missed, see
    :mod:`lms_kernels.relay`), only the bridge of ``session_id`` is taken, and the others stay: another
    session's bridge kept what *that* client missed, which this client may have seen through another worker.
    """
    key = uuid.UUID(str(kernel_id))
    if not any_session:
        bridges = _detached.get(key, {})
        chosen = bridges.pop(session_id, None)
        if not bridges:
            _detached.pop(key, None)
        return chosen, []
    bridges = _detached.pop(key, {})
    if not bridges:
        return None, []
    chosen = bridges.pop(session_id, None)
    if chosen is None:
        chosen = bridges.pop(list(bridges)[-1])
    return chosen, list(bridges.values())
