"""Validators for ``LMS_KERNELS`` values: each returns an error message or ``None``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_BACKEND_KEYS = {"BACKEND", "OPTIONS"}


def positive_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return f"must be a positive number of seconds, not {value!r}."
    return None


def non_negative_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return f"must be a number of seconds, 0 or more, not {value!r}."
    return None


def optional_positive_number(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return f"must be a positive number or None (no limit), not {value!r}."
    return None


def boolean(value: Any) -> str | None:
    if not isinstance(value, bool):
        return f"must be True or False, not {value!r}."
    return None


def optional_positive_int(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"must be a positive integer or None (no limit), not {value!r}."
    return None


def int_between(low: int, high: int):
    def validate(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be an integer from {low} to {high}, not {value!r}."
        return None

    return validate


def identifier(value: Any) -> str | None:
    if not isinstance(value, str) or not value.isidentifier():
        return f"must be a backend alias (an identifier such as 'local'), not {value!r}."
    return None


def optional_slug(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        return f"must be a kernel environment's slug or None, not {value!r}."
    return None


def url_prefix(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string such as 'kernels/', not {value!r}."
    if value.startswith("/") or (value and not value.endswith("/")):
        return f"must be relative and end with '/' (like a path() prefix), e.g. 'kernels/', not {value!r}."
    return None


def backends(value: Any) -> str | None:
    """``BACKENDS``: ``{alias: {"BACKEND": "dotted.path", "OPTIONS": {...}}}``, at least one alias."""
    if not isinstance(value, Mapping) or not value:
        return "must be a non-empty dict of backend aliases, like CACHES."
    for alias, config in value.items():
        if not isinstance(alias, str) or not alias.isidentifier():
            return f"backend alias {alias!r} must be an identifier such as 'local' or 'gpu'."
        if not isinstance(config, Mapping):
            return f"backend {alias!r} must be a dict with 'BACKEND' and optionally 'OPTIONS'."
        unknown = set(config) - _BACKEND_KEYS
        if unknown:
            return f"backend {alias!r} has unknown keys {sorted(unknown)}; known: BACKEND, OPTIONS."
        if not isinstance(config.get("BACKEND"), str) or not config["BACKEND"]:
            return f"backend {alias!r} needs 'BACKEND', the dotted path of a KernelBackend class."
        if not isinstance(config.get("OPTIONS", {}), Mapping):
            return f"backend {alias!r}: 'OPTIONS' must be a dict."
    return None
