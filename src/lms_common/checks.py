"""System-check helpers shared by the apps.

Every app reports the same kinds of settings problems under the same numbers, prefixed with its label:

========== =================================================================
id         meaning
========== =================================================================
``E001``   ``LMS_<APP>`` is not a dict
``E002``   ``LMS_<APP>`` has a key the app does not know
``E003``   a dotted path in ``LMS_<APP>`` cannot be imported
``E004``   a value in ``LMS_<APP>`` is invalid (the message says why)
========== =================================================================

App-specific checks are numbered from ``E101``/``W101``.
"""

from __future__ import annotations

from django.apps import apps
from django.apps.config import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .settings import AppSettings

__all__ = ["SETTINGS_CHECK_IDS", "check_app_settings", "check_default_auto_field"]

SETTINGS_CHECK_IDS = {
    "not_a_dict": "E001",
    "unknown_key": "E002",
    "import_error": "E003",
    "invalid": "E004",
}


def check_app_settings(app_settings: AppSettings, app_label: str) -> list[checks.CheckMessage]:
    """Turn :meth:`AppSettings.problems` into system-check errors with stable ids."""
    return [
        checks.Error(
            problem.message,
            hint=problem.hint,
            id=f"{app_label}.{SETTINGS_CHECK_IDS[problem.kind]}",
        )
        for problem in app_settings.problems()
    ]


def check_default_auto_field(label: str, wrapper: str, check_id: str) -> list[checks.CheckMessage]:
    """Warn when a third-party app without ``default_auto_field`` is installed unwrapped.

    Such an app inherits the project's ``DEFAULT_AUTO_FIELD``; in a ``BigAutoField`` project
    ``makemigrations`` then wants to write a migration into the third-party package.
    """
    try:
        config = apps.get_app_config(label)
    except LookupError:
        return []
    if any(
        "default_auto_field" in klass.__dict__ for klass in type(config).__mro__ if klass is not AppConfig
    ):
        return []
    project_default = import_string(settings.DEFAULT_AUTO_FIELD)
    from django.db.models import AutoField

    if project_default is AutoField:
        return []
    return [
        checks.Warning(
            f"The {label!r} app is installed without a default_auto_field, so it inherits "
            f"DEFAULT_AUTO_FIELD = {settings.DEFAULT_AUTO_FIELD!r} and makemigrations wants to change its "
            "migrations.",
            hint=f"Put {wrapper!r} in INSTALLED_APPS instead of {config.name!r}.",
            id=check_id,
        )
    ]
