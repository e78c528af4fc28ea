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
from django.utils.translation import gettext as _

from . import events, signals
from .adapters import get_adapter
from .backends import get_backend
from .conf import app_settings
from .connection import replay
from .exceptions import (
    BackendUnavailable,
    BadRequest,
    InvalidBackendError,
    KernelDied,
    KernelNotFound,
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
    return list(get_adapter().get_kernel_queryset(user).select_related("environment"))


@sync_to_async
def get_kernel(user, kernel_id) -> Kernel:
    kernel_id = _as_uuid(kernel_id, KernelNotFound)
    try:
        return get_adapter().get_kernel_queryset(user).select_related("environment").get(pk=kernel_id)
    except Kernel.DoesNotExist:
        raise KernelNotFound() from None


@sync_to_async
def _create_kernel_row(user, environment: KernelEnvironment) -> Kernel:
    """Insert the row, then count: of two concurrent starts past the limit, neither gets through twice."""
    alias = environment.backend_alias()
    if alias not in app_settings.BACKENDS:
        logger.error("Kernel environment %r names the unknown backend %r.", environment.slug, alias)
        raise BackendUnavailable()
    kernel = Kernel.objects.create(owner=user, environment=environment, name=environment.slug, backend=alias)
    limit = get_adapter().get_max_kernels(user)
    if limit is not None:
        running = Kernel.objects.filter(owner=user).exclude(status=KernelStatus.DEAD).count()
        if running > limit:
            kernel.delete()
            raise QuotaExceeded(
                _("You may run at most %(limit)d kernels at once. Shut one down and try again.")
                % {"limit": limit}
            )
    return kernel


async def start_kernel(user, name: str | None) -> Kernel:
    environment = await get_environment(user, name)
    kernel = await _create_kernel_row(user, environment)
    try:
        backend = _backend_for(kernel.backend)
        started = await _start_shielded(backend, kernel, environment)
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
    kernel.connection_info = started.connection_info
    kernel.backend_state = started.state
    kernel.status = KernelStatus.RUNNING
    await kernel.asave(update_fields=["connection_info", "backend_state", "status"])
    # Container backends pin the environment to the image id they resolved on its first start (docker backend).
    if started.state.get("image_id") and not environment.image_digest:
        await KernelEnvironment.objects.filter(pk=environment.pk, image_digest="").aupdate(
            image_digest=started.state["image_id"]
        )
    await signals.send_robust(signals.kernel_started, sender=Kernel, kernel=kernel)
    return kernel


async def _start_shielded(backend, kernel: Kernel, environment: KernelEnvironment):
    """``backend.start``, finished even when the request is cancelled (the client went away): a kernel
    launched for a request that no longer exists is shut down instead of left running unrecorded."""
    task = asyncio.ensure_future(backend.start(kernel, environment))
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
    await _backend_for(kernel.backend).interrupt(kernel)


async def restart_kernel(kernel: Kernel) -> Kernel:
    """Replace the kernel's process; connections see ``restarting`` and carry on with the new kernel."""
    kernel.status = KernelStatus.RESTARTING
    kernel.execution_state = ExecutionState.RESTARTING
    await kernel.asave(update_fields=["status", "execution_state"])
    return await _replace_process(kernel)


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
    await kernel.asave(
        update_fields=[
            "connection_info",
            "backend_state",
            "status",
            "execution_state",
            "reason",
            "generation",
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
        await events.notify(kernel.id, "died", message=message, restarting=False, generation=generation)
        return kernel, message
    await events.notify(kernel.id, "died", message=message, restarting=True, generation=generation)
    try:
        return await _replace_process(kernel), message
    except KernelServiceError:
        return kernel, message


async def shutdown_kernel(kernel: Kernel) -> None:
    """Stop the kernel, close its connections (``dead``, close code 4410) and delete it and its sessions."""
    kernel.status = KernelStatus.TERMINATING
    await kernel.asave(update_fields=["status"])
    await events.notify(kernel.id, "shutdown")
    for bridge in replay.detached_bridges(kernel.id):  # nobody is connected to these: close them here
        await bridge.close()
    try:
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


# -- sessions ------------------------------------------------------------------------------------------------


@sync_to_async
def list_sessions(user) -> list[KernelSession]:
    return list(get_adapter().get_session_queryset(user).select_related("kernel"))


@sync_to_async
def get_session(user, session_id) -> KernelSession:
    session_id = _as_uuid(session_id, SessionNotFound)
    try:
        return get_adapter().get_session_queryset(user).select_related("kernel").get(pk=session_id)
    except KernelSession.DoesNotExist:
        raise SessionNotFound() from None


@sync_to_async
def _session_at(user, path: str) -> KernelSession | None:
    return get_adapter().get_session_queryset(user).select_related("kernel").filter(path=path).first()


async def _kernel_for_session(user, kernel_id, kernel_name) -> tuple[Kernel, bool]:
    """An existing kernel of the user's (by id) or a new one (by name); the flag says it is new."""
    if kernel_id:
        try:
            return await get_kernel(user, kernel_id), False
        except KernelNotFound:
            raise BadRequest(_("No such kernel: %(id)s") % {"id": kernel_id}) from None
    try:
        return await start_kernel(user, kernel_name), True
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
    kernel, new = await _kernel_for_session(user, kernel_id, kernel_name)
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
            user, kernel_change.get("id"), kernel_change.get("name")
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
