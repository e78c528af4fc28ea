from django.apps import apps
from django.test import override_settings

from lms_cms_blocks.checks import settings_check, unicode_slugs_check, wagtail_installed_check


def test_wagtail_apps_present():
    assert wagtail_installed_check() == []
    assert settings_check() == []


def test_missing_wagtail_app_is_an_error(monkeypatch):
    # Re-populating the app registry without it would re-register Wagtail's API: pretend instead.
    is_installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "wagtail.embeds" and is_installed(name))
    (error,) = wagtail_installed_check()
    assert error.id == "lms_cms_blocks.E101"
    assert "'wagtail.embeds'" in error.msg


def test_unknown_key():
    with override_settings(LMS_CMS_BLOCKS={"JUPYTER": True}):
        (error,) = settings_check()
    assert error.id == "lms_cms_blocks.E002"


def test_unicode_slugs_off_is_a_warning():
    assert unicode_slugs_check() == []
    with override_settings(WAGTAIL_ALLOW_UNICODE_SLUGS=False):
        (warning,) = unicode_slugs_check()
    assert warning.id == "lms_cms_blocks.W102"
