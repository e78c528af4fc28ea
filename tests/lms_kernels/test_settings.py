"""LMS_KERNELS: defaults, validation (E001-E004) and the app's own checks (E101-E104, W101-W103)."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from lms_kernels import checks as kernel_checks
from lms_kernels.backends import get_backend
from lms_kernels.backends.local import LocalBackend
from lms_kernels.conf import app_settings
from lms_kernels.exceptions import InvalidBackendError
from lms_kernels.models import KernelEnvironment

LOCAL = "lms_kernels.backends.local.LocalBackend"


def ids(messages):
    return [message.id for message in messages]


@pytest.fixture(autouse=True)
def kernel_settings():
    """Override the package conftest: these tests set LMS_KERNELS themselves."""


def test_defaults_need_no_settings():
    with override_settings():
        from django.conf import settings

        del settings.LMS_KERNELS
        assert app_settings.DEFAULT_BACKEND == "local"
        assert app_settings.MAX_KERNELS_PER_USER == 4
        assert isinstance(get_backend(), LocalBackend)
        assert kernel_checks.settings_check() == [] and kernel_checks.backends_check() == []


def test_unknown_key_is_reported_with_a_suggestion():
    with override_settings(LMS_KERNELS={"MAX_KERNEL_PER_USER": 2}):
        (error,) = kernel_checks.settings_check()
        with pytest.raises(ImproperlyConfigured):
            app_settings.MAX_KERNELS_PER_USER
    assert error.id == "lms_kernels.E002"
    assert "MAX_KERNELS_PER_USER" in error.hint


def test_non_dict_is_refused():
    with override_settings(LMS_KERNELS="local"):
        (error,) = kernel_checks.settings_check()
    assert error.id == "lms_kernels.E001"


@pytest.mark.parametrize(
    "value",
    [
        {"BACKENDS": {}},
        {"BACKENDS": {"local": LOCAL}},
        {"BACKENDS": {"local": {"OPTIONS": {}}}},
        {"BACKENDS": {"local": {"BACKEND": LOCAL, "OPTION": {}}}},
        {"BACKENDS": {"not an alias": {"BACKEND": LOCAL}}},
        {"MAX_KERNELS_PER_USER": 0},
        {"MAX_KERNELS_PER_USER": "3"},
        {"KERNEL_STARTUP_TIMEOUT": -1},
        {"URL_PREFIX": "/kernels/"},
        {"URL_PREFIX": "kernels"},
        {"MAX_MESSAGE_SIZE": 10},
        {"DEFAULT_BACKEND": ""},
        {"OUTPUT_CAP": 0},
        {"EXECUTE_RATE": -1},
        {"EXECUTE_BURST": 0},
        {"AUTO_RESTART": "yes"},
        {"WATCH_INTERVAL": 0},
        {"CULL_IDLE_TIMEOUT": 0},
        {"CULL_WARNING": -5},
        {"REPLAY_BUFFER_SIZE": -1},
        {"REPLAY_TIMEOUT": None},
    ],
)
def test_invalid_values_are_e004(value):
    with override_settings(LMS_KERNELS=value):
        assert ids(kernel_checks.settings_check()) == ["lms_kernels.E004"]
        assert kernel_checks.backends_check() == []  # not reported twice


def test_adapter_that_cannot_be_imported_is_e003():
    with override_settings(LMS_KERNELS={"ADAPTER": "nowhere.Adapter"}):
        assert ids(kernel_checks.settings_check()) == ["lms_kernels.E003"]


def test_default_backend_must_exist_e101():
    with override_settings(LMS_KERNELS={"DEFAULT_BACKEND": "gpu"}):
        assert ids(kernel_checks.backends_check()) == ["lms_kernels.E101"]


def test_backend_class_must_import_and_be_a_backend_e102():
    config = {
        "BACKENDS": {
            "local": {"BACKEND": LOCAL},
            "a": {"BACKEND": "nowhere.B"},
            "b": {"BACKEND": "uuid.UUID"},
        }
    }
    with override_settings(LMS_KERNELS=config):
        assert ids(kernel_checks.backends_check()) == ["lms_kernels.E102", "lms_kernels.E102"]
        with pytest.raises(InvalidBackendError):
            get_backend("a")


def test_backend_options_are_checked_e103():
    config = {"BACKENDS": {"local": {"BACKEND": LOCAL, "OPTIONS": {"argv": ["python"], "colour": "red"}}}}
    with override_settings(LMS_KERNELS=config):
        errors = kernel_checks.backends_check()
        assert ids(errors) == ["lms_kernels.E103", "lms_kernels.E103"]
        assert "colour" in errors[0].msg and "{connection_file}" in errors[1].msg
        with pytest.raises(InvalidBackendError):
            get_backend("local")


def test_unknown_alias_is_a_dedicated_exception():
    with pytest.raises(InvalidBackendError, match="gpu"):
        get_backend("gpu")
    assert issubclass(InvalidBackendError, ImproperlyConfigured)


def test_backend_instances_are_reset_when_settings_change():
    first = get_backend("local")
    assert get_backend("local") is first
    with override_settings(LMS_KERNELS={"MAX_KERNELS_PER_USER": 1}):
        assert get_backend("local") is not first


@pytest.mark.django_db
def test_environment_with_unknown_backend_is_e104():
    KernelEnvironment.objects.create(slug="gpu", display_name="GPU", backend="gpu")
    assert kernel_checks.environments_check(databases=None) == []  # only with --database
    (error,) = kernel_checks.environments_check(databases=["default"])
    assert error.id == "lms_kernels.E104" and "'gpu'" in error.msg


def test_local_backend_with_debug_off_warns_on_deploy_w101():
    with override_settings(DEBUG=False):
        assert ids(kernel_checks.local_backend_check()) == ["lms_kernels.W101"]
    with override_settings(DEBUG=True):
        assert kernel_checks.local_backend_check() == []
    deploy = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "lms_kernels.W101" in ids(deploy)


def test_url_prefix_must_match_where_the_urls_are_w102():
    assert kernel_checks.url_prefix_check() == []
    with override_settings(LMS_KERNELS={"URL_PREFIX": "lms/"}):
        (warning,) = kernel_checks.url_prefix_check()
    assert warning.id == "lms_kernels.W102" and "/kernels/api/kernels" in warning.msg


def test_culling_without_background_tasks_warns_w103(monkeypatch):
    from django.apps import apps

    assert kernel_checks.culling_check() == []  # the test projects install django-background-tasks
    is_installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "background_task" and is_installed(name))
    assert ids(kernel_checks.culling_check()) == ["lms_kernels.W103"]
