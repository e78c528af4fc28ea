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

from asgiref.sync import sync_to_async

from .conf import app_settings

__all__ = ["recorder"]

logger = logging.getLogger(__name__)


class ActivityRecorder:
    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, tuple[float, str | None]] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def record(self, kernel_id: uuid.UUID, execution_state: str | None = None) -> None:
        previous = self._pending.get(kernel_id)
        if execution_state is None and previous is not None:
            execution_state = previous[1]
        self._pending[kernel_id] = (time.time(), execution_state)
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
        stamp, state = pending
        kernel.last_activity = max(kernel.last_activity, datetime.fromtimestamp(stamp, UTC))
        if state:
            kernel.execution_state = state

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


def _save(items: dict[uuid.UUID, tuple[float, str | None]]) -> None:
    from django.db.models import Case, F, Value, When

    from .models import Kernel, KernelStatus

    for kernel_id, (stamp, state) in items.items():
        changes = {"last_activity": datetime.fromtimestamp(stamp, UTC)}
        if state:
            # Only a running kernel takes the state its messages report: one that died, or is restarting or
            # shutting down meanwhile, keeps the state the service gave it.
            changes["execution_state"] = Case(
                When(status=KernelStatus.RUNNING, then=Value(state)), default=F("execution_state")
            )
        Kernel.objects.filter(pk=kernel_id).update(**changes)


#: The process's recorder.
recorder = ActivityRecorder()
