from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LmsKernelsConfig(AppConfig):
    name = "lms_kernels"
    label = "lms_kernels"
    verbose_name = _("Jupyter kernels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import pre_delete

        from . import checks  # noqa: F401  (registers the system checks)
        from .models import Kernel

        pre_delete.connect(
            _stop_deleted_kernel, sender=Kernel, dispatch_uid="lms_kernels.stop_deleted_kernel"
        )

        if apps.is_installed("background_task"):
            post_migrate.connect(_schedule_culling, sender=self, dispatch_uid="lms_kernels.schedule_culling")


def _schedule_culling(sender, *, using="default", **kwargs):
    """After ``migrate``: make sure the repeating culling task exists (see :mod:`lms_kernels.tasks`)."""
    import contextlib

    from django.db import DatabaseError

    from .tasks import schedule_culling

    with contextlib.suppress(DatabaseError):  # background_task's tables are not there (yet)
        schedule_culling()


def _stop_deleted_kernel(sender, instance, **kwargs):
    """A kernel row is deleted: release its GPUs (closing their usage records) whoever deletes it, and when
    the service is not the one deleting it (its owner's account was deleted, say), stop its process too, so
    it does not run on unaccounted for, and let the queue move once the deletion is committed."""
    from functools import partial

    from asgiref.sync import async_to_sync
    from django.db import transaction

    from .backends import get_backend
    from .capacity import release
    from .exceptions import InvalidBackendError
    from .models import KernelStatus
    from .queue import wake_soon

    release(instance.pk)
    if instance.status == KernelStatus.TERMINATING:  # the service is shutting it down itself
        return
    transaction.on_commit(partial(wake_soon, instance.backend))
    if instance.status == KernelStatus.QUEUED:  # no process yet
        return
    try:
        backend = get_backend(instance.backend)
    except InvalidBackendError:
        return
    async_to_sync(backend.shutdown)(instance)
