"""Limits on the message path: the output cap per execution (and per kernel), and the execute rate.

Both are plain bookkeeping (no I/O), called by :class:`~lms_kernels.connection.bridge.KernelBridge` for each
message, so they are cheap enough for the hot path: a dict lookup and an addition per output message.

Kernel code chooses the parent header of what it publishes, so the output cap does not trust it. An output
message counts towards an execution only when its parent ``msg_id`` is an ``execute_request`` that this
worker relayed to the kernel (:func:`kernel_executions`, shared by every connection of the kernel here).
Anything else (a fresh or forged parent, an execution relayed by another worker) counts towards one budget per
kernel and connection, the *ceiling*, which starts afresh when an ``execute_request`` relayed to the kernel
starts (its ``busy`` status; once per request, however often kernel code repeats that status): an execution
cannot make the server send more than the cap for itself plus the ceiling for everything else.
Counts are not reset when an execution finishes, so a forged ``idle`` status does not buy a fresh budget.

The execute rate is a token bucket per learner and kernel (:func:`shared_rate_limiter`): the connections of
one user to one kernel in a worker process draw from the same bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

__all__ = [
    "OUTPUT_TYPES",
    "ExecuteRateLimiter",
    "KernelExecutions",
    "OutputCap",
    "kernel_executions",
    "release_kernel_executions",
    "release_rate_limiter",
    "shared_rate_limiter",
]

#: iopub message types that carry an execution's output (and count towards its cap).
OUTPUT_TYPES = frozenset({"stream", "display_data", "update_display_data", "execute_result", "error"})

#: Executions tracked at once per kernel (relayed) and per connection (counted); the oldest are forgotten
#: first. An execution forgotten by both is no execution's any more: its later output counts towards the
#: ceiling, so forgetting wins a client no budget (and it takes that many rate-limited executions).
_TRACKED = 256


class KernelExecutions:
    """The ``execute_request`` messages this worker relayed to one kernel, from any of its connections.

    ``relayed`` maps their ``msg_id`` (the newest last) to whether the kernel has started it, ``last`` is the
    newest one's header; ``epoch`` counts the starts, so a connection sees that a new execution started
    without having seen its ``busy`` status itself.
    """

    __slots__ = ("epoch", "last", "relayed", "users")

    def __init__(self):
        self.relayed: OrderedDict[str, bool] = OrderedDict()
        self.last: dict = {}
        self.epoch = 0
        self.users = 0

    def add(self, header: dict) -> None:
        relayed = self.relayed
        if len(relayed) >= _TRACKED:
            relayed.popitem(last=False)
        relayed.setdefault(header["msg_id"], False)
        self.last = header

    def started(self, msg_id) -> None:
        """The kernel said it started ``msg_id`` (a ``busy`` status): the ceiling starts afresh, once."""
        if self.relayed.get(msg_id) is False:
            self.relayed[msg_id] = True
            self.epoch += 1


_executions: dict[str, KernelExecutions] = {}


def kernel_executions(kernel_id) -> KernelExecutions:
    """The shared :class:`KernelExecutions` of a kernel; call :func:`release_kernel_executions` once done."""
    key = str(kernel_id)
    executions = _executions.get(key)
    if executions is None:
        executions = _executions[key] = KernelExecutions()
    executions.users += 1
    return executions


def release_kernel_executions(kernel_id) -> None:
    key = str(kernel_id)
    executions = _executions.get(key)
    if executions is not None:
        executions.users -= 1
        if executions.users <= 0:
            del _executions[key]


class OutputCap:
    """Counts one connection's output bytes against ``limit`` per execution and ``ceiling`` for the rest.

    :meth:`admit` answers, for one output message, ``"send"`` (under the cap), ``"notice"`` (this message
    crosses an execution's cap: send a truncation notice instead, once), ``"ceiling"`` (this message crosses
    the ceiling of output that is not an execution's: a notice too) or ``"drop"`` (past either). A message is
    counted by the size of its content and buffers, which is what a client has to receive and render.
    ``None`` switches a limit off; ``ceiling`` defaults to ``limit``. ``executions`` is the kernel's
    :class:`KernelExecutions` (a private one if not given, for tests of the bookkeeping).
    """

    __slots__ = ("_counts", "_epoch", "_other", "_relayed", "active", "ceiling", "executions", "limit")

    def __init__(
        self,
        limit: int | None,
        *,
        ceiling: int | str | None = "limit",
        executions: KernelExecutions | None = None,
    ):
        self.limit = limit
        self.ceiling = limit if ceiling == "limit" else ceiling
        #: Whether there is anything to count (else the bridge does not even read parent headers).
        self.active = self.limit is not None or self.ceiling is not None
        self.executions = executions if executions is not None else KernelExecutions()
        self._relayed = self.executions.relayed
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._epoch = self.executions.epoch
        self._other = 0

    def admit(self, parent_id: str | None, size: int) -> str:
        if parent_id in self._relayed:
            limit = self.limit
            if limit is None:
                return "send"
            counts = self._counts
            used = counts.get(parent_id)
            if used is None:
                if len(counts) >= _TRACKED:
                    counts.popitem(last=False)
                used = 0
            elif used > limit:
                return "drop"
            used += size
            counts[parent_id] = used
            return "send" if used <= limit else "notice"
        ceiling = self.ceiling
        if ceiling is None:
            return "send"
        if self._epoch != self.executions.epoch:
            self._epoch, self._other = self.executions.epoch, 0
        elif self._other > ceiling:
            return "drop"
        self._other += size
        return "send" if self._other <= ceiling else "ceiling"


class ExecuteRateLimiter:
    """A token bucket of ``execute_request`` messages: ``burst`` at once, refilled at ``per_second``.

    ``None`` for ``per_second`` switches the limit off. "Run all" of a long notebook sends its cells at once,
    so the burst is generous; the rate stops a client that floods its kernel's queue without end.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "per_second", "users")

    def __init__(self, per_second: float | None, burst: int):
        self.per_second = per_second
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self.users = 0

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

    def seconds_to_full(self) -> float:
        """How long until the bucket is full again (``0`` if it is, or if there is no limit)."""
        if self.per_second is None:
            return 0.0
        tokens = min(self.burst, self._tokens + (time.monotonic() - self._stamp) * self.per_second)
        return (self.burst - tokens) / self.per_second


_buckets: dict[tuple, ExecuteRateLimiter] = {}


def shared_rate_limiter(user_id, kernel_id, per_second: float | None, burst: int) -> ExecuteRateLimiter:
    """The bucket of ``user_id`` on ``kernel_id`` in this process, shared by all their connections to it.

    Call :func:`release_rate_limiter` when the connection closes. A bucket whose settings changed is replaced.
    """
    key = (str(user_id), str(kernel_id))
    limiter = _buckets.get(key)
    if limiter is None or (limiter.per_second, limiter.burst) != (per_second, burst):
        users = limiter.users if limiter is not None else 0
        limiter = _buckets[key] = ExecuteRateLimiter(per_second, burst)
        limiter.users = users
    limiter.users += 1
    return limiter


def release_rate_limiter(user_id, kernel_id) -> None:
    """A connection let go of its bucket. The last one's bucket is forgotten once it has refilled (closing
    and opening connections does not refill it sooner)."""
    key = (str(user_id), str(kernel_id))
    limiter = _buckets.get(key)
    if limiter is None:
        return
    limiter.users -= 1
    if limiter.users > 0:
        return
    wait = limiter.seconds_to_full()
    if wait <= 0:
        del _buckets[key]
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        del _buckets[key]
        return
    loop.call_later(min(wait, 24 * 3600), _forget_unused, key, limiter)


def _forget_unused(key: tuple, limiter: ExecuteRateLimiter) -> None:
    if _buckets.get(key) is limiter and limiter.users <= 0:
        del _buckets[key]
