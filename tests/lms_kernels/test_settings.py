import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from lms_kernels.checks import settings_check
from lms_kernels.conf import app_settings


def test_no_keys_yet_so_any_key_is_unknown():
    assert settings_check() == []
    with override_settings(LMS_KERNELS={"BACKENDS": {}}):
        (error,) = settings_check()
        assert app_settings.problems()[0].key == "BACKENDS"
    assert error.id == "lms_kernels.E002"


def test_non_dict_is_refused():
    with override_settings(LMS_KERNELS="local"):
        (error,) = settings_check()
        with pytest.raises(ImproperlyConfigured):
            app_settings.user_settings
    assert error.id == "lms_kernels.E001"
