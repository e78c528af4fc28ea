"""The kernelspecs editors choose from in the Jupyter block.

``LMS_CMS_BLOCKS["KERNELSPECS"]`` names a callable returning ``[(name, display_name), ...]``. The default,
:func:`fetch_kernelspecs`, asks a Jupyter-Server-compatible kernel service (``GET
{KERNEL_SERVICE_URL}/api/kernelspecs``) with a short timeout. :func:`available_kernelspecs` caches the answer and
returns ``None`` when the list cannot be had, so that the editor falls back to a free-text field with a warning.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from django.core.cache import cache

from .conf import app_settings

__all__ = ["KernelspecsUnavailable", "available_kernelspecs", "fetch_kernelspecs"]

logger = logging.getLogger(__name__)

CACHE_KEY = "lms_cms_blocks:kernelspecs"


class KernelspecsUnavailable(Exception):
    """The list of kernelspecs cannot be had right now (service not configured, unreachable, bad answer)."""


def fetch_kernelspecs() -> list[tuple[str, str]]:
    """``GET {KERNEL_SERVICE_URL}/api/kernelspecs`` of a Jupyter Server (or ``lms_kernels``)."""
    base = app_settings.KERNEL_SERVICE_URL
    if not base:
        raise KernelspecsUnavailable("LMS_CMS_BLOCKS['KERNEL_SERVICE_URL'] is not set.")
    url = base.rstrip("/") + "/api/kernelspecs"
    if not url.startswith(("http://", "https://")):
        raise KernelspecsUnavailable(f"{url!r} is not an http(s) URL.")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (checked above)
    if app_settings.KERNEL_SERVICE_TOKEN:
        request.add_header("Authorization", f"token {app_settings.KERNEL_SERVICE_TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=app_settings.KERNELSPECS_TIMEOUT) as response:  # noqa: S310
            payload = json.loads(response.read(1024 * 1024))
    except (OSError, ValueError) as exc:  # URLError, timeouts and bad JSON alike
        raise KernelspecsUnavailable(f"{url}: {exc}") from exc
    specs = payload.get("kernelspecs") if isinstance(payload, dict) else None
    if not isinstance(specs, dict):
        raise KernelspecsUnavailable(f"{url} did not answer with a kernelspecs list.")
    result = []
    for name, spec in specs.items():
        display = name
        if isinstance(spec, dict) and isinstance(spec.get("spec"), dict):
            display = spec["spec"].get("display_name") or name
        result.append((str(name), str(display)))
    return sorted(result, key=lambda item: item[1].lower())


#: Cached in place of a list while the list cannot be had, so that a form does not wait for it again and again.
UNAVAILABLE = "unavailable"


def available_kernelspecs() -> list[tuple[str, str]] | None:
    """The configured callable's answer, cached; ``None`` when it cannot tell (logged as a warning; that answer is
    cached too, so an unreachable service costs one timeout per cache period, not one per form field)."""
    cached = cache.get(CACHE_KEY)
    if cached == UNAVAILABLE:
        return None
    if cached is not None:
        return [tuple(item) for item in cached]
    timeout = app_settings.KERNELSPECS_CACHE_SECONDS
    try:
        specs = [(str(name), str(display)) for name, display in app_settings.KERNELSPECS()]
    except (
        Exception
    ) as exc:  # KernelspecsUnavailable, or a project callable that failed: never break the editor
        if isinstance(exc, KernelspecsUnavailable):
            logger.warning("Kernelspecs unavailable, editors get a free-text field: %s", exc)
        else:
            logger.exception("LMS_CMS_BLOCKS['KERNELSPECS'] failed; editors get a free-text field")
        if timeout:
            cache.set(CACHE_KEY, UNAVAILABLE, timeout)
        return None
    if timeout:
        cache.set(CACHE_KEY, specs, timeout)
    return specs


def clear_cache() -> None:
    cache.delete(CACHE_KEY)
