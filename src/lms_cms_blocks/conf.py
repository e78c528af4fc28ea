"""``settings.LMS_CMS_BLOCKS``, read through :data:`app_settings`.

Any key not in :data:`DEFAULTS` is reported as unknown (``lms_cms_blocks.E002``).
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]


def _positive_int(value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return "must be a positive integer (bytes)."
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
}

app_settings = AppSettings(
    "LMS_CMS_BLOCKS",
    DEFAULTS,
    validators={
        "KERNEL_SERVICE_URL": _optional_url,
        "KERNEL_WEBSOCKET_URL": _optional_url,
        "SESSION_PATH": _session_path,
        "CELL_SOURCE_MAX_BYTES": _positive_int,
        "CELL_OUTPUTS_MAX_BYTES": _positive_int,
    },
)
