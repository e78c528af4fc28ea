"""GPU bookkeeping: which kernel holds which GPU now (allocations), and who used GPUs for how long (usage).

The inventory itself is in settings (``LMS_KERNELS["BACKENDS"][alias]["CAPACITY"]``, see
:mod:`lms_kernels.capacity`): a device id per GPU and how many kernels may share one. An allocation takes
one *slot* of one device; ``(backend, device, slot)`` is unique, so the database itself refuses a second
kernel on a slot that is taken, whatever two workers decide at the same moment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["GpuAllocation", "GpuUsage"]


class GpuUsage(models.Model):
    """One kernel's use of one GPU, from allocation to release: what GPU-seconds are accounted from.

    It outlives its kernel (``kernel_id`` is a plain value, not a foreign key); when its owner's account is
    deleted, the row stays for the group's totals, without the owner. A row without ``ended`` is a GPU the
    kernel holds now.
    """

    kernel_id = models.UUIDField(_("kernel id"), db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lms_kernels_gpu_usage",
        verbose_name=_("owner"),
    )
    group = models.CharField(_("group"), max_length=255, blank=True)
    environment = models.CharField(_("environment"), max_length=64)
    backend = models.CharField(_("backend"), max_length=64)
    device = models.CharField(_("device"), max_length=64)
    started = models.DateTimeField(_("started"), default=timezone.now)
    ended = models.DateTimeField(_("ended"), null=True, blank=True)
    seconds = models.FloatField(_("GPU-seconds"), null=True, blank=True, help_text=_("Set when it ends."))

    class Meta:
        ordering = ["-started"]
        verbose_name = _("GPU usage")
        verbose_name_plural = _("GPU usage")
        indexes = [
            models.Index(fields=["owner", "started"], name="lms_kernels_gpuusage_owner"),
            models.Index(fields=["group", "started"], name="lms_kernels_gpuusage_group"),
        ]

    def __str__(self) -> str:
        return f"GPU {self.device} ({self.backend}) for kernel {self.kernel_id}"

    def seconds_until(self, now) -> float:
        """The GPU-seconds so far: the recorded total once ended, else the time since it started."""
        if self.seconds is not None:
            return self.seconds
        return max((now - self.started).total_seconds(), 0.0)


class GpuAllocation(models.Model):
    """A GPU slot held by a kernel right now. Deleted when the kernel releases it."""

    backend = models.CharField(_("backend"), max_length=64)
    device = models.CharField(_("device"), max_length=64)
    slot = models.PositiveSmallIntegerField(
        _("slot"), help_text=_("Which of the device's shares (0 to GPU_SHARE - 1) the kernel holds.")
    )
    kernel = models.ForeignKey(
        "lms_kernels.Kernel",
        on_delete=models.CASCADE,
        related_name="gpu_allocations",
        verbose_name=_("kernel"),
    )
    allocated_at = models.DateTimeField(_("allocated at"), default=timezone.now)

    class Meta:
        ordering = ["backend", "device", "slot"]
        verbose_name = _("GPU allocation")
        verbose_name_plural = _("GPU allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "device", "slot"], name="lms_kernels_one_kernel_per_gpu_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"GPU {self.device}/{self.slot} ({self.backend}) → {self.kernel_id}"
