"""``settings.LMS_CMS_BLOCKS``, read through :data:`app_settings`.

=============================== ================================================================================
key                             meaning (default)
=============================== ================================================================================
``KERNELSPECS``                 dotted path to a callable returning ``[(name, display_name), ...]``: the
                                kernelspecs editors choose from in the Jupyter block
                                (``"lms_cms_blocks.kernelspecs.fetch_kernelspecs"``, which asks
                                ``KERNEL_SERVICE_URL``); it raises
                                :class:`~lms_cms_blocks.kernelspecs.KernelspecsUnavailable` when it cannot tell
``KERNEL_SERVICE_URL``          base URL of the Jupyter-Server-compatible kernel service: the learner's browser
                                talks to it (a path is resolved against the lesson page), and the default
                                ``KERNELSPECS`` asks it for kernelspecs when it is an absolute ``http(s)`` URL
                                (``"/kernels/"``)
``KERNEL_WEBSOCKET_URL``        its WebSocket base URL (``None``: derived from ``KERNEL_SERVICE_URL``)
``SESSION_PATH``                the Jupyter session path of a learner's kernel for a lesson
                                (``"lessons/{page_id}"``: one kernel per learner per lesson)
``CELL_SOURCE_MAX_BYTES``       the largest saved source of one cell, in bytes (``256 KiB``)
``CELL_OUTPUTS_MAX_BYTES``      the largest saved outputs of one cell, in bytes (``2 MiB``)
``KERNEL_SERVICE_TOKEN``        token sent as ``Authorization: token ...`` when fetching kernelspecs (``""``)
``KERNELSPECS_TIMEOUT``         seconds to wait for the kernel service (``2``)
``KERNELSPECS_CACHE_SECONDS``   how long a fetched list is cached (``60``)
``NOTEBOOK_MAX_BYTES``          the largest ``.ipynb`` accepted for import (``20 MB``)
``NOTEBOOK_MAX_CELLS``          the most cells a notebook may have (``2000``)
``NOTEBOOK_MAX_IMAGE_PIXELS``   the largest image (width x height) taken from a notebook (``40_000_000``; Pillow's
                                ``MAX_IMAGE_PIXELS`` when that is lower)
``NOTEBOOK_MAX_IMAGES``         the most images (attachments and image outputs) a notebook may have (``500``)
``NOTEBOOK_MAX_TOTAL_PIXELS``   the most pixels of all a notebook's images together (``200_000_000``)
``PREVIEW_TOKEN_MAX_AGE``       seconds a headless preview token stays valid (``3600``)
=============================== ================================================================================

Any key not in :data:`DEFAULTS` is reported as unknown (``lms_cms_blocks.E002``).
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]


def _positive_number(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return f"must be a positive number, not {value!r}."
    return None


def _string(value):
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}."
    return None


def _url(value):
    if not isinstance(value, str):
        return f"must be a URL or path string, not {type(value).__name__}."
    return None


def _positive_int(value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return "must be a positive integer (bytes)."
    return None


def _positive_count(value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return f"must be a positive integer, not {value!r}."
    return None


def _optional_url(value):
    if value is not None and not isinstance(value, str):
        return "must be a URL or path string, or None."
    return None


def _session_path(value):
    if not isinstance(value, str) or "{page_id}" not in value:
        return "must be a string containing '{page_id}', e.g. 'lessons/{page_id}'."
    return None


DEFAULTS: dict = {
    # -- the Jupyter block at runtime (learner side) -----------------------------------------------------------
    # Base URL of the Jupyter-Server-compatible kernel service the browser talks to (lms_kernels' prefix in the
    # same site by default, or any Jupyter Server); relative URLs are resolved against the lesson page.
    "KERNEL_SERVICE_URL": "/kernels/",
    # Its WebSocket base URL; None derives it from KERNEL_SERVICE_URL (http -> ws, https -> wss).
    "KERNEL_WEBSOCKET_URL": None,
    # The Jupyter session path of a learner's kernel for a lesson: one kernel per learner per lesson.
    "SESSION_PATH": "lessons/{page_id}",
    # Limits of the learner's saved state per block (cell-state API): larger requests are refused with a 4xx.
    "CELL_SOURCE_MAX_BYTES": 256 * 1024,
    "CELL_OUTPUTS_MAX_BYTES": 2 * 1024 * 1024,
    "KERNELSPECS": "lms_cms_blocks.kernelspecs.fetch_kernelspecs",
    "KERNEL_SERVICE_TOKEN": "",
    "KERNELSPECS_TIMEOUT": 2,
    "KERNELSPECS_CACHE_SECONDS": 60,
    "NOTEBOOK_MAX_BYTES": 20 * 1024 * 1024,
    "NOTEBOOK_MAX_CELLS": 2000,
    "NOTEBOOK_MAX_IMAGE_PIXELS": 40_000_000,
    # Budgets of one import, checked from the images' headers before any is decoded: hundreds of ordinary plots
    # (matplotlib's 640 x 480 is 0.3 megapixels) pass; decoding takes about a second per 40 megapixels.
    "NOTEBOOK_MAX_IMAGES": 500,
    "NOTEBOOK_MAX_TOTAL_PIXELS": 200_000_000,
    "PREVIEW_TOKEN_MAX_AGE": 3600,
}

app_settings = AppSettings(
    "LMS_CMS_BLOCKS",
    DEFAULTS,
    import_strings={"KERNELSPECS"},
    validators={
        "KERNELSPECS": lambda value: None if callable(value) else "must name a callable.",
        "KERNEL_SERVICE_URL": _url,
        "KERNEL_SERVICE_TOKEN": _string,
        "KERNELSPECS_TIMEOUT": _positive_number,
        "KERNELSPECS_CACHE_SECONDS": lambda value: (
            None
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else f"must be a whole number of seconds (0 or more), not {value!r}."
        ),
        "NOTEBOOK_MAX_BYTES": _positive_number,
        "NOTEBOOK_MAX_CELLS": _positive_number,
        "NOTEBOOK_MAX_IMAGE_PIXELS": _positive_number,
        "NOTEBOOK_MAX_IMAGES": _positive_count,
        "NOTEBOOK_MAX_TOTAL_PIXELS": _positive_count,
        "PREVIEW_TOKEN_MAX_AGE": _positive_number,
        "KERNEL_WEBSOCKET_URL": _optional_url,
        "SESSION_PATH": _session_path,
        "CELL_SOURCE_MAX_BYTES": _positive_int,
        "CELL_OUTPUTS_MAX_BYTES": _positive_int,
    },
)
