"""Culling: kernels that nobody uses are shut down, so their memory, CPU and GPUs go to learners who do.

A kernel is culled when

* it is **idle**: not ``busy`` and no activity (a message either way) for its environment's ``idle_timeout``
  (or ``LMS_KERNELS["CULL_IDLE_TIMEOUT"]``) — a kernel training silently for hours is busy, not idle;
* it is **too old**: older than its environment's ``max_age``, busy or not;
* it is **idle although it looks busy**: it looked busy when last seen, has been silent for the idle timeout,
  and answers a probe on its shell channel (so it finished while nobody was connected to see it);
* it is **lost**: it looks busy but has been silent for the idle timeout and its process is gone.

Connected clients are warned ``CULL_WARNING`` seconds before idle culling and told when it happens (see
:mod:`lms_kernels.connection.bridge`). The candidates are found with one query whatever the number of
kernels; each one is then claimed with a conditional update, so two culling workers never cull the same
kernel twice and a kernel that became active meanwhile is spared.

Run it from the repeating background task (:mod:`lms_kernels.tasks`), or with ``manage.py lms_kernels_cull``
(e.g. from cron).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import events, signals
from .backends import get_backend
from .conf import app_settings
from .exceptions import InvalidBackendError
from .models import ExecutionState, Kernel, KernelEnvironment, KernelStatus

__all__ = ["CulledKernel", "acull_kernels", "cull_kernels", "idle_timeout"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CulledKernel:
    kernel_id: str
    owner_id: int
    environment: str
    reason: str  # "idle", "max_age" or "lost"


def idle_timeout(environment: KernelEnvironment) -> float | None:
    """The environment's own timeout (``0``: never cull for idleness), else the setting's."""
    if environment.idle_timeout is not None:
        return environment.idle_timeout or None
    return app_settings.CULL_IDLE_TIMEOUT


def _candidates(now: datetime) -> list[tuple[Kernel, str]]:
    condition = Q()
    for environment in KernelEnvironment.objects.only("pk", "idle_timeout", "max_age"):
        idle = idle_timeout(environment)
        own = Q()
        if idle:
            own |= Q(last_activity__lt=now - timedelta(seconds=idle))
        if environment.max_age:
            own |= Q(created__lt=now - timedelta(seconds=environment.max_age))
        if own:
            condition |= Q(environment_id=environment.pk) & own
    if not condition:
        return []
    found = []
    kernels = Kernel.objects.filter(condition, status__in=[KernelStatus.RUNNING, KernelStatus.DEAD])
    for kernel in kernels.select_related("environment"):
        max_age = kernel.environment.max_age
        if max_age and kernel.created < now - timedelta(seconds=max_age):
            found.append((kernel, "max_age"))
        elif kernel.execution_state != ExecutionState.BUSY or kernel.status == KernelStatus.DEAD:
            found.append((kernel, "idle"))
        else:
            found.append((kernel, "busy"))  # idle or lost unless it really is busy: checked by the caller
    return found


def _message(kernel: Kernel, reason: str) -> str:
    if reason == "max_age":
        return _("The kernel was shut down because it reached its maximum age of %(minutes)d minutes.") % {
            "minutes": kernel.environment.max_age // 60
        }
    if reason == "lost":
        return _("The kernel was shut down because its process was gone.")
    idle = idle_timeout(kernel.environment) or 0
    return _("The kernel was shut down after %(minutes)d minutes without activity.") % {
        "minutes": int(idle // 60)
    }


async def _really(kernel: Kernel) -> str | None:
    """For a kernel that looks busy: ``"lost"`` (no process), ``"idle"`` (it answers), or ``None`` (busy)."""
    try:
        backend = get_backend(kernel.backend)
    except InvalidBackendError:
        return "lost"
    try:
        if not await backend.is_alive(kernel):
            return "lost"
        return "idle" if await backend.is_idle(kernel) else None
    except Exception:
        logger.exception("Could not probe kernel %s; it is not culled.", kernel.id)
        return None


async def acull_kernels(now: datetime | None = None) -> list[CulledKernel]:
    """Cull what is due at ``now``; returns what was culled."""
    from .services import shutdown_kernel

    now = now or timezone.now()
    culled = []
    for kernel, reason in await sync_to_async(_candidates)(now):
        if reason == "busy":
            reason = await _really(kernel)
            if reason is None:
                continue
        # Claim it, unless it was active, restarted or shut down since it was read.
        claimed = await Kernel.objects.filter(
            pk=kernel.pk, status=kernel.status, last_activity=kernel.last_activity
        ).aupdate(status=KernelStatus.TERMINATING)
        if not claimed:
            continue
        entry = CulledKernel(str(kernel.pk), kernel.owner_id, kernel.name, reason)
        message = _message(kernel, reason)
        logger.info("Culling kernel %s of user %s (%s).", kernel.id, kernel.owner_id, reason)
        await signals.send_robust(signals.kernel_culled, sender=Kernel, kernel=kernel, reason=reason)
        await events.notify(kernel.id, "culled", reason=reason, message=message)
        try:
            await shutdown_kernel(kernel)
        except Exception:
            logger.exception("Kernel %s could not be culled.", kernel.id)
            continue
        culled.append(entry)
    return culled


def cull_kernels(now: datetime | None = None) -> list[CulledKernel]:
    """:func:`acull_kernels` for synchronous callers (the background task, the management command)."""
    return async_to_sync(acull_kernels)(now)
