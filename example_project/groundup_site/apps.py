from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroundupSiteConfig(AppConfig):
    name = "groundup_site"
    label = "groundup_site"
    verbose_name = _("Groundup example site")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from lms_cms_blocks.signals import exercise_passed

        from .integrations import record_exercise_progress

        exercise_passed.connect(record_exercise_progress, dispatch_uid="groundup_site.exercise_progress")
