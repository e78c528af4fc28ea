from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroundupSiteConfig(AppConfig):
    name = "groundup_site"
    label = "groundup_site"
    verbose_name = _("Groundup example site")
    default_auto_field = "django.db.models.BigAutoField"
