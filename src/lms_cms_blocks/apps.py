from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LmsCmsBlocksConfig(AppConfig):
    name = "lms_cms_blocks"
    label = "lms_cms_blocks"
    verbose_name = _("Lesson blocks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
