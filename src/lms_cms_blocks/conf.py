"""``settings.LMS_CMS_BLOCKS``, read through :data:`app_settings`.

=============================== ================================================================================
key                             meaning (default)
=============================== ================================================================================
``KERNELSPECS``                 dotted path to a callable returning ``[(name, display_name), ...]``: the
                                kernelspecs editors choose from in the Jupyter block
                                (``"lms_cms_blocks.kernelspecs.fetch_kernelspecs"``, which asks
                                ``KERNEL_SERVICE_URL``); it raises
                                :class:`~lms_cms_blocks.kernelspecs.KernelspecsUnavailable` when it cannot tell
``KERNEL_SERVICE_URL``          base URL of a Jupyter-Server-compatible kernel service, e.g.
                                ``"https://lms.example.com/kernels"`` (``""``: not configured)
``KERNEL_SERVICE_TOKEN``        token sent as ``Authorization: token ...`` when fetching kernelspecs (``""``)
``KERNELSPECS_TIMEOUT``         seconds to wait for the kernel service (``2``)
``KERNELSPECS_CACHE_SECONDS``   how long a fetched list is cached (``60``)
``NOTEBOOK_MAX_BYTES``          the largest ``.ipynb`` accepted for import (``20 MB``)
``NOTEBOOK_MAX_CELLS``          the most cells a notebook may have (``2000``)
``NOTEBOOK_MAX_IMAGE_PIXELS``   the largest image (width x height) taken from a notebook (``40_000_000``)
``PREVIEW_TOKEN_MAX_AGE``       seconds a headless preview token stays valid (``3600``)
=============================== ================================================================================
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


DEFAULTS: dict = {
    "KERNELSPECS": "lms_cms_blocks.kernelspecs.fetch_kernelspecs",
    "KERNEL_SERVICE_URL": "",
    "KERNEL_SERVICE_TOKEN": "",
    "KERNELSPECS_TIMEOUT": 2,
    "KERNELSPECS_CACHE_SECONDS": 60,
    "NOTEBOOK_MAX_BYTES": 20 * 1024 * 1024,
    "NOTEBOOK_MAX_CELLS": 2000,
    "NOTEBOOK_MAX_IMAGE_PIXELS": 40_000_000,
    "PREVIEW_TOKEN_MAX_AGE": 3600,
}

app_settings = AppSettings(
    "LMS_CMS_BLOCKS",
    DEFAULTS,
    import_strings={"KERNELSPECS"},
    validators={
        "KERNELSPECS": lambda value: None if callable(value) else "must name a callable.",
        "KERNEL_SERVICE_URL": _string,
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
        "PREVIEW_TOKEN_MAX_AGE": _positive_number,
    },
)
