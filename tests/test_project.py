"""Every settings project (full and each app alone) passes Django's checks and has no missing migrations."""

import importlib.util
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

GROUNDUP_APPS = ["lms_core", "lms_kernels", "lms_cms_blocks", "lms_surveys"]


def installed_groundup_apps():
    return [label for label in GROUNDUP_APPS if apps.is_installed(label)]


def test_at_least_one_groundup_app_is_installed():
    assert installed_groundup_apps()


def test_system_checks_pass():
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "no issues" in out.getvalue()


@pytest.mark.django_db
def test_makemigrations_check_is_clean():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize("label", installed_groundup_apps())
def test_app_identity(label):
    config = apps.get_app_config(label)
    assert config.label == config.name == label
    assert config.default_auto_field == "django.db.models.BigAutoField"
    assert "default_auto_field" in type(config).__dict__
    assert str(config.verbose_name) and str(config.verbose_name) != label
    assert config.module.__name__ == label
    assert importlib.util.find_spec(f"{label}.migrations") is not None
