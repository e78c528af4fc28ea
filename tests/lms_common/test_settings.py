import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from lms_common.checks import check_app_settings
from lms_common.settings import AppSettings


def positive(value):
    return None if isinstance(value, int) and value > 0 else f"must be a positive integer, not {value!r}."


@pytest.fixture
def sample():
    return AppSettings(
        "LMS_SAMPLE",
        {"SIZE": 10, "LOADER": "json.loads", "HANDLERS": ["json.dumps"], "NAME": "x"},
        import_strings={"LOADER", "HANDLERS"},
        validators={"SIZE": positive},
    )


def test_defaults_and_lazy_imports(sample):
    import json

    assert sample.SIZE == 10
    assert sample.LOADER is json.loads
    assert [json.dumps] == sample.HANDLERS
    assert sample.problems() == []


def test_project_values_and_override_settings_are_honoured(sample):
    with override_settings(LMS_SAMPLE={"SIZE": 3}):
        assert sample.SIZE == 3
        with override_settings(LMS_SAMPLE={"SIZE": 7, "NAME": "inner"}):
            assert (sample.SIZE, sample.NAME) == (7, "inner")
        assert (sample.SIZE, sample.NAME) == (3, "x")
    assert sample.SIZE == 10


def test_unknown_key_is_rejected_on_access_and_by_the_check(sample):
    with override_settings(LMS_SAMPLE={"SIZEE": 3}):
        with pytest.raises(ImproperlyConfigured, match="unknown key 'SIZEE'"):
            sample.SIZE
        (error,) = check_app_settings(sample, "lms_sample")
    assert error.id == "lms_sample.E002"
    assert "Did you mean 'SIZE'?" in error.hint


def test_attribute_that_is_not_a_setting(sample):
    with pytest.raises(AttributeError, match="no setting 'COLOUR'"):
        sample.COLOUR


def test_not_a_dict(sample):
    with override_settings(LMS_SAMPLE=["SIZE", 3]):
        (error,) = check_app_settings(sample, "lms_sample")
        with pytest.raises(ImproperlyConfigured, match="must be a dict, not list"):
            sample.SIZE
    assert error.id == "lms_sample.E001"


def test_unimportable_path_names_the_setting(sample):
    with override_settings(LMS_SAMPLE={"LOADER": "json.nope"}):
        (error,) = check_app_settings(sample, "lms_sample")
        with pytest.raises(ImproperlyConfigured, match=r"LMS_SAMPLE\['LOADER'\]"):
            sample.LOADER
    assert error.id == "lms_sample.E003"
    assert "json.nope" in error.msg


def test_invalid_value(sample):
    with override_settings(LMS_SAMPLE={"SIZE": -1}):
        (error,) = check_app_settings(sample, "lms_sample")
    assert error.id == "lms_sample.E004"
    assert "must be a positive integer, not -1" in error.msg


def test_validators_must_name_known_keys():
    with pytest.raises(ValueError, match="without defaults"):
        AppSettings("LMS_BAD", {"A": 1}, validators={"B": positive})
