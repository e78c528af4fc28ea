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
