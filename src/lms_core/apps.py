from background_task.apps import BackgroundTasksAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


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


class BackgroundTaskConfig(BackgroundTasksAppConfig):
    """django-background-tasks with the primary key type its migrations were written with.

    Its own AppConfig sets no ``default_auto_field``, so in a ``BigAutoField`` project ``makemigrations``
    would try to alter its tables. Put ``"lms_core.apps.BackgroundTaskConfig"`` in ``INSTALLED_APPS``
    instead of ``"background_task"``.
    """

    default_auto_field = "django.db.models.AutoField"
