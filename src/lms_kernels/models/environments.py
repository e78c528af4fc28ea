"""Kernel environments: what a learner's code runs in. Each one is offered to clients as a kernelspec."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["KernelEnvironment", "NetworkPolicy"]


class NetworkPolicy(models.TextChoices):
    """What a kernel's container may reach."""

    NONE = "none", _("nothing (no network)")
    INTERNAL = "internal", _("the kernels' internal network only")
    OUTBOUND = "outbound", _("the internet (outbound connections)")


class KernelEnvironmentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class KernelEnvironment(models.Model):
    """A kernelspec as clients see it, plus where and with what resources its kernels run.

    ``slug`` is the kernelspec name clients send (``{"name": "python3"}``). ``backend`` names an entry of
    ``LMS_KERNELS["BACKENDS"]`` (blank: ``DEFAULT_BACKEND``); ``image`` and the resource fields are for the
    backends that use them (the local backend ignores them). ``backend_options`` holds per-environment
    backend settings that learners never see.
    """

    slug = models.SlugField(
        _("kernelspec name"),
        max_length=64,
        unique=True,
        help_text=_("The name Jupyter clients use for this environment, e.g. 'python3'."),
    )
    display_name = models.CharField(_("display name"), max_length=128)
    language = models.CharField(_("language"), max_length=32, default="python")
    description = models.TextField(_("description"), blank=True)
    backend = models.CharField(
        _("backend"),
        max_length=64,
        blank=True,
        help_text=_("An alias of LMS_KERNELS['BACKENDS']; blank for the default backend."),
    )
    image = models.CharField(
        _("image"), max_length=255, blank=True, help_text=_("Container image, for backends that use one.")
    )
    image_digest = models.CharField(
        _("image digest"),
        max_length=128,
        blank=True,
        help_text=_(
            "The image's resolved id (sha256:...), recorded when the image is built or first used; kernels "
            "start from exactly this image."
        ),
    )
    network = models.CharField(
        _("network"),
        max_length=16,
        choices=NetworkPolicy.choices,
        default=NetworkPolicy.NONE,
        help_text=_("What a kernel's container may reach, for backends that run containers."),
    )
    backend_options = models.JSONField(_("backend options"), default=dict, blank=True)
    cpu_limit = models.DecimalField(
        _("CPU limit"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("CPU cores; blank for no limit."),
    )
    memory_limit = models.PositiveBigIntegerField(
        _("memory limit"), null=True, blank=True, help_text=_("Bytes; blank for no limit.")
    )
    gpus = models.PositiveSmallIntegerField(_("GPUs"), default=0)
    idle_timeout = models.PositiveIntegerField(
        _("idle timeout"),
        null=True,
        blank=True,
        help_text=_(
            "Seconds without activity before a kernel that is not busy is shut down; 0 for never, blank for "
            "the default (LMS_KERNELS['CULL_IDLE_TIMEOUT'])."
        ),
    )
    max_age = models.PositiveIntegerField(
        _("maximum age"),
        null=True,
        blank=True,
        help_text=_("Seconds after which a kernel is shut down even when busy; blank for no limit."),
    )
    max_busy_time = models.PositiveIntegerField(
        _("maximum busy time"),
        null=True,
        blank=True,
        help_text=_(
            "Seconds one execution may keep a kernel busy; a kernel busy for longer that does not answer is "
            "restarted. 0 for no limit, blank for the default (LMS_KERNELS['MAX_BUSY_TIME'])."
        ),
    )
    output_cap = models.PositiveBigIntegerField(
        _("output cap"),
        null=True,
        blank=True,
        help_text=_("Bytes of output per execution sent to clients; blank for the default."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = KernelEnvironmentQuerySet.as_manager()

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("kernel environment")
        verbose_name_plural = _("kernel environments")

    def __str__(self) -> str:
        return f"{self.display_name} ({self.slug})"

    def backend_alias(self) -> str:
        from ..conf import app_settings

        return self.backend or app_settings.DEFAULT_BACKEND
