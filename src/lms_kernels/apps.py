from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LmsKernelsConfig(AppConfig):
    name = "lms_kernels"
    label = "lms_kernels"
    verbose_name = _("Jupyter kernels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
