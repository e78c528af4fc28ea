"""A kernel's last activity and execution state, saved without slowing the message path.

Connections report every kernel message here (a dict update, no I/O); the recorder saves the latest state
of each kernel at most every ``ACTIVITY_SAVE_INTERVAL`` seconds, and at once when a connection closes. So a
stream of 10,000 outputs costs a handful of UPDATE queries, and ``GET /api/kernels/<id>`` is at most that
interval behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

from asgiref.sync import sync_to_async

from .conf import app_settings

__all__ = ["recorder"]

logger = logging.getLogger(__name__)


class _Pending(NamedTuple):
    stamp: float  # the latest activity
    state: str | None  # the latest execution state reported, if any
    busy_from: float | None  # when the kernel went busy, if it is busy
    was_not_busy: bool  # whether a state other than busy came since the last save


class ActivityRecorder:
    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, _Pending] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def record(self, kernel_id: uuid.UUID, execution_state: str | None = None) -> None:
        previous = self._pending.get(kernel_id)
        now = time.time()
        busy_from, was_not_busy = None, False
        if previous is not None:
            busy_from, was_not_busy = previous.busy_from, previous.was_not_busy
            if execution_state is None:
                execution_state = previous.state
        if execution_state == "busy":
            if busy_from is None:
                busy_from = now
        elif execution_state is not None:
            busy_from, was_not_busy = None, True
        self._pending[kernel_id] = _Pending(now, execution_state, busy_from, was_not_busy)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._flush_later())

    def overlay(self, kernel) -> None:
        """Put this process's not-yet-saved activity of ``kernel`` onto the instance (no I/O), so the model a
        client reads from the worker that carries its connection is current, not one save interval behind."""
        pending = self._pending.get(kernel.id)
        if pending is None or kernel.status != "running":
            return
        stamp, state = pending.stamp, pending.state
        kernel.last_activity = max(kernel.last_activity, datetime.fromtimestamp(stamp, UTC))
        if state:
            kernel.execution_state = state
        if state == "busy" and (pending.was_not_busy or kernel.busy_since is None):
            kernel.busy_since = datetime.fromtimestamp(pending.busy_from, UTC)
        elif state and state != "busy":
            kernel.busy_since = kernel.unresponsive_since = None

    async def _flush_later(self) -> None:
        # What is recorded while a save is under way is saved by the next round, not left waiting for a
        # message that may never come (a kernel that went busy and then silent must be saved as busy).
        while self._pending:
            await asyncio.sleep(app_settings.ACTIVITY_SAVE_INTERVAL)
            await self.flush()

    async def drain(self) -> None:
        """Wait until everything recorded so far in this loop is saved (tests, orderly shutdown)."""
        await self.flush()
        task = self._task
        if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
            await asyncio.shield(task)

    async def flush(self, kernel_id: uuid.UUID | None = None) -> None:
        if kernel_id is None:
            items, self._pending = self._pending, {}
        elif kernel_id in self._pending:
            items = {kernel_id: self._pending.pop(kernel_id)}
        else:
            return
        if items:
            try:
                await sync_to_async(_save)(items)
            except Exception:
                logger.exception("Could not save kernel activity.")


def _save(items: dict[uuid.UUID, _Pending]) -> None:
    from django.db.models import Case, DateTimeField, F, Value, When
    from django.db.models.functions import Coalesce

    from .models import Kernel, KernelStatus

    def if_running(value, field: str):
        # Only a running kernel takes the state its messages report: one that died, or is restarting or
        # shutting down meanwhile, keeps the state the service gave it.
        return Case(When(status=KernelStatus.RUNNING, then=value), default=F(field))

    for kernel_id, pending in items.items():
        changes = {"last_activity": datetime.fromtimestamp(pending.stamp, UTC)}
        state = pending.state
        if state:
            changes["execution_state"] = if_running(Value(state), "execution_state")
        if state == "busy":
            # Busy since it went busy: in this round if it was idle in between, else since the saved time.
            since = Value(datetime.fromtimestamp(pending.busy_from, UTC), output_field=DateTimeField())
            if not pending.was_not_busy:
                since = Coalesce(F("busy_since"), since)
            changes["busy_since"] = if_running(since, "busy_since")
        elif state:
            # It answered (idle, or starting): not busy, and not "not responding" any more.
            none = Value(None, output_field=DateTimeField())
            changes["busy_since"] = if_running(none, "busy_since")
            changes["unresponsive_since"] = if_running(none, "unresponsive_since")
        Kernel.objects.filter(pk=kernel_id).update(**changes)


#: The process's recorder.
recorder = ActivityRecorder()
