"""Reconciliation: what a backend runs and what the database says agree again.

After a crash, a lost database write, or a container removed by hand, the two can differ:

* a container labelled as one of ours that neither a kernel row nor a warm pool row references (an
  **orphan**) uses memory, CPU and maybe a GPU that nobody accounts for: it is removed (a container started
  for a pool and handed to a learner keeps its pool labels, so the rows, not the labels, say it is in use);
* a kernel row whose container is gone or stopped (a **lost** kernel) is recovered through
  :func:`lms_kernels.services.recover_kernel`, as if a connection had found it dead: restarted under
  ``AUTO_RESTART`` (its learner is told why it died), else marked dead.

Backends that can do this define ``async reconcile(known)``, where ``known`` is an async callable returning
``(kernels, pooled)``: ``{kernel id: the container id its backend state records}`` and the ids of the
backend's :class:`~lms_kernels.models.WarmKernel` rows (read first: a claim moves a kernel from a pool row to
a kernel row in one transaction). It returns an object with ``removed`` (kernel ids whose orphan containers
were removed), ``removed_pooled`` (the same for containers started for a pool) and ``missing`` (known
kernel ids without a running container); see :meth:`lms_kernels.backends.docker.DockerBackend.reconcile`.
Others are skipped.

It runs with every run of the repeating culling task (:mod:`lms_kernels.tasks`), so also when the task
worker starts, and with ``manage.py lms_kernels_reconcile``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync

from .backends import get_backend
from .conf import app_settings
from .exceptions import InvalidBackendError
from .models import Kernel, KernelStatus, WarmKernel

__all__ = ["ReconcileReport", "areconcile_kernels", "reconcile_kernels"]

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What reconciliation did for one backend alias."""

    alias: str
    removed: list[str] = field(default_factory=list)  # kernel ids of orphan containers removed
    removed_pooled: list[str] = field(default_factory=list)  # pool ids of orphan pool containers removed
    recovered: list[str] = field(default_factory=list)  # lost kernels handed to recover_kernel
    error: str | None = None


async def areconcile_kernels() -> list[ReconcileReport]:
    """Reconcile every configured backend that can; one report per such backend."""
    from .services import recover_kernel

    reports = []
    for alias in app_settings.BACKENDS:
        try:
            backend = get_backend(alias)
        except InvalidBackendError:
            continue  # reported by the system checks
        reconcile = getattr(backend, "reconcile", None)
        if reconcile is None:
            continue
        report = ReconcileReport(alias)
        reports.append(report)

        async def known(alias=alias):
            # Pool rows first: a claim deletes one and records its container on a kernel row, atomically.
            pooled = [
                str(pk) async for pk in WarmKernel.objects.filter(backend=alias).values_list("pk", flat=True)
            ]
            rows = Kernel.objects.filter(backend=alias).values_list("pk", "backend_state")
            kernels = {str(pk): (state or {}).get("container_id", "") async for pk, state in rows}
            return kernels, pooled

        try:
            result = await reconcile(known)
        except Exception as exc:
            logger.exception("Reconciling the kernel backend %r failed.", alias)
            report.error = str(exc)
            continue
        report.removed = list(result.removed)
        report.removed_pooled = list(getattr(result, "removed_pooled", []))
        for kernel_id in result.missing:
            kernel = await Kernel.objects.filter(pk=kernel_id, status=KernelStatus.RUNNING).afirst()
            # Asked again: the kernel may have been restarted since the containers were listed.
            if kernel is None or await backend.is_alive(kernel):
                continue
            logger.warning("Kernel %s has no running container; recovering it.", kernel.id)
            await recover_kernel(kernel.id, kernel.generation)
            report.recovered.append(str(kernel.id))
    return reports


def reconcile_kernels() -> list[ReconcileReport]:
    """:func:`areconcile_kernels` for synchronous callers (the background task, the management command)."""
    return async_to_sync(areconcile_kernels)()
