"""System checks of lms_kernels. Ids are stable; every one is listed in docs/operators/checks.md."""

from django.core import checks

from lms_common.checks import check_app_settings

from .conf import app_settings


@checks.register()
def settings_check(app_configs=None, **kwargs):
    return check_app_settings(app_settings, "lms_kernels")
