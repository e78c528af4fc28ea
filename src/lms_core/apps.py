from django.apps import AppConfig, apps
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

import lms_common.apps


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
        # Signing out while impersonating ends the impersonation too (the session is flushed).
        user_logged_out.connect(hijack.record_logout_while_hijacked, dispatch_uid="lms_core.hijack_logout")
        # The repeating deadline sweep is queued once the tables exist, so "migrate" then "process_tasks" is
        # all a project needs (LMS_CORE["DEADLINE_SWEEP_INTERVAL"] = None switches this off).
        post_migrate.connect(_schedule_deadline_sweep, sender=self, dispatch_uid="lms_core.schedule_sweep")


class BackgroundTaskConfig(lms_common.apps.BackgroundTaskConfig):
    """django-background-tasks with the primary key type its migrations were written with.

    The same as ``lms_common.apps.BackgroundTaskConfig`` (which a project without lms_core uses); put either
    in ``INSTALLED_APPS`` instead of ``"background_task"``.
    """
