"""What the REST API, the WebSocket and the admin do to kernels and sessions: database plus backend.

The functions are ``async``; database work runs in one thread hop per step (``sync_to_async``), backend
calls run on the event loop. Ownership is enforced by filtering through the adapter's querysets, so another
user's kernel or session is simply not found.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import capacity, events, pools, queue, signals
from .adapters import get_adapter
from .backends import get_backend
from .conf import app_settings
from .connection import replay
from .exceptions import (
    BackendUnavailable,
    BadRequest,
    InvalidBackendError,
    KernelDied,
    KernelGone,
    KernelNotFound,
    KernelRestartLimitReached,
    KernelServiceError,
    KernelStartFailed,
    NoSuchKernelSpec,
    QuotaExceeded,
    SessionConflict,
    SessionNotFound,
)
from .models import ExecutionState, Kernel, KernelEnvironment, KernelSession, KernelStatus

__all__ = [
    "check_session_field",
    "create_session",
    "delete_session",
    "ensure_alive",
    "get_environment",
    "get_kernel",
    "get_session",
    "interrupt_kernel",
    "list_environments",
    "list_kernels",
    "list_sessions",
    "recover_kernel",
    "restart_kernel",
    "shutdown_kernel",
    "start_admitted",
    "start_kernel",
    "update_session",
]

logger = logging.getLogger(__name__)


def _backend_for(alias: str):
    try:
        return get_backend(alias)
    except InvalidBackendError as exc:
        logger.error("%s", exc)
        raise BackendUnavailable() from exc


def _as_uuid(value, not_found: type[KernelServiceError]) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise not_found() from None


# -- environments (kernelspecs) ------------------------------------------------------------------------------


def _usable_environments(user) -> list[KernelEnvironment]:
    adapter = get_adapter()
    return [env for env in adapter.get_environment_queryset(user) if adapter.can_use_environment(user, env)]


def _default_name(environments: list[KernelEnvironment]) -> str | None:
    slugs = [env.slug for env in environments]
    configured = app_settings.DEFAULT_ENVIRONMENT
    if configured in slugs:
        return configured
    return slugs[0] if slugs else None


@sync_to_async
def list_environments(user) -> tuple[list[KernelEnvironment], str | None]:
    """The environments ``user`` may use, and the default kernelspec name among them."""
    environments = _usable_environments(user)
    return environments, _default_name(environments)


@sync_to_async
def get_environment(user, name: str | None) -> KernelEnvironment:
    """The environment named ``name`` (or the default) if ``user`` may use it; else :class:`NoSuchKernelSpec`."""
    environments = _usable_environments(user)
    name = name or _default_name(environments)
    for env in environments:
        if env.slug == name:
            return env
    raise NoSuchKernelSpec(_("No kernel environment named %(name)r is available to you.") % {"name": name})


# -- kernels -------------------------------------------------------------------------------------------------


@sync_to_async
def list_kernels(user) -> list[Kernel]:
    kernels = list(get_adapter().get_kernel_queryset(user).select_related("environment"))
    _annotate_positions(kernels)
    return kernels


@sync_to_async
def get_kernel(user, kernel_id) -> Kernel:
    kernel_id = _as_uuid(kernel_id, KernelNotFound)
    try:
        kernel = get_adapter().get_kernel_queryset(user).select_related("environment").get(pk=kernel_id)
    except Kernel.DoesNotExist:
        raise KernelNotFound() from None
    _annotate_positions([kernel])
    return kernel


def _check_kernel_limit(kernel: Kernel) -> None:
    """:class:`QuotaExceeded` when the owner of ``kernel`` (already inserted) has more kernels than allowed."""
    limit = get_adapter().get_max_kernels(kernel.owner)
    if limit is not None:
        running = Kernel.objects.filter(owner_id=kernel.owner_id).exclude(status=KernelStatus.DEAD).count()
        if running > limit:
            raise QuotaExceeded(
                _("You may run at most %(limit)d kernels at once. Shut one down and try again.")
                % {"limit": limit}
            )


@sync_to_async
def _create_kernel_row(user, environment: KernelEnvironment, path: str | None) -> tuple[Kernel, list[Kernel]]:
    """Insert the row, then count: of two concurrent starts past the limit, neither gets through twice.

    On a backend with limited capacity, or for an environment with GPUs, the row is admitted or queued
    (:mod:`lms_kernels.capacity`); the second value lists other kernels admitted on the way (to start too).
    """
    alias = environment.backend_alias()
    if alias not in app_settings.BACKENDS:
        logger.error("Kernel environment %r names the unknown backend %r.", environment.slug, alias)
        raise BackendUnavailable()
    group = (get_adapter().get_kernel_group(user, environment, path) or "")[
        : Kernel._meta.get_field("group").max_length
    ]
    if capacity.needs_admission(alias, environment):
        capacity.check_inventory(alias, environment)
        return capacity.admit_new(user, environment, alias, group, check=_check_kernel_limit)
    kernel = Kernel.objects.create(
        owner=user, environment=environment, name=environment.slug, backend=alias, group=group
    )
    try:
        _check_kernel_limit(kernel)
    except QuotaExceeded:
        kernel.delete()
        raise
    return kernel, []


async def start_kernel(user, name: str | None, *, path: str | None = None) -> Kernel:
    """Start a kernel of the environment ``name`` (the default if ``None``) for ``user``.

    ``path`` is the session's path, if the kernel is for one (the adapter derives the kernel's group from
    it). When its backend has no room (no kernel slot or not enough GPUs free), the kernel is returned
    ``queued``: it starts when capacity frees, and its WebSocket clients are told their place meanwhile.
    """
    environment = await get_environment(user, name)
    kernel, others = await _create_kernel_row(user, environment, path)
    queue.start_in_background(others)
    if kernel.status == KernelStatus.QUEUED:
        await sync_to_async(_annotate_positions)([kernel])
        logger.info("Kernel %s (%s) waits in the queue at %s.", kernel.id, kernel.name, kernel.queue_position)
        return kernel
    try:
        await _launch(kernel, environment)
    except KernelServiceError:
        await kernel.adelete()
        raise
    except Exception as exc:
        await kernel.adelete()
        logger.exception("Kernel %s (%s) failed to start.", kernel.id, environment.slug)
        raise KernelStartFailed() from exc
    except asyncio.CancelledError:
        await kernel.adelete()
        raise
    return kernel


async def _launch(kernel: Kernel, environment: KernelEnvironment) -> None:
    """Start the process of an admitted kernel (``status="starting"``) and record how to reach it.

    The row is updated only if it is still ``starting``: a kernel shut down meanwhile has its new process
    stopped again, and :class:`KernelGone` is raised. A kernel that had a process before (a dead kernel
    restarted through the queue) gets a fresh one through ``backend.restart``.
    """
    backend = _backend_for(kernel.backend)
    had_process = bool(kernel.connection_info)
    started = await _start_shielded(backend, kernel, environment, restart=had_process)
    kernel.connection_info = started.connection_info
    kernel.backend_state = started.state
    changes = {"connection_info": started.connection_info, "backend_state": started.state}
    if had_process:
        changes["generation"] = F("generation") + 1
    won = await Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.STARTING).aupdate(
        status=KernelStatus.RUNNING, **changes
    )
    if not won:
        logger.info("Kernel %s was shut down while it started; stopping its new process.", kernel.id)
        await backend.shutdown(kernel)
        raise KernelGone()
    kernel.status = KernelStatus.RUNNING
    if had_process:
        kernel.generation += 1
    # Container backends pin the environment to the image id they resolved on its first start (docker backend).
    if started.state.get("image_id") and not environment.image_digest:
        await KernelEnvironment.objects.filter(pk=environment.pk, image_digest="").aupdate(
            image_digest=started.state["image_id"]
        )
    await signals.send_robust(signals.kernel_started, sender=Kernel, kernel=kernel)
    await events.notify(kernel.id, "started")  # to connections that waited for it (it was queued)


async def start_admitted(kernel: Kernel) -> None:
    """Start a kernel the queue admitted; its clients wait on the WebSocket and hear ``started`` (or
    ``dead``, with the reason, if it could not start)."""
    try:
        await _launch(kernel, kernel.environment)
    except KernelGone:
        return
    except (Exception, asyncio.CancelledError) as exc:
        if not isinstance(exc, asyncio.CancelledError):
            logger.exception("Kernel %s (%s) failed to start from the queue.", kernel.id, kernel.name)
        reason = (
            exc.detail
            if isinstance(exc, KernelServiceError)
            else _("The kernel could not be started. Try again later.")
        )
        won = await Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.STARTING).aupdate(
            status=KernelStatus.DEAD, execution_state=ExecutionState.DEAD, reason=reason
        )
        await _free(kernel)
        if won:
            await events.notify(kernel.id, "dead", reason=reason)
        if isinstance(exc, asyncio.CancelledError):
            raise


async def _free(kernel: Kernel) -> None:
    """What every way out of a kernel's life does: release its GPUs (closing their usage records, see
    :func:`lms_kernels.capacity.release`) and let the queue move."""
    if capacity.capacity_of(kernel.backend).gpus or kernel.gpu_devices:
        await sync_to_async(capacity.release)(kernel.pk)
    queue.wake(kernel.backend)


def _annotate_positions(kernels) -> None:
    """Set ``queue_position`` on waiting kernels (shown in their Jupyter model)."""
    for kernel in kernels:
        if kernel.status == KernelStatus.QUEUED:
            kernel.queue_position = capacity.queue_position(kernel)


async def _start_shielded(backend, kernel: Kernel, environment: KernelEnvironment, *, restart: bool = False):
    """``backend.start`` (or ``restart``), finished even when the request is cancelled (the client went
    away): a kernel launched for a request that no longer exists is shut down instead of left running
    unrecorded. A first start is served from the environment's warm pool when it has one
    (:func:`lms_kernels.pools.start_or_claim`)."""
    if restart:
        launch = backend.restart(kernel, environment)
    else:
        launch = pools.start_or_claim(backend, kernel, environment)
    task = asyncio.ensure_future(launch)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def _clean_up(done: asyncio.Future) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            kernel.connection_info, kernel.backend_state = done.result().connection_info, done.result().state
            _background.add(asyncio.ensure_future(backend.shutdown(kernel)))

        task.add_done_callback(_clean_up)
        raise


#: Strong references to fire-and-forget tasks, so they are not garbage-collected half-way.
_background: set[asyncio.Future] = set()


async def interrupt_kernel(kernel: Kernel) -> None:
    if kernel.status == KernelStatus.QUEUED:
        return  # nothing runs yet
    await _backend_for(kernel.backend).interrupt(kernel)


async def restart_kernel(kernel: Kernel) -> Kernel:
    """Replace the kernel's process; connections see ``restarting`` and carry on with the new kernel.

    The kernel keeps its GPUs. A waiting kernel is left as it is; a dead one on a backend with limited
    capacity (its GPUs were released) is admitted again, or waits in the queue.
    """
    if kernel.status == KernelStatus.QUEUED:
        return kernel
    # Asked for: a kernel left dead by RESTART_LIMIT gets its automatic restarts back.
    kernel.restart_count, kernel.restarted_at = 0, None
    await Kernel.objects.filter(pk=kernel.pk).aupdate(restart_count=0, restarted_at=None)
    if kernel.status == KernelStatus.DEAD and capacity.needs_admission(kernel.backend, kernel.environment):
        return await _restart_through_queue(kernel)
    kernel.status = KernelStatus.RESTARTING
    kernel.execution_state = ExecutionState.RESTARTING
    await kernel.asave(update_fields=["status", "execution_state"])
    return await _replace_process(kernel)


async def _restart_through_queue(kernel: Kernel) -> Kernel:
    kernel, others = await sync_to_async(capacity.requeue)(kernel)
    queue.start_in_background(others)
    if kernel.status == KernelStatus.QUEUED:
        await sync_to_async(_annotate_positions)([kernel])
        return kernel
    if kernel.status != KernelStatus.STARTING:
        return kernel  # someone else restarted it meanwhile
    try:
        await _launch(kernel, kernel.environment)
    except Exception as exc:
        logger.exception("Kernel %s failed to restart.", kernel.id)
        reason = _("The kernel could not be restarted.")
        await Kernel.objects.filter(pk=kernel.pk, status=KernelStatus.STARTING).aupdate(
            status=KernelStatus.DEAD, execution_state=ExecutionState.DEAD, reason=reason
        )
        await _free(kernel)
        if isinstance(exc, KernelServiceError):
            raise
        raise KernelStartFailed(reason) from exc
    return kernel


async def _replace_process(kernel: Kernel) -> Kernel:
    """Start a new process for ``kernel`` (already marked ``restarting``) and tell every connection."""
    backend = _backend_for(kernel.backend)
    await events.notify(kernel.id, "restarting")
    try:
        started = await backend.restart(kernel, kernel.environment)
    except Exception as exc:
        logger.exception("Kernel %s failed to restart.", kernel.id)
        kernel.status = KernelStatus.DEAD
        kernel.execution_state = ExecutionState.DEAD
        kernel.reason = _("The kernel could not be restarted.")
        await kernel.asave(update_fields=["status", "execution_state", "reason"])
        await _free(kernel)
        await events.notify(kernel.id, "dead", reason=kernel.reason)
        if isinstance(exc, KernelServiceError):
            raise
        raise KernelStartFailed(kernel.reason) from exc
    kernel.connection_info = started.connection_info
    kernel.backend_state = started.state
    kernel.status = KernelStatus.RUNNING
    kernel.execution_state = ExecutionState.STARTING
    kernel.reason = ""
    kernel.generation += 1
    kernel.busy_since = kernel.unresponsive_since = None
    await kernel.asave(
        update_fields=[
            "connection_info",
            "backend_state",
            "status",
            "execution_state",
            "reason",
            "generation",
            "busy_since",
            "unresponsive_since",
        ]
    )
    await events.notify(kernel.id, "restarted", generation=kernel.generation)
    await signals.send_robust(signals.kernel_restarted, sender=Kernel, kernel=kernel)
    return kernel


async def ensure_alive(kernel: Kernel, backend=None) -> Kernel:
    """The kernel, recovered first if its process is gone; :class:`KernelDied` if it stays dead.

    Called when a client connects, so a kernel that died while nobody watched is restarted (or reported)
    before anyone talks to it.
    """
    backend = backend or _backend_for(kernel.backend)
    if kernel.status == KernelStatus.RUNNING and not await backend.is_alive(kernel):
        recovered, _message = await recover_kernel(kernel.id, kernel.generation)
        if recovered is None:
            raise KernelNotFound()
        kernel = recovered
    if kernel.status == KernelStatus.DEAD:
        if kernel.restart_count >= app_settings.RESTART_LIMIT:
            raise KernelRestartLimitReached(kernel.reason or None)
        raise KernelDied(kernel.reason or None)
    return kernel


async def recover_kernel(kernel_id, generation: int) -> tuple[Kernel | None, str | None]:
    """Deal with a kernel whose process was found gone: restart it (``AUTO_RESTART``) or mark it dead.

    Any connection, in any worker, may find the process gone; a conditional update on the kernel's
    ``generation`` lets exactly one of them act, and a finder whose view is out of date (the kernel was
    restarted meanwhile) changes nothing. Returns the kernel row as it now is (``None`` when it no longer
    exists: it was shut down) and, for the caller that acted, the message saying what happened.
    """
    won = await Kernel.objects.filter(
        pk=kernel_id, generation=generation, status=KernelStatus.RUNNING
    ).aupdate(status=KernelStatus.RESTARTING, execution_state=ExecutionState.RESTARTING)
    kernel = await Kernel.objects.select_related("environment").filter(pk=kernel_id).afirst()
    if kernel is None or not won:
        return kernel, None
    backend = _backend_for(kernel.backend)
    cause = await backend.exit_reason(kernel)
    if cause:
        message = _("The kernel died (%(cause)s).") % {"cause": cause}
    else:
        message = _("The kernel died unexpectedly.")
    logger.warning("Kernel %s died: %s", kernel.id, message)
    await signals.send_robust(signals.kernel_died, sender=Kernel, kernel=kernel, reason=message)
    if not app_settings.AUTO_RESTART:
        await backend.shutdown(kernel, restart=True)  # free what the dead process held (ports, a GPU...)
        kernel.status = KernelStatus.DEAD
        kernel.execution_state = ExecutionState.DEAD
        kernel.reason = message
        await kernel.asave(update_fields=["status", "execution_state", "reason"])
        await _free(kernel)
        await events.notify(kernel.id, "died", message=message, restarting=False, generation=generation)
        return kernel, message
    count = _consecutive_restarts(kernel)
    if count > app_settings.RESTART_LIMIT:
        return await _give_up(kernel, backend, message, generation)
    kernel.restart_count, kernel.restarted_at = count, timezone.now()
    await Kernel.objects.filter(pk=kernel.pk).aupdate(
        restart_count=kernel.restart_count, restarted_at=kernel.restarted_at
    )
    logger.info("Restarting kernel %s (%d/%d).", kernel.id, count, app_settings.RESTART_LIMIT)
    await events.notify(kernel.id, "died", message=message, restarting=True, generation=generation)
    try:
        return await _replace_process(kernel), message
    except KernelServiceError:
        return kernel, message


def _consecutive_restarts(kernel: Kernel) -> int:
    """jupyter_client's ``KernelRestarter`` rule: a death within ``STABLE_START_TIME`` seconds of the last
    automatic restart is one more in a row; any other death starts counting again at 1."""
    if kernel.restart_count and kernel.restarted_at:
        alive_for = (timezone.now() - kernel.restarted_at).total_seconds()
        if alive_for < app_settings.STABLE_START_TIME:
            return kernel.restart_count + 1
    return 1


async def _give_up(kernel: Kernel, backend, cause: str, generation: int) -> tuple[Kernel, str]:
    """The kernel died on start after each of ``RESTART_LIMIT`` automatic restarts: leave it dead, say why."""
    await backend.shutdown(kernel, restart=True)  # free what the dead process held (ports, a GPU...)
    error = KernelRestartLimitReached(
        ngettext(
            "The kernel was restarted %(count)d time in a row and died each time on start, so it is not "
            "restarted again. Last time: %(cause)s Restart it once the cause is fixed.",
            "The kernel was restarted %(count)d times in a row and died each time on start, so it is not "
            "restarted again. Last time: %(cause)s Restart it once the cause is fixed.",
            kernel.restart_count,
        )
        % {"count": kernel.restart_count, "cause": cause}
    )
    logger.warning("Kernel %s is left dead: %s", kernel.id, error.detail)
    kernel.status = KernelStatus.DEAD
    kernel.execution_state = ExecutionState.DEAD
    kernel.reason = error.detail
    await kernel.asave(update_fields=["status", "execution_state", "reason"])
    await _free(kernel)
    await events.notify(
        kernel.id, "died", message=error.detail, restarting=False, generation=generation, code=error.code
    )
    return kernel, error.detail


async def shutdown_kernel(kernel: Kernel) -> None:
    """Stop the kernel, close its connections (``dead``, close code 4410) and delete it and its sessions.

    Its GPUs are released once its process is gone (a kernel that could not be shut down keeps them, since
    it may still use them); a waiting kernel just leaves the queue.
    """
    kernel.status = KernelStatus.TERMINATING
    await kernel.asave(update_fields=["status"])
    # What was recorded once it was ``terminating``: a start from the queue that finishes later sees it and
    # stops its own process; one that finished before has recorded how to reach it (read it now).
    recorded = await Kernel.objects.filter(pk=kernel.pk).values("connection_info", "backend_state").afirst()
    if recorded is not None:
        kernel.connection_info, kernel.backend_state = recorded["connection_info"], recorded["backend_state"]
    await events.notify(kernel.id, "shutdown")
    for bridge in replay.detached_bridges(kernel.id):  # nobody is connected to these: close them here
        await bridge.close()
    try:
        if kernel.connection_info or kernel.backend_state:  # (a waiting kernel has no process yet)
            await _backend_for(kernel.backend).shutdown(kernel)
    except Exception as exc:
        logger.exception("Kernel %s could not be shut down.", kernel.id)
        kernel.status = KernelStatus.DEAD
        kernel.execution_state = ExecutionState.DEAD
        kernel.reason = _("The kernel could not be shut down cleanly; try again.")
        await kernel.asave(update_fields=["status", "execution_state", "reason"])
        raise BackendUnavailable(kernel.reason) from exc
    await signals.send_robust(signals.kernel_shutdown, sender=Kernel, kernel=kernel)
    await kernel.adelete()
    await _free(kernel)


# -- sessions ------------------------------------------------------------------------------------------------


@sync_to_async
def list_sessions(user) -> list[KernelSession]:
    sessions = list(get_adapter().get_session_queryset(user).select_related("kernel"))
    _annotate_positions([session.kernel for session in sessions])
    return sessions


@sync_to_async
def get_session(user, session_id) -> KernelSession:
    session_id = _as_uuid(session_id, SessionNotFound)
    try:
        session = get_adapter().get_session_queryset(user).select_related("kernel").get(pk=session_id)
    except KernelSession.DoesNotExist:
        raise SessionNotFound() from None
    _annotate_positions([session.kernel])
    return session


@sync_to_async
def _session_at(user, path: str) -> KernelSession | None:
    session = get_adapter().get_session_queryset(user).select_related("kernel").filter(path=path).first()
    if session is not None:
        _annotate_positions([session.kernel])
    return session


async def _kernel_for_session(user, kernel_id, kernel_name, path: str) -> tuple[Kernel, bool]:
    """An existing kernel of the user's (by id) or a new one (by name); the flag says it is new."""
    if kernel_id:
        try:
            return await get_kernel(user, kernel_id), False
        except KernelNotFound:
            raise BadRequest(_("No such kernel: %(id)s") % {"id": kernel_id}) from None
    try:
        return await start_kernel(user, kernel_name, path=path), True
    except NoSuchKernelSpec as exc:
        raise BadRequest(exc.detail, code=exc.code) from None


@sync_to_async
def _insert_session(user, kernel, path, name, type_) -> KernelSession:
    with transaction.atomic():
        return KernelSession.objects.create(owner=user, kernel=kernel, path=path, name=name, type=type_)


async def create_session(user, *, path: str, name: str, type: str, kernel_id=None, kernel_name=None):
    """Jupyter's ``POST /api/sessions``: the user's session at ``path``, created with a kernel if none."""
    existing = await _session_at(user, path)
    if existing is not None:
        return existing, False
    kernel, new = await _kernel_for_session(user, kernel_id, kernel_name, path)
    try:
        session = await _insert_session(user, kernel, path, name, type)
    except IntegrityError:
        # Another request (a second tab) created the session first: use it, drop our kernel.
        if new:
            await shutdown_kernel(kernel)
        existing = await _session_at(user, path)
        if existing is None:
            raise
        return existing, False
    session.kernel = kernel
    return session, True


def check_session_field(field: str, value) -> None:
    """:class:`BadRequest` unless ``value`` fits the session's ``field`` (``path``, ``name`` or ``type``)."""
    if not isinstance(value, str):
        raise BadRequest(_("'%(field)s' must be a string.") % {"field": field})
    limit = KernelSession._meta.get_field(field).max_length
    if len(value) > limit:
        raise BadRequest(
            _("'%(field)s' is too long: at most %(limit)d characters.") % {"field": field, "limit": limit}
        )


async def update_session(user, session: KernelSession, changes: dict) -> KernelSession:
    """Jupyter's ``PATCH``: rename (path, name, type) or switch the kernel (by id, or a new one by name)."""
    for field in ("path", "name", "type"):
        if field in changes:
            check_session_field(field, changes[field])
    kernel_change = changes.get("kernel")
    if kernel_change is not None and not isinstance(kernel_change, dict):
        raise BadRequest(_("'kernel' must be an object."))
    if "path" in changes and changes["path"] != session.path:
        taken = await get_adapter().get_session_queryset(user).filter(path=changes["path"]).aexists()
        if taken:
            raise SessionConflict()
    old_kernel, started = session.kernel, False
    if kernel_change and (kernel_change.get("id") or kernel_change.get("name")):
        session.kernel, started = await _kernel_for_session(
            user, kernel_change.get("id"), kernel_change.get("name"), changes.get("path", session.path)
        )
    for field in ("path", "name", "type"):
        if field in changes:
            setattr(session, field, changes[field])
    try:
        await sync_to_async(_save_session)(session)
    except IntegrityError:
        if started:
            await shutdown_kernel(session.kernel)
        raise SessionConflict() from None
    if session.kernel.pk != old_kernel.pk:
        still_used = await KernelSession.objects.filter(kernel=old_kernel).aexists()
        if not still_used:
            await shutdown_kernel(old_kernel)
    return session


def _save_session(session: KernelSession) -> None:
    with transaction.atomic():
        session.save()


async def delete_session(session: KernelSession) -> None:
    """Jupyter's ``DELETE``: shut the session's kernel down (which deletes the session with it)."""
    await shutdown_kernel(session.kernel)
    await KernelSession.objects.filter(pk=session.pk).adelete()
