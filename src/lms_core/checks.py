"""System checks of lms_core. Ids are stable; every one is listed in docs/operators/checks.md."""

from django.core import checks

from lms_common.checks import check_app_settings, check_default_auto_field

from .conf import app_settings


@checks.register()
def settings_check(app_configs=None, **kwargs):
    return check_app_settings(app_settings, "lms_core")


@checks.register(checks.Tags.models)
def background_task_check(app_configs=None, **kwargs):
    """``lms_core.W101``: django-background-tasks installed without our AppConfig wrapper."""
    return check_default_auto_field("background_task", "lms_core.apps.BackgroundTaskConfig", "lms_core.W101")
