from background_task.apps import BackgroundTasksAppConfig
from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _schedule_deadline_sweep(sender, *, using, **kwargs):
    """Queue the repeating deadline sweep after ``migrate`` (:func:`lms_core.tasks.schedule_after_migrate`)."""
    if apps.is_installed("background_task"):
        from .tasks import schedule_after_migrate

        schedule_after_migrate(using=using)


class LmsCoreConfig(AppConfig):
    # This module also defines BackgroundTaskConfig (and imports its parent), so Django would not pick this
    # class for "lms_core" by itself and would fall back to a bare AppConfig: no ready(), no checks.
    default = True
    name = "lms_core"
    label = "lms_core"
    verbose_name = _("Learning management")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from hijack import signals as hijack_signals

        # Importing these registers their system checks.
        from . import checks, hijack  # noqa: F401

        # Every impersonation start and end goes to the audit log (HijackEvent). django-hijack is a
        # dependency of lms_core, so its signals can always be imported; they only fire when it is installed.
        hijack_signals.hijack_started.connect(
            hijack.record_hijack_started, dispatch_uid="lms_core.hijack_started"
        )
        hijack_signals.hijack_ended.connect(hijack.record_hijack_ended, dispatch_uid="lms_core.hijack_ended")
        # The repeating deadline sweep is queued once the tables exist, so "migrate" then "process_tasks" is
        # all a project needs (LMS_CORE["DEADLINE_SWEEP_INTERVAL"] = None switches this off).
        post_migrate.connect(_schedule_deadline_sweep, sender=self, dispatch_uid="lms_core.schedule_sweep")


class BackgroundTaskConfig(BackgroundTasksAppConfig):
    """django-background-tasks with the primary key type its migrations were written with.

    Its own AppConfig sets no ``default_auto_field``, so in a ``BigAutoField`` project ``makemigrations``
    would try to alter its tables. Put ``"lms_core.apps.BackgroundTaskConfig"`` in ``INSTALLED_APPS``
    instead of ``"background_task"``.
    """

    default_auto_field = "django.db.models.AutoField"
