from django.apps import apps
from django.test import override_settings

from lms_surveys.checks import settings_check, survey_auto_field_check, survey_installed_check


def test_wrapped_survey_app_is_installed():
    assert type(apps.get_app_config("survey")).__name__ == "SurveyConfig"
    assert survey_installed_check() == []
    assert survey_auto_field_check() == []
    assert settings_check() == []


def test_missing_survey_app_is_an_error(monkeypatch):
    is_installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "survey" and is_installed(name))
    (error,) = survey_installed_check()
    assert error.id == "lms_surveys.E101"


def test_unwrapped_survey_app_is_reported(monkeypatch):
    from survey.apps import DjangoSurveyAndReportConfig

    config = apps.get_app_config("survey")
    monkeypatch.setattr(config, "__class__", DjangoSurveyAndReportConfig)
    (warning,) = survey_auto_field_check()
    assert warning.id == "lms_surveys.W101"


def test_unknown_key():
    with override_settings(LMS_SURVEYS={"EDITABLE": True}):
        (error,) = settings_check()
    assert error.id == "lms_surveys.E002"
