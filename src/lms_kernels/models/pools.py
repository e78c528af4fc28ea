"""Warm pools: kernels started ahead of time, of nobody's, waiting to be handed to a learner.

One row per pre-started kernel (see :mod:`lms_kernels.pools`). A row is inserted (``ready=False``) *before*
its kernel is started, so reconciliation never takes a container that is being started for the pool for an
orphan; once the kernel answers, the row gets how to reach it and ``ready=True``. Handing it out deletes
the row, in the same transaction that writes its connection info into the learner's
:class:`~lms_kernels.models.Kernel` row: the row one worker deleted cannot be deleted by another, so two
starts never get the same kernel, and at every moment the kernel is referenced by exactly one row.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["WarmKernel"]


class WarmKernel(models.Model):
    """A pre-started kernel of ``environment`` on the backend ``backend``, not yet anybody's.

    ``id`` names the kernel on its backend (the Docker backend's container name, its directory and its
    ``org.groundup-lms.pool-id`` label). ``connection_info`` and ``backend_state`` are what the backend
    returned, as on a kernel row; they move to the kernel that claims it. ``image_id`` is the image the
    kernel runs (container backends): a pooled kernel of an image the environment no longer pins is stale.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    backend = models.CharField(_("backend"), max_length=64)
    environment = models.ForeignKey(
        "lms_kernels.KernelEnvironment",
        on_delete=models.CASCADE,
        related_name="warm_kernels",
        verbose_name=_("environment"),
    )
    ready = models.BooleanField(
        _("ready"), default=False, help_text=_("Started and answering; until then it is being started.")
    )
    image_id = models.CharField(_("image id"), max_length=128, blank=True)
    connection_info = models.JSONField(_("connection info"), default=dict, blank=True, editable=False)
    backend_state = models.JSONField(_("backend state"), default=dict, blank=True, editable=False)
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["created"]
        verbose_name = _("warm kernel")
        verbose_name_plural = _("warm kernels")
        indexes = [
            models.Index(fields=["environment", "backend", "ready", "created"], name="lms_kernels_pool"),
        ]

    def __str__(self) -> str:
        return f"warm kernel {self.id} ({self.backend})"
