from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LmsKernelsConfig(AppConfig):
    name = "lms_kernels"
    label = "lms_kernels"
    verbose_name = _("Jupyter kernels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)

        if apps.is_installed("background_task"):
            post_migrate.connect(_schedule_culling, sender=self, dispatch_uid="lms_kernels.schedule_culling")


def _schedule_culling(sender, *, using="default", **kwargs):
    """After ``migrate``: make sure the repeating culling task exists (see :mod:`lms_kernels.tasks`)."""
    import contextlib

    from django.db import DatabaseError

    from .tasks import schedule_culling

    with contextlib.suppress(DatabaseError):  # background_task's tables are not there (yet)
        schedule_culling()
