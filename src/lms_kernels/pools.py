"""Warm pools: kernels started ahead of time, handed to a learner on request, refilled in the background, so a
learner's first Run does not wait for a container to start.

**Configuration.** An environment's ``backend_options["pool_size"]`` (a whole number, default ``0``) is how
many started kernels of it to keep waiting, on a backend that keeps pools (``supports_pools``: the Docker
backend). Environments that need GPUs have no pool (``lms_kernels.E107``): a pooled kernel would hold its
GPUs while nobody uses it, and GPUs are allocated to a learner's kernel when it starts. Inactive
environments have none either. :func:`pool_size` is the size in force.

**Pooled kernels** are fully started kernels (the backend's :meth:`~lms_kernels.backends.KernelBackend
.start_pooled`: hardened like any other, the environment's pinned image, a key and a directory of their
own), recorded as :class:`~lms_kernels.models.WarmKernel` rows and tied to nobody: no kernel row, no owner,
so no API and no WebSocket reaches them until one is handed out.

**Claiming** (:func:`start_or_claim`, called by the service where it would start a kernel's first process):
in one transaction, the oldest ready row of the environment that runs its pinned image is picked
(``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it: PostgreSQL) and deleted by its primary
key; only the worker whose ``DELETE`` removed the row goes on (the other gets a count of 0 and tries the
next row), and the same transaction records the pooled kernel's connection info and state on the learner's
kernel row. So two starts never get the same kernel, and a pooled kernel is referenced by a pool row or by
a kernel row at every moment (what reconciliation relies on). If the claimed kernel is not alive, it is
discarded and the next one is tried; with none left, the backend starts a kernel as usual (a cold start).

**Capacity.** A claim happens after admission (:mod:`lms_kernels.capacity`): a kernel served from the pool
holds a kernel slot like any other, and a queued kernel is served from the pool when the queue admits it.
Pooled kernels themselves are extra: they hold no slot of ``CAPACITY["KERNELS"]``, and the operator sizes
pools with the host's memory in mind (each one takes its environment's memory limit when used to the full).

**Refill.** After a claim (or a miss), :func:`refill_soon` tops the environment's pool up in the background
on the running event loop (coalesced per environment in a process). The repeating culling task
(:mod:`lms_kernels.tasks`) and ``manage.py lms_kernels_pool fill`` run :func:`afill`, which also removes
pooled kernels that are stale (their image is no longer the one the environment pins: it was rebuilt),
dead, left over by an interrupted start, or too many (the size was lowered). ``lms_kernels_pool drain``
removes pools (:func:`adrain`). Starting rows are reserved under the allocation lock, so several processes
filling at once never overfill a pool.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from asgiref.sync import AsyncToSync, async_to_sync, sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from . import capacity
from .backends import get_backend
from .conf import app_settings
from .exceptions import InvalidBackendError, KernelGone
from .models import Kernel, KernelEnvironment, KernelStatus, WarmKernel

__all__ = [
    "MAX_POOL_SIZE",
    "PoolReport",
    "adrain",
    "afill",
    "drain",
    "fill",
    "pool_problems",
    "pool_size",
    "pool_status",
    "refill_soon",
    "start_or_claim",
    "wait_for_refills",
]

logger = logging.getLogger(__name__)

#: The key of an environment's ``backend_options`` that sets its pool size.
POOL_OPTION = "pool_size"
MAX_POOL_SIZE = 100
#: Pooled kernels started at once per environment.
FILL_CONCURRENCY = 2
#: Seconds past ``KERNEL_STARTUP_TIMEOUT`` after which a row still being started is taken as left over.
LEFT_OVER_AFTER = 60
_CLAIM_ATTEMPTS = 3


def _backend_with_pools(alias: str):
    if alias not in app_settings.BACKENDS:
        return None
    try:
        backend = get_backend(alias)
    except InvalidBackendError:
        return None
    return backend if getattr(backend, "supports_pools", False) else None


def _valid_size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_POOL_SIZE


def pool_problems(environment: KernelEnvironment) -> list[str]:
    """What is wrong with the environment's ``pool_size`` (messages for ``lms_kernels.E107``)."""
    size = (environment.backend_options or {}).get(POOL_OPTION, 0)
    if not _valid_size(size):
        return [
            f"its backend option 'pool_size' must be a whole number from 0 to {MAX_POOL_SIZE}, not {size!r}"
        ]
    if not size:
        return []
    problems = []
    if environment.gpus:
        problems.append(
            "it needs GPUs, and GPU environments have no warm pool: a pooled kernel would hold its GPUs while "
            "nobody uses it (GPUs are allocated to a learner's kernel when it starts); set 'pool_size' to 0"
        )
    alias = environment.backend_alias()
    if alias in app_settings.BACKENDS and _backend_with_pools(alias) is None:
        problems.append(f"its backend {alias!r} keeps no warm pools (the docker backend does)")
    return problems


def pool_size(environment: KernelEnvironment) -> int:
    """How many warm kernels of ``environment`` to keep: its ``pool_size``, or 0 where it has no pool (inactive,
    GPUs, an invalid size, a backend without pools)."""
    size = (environment.backend_options or {}).get(POOL_OPTION, 0)
    if not size or not _valid_size(size) or environment.gpus or not environment.is_active:
        return 0
    return size if _backend_with_pools(environment.backend_alias()) is not None else 0


# -- claiming ------------------------------------------------------------------------------------------------


def _claim(kernel: Kernel, environment: KernelEnvironment, backend):
    """Take the oldest ready warm kernel of ``environment`` for ``kernel`` (see the module docstring):
    ``(warm, started)``, or ``None`` when the pool has none. :class:`KernelGone` when ``kernel`` is no longer
    starting (it was shut down meanwhile): the warm kernel then stays in the pool."""
    candidates = WarmKernel.objects.filter(backend=kernel.backend, environment_id=environment.pk, ready=True)
    if environment.image_digest:
        candidates = candidates.filter(image_id=environment.image_digest)
    candidates = candidates.order_by("created", "pk")
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    for _attempt in range(_CLAIM_ATTEMPTS):
        with transaction.atomic():
            warm = candidates.first()
            if warm is None:
                return None
            if not WarmKernel.objects.filter(pk=warm.pk).delete()[0]:
                continue  # another worker deleted it between our read and our delete: it is theirs
            started = backend.adopt_pooled(kernel, warm)
            recorded = Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.STARTING).update(
                connection_info=started.connection_info, backend_state=started.state
            )
            if not recorded:
                raise KernelGone()  # rolls the claim back
        return warm, started
    return None


async def start_or_claim(backend, kernel: Kernel, environment: KernelEnvironment):
    """The first process of an admitted kernel: a warm kernel of the environment's pool if it has one (the
    kernel's row records it at once), else ``backend.start``. Returns a
    :class:`~lms_kernels.backends.StartedKernel`."""
    if pool_size(environment):
        for _attempt in range(_CLAIM_ATTEMPTS):
            claimed = await sync_to_async(_claim)(kernel, environment, backend)
            if claimed is None:
                break
            warm, started = claimed
            kernel.connection_info, kernel.backend_state = started.connection_info, started.state
            if await backend.is_alive(kernel):
                logger.info(
                    "Kernel %s (%s) is served from the pool (%s).", kernel.id, environment.slug, warm.id
                )
                refill_soon(environment)
                return started
            logger.warning(
                "Pooled kernel %s of %s was not running; discarding it.", warm.id, environment.slug
            )
            await backend.discard_pooled(warm)
            await Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.STARTING).aupdate(
                connection_info={}, backend_state={}
            )
            kernel.connection_info, kernel.backend_state = {}, {}
        refill_soon(environment)
    return await backend.start(kernel, environment)


# -- filling -------------------------------------------------------------------------------------------------


@dataclass
class PoolReport:
    """What :func:`afill` or :func:`adrain` did to one environment's pool on one backend."""

    environment: str
    backend: str
    size: int
    started: int = 0
    removed_stale: int = 0
    removed_dead: int = 0
    removed_extra: int = 0
    removed_left_over: int = 0
    drained: int = 0
    errors: list[str] = field(default_factory=list)


async def _discard(backend, warm: WarmKernel) -> bool:
    """Remove ``warm`` from its pool (its row first, so nobody can claim it) and its kernel; ``False`` when
    someone claimed it first."""
    deleted, _by_model = await WarmKernel.objects.filter(pk=warm.pk).adelete()
    if not deleted:
        return False
    if backend is not None and (warm.backend_state or warm.connection_info):
        try:
            await backend.discard_pooled(warm)
        except Exception:
            logger.exception("Could not remove pooled kernel %s; reconciliation will.", warm.id)
    return True


def _reserve(
    environment: KernelEnvironment, alias: str, size: int
) -> tuple[list[WarmKernel], list[WarmKernel]]:
    """Under the allocation lock: insert the rows that bring the pool to ``size`` (to be started), or take the
    ready rows beyond it out (to be removed). Returns ``(reserved, taken_out)``."""
    with capacity.locked():
        rows = list(
            WarmKernel.objects.filter(environment_id=environment.pk, backend=alias).order_by("created")
        )
        if len(rows) > size:
            taken = []
            for warm in [row for row in rows if row.ready][: len(rows) - size]:
                if WarmKernel.objects.filter(pk=warm.pk).delete()[0]:
                    taken.append(warm)
            return [], taken
        return [
            WarmKernel.objects.create(environment=environment, backend=alias) for _ in range(size - len(rows))
        ], []


async def _start_one(backend, warm: WarmKernel, environment: KernelEnvironment, report: PoolReport) -> None:
    try:
        started = await backend.start_pooled(warm, environment)
    except BaseException as exc:
        await WarmKernel.objects.filter(pk=warm.pk).adelete()
        if isinstance(exc, Exception):
            logger.warning("A pooled kernel of %s could not be started: %s", environment.slug, exc)
            report.errors.append(str(getattr(exc, "detail", None) or exc))
            return
        raise
    image_id = started.state.get("image_id", "")
    warm.connection_info, warm.backend_state = started.connection_info, started.state
    recorded = await WarmKernel.objects.filter(pk=warm.pk, ready=False).aupdate(
        ready=True, connection_info=started.connection_info, backend_state=started.state, image_id=image_id
    )
    if not recorded:  # drained while it started
        await backend.discard_pooled(warm)
        return
    report.started += 1
    if image_id and not environment.image_digest:  # pinned as a kernel's first start pins it
        await KernelEnvironment.objects.filter(pk=environment.pk, image_digest="").aupdate(
            image_digest=image_id
        )


async def _fill_environment(environment: KernelEnvironment, *, check_alive: bool) -> list[PoolReport]:
    alias = environment.backend_alias()
    size = pool_size(environment)
    reports = []
    # Rows on another backend than the environment's (it was moved): removed.
    async for other in (
        WarmKernel.objects.filter(environment_id=environment.pk)
        .exclude(backend=alias)
        .values_list("backend", flat=True)
        .distinct()
    ):
        reports.append(await _drain_rows(environment, other))
    backend = _backend_with_pools(alias)
    report = PoolReport(environment.slug, alias, size)
    if backend is None and not await WarmKernel.objects.filter(environment_id=environment.pk).aexists():
        return reports
    reports.append(report)
    rows = WarmKernel.objects.filter(environment_id=environment.pk, backend=alias)
    left_over = timezone.now() - timedelta(seconds=app_settings.KERNEL_STARTUP_TIMEOUT + LEFT_OVER_AFTER)
    # Rows whose start was interrupted (the process died): forgotten; reconciliation removes their containers.
    report.removed_left_over, _by_model = await rows.filter(ready=False, created__lt=left_over).adelete()
    for warm in [warm async for warm in rows.filter(ready=True)]:
        if environment.image_digest and warm.image_id != environment.image_digest:
            report.removed_stale += await _discard(backend, warm)
        elif check_alive and backend is not None and not await backend.is_alive(warm):
            report.removed_dead += await _discard(backend, warm)
    reserved, extra = await sync_to_async(_reserve)(environment, alias, size)
    for warm in extra:
        report.removed_extra += 1
        if backend is not None:
            await backend.discard_pooled(warm)
    if reserved:
        limit = asyncio.Semaphore(FILL_CONCURRENCY)

        async def start(warm):
            async with limit:
                await _start_one(backend, warm, environment, report)

        await asyncio.gather(*(start(warm) for warm in reserved))
    return reports


async def afill(
    environment: KernelEnvironment | str | None = None, *, check_alive: bool = True
) -> list[PoolReport]:
    """Bring pools to their size: the environment's (an object or a slug), or every environment's that has a
    pool or pool rows. Removes stale, dead (when ``check_alive``), left-over and extra pooled kernels first;
    returns one report per pool touched."""
    environments = KernelEnvironment.objects.all()
    if isinstance(environment, str):
        environments = environments.filter(slug=environment)
    elif environment is not None:
        environments = environments.filter(pk=environment.pk)
    with_rows = set()
    async for pk in WarmKernel.objects.values_list("environment_id", flat=True).distinct():
        with_rows.add(pk)
    reports = []
    async for env in environments:
        if env.pk in with_rows or pool_size(env):
            reports.extend(await _fill_environment(env, check_alive=check_alive))
    return reports


def fill(environment=None, *, check_alive: bool = True) -> list[PoolReport]:
    """:func:`afill` for synchronous callers (the background task, the management command)."""
    return async_to_sync(afill)(environment, check_alive=check_alive)


async def _drain_rows(environment: KernelEnvironment, alias: str) -> PoolReport:
    backend = _backend_with_pools(alias)
    report = PoolReport(environment.slug, alias, 0)
    for warm in [
        warm async for warm in WarmKernel.objects.filter(environment_id=environment.pk, backend=alias)
    ]:
        report.drained += await _discard(backend, warm)
    return report


async def adrain(environment: KernelEnvironment | str | None = None) -> list[PoolReport]:
    """Remove every pooled kernel (of one environment, an object or a slug, if given); returns one report per
    pool. The pools are filled again by the next :func:`afill` unless their size is 0."""
    rows = WarmKernel.objects.all()
    if isinstance(environment, str):
        rows = rows.filter(environment__slug=environment)
    elif environment is not None:
        rows = rows.filter(environment_id=environment.pk)
    pairs = set()
    async for pair in rows.values_list("environment_id", "backend").distinct():
        pairs.add(pair)
    reports = []
    for environment_id, alias in sorted(pairs):
        env = await KernelEnvironment.objects.aget(pk=environment_id)
        reports.append(await _drain_rows(env, alias))
    return reports


def drain(environment=None) -> list[PoolReport]:
    """:func:`adrain` for synchronous callers."""
    return async_to_sync(adrain)(environment)


def pool_status() -> list[dict]:
    """Each pool (every environment with a pool size or pool rows): its slug, backend, size, and how many of its
    kernels are ready, starting and stale (ready, but of an image the environment no longer pins)."""
    environments = {env.pk: env for env in KernelEnvironment.objects.all()}
    status = {}
    for env in environments.values():
        if pool_size(env) or (env.backend_options or {}).get(POOL_OPTION):
            status[(env.pk, env.backend_alias())] = {}
    rows = WarmKernel.objects.values_list("environment_id", "backend", "ready", "image_id")
    for environment_id, alias, ready, image_id in rows:
        counts = status.setdefault((environment_id, alias), {})
        digest = environments[environment_id].image_digest
        key = "starting" if not ready else "stale" if digest and image_id != digest else "ready"
        counts[key] = counts.get(key, 0) + 1
    result = []
    for (environment_id, alias), counts in status.items():
        env = environments[environment_id]
        result.append(
            {
                "environment": env.slug,
                "backend": alias,
                "size": pool_size(env) if alias == env.backend_alias() else 0,
                "ready": counts.get("ready", 0),
                "starting": counts.get("starting", 0),
                "stale": counts.get("stale", 0),
            }
        )
    return sorted(result, key=lambda entry: (entry["environment"], entry["backend"]))


# -- refilling in the background -----------------------------------------------------------------------------

#: Strong references to this process's refills, so they are not garbage-collected half-way.
_background: set[asyncio.Task] = set()
#: environment pk -> this process's refill of its pool in progress; a request meanwhile asks it to go again.
_filling: dict[int, asyncio.Task] = {}
_again: set[int] = set()


def refill_soon(environment: KernelEnvironment) -> None:
    """Top the environment's pool up in the background on the running event loop (call from async code).

    On a short-lived loop of ``async_to_sync`` (a management command, the background task) the task would be
    cancelled when the call returns; the pool is then filled by the next run of the culling task.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop in getattr(AsyncToSync, "loop_thread_executors", {}):
        return
    running = _filling.get(environment.pk)
    if running is not None and not running.done() and running.get_loop() is loop:
        _again.add(environment.pk)
        return
    task = loop.create_task(_refill_until_settled(environment.pk))
    _background.add(task)
    task.add_done_callback(_background.discard)
    _filling[environment.pk] = task


async def _refill_until_settled(environment_pk: int) -> None:
    try:
        while True:
            _again.discard(environment_pk)
            environment = await KernelEnvironment.objects.filter(pk=environment_pk).afirst()
            if environment is not None:
                await _fill_environment(environment, check_alive=False)
            if environment_pk not in _again:
                return
    except Exception:
        logger.exception("Refilling the warm pool of environment %s failed.", environment_pk)
    finally:
        if _filling.get(environment_pk) is asyncio.current_task():
            del _filling[environment_pk]


async def wait_for_refills(timeout: float = 120) -> None:
    """Wait for this process's background refills on the running loop (for tests and benchmarks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        pending = [task for task in _background if not task.done() and task.get_loop() is loop]
        if not pending or loop.time() >= deadline:
            return
        await asyncio.wait(pending, timeout=max(deadline - loop.time(), 0.01))
