"""Validators for ``LMS_KERNELS`` values: each returns an error message or ``None``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_BACKEND_KEYS = {"BACKEND", "OPTIONS", "CAPACITY"}
_CAPACITY_KEYS = {"KERNELS", "GPUS", "GPU_SHARE"}


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


def optional_non_negative_number(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return f"must be a number of seconds, 0 or more, or None (no limit), not {value!r}."
    return None


def optional_count(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be an integer, 0 or more, or None (no limit), not {value!r}."
    return None


def group_quotas(value: Any) -> str | None:
    """``GPU_QUOTA_PER_GROUP``: ``{group: GPUs or None}``."""
    if not isinstance(value, Mapping):
        return f"must be a dict of group (e.g. a course key) -> number of GPUs, not {value!r}."
    for group, quota in value.items():
        if not isinstance(group, str) or not group:
            return f"has the key {group!r}; groups are non-empty strings (e.g. course keys)."
        problem = optional_count(quota)
        if problem:
            return f"[{group!r}] {problem}"
    return None


def capacity(alias: str, value: Any) -> str | None:
    """A backend's ``CAPACITY``: ``{"KERNELS": int | None, "GPUS": [device ids], "GPU_SHARE": int}``."""
    if value is None:
        return None
    where = f"backend {alias!r}: 'CAPACITY'"
    if not isinstance(value, Mapping):
        return f"{where} must be a dict with 'KERNELS', 'GPUS' and/or 'GPU_SHARE', or None."
    unknown = set(value) - _CAPACITY_KEYS
    if unknown:
        return f"{where} has unknown keys {sorted(unknown)}; known: GPUS, GPU_SHARE, KERNELS."
    kernels = value.get("KERNELS")
    if kernels is not None and (isinstance(kernels, bool) or not isinstance(kernels, int) or kernels < 1):
        return f"{where}['KERNELS'] must be a positive integer or None (no limit), not {kernels!r}."
    gpus = value.get("GPUS", [])
    if not isinstance(gpus, list | tuple) or not all(isinstance(d, str) and d for d in gpus):
        return f"{where}['GPUS'] must be a list of device ids as strings (e.g. ['0', '1']), not {gpus!r}."
    if len(set(gpus)) != len(gpus):
        return f"{where}['GPUS'] lists a device twice: {list(gpus)!r}."
    too_long = [d for d in gpus if len(d) > 64]
    if too_long:
        return f"{where}['GPUS']: device ids are at most 64 characters: {too_long[0]!r}."
    share = value.get("GPU_SHARE", 1)
    if isinstance(share, bool) or not isinstance(share, int) or not 1 <= share <= 1000:
        return f"{where}['GPU_SHARE'] must be an integer from 1 to 1000 (kernels per GPU), not {share!r}."
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
    """``BACKENDS``: ``{alias: {"BACKEND": "dotted.path", "OPTIONS": {...}, "CAPACITY": {...}}}``, at least one
    alias (``OPTIONS`` and ``CAPACITY`` are optional)."""
    if not isinstance(value, Mapping) or not value:
        return "must be a non-empty dict of backend aliases, like CACHES."
    for alias, config in value.items():
        if not isinstance(alias, str) or not alias.isidentifier():
            return f"backend alias {alias!r} must be an identifier such as 'local' or 'gpu'."
        if not isinstance(config, Mapping):
            return f"backend {alias!r} must be a dict with 'BACKEND' and optionally 'OPTIONS'."
        unknown = set(config) - _BACKEND_KEYS
        if unknown:
            return f"backend {alias!r} has unknown keys {sorted(unknown)}; known: BACKEND, CAPACITY, OPTIONS."
        if not isinstance(config.get("BACKEND"), str) or not config["BACKEND"]:
            return f"backend {alias!r} needs 'BACKEND', the dotted path of a KernelBackend class."
        if not isinstance(config.get("OPTIONS", {}), Mapping):
            return f"backend {alias!r}: 'OPTIONS' must be a dict."
        problem = capacity(alias, config.get("CAPACITY"))
        if problem:
            return problem
    return None
