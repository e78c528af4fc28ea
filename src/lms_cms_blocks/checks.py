"""System checks of lms_cms_blocks. Ids are stable; every one is listed in docs/operators/checks.md."""

from django.apps import apps
from django.conf import settings
from django.core import checks

from lms_common.checks import check_app_settings

from .conf import app_settings

#: Wagtail apps the blocks need (the Jupyter block's documents and images come from these).
REQUIRED_APPS = ["wagtail", "wagtail.images", "wagtail.documents", "wagtail.embeds"]


@checks.register()
def settings_check(app_configs=None, **kwargs):
    return check_app_settings(app_settings, "lms_cms_blocks")


@checks.register()
def wagtail_installed_check(app_configs=None, **kwargs):
    """``lms_cms_blocks.E101``: a Wagtail app the blocks need is not installed."""
    return [
        checks.Error(
            f"lms_cms_blocks needs {name!r} in INSTALLED_APPS.",
            hint="Install the 'cms' extra (pip install 'groundup-lms[cms]') and add Wagtail's apps.",
            id="lms_cms_blocks.E101",
        )
        for name in REQUIRED_APPS
        if not apps.is_installed(name)
    ]


@checks.register()
def unicode_slugs_check(app_configs=None, **kwargs):
    """``lms_cms_blocks.W102``: ``WAGTAIL_ALLOW_UNICODE_SLUGS`` is off, so Korean titles lose their slugs."""
    if getattr(settings, "WAGTAIL_ALLOW_UNICODE_SLUGS", True):
        return []
    return [
        checks.Warning(
            "WAGTAIL_ALLOW_UNICODE_SLUGS is False: lessons with Korean or other non-ASCII titles get slugs "
            "stripped of their letters (or none).",
            hint="Remove the setting or set it to True.",
            id="lms_cms_blocks.W102",
        )
    ]
