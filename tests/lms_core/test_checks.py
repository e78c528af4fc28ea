from django.apps import apps
from django.core import checks
from django.test import override_settings

from lms_core.checks import background_task_check, settings_check


def test_default_settings_are_valid():
    assert settings_check() == []


def test_invalid_values_are_reported_with_stable_ids():
    with override_settings(
        LMS_CORE={"AVATAR_SIZE": 4, "AVATAR_FOREGROUND": ["red"], "AVATAR_BACKGROUND": "#fff", "AVATAR": 1}
    ):
        errors = settings_check()
    assert sorted(e.id for e in errors) == ["lms_core.E002", "lms_core.E004", "lms_core.E004"]
    messages = " ".join(e.msg for e in errors)
    assert "from 16 to 1024, not 4" in messages
    assert "'red'" in messages
    assert any(e.hint and "Did you mean 'AVATAR_SIZE'" in e.hint for e in errors)


def test_wrapped_background_task_app_is_accepted():
    assert type(apps.get_app_config("background_task")).__name__ == "BackgroundTaskConfig"
    assert background_task_check() == []


def test_unwrapped_background_task_app_is_reported(monkeypatch):
    from background_task.apps import BackgroundTasksAppConfig

    config = apps.get_app_config("background_task")
    monkeypatch.setattr(config, "__class__", BackgroundTasksAppConfig)
    (warning,) = background_task_check()
    assert isinstance(warning, checks.Warning)
    assert warning.id == "lms_core.W101"
    assert "lms_core.apps.BackgroundTaskConfig" in warning.hint
    with override_settings(DEFAULT_AUTO_FIELD="django.db.models.AutoField"):
        assert background_task_check() == []
