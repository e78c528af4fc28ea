"""Capacity: kernel slots and GPUs per backend, allocated in the database, with quotas and a fair queue.

**Inventory.** A backend's entry in ``LMS_KERNELS["BACKENDS"]`` may say what it has room for::

    "gpu": {
        "BACKEND": "lms_kernels.backends.docker.DockerBackend",
        "OPTIONS": {...},
        "CAPACITY": {"KERNELS": 20, "GPUS": ["0", "1"], "GPU_SHARE": 1},
    }

``KERNELS`` is how many kernels may hold a slot at once (starting, running, restarting or shutting down;
``None``: no limit), ``GPUS`` the device ids a kernel may be given, ``GPU_SHARE`` how many kernels may share
one device. A kernel of an environment with ``gpus = n`` gets ``n`` different devices.

**Admission.** A start on a backend with a ``KERNELS`` limit, or of an environment that needs GPUs, is
*admitted*: the kernel row joins the backend's queue (``status="queued"``) and the queue is walked, oldest
first, inside one locked transaction. Each waiting kernel that fits in what is free is admitted (slot and
devices allocated, ``status="starting"``); one that does not fit *reserves* what it waits for (a slot and
the free devices it needs, up to its need), so nobody behind it can take them: a kernel that needs two
GPUs at the head of the queue is not starved by one-GPU kernels behind it, while kernels that need what
nobody ahead waits for (a CPU kernel when slots are free) start at once. A new start is the newest waiter,
so it never jumps the queue. Among free devices, the least loaded are chosen (kernels spread over GPUs).

**Quotas.** GPUs held *or waited for* by a user's kernels (``KernelAdapter.get_gpu_quota``), and by a
group's (``get_group_gpu_quota``), are checked when a kernel asks; over quota is a refusal
(:class:`~lms_kernels.exceptions.QuotaExceeded`), not a wait. One user waits for one kernel at a time
(:class:`~lms_kernels.exceptions.AlreadyQueued`).

**Locking.** Decisions are made under one lock per database: ``pg_advisory_xact_lock`` on PostgreSQL (the
choice reads counts, and row locks cannot lock rows that do not exist yet: the free slots), and on other
databases a write as the transaction's first statement, which takes SQLite's database write lock. The unique
constraint on ``(backend, device, slot)`` is the final guarantee on every database: a slot is never handed
out twice, even by code that forgot the lock.

**Release** (:func:`release`) closes the kernel's GPU usage records and deletes its allocations; every way
out (shut down, culled, died without a restart, a failed start, a deleted row) goes through it. A kernel's
slot is free as soon as it is ``dead``, ``queued`` or deleted.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .adapters import get_adapter
from .conf import app_settings
from .exceptions import AlreadyQueued, BackendUnavailable, CapacityExhausted, NoGpuAvailable, QuotaExceeded
from .models import ExecutionState, GpuAllocation, GpuUsage, Kernel, KernelEnvironment, KernelStatus

__all__ = [
    "Capacity",
    "admit_new",
    "admit_queued",
    "capacity_of",
    "expire_overdue",
    "limited_backends",
    "needs_admission",
    "queue_position",
    "queue_positions",
    "release",
    "requeue",
]

#: The key of the PostgreSQL advisory lock that serialises allocation decisions ("lms_kern" in ASCII).
LOCK_KEY = int.from_bytes(b"lms_kern", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: Kernels that hold a kernel slot on their backend.
_NOT_HOLDING = (KernelStatus.QUEUED, KernelStatus.DEAD)
_ATTEMPTS = 3


@dataclass(frozen=True)
class Capacity:
    """What a backend has room for (its ``CAPACITY`` setting)."""

    kernels: int | None = None
    gpus: tuple[str, ...] = ()
    gpu_share: int = 1

    @property
    def limited(self) -> bool:
        return self.kernels is not None or bool(self.gpus)


def capacity_of(alias: str) -> Capacity:
    raw = (app_settings.BACKENDS.get(alias) or {}).get("CAPACITY") or {}
    return Capacity(raw.get("KERNELS"), tuple(raw.get("GPUS", ())), raw.get("GPU_SHARE", 1))


def limited_backends() -> list[str]:
    """The aliases whose kernels may have to wait (the ones with a queue)."""
    return [alias for alias in app_settings.BACKENDS if capacity_of(alias).limited]


def needs_admission(alias: str, environment: KernelEnvironment) -> bool:
    """Whether a kernel of ``environment`` on ``alias`` needs a slot or GPUs (else it starts at once)."""
    return capacity_of(alias).kernels is not None or environment.gpus > 0


def check_inventory(alias: str, environment: KernelEnvironment) -> None:
    """:class:`BackendUnavailable` when the backend can never give the environment its GPUs."""
    have = len(capacity_of(alias).gpus)
    if environment.gpus > have:
        if have:
            message = ngettext(
                "This environment needs %(need)d GPUs, but its server has only %(have)d.",
                "This environment needs %(need)d GPUs, but its server has only %(have)d.",
                have,
            ) % {"need": environment.gpus, "have": have}
        else:
            message = _("This environment needs a GPU, but its server has none.")
        raise BackendUnavailable(message, code="no_gpus_on_backend")


@contextmanager
def locked() -> Iterator[None]:
    """A transaction in which allocation decisions are serialised (see the module docstring)."""
    with transaction.atomic():
        connection = transaction.get_connection()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            else:
                table = connection.ops.quote_name(GpuAllocation._meta.db_table)
                cursor.execute(f"UPDATE {table} SET slot = slot WHERE 1 = 0")  # noqa: S608 - a fixed name
        yield


# -- quotas --------------------------------------------------------------------------------------------------


def _gpus_held_or_awaited(kernels) -> int:
    held = GpuAllocation.objects.filter(kernel__in=kernels).count()
    awaited = kernels.filter(status=KernelStatus.QUEUED).aggregate(n=Sum("environment__gpus"))["n"] or 0
    return held + awaited


def check_gpu_quotas(kernel: Kernel, environment: KernelEnvironment) -> None:
    """:class:`QuotaExceeded` when ``kernel`` would take its owner or its group past their GPU quota."""
    need = environment.gpus
    if not need:
        return
    adapter = get_adapter()
    limit = adapter.get_gpu_quota(kernel.owner)
    if limit is not None:
        used = _gpus_held_or_awaited(Kernel.objects.filter(owner_id=kernel.owner_id).exclude(pk=kernel.pk))
        if used + need > limit:
            raise QuotaExceeded(_user_quota_message(used, need, limit), code="gpu_quota_exceeded")
    if kernel.group:
        limit = adapter.get_group_gpu_quota(kernel.group)
        if limit is not None:
            used = _gpus_held_or_awaited(Kernel.objects.filter(group=kernel.group).exclude(pk=kernel.pk))
            if used + need > limit:
                name = adapter.get_group_display_name(kernel.group)
                raise QuotaExceeded(
                    _group_quota_message(name, used, need, limit), code="group_gpu_quota_exceeded"
                )


def _user_quota_message(used: int, need: int, limit: int) -> str:
    if used:
        return (
            ngettext(
                "You already use %(used)d GPU, your limit is %(limit)d.",
                "You already use %(used)d GPUs, your limit is %(limit)d.",
                used,
            )
            % {"used": used, "limit": limit}
            + " "
            + _("Shut down a kernel that uses a GPU, then try again.")
        )
    if limit == 0:
        return _("You may not use GPUs: your GPU limit is 0.")
    return ngettext(
        "This environment needs %(need)d GPU, but your limit is %(limit)d.",
        "This environment needs %(need)d GPUs, but your limit is %(limit)d.",
        need,
    ) % {"need": need, "limit": limit}


def _group_quota_message(name: str, used: int, need: int, limit: int) -> str:
    if used:
        return (
            ngettext(
                "%(group)s already uses %(used)d GPU, its limit is %(limit)d.",
                "%(group)s already uses %(used)d GPUs, its limit is %(limit)d.",
                used,
            )
            % {"group": name, "used": used, "limit": limit}
            + " "
            + _("Try again when one of its kernels stops.")
        )
    return ngettext(
        "Kernels of %(group)s may use at most %(limit)d GPU; this environment needs %(need)d.",
        "Kernels of %(group)s may use at most %(limit)d GPUs; this environment needs %(need)d.",
        limit,
    ) % {"group": name, "limit": limit, "need": need}


# -- admission -----------------------------------------------------------------------------------------------


def _walk(alias: str, capacity: Capacity) -> list[tuple[Kernel, list[str]]]:
    """The waiting kernels that fit now, with their devices (see "Admission" in the module docstring)."""
    queued = list(
        Kernel.objects.filter(backend=alias, status=KernelStatus.QUEUED)
        .select_related("environment")
        .order_by("queued_at", "pk")
    )
    if not queued:
        return []
    if capacity.kernels is None:
        free_slots = math.inf
    else:
        holding = Kernel.objects.filter(backend=alias).exclude(status__in=_NOT_HOLDING).count()
        free_slots = capacity.kernels - holding
    used = Counter(GpuAllocation.objects.filter(backend=alias).values_list("device", flat=True))
    free = {device: max(capacity.gpu_share - used[device], 0) for device in capacity.gpus}
    rank = {device: index for index, device in enumerate(capacity.gpus)}
    admitted = []
    for kernel in queued:
        need = kernel.environment.gpus
        if need > len(capacity.gpus):
            continue  # can never fit (the environment changed): it waits out its timeout, reserving nothing
        candidates = sorted((d for d in capacity.gpus if free[d] > 0), key=lambda d: (-free[d], rank[d]))
        chosen = candidates[:need]
        if free_slots >= 1 and len(chosen) == need:
            admitted.append((kernel, sorted(chosen, key=rank.__getitem__)))
        # Admitted or not, what it takes or waits for is not free for those behind it.
        if free_slots >= 1:
            free_slots -= 1
        for device in chosen:
            free[device] -= 1
        if free_slots < 1 and not any(free.values()):
            break
    return admitted


def _allocate(alias: str, capacity: Capacity, kernel: Kernel, devices: list[str], now: datetime) -> bool:
    """Give ``kernel`` its slot and ``devices``; ``False`` if it left the queue meanwhile."""
    won = Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.QUEUED).update(
        status=KernelStatus.STARTING, execution_state=ExecutionState.STARTING, gpu_devices=devices
    )
    if not won:
        return False
    taken = set(GpuAllocation.objects.filter(backend=alias, device__in=devices).values_list("device", "slot"))
    for device in devices:
        slot = next(i for i in range(capacity.gpu_share) if (device, i) not in taken)
        GpuAllocation.objects.create(backend=alias, device=device, slot=slot, kernel=kernel, allocated_at=now)
        GpuUsage.objects.create(
            kernel_id=kernel.pk,
            owner_id=kernel.owner_id,
            group=kernel.group,
            environment=kernel.name,
            backend=alias,
            device=device,
            started=now,
        )
    kernel.status, kernel.execution_state, kernel.gpu_devices = (
        KernelStatus.STARTING,
        ExecutionState.STARTING,
        devices,
    )
    return True


def _admit(alias: str, now: datetime) -> list[Kernel]:
    capacity = capacity_of(alias)
    return [
        kernel
        for kernel, devices in _walk(alias, capacity)
        if _allocate(alias, capacity, kernel, devices, now)
    ]


def _retrying(decide: Callable[[], tuple[Kernel, list[Kernel]]]) -> tuple[Kernel, list[Kernel]]:
    for attempt in range(_ATTEMPTS):
        try:
            return decide()
        except IntegrityError:  # a slot taken behind the lock's back: decide again with what is there now
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _join_queue(kernel: Kernel, environment: KernelEnvironment, now: datetime) -> tuple[Kernel, list[Kernel]]:
    """Checks and admission for ``kernel``, queued at ``now`` in the current locked transaction.

    Returns the kernel (``starting`` if admitted, else still ``queued``) and the other kernels admitted on
    the way (their start was missed: the caller starts them too).
    """
    if (
        Kernel.objects.filter(owner_id=kernel.owner_id, status=KernelStatus.QUEUED)
        .exclude(pk=kernel.pk)
        .exists()
    ):
        raise AlreadyQueued()
    check_gpu_quotas(kernel, environment)
    admitted = _admit(kernel.backend, now)
    mine = next((k for k in admitted if k.pk == kernel.pk), None)
    if mine is None and app_settings.QUEUE_TIMEOUT == 0:
        raise NoGpuAvailable() if environment.gpus else CapacityExhausted()
    return mine or kernel, [k for k in admitted if k.pk != kernel.pk]


def admit_new(
    user,
    environment: KernelEnvironment,
    alias: str,
    group: str,
    *,
    check: Callable[[Kernel], None] | None = None,
) -> tuple[Kernel, list[Kernel]]:
    """Create a kernel row for ``user`` and admit it or queue it (see :func:`_join_queue`).

    ``check(kernel)`` runs in the same transaction once the row exists (the kernels-per-user limit); any
    refusal rolls the row back.
    """

    def decide():
        with locked():
            now = timezone.now()
            kernel = Kernel.objects.create(
                owner=user,
                environment=environment,
                name=environment.slug,
                backend=alias,
                group=group,
                status=KernelStatus.QUEUED,
                queued_at=now,
            )
            if check is not None:
                check(kernel)
            return _join_queue(kernel, environment, now)

    return _retrying(decide)


def requeue(kernel: Kernel) -> tuple[Kernel, list[Kernel]]:
    """A ``dead`` kernel asked to restart: admit it again, or queue it (its process is gone)."""

    def decide():
        with locked():
            now = timezone.now()
            moved = Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.DEAD).update(
                status=KernelStatus.QUEUED, execution_state=ExecutionState.STARTING, queued_at=now, reason=""
            )
            row = Kernel.objects.select_related("environment").get(pk=kernel.pk)
            if not moved:
                return row, []
            release(row.pk)  # what a kernel that could not be shut down kept: its restart stops it first
            return _join_queue(row, row.environment, now)

    return _retrying(decide)


def admit_queued(alias: str) -> list[Kernel]:
    """Admit the waiting kernels of ``alias`` that fit now; returns them (``starting``, to be started)."""
    if not Kernel.objects.filter(backend=alias, status=KernelStatus.QUEUED).exists():
        return []

    def decide():
        with locked():
            return None, _admit(alias, timezone.now())

    return _retrying(decide)[1]


# -- release -------------------------------------------------------------------------------------------------


def release(kernel_id: uuid.UUID) -> int:
    """Free the GPUs of a kernel and close their usage records; returns how many were freed. Idempotent."""
    now = timezone.now()
    freed = 0
    with transaction.atomic():
        for usage in GpuUsage.objects.filter(kernel_id=kernel_id, ended__isnull=True):
            seconds = max((now - usage.started).total_seconds(), 0.0)
            freed += GpuUsage.objects.filter(pk=usage.pk, ended__isnull=True).update(
                ended=now, seconds=seconds
            )
        GpuAllocation.objects.filter(kernel_id=kernel_id).delete()
    return freed


# -- the queue's order and its timeout -----------------------------------------------------------------------


def queue_positions(alias: str) -> dict[uuid.UUID, int]:
    """Each waiting kernel of ``alias`` and its place in the queue (1: next)."""
    ids = (
        Kernel.objects.filter(backend=alias, status=KernelStatus.QUEUED)
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)
    )
    return {pk: index + 1 for index, pk in enumerate(ids)}


def queue_position(kernel: Kernel) -> int | None:
    """The kernel's place in its backend's queue (1: next), ``None`` when it is not waiting."""
    if kernel.status != KernelStatus.QUEUED or kernel.queued_at is None:
        return None
    ahead = (
        Kernel.objects.filter(backend=kernel.backend, status=KernelStatus.QUEUED)
        .filter(Q(queued_at__lt=kernel.queued_at) | Q(queued_at=kernel.queued_at, pk__lt=kernel.pk))
        .count()
    )
    return ahead + 1


def _duration(seconds: float) -> str:
    if seconds >= 120:
        minutes = round(seconds / 60)
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    seconds = round(seconds)
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


def timeout_message(environment: KernelEnvironment) -> str:
    duration = _duration(app_settings.QUEUE_TIMEOUT or 0)
    if environment.gpus:
        return _("No GPU became free within %(duration)s; try again later.") % {"duration": duration}
    return _("No room for your kernel became free within %(duration)s; try again later.") % {
        "duration": duration
    }


def expire_overdue(now: datetime | None = None, *, kernel_id=None) -> list[Kernel]:
    """End the waits older than ``QUEUE_TIMEOUT`` (only ``kernel_id``'s, if given): the kernels become
    ``dead`` with a reason saying so. Returns them."""
    timeout = app_settings.QUEUE_TIMEOUT
    if not timeout:
        return []
    now = now or timezone.now()
    overdue = Kernel.objects.filter(
        status=KernelStatus.QUEUED, queued_at__lt=now - timedelta(seconds=timeout)
    )
    if kernel_id is not None:
        overdue = overdue.filter(pk=kernel_id)
    ended = []
    for kernel in overdue.select_related("environment"):
        message = timeout_message(kernel.environment)
        won = Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.QUEUED).update(
            status=KernelStatus.DEAD, execution_state=ExecutionState.DEAD, reason=message
        )
        if won:
            kernel.status, kernel.execution_state, kernel.reason = (
                KernelStatus.DEAD,
                ExecutionState.DEAD,
                message,
            )
            ended.append(kernel)
    return ended
