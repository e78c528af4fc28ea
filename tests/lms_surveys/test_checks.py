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


def test_the_app_is_configured_by_its_own_config():
    config = apps.get_app_config("lms_surveys")
    assert type(config).__name__ == "LmsSurveysConfig"
    assert str(config.verbose_name) == "Surveys"


def test_lms_core_only_keys_without_lms_core_are_reported(monkeypatch):
    from lms_surveys.checks import core_dependency_check

    is_installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "lms_core" and is_installed(name))
    with override_settings(LMS_SURVEYS={"REQUIRE_ENROLLMENT": False}):
        (warning,) = core_dependency_check()
    assert warning.id == "lms_surveys.W102"
    assert "REQUIRE_ENROLLMENT" in warning.msg
    with override_settings(LMS_SURVEYS={"REPORT_TEXT_ANSWERS_LIMIT": 5}):
        assert core_dependency_check() == []


def test_invalid_values_are_reported():
    with override_settings(LMS_SURVEYS={"REQUIRE_ENROLLMENT": "yes", "REPORT_TEXT_ANSWERS_LIMIT": 0}):
        errors = settings_check()
    assert {error.id for error in errors} == {"lms_surveys.E004"}
    assert len(errors) == 2
