"""The backend interface: where a kernel runs, and how to reach and control it.

A backend does no database work. The service layer (:mod:`lms_kernels.services`) creates the
:class:`~lms_kernels.models.Kernel` row, calls the backend, and persists what it returns
(:class:`StartedKernel`: the ZeroMQ connection info and the backend's own state, such as a pid, a container
id or a remote kernel id). Every later call gets the row back, possibly in another worker or after a
restart of this one, so a backend must need nothing but those two fields to find its kernel again.

**GPUs.** The service allocates GPUs before it calls :meth:`~KernelBackend.start` (backends do no GPU
bookkeeping of their own; see :mod:`lms_kernels.capacity`): ``kernel.gpu_devices`` is the list of device ids
(strings from the backend's ``CAPACITY["GPUS"]`` setting, e.g. ``["0", "2"]``; ``[]`` for none) the kernel
may use, the same in :meth:`~KernelBackend.start` and :meth:`~KernelBackend.restart` (a restart keeps its
GPUs) and in every worker (it is a field of the row). Give the kernel exactly those devices and no others:
the Docker backend passes them as a device request with explicit ``device_ids``, the local backend as
``CUDA_VISIBLE_DEVICES``. The allocation is released after :meth:`~KernelBackend.shutdown` returns.

**Warm pools** (optional; see :mod:`lms_kernels.pools`). A backend that sets :attr:`KernelBackend.supports_pools`
can start kernels ahead of time that belong to nobody, which the service hands to learners on request. The
pool module does the database work (a :class:`~lms_kernels.models.WarmKernel` row per pooled kernel, claimed
atomically); the backend only runs kernels:

* :meth:`~KernelBackend.start_pooled` starts one for ``warm`` (a ``WarmKernel`` row, inserted before the
  call: its ``id`` names the kernel, as a kernel's id does in :meth:`~KernelBackend.start`). The kernel must
  be exactly what :meth:`~KernelBackend.start` would make (same limits, same hardening), reachable by nobody
  until handed out, with a key of its own, and must say nothing about a user (no owner anywhere).
* :meth:`~KernelBackend.adopt_pooled` says what the claiming kernel's row records (by default the pooled
  kernel's own connection info and state, and ``pool_id``). It runs inside the claim's transaction: no I/O.
* :meth:`~KernelBackend.discard_pooled` removes a pooled kernel nobody claimed (drained, stale or dead).
* :meth:`~KernelBackend.is_alive` and :meth:`~KernelBackend.restart` must work for a claimed kernel whose
  state came from the pool (a restart keeps its endpoints, as for any kernel); ``is_alive`` is also asked of
  ``WarmKernel`` rows, which have ``connection_info`` and ``backend_state`` like a kernel.

A claimed kernel cannot change what the backend recorded when it started (container labels are immutable):
a backend that reconciles must take a kernel as in use when a kernel row *or* a pool row references it.

The three backends of the design map onto it naturally:

``local``
    start = a subprocess, state = pid; interrupt = a signal; reached over 127.0.0.1.
``docker``
    start = a container from ``environment.image`` with its limits, state = container id; interrupt =
    ``interrupt_request`` or a signal through the engine; reached at the container's address
    (override :meth:`KernelBackend.get_connection_info`).
``gateway``
    start = ``POST /api/kernels`` on a remote Jupyter Server or Enterprise Gateway, state = its kernel id;
    interrupt, restart and liveness through its REST API (overriding :meth:`~KernelBackend.interrupt` and
    :meth:`~KernelBackend.is_idle`, which default to ZeroMQ); reached over the remote WebSocket instead of
    ZeroMQ (see :mod:`lms_kernels.backends.gateway`).

**Channels other than ZeroMQ.** :meth:`KernelBackend.open_channels` may return any object with the parts of
:class:`~lms_kernels.connection.zmq_channels.ZmqKernelChannels` the bridge uses: ``readable`` (the channels
to read), ``identity``, ``connect()`` (synchronous: start connecting), ``send(channel, parts)`` (synchronous:
queue a message's parts, unsigned; raise ``zmq.Again`` when too much is queued), ``await recv(channel)``
(the next message's parts) and ``close()``. A ``recv`` that raises a
:class:`~lms_kernels.exceptions.KernelServiceError` closes the client's WebSocket with that error's close
code and message (e.g. 4503 for :class:`~lms_kernels.exceptions.BackendUnavailable`); any other exception
closes it as a failed connection.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..connection.zmq_channels import ZmqKernelChannels, control_request, kernel_request

if TYPE_CHECKING:
    from ..models import Kernel, KernelEnvironment, WarmKernel

__all__ = ["KernelBackend", "StartedKernel"]


@dataclass
class StartedKernel:
    """What a backend returns from :meth:`~KernelBackend.start` and :meth:`~KernelBackend.restart`.

    Both dicts are stored on the kernel row and never sent to clients.
    """

    connection_info: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)


class KernelBackend(abc.ABC):
    """Base class of backends. One instance per alias and process (see :func:`lms_kernels.backends.get_backend`).

    Subclasses declare their options in :attr:`option_defaults`; unknown options are refused
    (``lms_kernels.E103``), and :meth:`check_options` may check values.
    """

    #: Option name -> default. ``OPTIONS`` may only use these names.
    option_defaults: ClassVar[dict[str, Any]] = {}
    #: Whether the backend keeps warm pools (implements :meth:`start_pooled`; see the module docstring).
    supports_pools: ClassVar[bool] = False

    def __init__(self, alias: str, options: Mapping[str, Any] | None = None):
        self.alias = alias
        self.options = {**self.option_defaults, **(options or {})}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias!r}>"

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[str]:
        """Problems with ``options`` (messages for ``lms_kernels.E103``); subclasses extend it."""
        unknown = sorted(set(options) - set(cls.option_defaults))
        if unknown:
            known = ", ".join(sorted(cls.option_defaults)) or "none"
            return [f"unknown options {unknown} (known: {known})"]
        return []

    # -- lifecycle ---------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        """Start a kernel for ``kernel`` (a row not yet holding connection info) and return how to reach it.

        Return as soon as the kernel is launched; clients wait for it to answer (the WebSocket nudges it).
        Raise :class:`~lms_kernels.exceptions.KernelStartFailed` with a message fit for the learner.
        """

    @abc.abstractmethod
    async def shutdown(self, kernel: Kernel, *, restart: bool = False) -> None:
        """Stop the kernel (politely first, then by force) and free what it held.

        ``restart=True`` is a shutdown on the way to :meth:`restart`: keep what the new kernel reuses.
        Must succeed, doing nothing, when the kernel is already gone.
        """

    @abc.abstractmethod
    async def is_alive(self, kernel: Kernel) -> bool:
        """Whether the kernel's process, container or remote kernel still exists."""

    async def exit_reason(self, kernel: Kernel) -> str | None:
        """Why the kernel's process ended, in words for the learner (e.g. "out of memory"), if known.

        Called once a kernel was found dead (:meth:`is_alive` returned ``False``) before it is restarted.
        """
        return None

    async def restart(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        """Replace the kernel by a fresh one. The default shuts it down and starts a new one."""
        await self.shutdown(kernel, restart=True)
        return await self.start(kernel, environment)

    async def is_idle(self, kernel: Kernel, *, timeout: float = 2.0) -> bool | None:
        """Whether the kernel is idle right now, asked of the kernel itself (``None``: cannot tell).

        The culler asks this of a kernel that looks busy but has been silent for long, since nobody may
        have been connected to see it finish. The default sends ``kernel_info_request`` on shell: a kernel
        answers it only when it is not running code.
        """
        reply = await kernel_request(
            self.get_connection_info(kernel), "shell", "kernel_info_request", timeout=timeout
        )
        return reply is not None

    async def interrupt(self, kernel: Kernel) -> None:
        """Interrupt the running execution. The default sends ``interrupt_request`` on control."""
        await control_request(self.get_connection_info(kernel), "interrupt_request", timeout=2.0)

    # -- warm pools (only where ``supports_pools``) -------------------------------------------------------

    async def start_pooled(self, warm: WarmKernel, environment: KernelEnvironment) -> StartedKernel:
        """Start a kernel of ``environment`` for the pool, named by ``warm.id``; return once it answers."""
        raise NotImplementedError(f"{type(self).__name__} keeps no warm pools")

    def adopt_pooled(self, kernel: Kernel, warm: WarmKernel) -> StartedKernel:
        """What ``kernel``'s row records when it is handed the pooled ``warm`` (no I/O: it runs in the claim's
        transaction). The default: the pooled kernel's connection info and state as they are, plus the pool
        row's id as ``pool_id`` (for operators: where the kernel came from)."""
        return StartedKernel(dict(warm.connection_info), {**warm.backend_state, "pool_id": str(warm.id)})

    async def discard_pooled(self, warm: WarmKernel) -> None:
        """Remove a pooled kernel that nobody claimed. The default shuts it down like a kernel."""
        await self.shutdown(warm)  # type: ignore[arg-type] - a WarmKernel has the fields shutdown reads

    # -- reaching the kernel -----------------------------------------------------------------------------

    def get_connection_info(self, kernel: Kernel) -> dict[str, Any]:
        """How this process reaches the kernel's ZeroMQ ports; the stored info unless a backend maps it."""
        return dict(kernel.connection_info)

    def open_channels(self, kernel: Kernel, *, identity: bytes) -> ZmqKernelChannels:
        """The channels object one WebSocket connection talks through (not yet connected)."""
        return ZmqKernelChannels(self.get_connection_info(kernel), identity)

    async def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing process-wide
        """Release process-wide resources (clients, pools). The service never discards a backend instance
        by itself; call this when you do (e.g. in a test that builds its own)."""
