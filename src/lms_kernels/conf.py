"""``settings.LMS_KERNELS``, read through :data:`app_settings`.

No keys are defined yet: the kernel service's settings (backends, limits, URL prefix) arrive with it, and
until then any key in ``LMS_KERNELS`` is reported as unknown (``lms_kernels.E002``).
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict = {}

app_settings = AppSettings("LMS_KERNELS", DEFAULTS)
