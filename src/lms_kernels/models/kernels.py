"""Running kernels and the sessions (a learner's path, e.g. a lesson) that use them.

What is needed to reach and control a kernel (``connection_info``: ports and the HMAC key;
``backend_state``: a pid, a container id, a remote kernel id) is stored here, so any ASGI worker can serve
any kernel. Neither field is ever serialised to clients (:mod:`lms_kernels.serializers` builds the Jupyter
models from the other fields only).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ExecutionState", "Kernel", "KernelSession", "KernelStatus"]


class KernelStatus(models.TextChoices):
    """Where a kernel is in its life, as the service sees it."""

    QUEUED = "queued", _("waiting in the queue")
    STARTING = "starting", _("starting")
    RUNNING = "running", _("running")
    RESTARTING = "restarting", _("restarting")
    TERMINATING = "terminating", _("shutting down")
    DEAD = "dead", _("dead")


class ExecutionState(models.TextChoices):
    """Jupyter's ``execution_state``, as the kernel last reported it on iopub."""

    STARTING = "starting", _("starting")
    IDLE = "idle", _("idle")
    BUSY = "busy", _("busy")
    RESTARTING = "restarting", _("restarting")
    DEAD = "dead", _("dead")
    UNKNOWN = "unknown", _("unknown")


class Kernel(models.Model):
    """One kernel. Its ``id`` is the Jupyter kernel id clients use in URLs.

    A kernel that asked for capacity its backend did not have (kernel slots or GPUs, see
    :mod:`lms_kernels.capacity`) waits with ``status="queued"`` since ``queued_at``; it has no process yet.
    ``gpu_devices`` lists the GPU device ids allocated to it (their :class:`~lms_kernels.models.GpuAllocation`
    rows are the record the allocator locks and checks); backends read it to give the kernel those GPUs.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_kernels",
        verbose_name=_("owner"),
    )
    environment = models.ForeignKey(
        "lms_kernels.KernelEnvironment",
        on_delete=models.PROTECT,
        related_name="kernels",
        verbose_name=_("environment"),
    )
    name = models.CharField(_("kernelspec name"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=KernelStatus.choices, default=KernelStatus.STARTING
    )
    execution_state = models.CharField(
        _("execution state"), max_length=16, choices=ExecutionState.choices, default=ExecutionState.STARTING
    )
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why the kernel died, when it did."))
    backend = models.CharField(_("backend"), max_length=64)
    group = models.CharField(
        _("group"),
        max_length=255,
        blank=True,
        help_text=_("What the kernel is used for, e.g. a course key, as the adapter says; for GPU quotas."),
    )
    gpu_devices = models.JSONField(
        _("GPU devices"),
        default=list,
        blank=True,
        editable=False,
        help_text=_("The ids of the GPU devices allocated to this kernel."),
    )
    queued_at = models.DateTimeField(
        _("queued at"), null=True, blank=True, editable=False, help_text=_("When it last joined the queue.")
    )
    connection_info = models.JSONField(_("connection info"), default=dict, blank=True, editable=False)
    backend_state = models.JSONField(_("backend state"), default=dict, blank=True, editable=False)
    connections = models.PositiveIntegerField(_("open connections"), default=0)
    generation = models.PositiveIntegerField(
        _("generation"),
        default=1,
        editable=False,
        help_text=_("How many processes this kernel has had: 1, plus one per restart."),
    )
    restart_count = models.PositiveIntegerField(
        _("automatic restarts in a row"),
        default=0,
        editable=False,
        help_text=_(
            "Automatic restarts since the kernel last ran for STABLE_START_TIME seconds; past RESTART_LIMIT "
            "the kernel is left dead. A restart the learner asks for sets it back to 0."
        ),
    )
    restarted_at = models.DateTimeField(
        _("automatically restarted at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the kernel was last restarted automatically, after it died."),
    )
    busy_since = models.DateTimeField(
        _("busy since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the kernel last became busy; empty while it is not busy."),
    )
    unresponsive_since = models.DateTimeField(
        _("not responding since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When a busy kernel was found not to answer on its shell channel; empty once it answers again."
        ),
    )
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_activity = models.DateTimeField(_("last activity"), default=timezone.now)

    class Meta:
        ordering = ["created"]
        verbose_name = _("kernel")
        verbose_name_plural = _("kernels")
        indexes = [
            models.Index(fields=["owner", "created"]),
            models.Index(fields=["last_activity"]),
            models.Index(fields=["backend", "status", "queued_at"], name="lms_kernels_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.name} kernel {self.id}"

    @property
    def group_name(self) -> str:
        """The channel-layer group of this kernel's WebSocket connections (in every worker)."""
        return f"lms_kernels.kernel.{self.id.hex}"


class KernelSession(models.Model):
    """Jupyter's session: a ``path`` (e.g. a lesson) bound to a kernel. One per owner and path."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_kernel_sessions",
        verbose_name=_("owner"),
    )
    kernel = models.ForeignKey(
        Kernel, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("kernel")
    )
    path = models.CharField(_("path"), max_length=512)
    name = models.CharField(_("name"), max_length=255, blank=True)
    type = models.CharField(_("type"), max_length=64, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["created"]
        verbose_name = _("kernel session")
        verbose_name_plural = _("kernel sessions")
        constraints = [
            models.UniqueConstraint(fields=["owner", "path"], name="lms_kernels_one_session_per_path"),
        ]

    def __str__(self) -> str:
        return f"{self.path} ({self.kernel_id})"
