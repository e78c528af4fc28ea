"""Backends, named in ``LMS_KERNELS["BACKENDS"]`` the way Django names caches in ``CACHES``.

``get_backend(alias)`` returns the process's instance for an alias, creating it on first use; an alias that
is not configured raises :class:`~lms_kernels.exceptions.InvalidBackendError`.
"""

from __future__ import annotations

import threading

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..exceptions import InvalidBackendError
from .base import KernelBackend, StartedKernel

__all__ = ["KernelBackend", "StartedKernel", "get_backend", "load_backend_class", "reset_backends"]

_instances: dict[str, KernelBackend] = {}
_lock = threading.Lock()


def load_backend_class(alias: str) -> type[KernelBackend]:
    config = app_settings.BACKENDS.get(alias)
    if config is None:
        known = ", ".join(sorted(app_settings.BACKENDS)) or "none"
        raise InvalidBackendError(
            f"No kernel backend named {alias!r} in LMS_KERNELS['BACKENDS'] (known: {known})."
        )
    path = config.get("BACKEND")
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise InvalidBackendError(f"Could not import kernel backend {alias!r} ({path!r}): {exc}.") from exc
    if not (isinstance(cls, type) and issubclass(cls, KernelBackend)):
        raise InvalidBackendError(f"Kernel backend {alias!r} ({path!r}) is not a KernelBackend subclass.")
    return cls


def get_backend(alias: str | None = None) -> KernelBackend:
    alias = alias or app_settings.DEFAULT_BACKEND
    backend = _instances.get(alias)
    if backend is not None:
        return backend
    with _lock:
        backend = _instances.get(alias)
        if backend is None:
            cls = load_backend_class(alias)
            options = app_settings.BACKENDS[alias].get("OPTIONS", {})
            problems = cls.check_options(options)
            if problems:
                raise InvalidBackendError(f"Kernel backend {alias!r}: {'; '.join(problems)}.")
            backend = _instances[alias] = cls(alias, options)
    return backend


def reset_backends() -> None:
    """Forget the instances (they are rebuilt on next use); called when ``LMS_KERNELS`` changes."""
    _instances.clear()


def _on_setting_changed(*, setting, **kwargs):
    if setting == "LMS_KERNELS":
        reset_backends()


setting_changed.connect(_on_setting_changed, dispatch_uid="lms_kernels.reset_backends")
