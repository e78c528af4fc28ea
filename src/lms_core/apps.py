from background_task.apps import BackgroundTasksAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LmsCoreConfig(AppConfig):
    name = "lms_core"
    label = "lms_core"
    verbose_name = _("Learning management")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)


class BackgroundTaskConfig(BackgroundTasksAppConfig):
    """django-background-tasks with the primary key type its migrations were written with.

    Its own AppConfig sets no ``default_auto_field``, so in a ``BigAutoField`` project ``makemigrations``
    would try to alter its tables. Put ``"lms_core.apps.BackgroundTaskConfig"`` in ``INSTALLED_APPS``
    instead of ``"background_task"``.
    """

    default_auto_field = "django.db.models.AutoField"
