"""The fair queue's moving parts on the event loop: start what was admitted, tell waiting clients their
place, end waits that took too long.

Who decides who starts is :mod:`lms_kernels.capacity` (in the database, under a lock); this module makes it
happen:

* :func:`wake` — after capacity was freed (a kernel shut down, culled, dead, deleted) or the queue changed,
  a background task on the running event loop admits what fits now, sends ``queue`` events (each waiting
  kernel's new ``position``) and starts the admitted kernels (``started`` when each runs). Wake-ups in one
  process are coalesced; several processes may dispatch at once (the lock keeps them apart).
* :func:`process_queue` — the repeating culling task calls it: it ends overdue waits (``queue_timeout``
  events) and dispatches every queue, catching wake-ups that were missed (a process that freed capacity
  and died, a row deleted by synchronous code).
* :func:`poll` — a waiting WebSocket connection's fallback: the kernel's row and place now (ending its wait
  first if it is overdue), every ``WATCH_INTERVAL``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterable
from datetime import datetime

from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async

from . import capacity, events
from .models import Kernel

__all__ = ["dispatch", "drain", "poll", "process_queue", "start_in_background", "wake", "wake_soon"]

logger = logging.getLogger(__name__)

#: Strong references to the background tasks of this process, so they are not garbage-collected half-way.
_background: set[asyncio.Task] = set()
#: alias -> this process's dispatch of that queue in progress; a wake-up meanwhile asks it to go again.
_dispatching: dict[str, asyncio.Task] = {}
_again: set[str] = set()


def _spawn(coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def start_in_background(kernels: Iterable[Kernel]) -> None:
    """Start admitted kernels without waiting for them (call from async code)."""
    from .services import start_admitted

    for kernel in kernels:
        _spawn(start_admitted(kernel))


def wake(alias: str) -> None:
    """Let ``alias``'s queue move soon (call from async code): see the module docstring.

    On a short-lived loop of ``async_to_sync`` (synchronous code without an event loop: a management
    command, the background task) a background task would be cancelled when the call returns; the queue
    then moves at the next :func:`process_queue` (the culling task runs it right after culling).
    """
    if alias not in capacity.limited_backends():
        return
    if asyncio.get_running_loop() in getattr(AsyncToSync, "loop_thread_executors", {}):
        return
    running = _dispatching.get(alias)
    if running is not None and not running.done() and running.get_loop() is asyncio.get_running_loop():
        _again.add(alias)
        return
    _dispatching[alias] = _spawn(_dispatch_until_settled(alias))


def wake_soon(alias: str) -> None:
    """:func:`wake` from any thread: from synchronous code run by an event loop (``sync_to_async``, e.g. a
    model deleted in an admin view under ASGI), on that loop. Without a loop (a management command) the
    queue moves at the next run of the culling task."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        wake(alias)
        return
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running():
        # In a context of its own: this thread's (asgiref's "inside sync_to_async") would make the dispatch's
        # own database calls wait for this thread, which is busy.
        loop.call_soon_threadsafe(wake, alias, context=contextvars.Context())


async def _dispatch_until_settled(alias: str) -> None:
    try:
        while True:
            _again.discard(alias)
            await dispatch(alias)
            if alias not in _again:
                return
    except Exception:
        logger.exception("Dispatching the kernel queue of backend %r failed.", alias)
    finally:
        if _dispatching.get(alias) is asyncio.current_task():
            del _dispatching[alias]


async def dispatch(alias: str | None = None) -> list[Kernel]:
    """Admit what fits in ``alias``'s queue (every queue if ``None``), tell the waiting kernels their place,
    and start the admitted ones (waiting until they run or failed). Returns the admitted kernels."""
    from .services import start_admitted

    aliases = [alias] if alias else capacity.limited_backends()
    admitted_all = []
    for name in aliases:
        admitted = await sync_to_async(capacity.admit_queued)(name)
        await notify_positions(name)
        if admitted:
            logger.info("Starting %d kernel(s) from the queue of backend %r.", len(admitted), name)
            await asyncio.gather(*(start_admitted(kernel) for kernel in admitted))
        admitted_all.extend(admitted)
    return admitted_all


async def notify_positions(alias: str) -> None:
    """Send each waiting kernel of ``alias`` its place (connections ignore a place they already showed)."""
    for kernel_id, position in (await sync_to_async(capacity.queue_positions)(alias)).items():
        await events.notify(kernel_id, "queue", position=position)


async def _end_waits(now: datetime | None = None, kernel_id=None) -> list[Kernel]:
    ended = await sync_to_async(capacity.expire_overdue)(now, kernel_id=kernel_id)
    for kernel in ended:
        logger.info("Kernel %s waited too long in the queue: %s", kernel.id, kernel.reason)
        await events.notify(kernel.id, "queue_timeout", message=kernel.reason)
    return ended


async def aprocess_queue(now: datetime | None = None) -> tuple[list[Kernel], list[Kernel]]:
    """End overdue waits, then dispatch every queue; returns the ended and the admitted kernels."""
    ended = await _end_waits(now)
    return ended, await dispatch()


def process_queue(now: datetime | None = None) -> tuple[list[Kernel], list[Kernel]]:
    """:func:`aprocess_queue` for synchronous callers (the background task, the management command)."""
    return async_to_sync(aprocess_queue)(now)


async def poll(kernel_id) -> tuple[Kernel | None, int | None, bool]:
    """The kernel's row now (``None``: gone), its place in the queue, and whether its wait just ended
    because it was overdue."""
    ended = await _end_waits(kernel_id=kernel_id)
    for kernel in ended:
        wake(kernel.backend)  # the others move up
    kernel = await Kernel.objects.select_related("environment").filter(pk=kernel_id).afirst()
    position = await sync_to_async(capacity.queue_position)(kernel) if kernel is not None else None
    return kernel, position, bool(ended)


async def drain(timeout: float = 60) -> None:
    """Wait for this process's background starts and dispatches on the running loop (for tests)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        pending = [task for task in _background if not task.done() and task.get_loop() is loop]
        if not pending or loop.time() >= deadline:
            return
        await asyncio.wait(pending, timeout=max(deadline - loop.time(), 0.01))
