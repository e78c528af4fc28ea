"""Culling: kernels that nobody uses are shut down, so their memory, CPU and GPUs go to learners who do.

A kernel is culled when

* it is **idle**: not ``busy`` and no activity (a message either way) for its environment's ``idle_timeout``
  (or ``LMS_KERNELS["CULL_IDLE_TIMEOUT"]``) — a kernel training silently for hours is busy, not idle;
* it is **too old**: older than its environment's ``max_age``, busy or not;
* it is **idle although it looks busy**: it looked busy when last seen, has been silent for the idle timeout,
  and answers a probe on its shell channel (so it finished while nobody was connected to see it);
* it is **lost**: it looks busy but has been silent for the idle timeout and its process is gone.

Busy kernels are watched too (:func:`_watch_busy`). A kernel that has been busy (one execution) for
``BUSY_PROBE_AFTER`` seconds is asked ``kernel_info_request`` on its shell channel, which a kernel answers only
when it is not running code: one that answers was idle after all (its idle status was missed) and is saved
as idle; one that does not is marked *not responding* (``unresponsive_since``, shown in its REST model) and
its connections get a ``not_responding`` notice offering to interrupt or restart it. From outside, a cell that
really computes for long and a kernel whose shell hangs look the same, so nothing is done to it then. Past its
environment's ``max_busy_time`` (or ``MAX_BUSY_TIME``) a kernel that still does not answer is *stuck*: it is
restarted (not shut down: the learner keeps the kernel and its session, and the idle timeout still shuts it
down later if nobody uses it), and its connections are told why.

Connected clients are warned ``CULL_WARNING`` seconds before idle culling and told when it happens (see
:mod:`lms_kernels.connection.bridge`). The candidates are found with one query whatever the number of
kernels; each one is then claimed with a conditional update, so two culling workers never cull the same
kernel twice and a kernel that became active meanwhile is spared.

Run it from the repeating background task (:mod:`lms_kernels.tasks`), or with ``manage.py lms_kernels_cull``
(e.g. from cron).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import events, signals
from .backends import get_backend
from .conf import app_settings
from .exceptions import InvalidBackendError
from .models import ExecutionState, Kernel, KernelEnvironment, KernelStatus

__all__ = ["CulledKernel", "acull_kernels", "cull_kernels", "idle_timeout", "max_busy_time"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CulledKernel:
    kernel_id: str
    owner_id: int
    environment: str
    reason: str  # "idle", "max_age", "lost", or "stuck" (restarted, not shut down)


def max_busy_time(environment: KernelEnvironment) -> float | None:
    """The environment's own maximum busy time (``0``: no limit), else ``MAX_BUSY_TIME``."""
    if environment.max_busy_time is not None:
        return environment.max_busy_time or None
    return app_settings.MAX_BUSY_TIME


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
    culled += await _watch_busy(now, {entry.kernel_id for entry in culled})
    return culled


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = seconds // 60
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _busy_candidates(now: datetime, skip: set) -> list[tuple[Kernel, str]]:
    """Running kernels busy past ``BUSY_PROBE_AFTER`` (not yet found not responding) or their maximum busy
    time: ``(kernel, "probe")`` or ``(kernel, "stuck")``, found with one query."""
    probe_after = app_settings.BUSY_PROBE_AFTER
    condition = Q()
    for environment in KernelEnvironment.objects.only("pk", "max_busy_time"):
        limit = max_busy_time(environment)
        own = Q()
        if probe_after:
            own |= Q(busy_since__lt=now - timedelta(seconds=probe_after), unresponsive_since__isnull=True)
        if limit:
            own |= Q(busy_since__lt=now - timedelta(seconds=limit))
        if own:
            condition |= Q(environment_id=environment.pk) & own
    if not condition:
        return []
    kernels = Kernel.objects.filter(
        condition, status=KernelStatus.RUNNING, execution_state=ExecutionState.BUSY
    ).exclude(pk__in=skip)
    found = []
    for kernel in kernels.select_related("environment"):
        limit = max_busy_time(kernel.environment)
        stuck = limit and kernel.busy_since < now - timedelta(seconds=limit)
        found.append((kernel, "stuck" if stuck else "probe"))
    return found


async def _answers(kernel: Kernel) -> bool | None:
    """Whether a kernel that looks busy answers on its shell channel (``None``: its process is gone, or it
    could not be asked; the watch of its connections, or idle culling, deals with that)."""
    try:
        backend = get_backend(kernel.backend)
        if not await backend.is_alive(kernel):
            return None
        return bool(await backend.is_idle(kernel))
    except Exception:
        logger.exception("Could not probe kernel %s.", kernel.id)
        return None


async def _watch_busy(now: datetime, skip: set) -> list[CulledKernel]:
    """Probe kernels busy for long, report those that do not answer, restart the stuck ones (see above)."""
    from .services import _replace_process

    candidates = await sync_to_async(_busy_candidates)(now, skip)
    answers = await asyncio.gather(*(_answers(kernel) for kernel, _verdict in candidates))
    restarted = []
    for (kernel, verdict), answer in zip(candidates, answers, strict=True):
        unchanged = Kernel.objects.filter(
            pk=kernel.pk,
            status=KernelStatus.RUNNING,
            generation=kernel.generation,
            busy_since=kernel.busy_since,
        )
        if answer is None:
            continue
        busy_for = _duration((now - kernel.busy_since).total_seconds())
        if answer:
            # It answers, so it is not running code: its idle status was missed (nobody listened).
            await unchanged.aupdate(
                execution_state=ExecutionState.IDLE, busy_since=None, unresponsive_since=None
            )
        elif verdict == "probe":
            if await unchanged.filter(unresponsive_since__isnull=True).aupdate(unresponsive_since=now):
                logger.info("Kernel %s has been busy for %s and does not answer.", kernel.id, busy_for)
                message = _(
                    "The kernel has been busy for %(duration)s and does not answer. If your code is not meant "
                    "to run this long, interrupt it; if that does not help, restart the kernel (its variables "
                    "are lost)."
                ) % {"duration": busy_for}
                await events.notify(
                    kernel.id, "not_responding", message=message, restarting=False, busy_since=_iso(kernel)
                )
        elif await unchanged.aupdate(
            status=KernelStatus.RESTARTING, execution_state=ExecutionState.RESTARTING
        ):
            logger.info("Restarting kernel %s: busy for %s without answering.", kernel.id, busy_for)
            message = _(
                "The kernel was busy for more than %(limit)s without answering, so it was restarted: variables "
                "and imports are lost, run your cells again."
            ) % {"limit": _duration(max_busy_time(kernel.environment))}
            await events.notify(
                kernel.id, "not_responding", message=message, restarting=True, busy_since=_iso(kernel)
            )
            kernel.status = KernelStatus.RESTARTING
            try:
                await _replace_process(kernel)
            except Exception:
                logger.exception("Kernel %s could not be restarted.", kernel.id)
                continue
            restarted.append(CulledKernel(str(kernel.pk), kernel.owner_id, kernel.name, "stuck"))
    return restarted


def _iso(kernel: Kernel) -> str:
    return kernel.busy_since.isoformat()


def cull_kernels(now: datetime | None = None) -> list[CulledKernel]:
    """:func:`acull_kernels` for synchronous callers (the background task, the management command)."""
    return async_to_sync(acull_kernels)(now)
