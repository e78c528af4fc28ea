"""System checks of lms_surveys. Ids are stable; every one is listed in docs/operators/checks.md."""

from django.apps import apps
from django.core import checks

from lms_common.checks import check_app_settings, check_default_auto_field

from .conf import app_settings


@checks.register()
def settings_check(app_configs=None, **kwargs):
    return check_app_settings(app_settings, "lms_surveys")


@checks.register()
def survey_installed_check(app_configs=None, **kwargs):
    """``lms_surveys.E101``: django-survey-and-report is not installed."""
    if apps.is_installed("survey"):
        return []
    return [
        checks.Error(
            "lms_surveys needs django-survey-and-report in INSTALLED_APPS.",
            hint="Add 'lms_surveys.apps.SurveyConfig' to INSTALLED_APPS.",
            id="lms_surveys.E101",
        )
    ]


@checks.register(checks.Tags.models)
def survey_auto_field_check(app_configs=None, **kwargs):
    """``lms_surveys.W101``: django-survey-and-report installed without our AppConfig wrapper."""
    return check_default_auto_field("survey", "lms_surveys.apps.SurveyConfig", "lms_surveys.W101")


@checks.register()
def core_dependency_check(app_configs=None, **kwargs):
    """``lms_surveys.W102``: ``REQUIRE_ENROLLMENT``/``INVITE_ON_COMPLETION`` set while lms_core is absent."""
    if apps.is_installed("lms_core"):
        return []
    from django.conf import settings

    user_settings = getattr(settings, "LMS_SURVEYS", None)
    if not isinstance(user_settings, dict):
        return []  # E001 says so
    configured = sorted(key for key in ("REQUIRE_ENROLLMENT", "INVITE_ON_COMPLETION") if key in user_settings)
    if not configured:
        return []
    return [
        checks.Warning(
            f"LMS_SURVEYS sets {', '.join(configured)}, which only has an effect with lms_core installed.",
            hint="Install lms_core to link surveys to learning contents and enrollments, or remove the key.",
            id="lms_surveys.W102",
        )
    ]
