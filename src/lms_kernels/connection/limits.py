"""Per-connection limits on the message path: the output cap per execution and the execute rate.

Both are plain bookkeeping (no I/O), called by :class:`~lms_kernels.connection.bridge.KernelBridge` for each
message, so they are cheap enough for the hot path: a dict lookup and an addition per output message.
"""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["OUTPUT_TYPES", "ExecuteRateLimiter", "OutputCap"]

#: iopub message types that carry an execution's output (and count towards its cap).
OUTPUT_TYPES = frozenset({"stream", "display_data", "update_display_data", "execute_result", "error"})

#: Executions tracked at once per connection; the oldest are forgotten first (they finished long ago).
_TRACKED = 256


class OutputCap:
    """Counts the output bytes of each execution (by parent ``msg_id``) against ``limit``.

    :meth:`admit` answers, for one output message, ``"send"`` (under the cap), ``"notice"`` (this message
    crosses the cap: send a truncation notice instead, once) or ``"drop"`` (past the cap). A message is
    counted by the size of its content and buffers, which is what a client has to receive and render.
    ``limit=None`` switches the cap off.
    """

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int | None):
        self.limit = limit
        self._counts: OrderedDict[str, int] = OrderedDict()

    def admit(self, parent_id: str, size: int) -> str:
        if self.limit is None:
            return "send"
        counts = self._counts
        used = counts.get(parent_id)
        if used is None:
            if len(counts) >= _TRACKED:
                counts.popitem(last=False)
            used = 0
        elif used > self.limit:
            return "drop"
        used += size
        counts[parent_id] = used
        return "send" if used <= self.limit else "notice"

    def finished(self, parent_id: str) -> None:
        """The execution is over (its ``idle`` status arrived): forget it."""
        self._counts.pop(parent_id, None)


class ExecuteRateLimiter:
    """A token bucket of ``execute_request`` messages: ``burst`` at once, refilled at ``per_second``.

    ``None`` for ``per_second`` switches the limit off. "Run all" of a long notebook sends its cells at once,
    so the burst is generous; the rate stops a client that floods its kernel's queue without end.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "per_second")

    def __init__(self, per_second: float | None, burst: int):
        self.per_second = per_second
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        if self.per_second is None:
            return True
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
