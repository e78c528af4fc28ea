"""AppConfigs for third-party apps the Groundup apps use, fitted for ``BigAutoField`` projects."""

from background_task.apps import BackgroundTasksAppConfig

__all__ = ["BackgroundTaskConfig"]


class BackgroundTaskConfig(BackgroundTasksAppConfig):
    """django-background-tasks with the primary key type its migrations were written with.

    Its own AppConfig sets no ``default_auto_field``, so in a ``BigAutoField`` project ``makemigrations``
    would try to alter its tables. Put ``"lms_common.apps.BackgroundTaskConfig"`` in ``INSTALLED_APPS``
    instead of ``"background_task"`` (``lms_core.apps.BackgroundTaskConfig`` is the same).
    """

    default_auto_field = "django.db.models.AutoField"
