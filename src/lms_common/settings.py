"""One settings object per app, shaped like Django REST framework's ``api_settings``.

Each app declares its defaults once::

    app_settings = AppSettings("LMS_CORE", DEFAULTS, import_strings={"ADAPTER"})

and reads ``app_settings.ADAPTER`` wherever it needs a value. The object

* returns the project's value from ``settings.LMS_CORE`` or the default;
* imports dotted paths named in ``import_strings`` lazily, with an error that names the setting;
* rejects keys it does not know (an :class:`~django.core.exceptions.ImproperlyConfigured` on access, and a
  system check error before that: see :func:`lms_common.checks.check_app_settings`);
* forgets cached values when the setting changes, so ``override_settings`` works in tests.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

__all__ = ["AppSettings", "SettingProblem"]

#: A validator takes the (already imported) value and returns an error message, or ``None`` when it is valid.
Validator = Callable[[Any], str | None]


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with a settings dict, as reported by :meth:`AppSettings.problems`."""

    kind: str  # "not_a_dict", "unknown_key", "import_error", "invalid"
    key: str | None
    message: str
    hint: str | None = None


class AppSettings:
    """Lazily read, validated access to one ``LMS_<APP>`` settings dict."""

    def __init__(
        self,
        setting_name: str,
        defaults: Mapping[str, Any],
        *,
        import_strings: Iterable[str] = (),
        validators: Mapping[str, Validator] | None = None,
    ):
        self.setting_name = setting_name
        self.defaults = dict(defaults)
        self.import_strings = frozenset(import_strings)
        self.validators = dict(validators or {})
        unknown = (self.import_strings | set(self.validators)) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"{setting_name}: import_strings/validators name keys without defaults: {unknown}"
            )
        self._cached: set[str] = set()
        setting_changed.connect(self._on_setting_changed, weak=False)

    def __repr__(self) -> str:
        return f"<AppSettings {self.setting_name}>"

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, self.setting_name, None)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ImproperlyConfigured(
                f"settings.{self.setting_name} must be a dict, not {type(value).__name__}."
            )
        return dict(value)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key not in self.defaults:
            raise AttributeError(f"{self.setting_name} has no setting {key!r}.")
        user = self.user_settings
        unknown = self._unknown_keys(user)
        if unknown:
            raise ImproperlyConfigured(self._unknown_message(unknown[0]))
        value = user.get(key, self.defaults[key])
        if key in self.import_strings:
            value = self._import(key, value)
        self._cached.add(key)
        setattr(self, key, value)
        return value

    def reload(self) -> None:
        for key in self._cached:
            self.__dict__.pop(key, None)
        self._cached.clear()

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting == self.setting_name:
            self.reload()

    # -- validation ----------------------------------------------------------------------------------------

    def problems(self) -> list[SettingProblem]:
        """Everything wrong with the project's settings dict; used by the system checks."""
        raw = getattr(settings, self.setting_name, None)
        if raw is None:
            return []
        if not isinstance(raw, Mapping):
            return [
                SettingProblem(
                    "not_a_dict",
                    None,
                    f"settings.{self.setting_name} must be a dict, not {type(raw).__name__}.",
                )
            ]
        found = [
            SettingProblem("unknown_key", key, self._unknown_message(key), self._suggestion(key))
            for key in self._unknown_keys(raw)
        ]
        for key, value in raw.items():
            if key not in self.defaults:
                continue
            if key in self.import_strings:
                try:
                    value = self._import(key, value)
                except ImproperlyConfigured as exc:
                    found.append(SettingProblem("import_error", key, str(exc)))
                    continue
            validator = self.validators.get(key)
            message = validator(value) if validator else None
            if message:
                found.append(SettingProblem("invalid", key, f"{self.setting_name}[{key!r}]: {message}"))
        return found

    def _unknown_keys(self, user: Mapping[str, Any]) -> list[str]:
        return sorted(str(key) for key in user if key not in self.defaults)

    def _suggestion(self, key: str) -> str | None:
        close = difflib.get_close_matches(str(key), self.defaults, n=1)
        known = ", ".join(sorted(self.defaults)) or "none yet"
        if close:
            return f"Did you mean {close[0]!r}? Known keys: {known}."
        return f"Known keys: {known}."

    def _unknown_message(self, key: str) -> str:
        return f"{self.setting_name} has an unknown key {key!r}."

    def _import(self, key: str, value: Any) -> Any:
        if value is None or not isinstance(value, str | list | tuple):
            return value
        if isinstance(value, str):
            return self._import_one(key, value)
        return [self._import_one(key, item) for item in value]

    def _import_one(self, key: str, dotted_path: str) -> Any:
        try:
            return import_string(dotted_path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"Could not import {dotted_path!r} for {self.setting_name}[{key!r}]: "
                f"{exc.__class__.__name__}: {exc}."
            ) from exc
