"""``settings.LMS_SURVEYS``, read through :data:`app_settings`.

No keys are defined yet; any key in ``LMS_SURVEYS`` is reported as unknown (``lms_surveys.E002``).
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict = {}

app_settings = AppSettings("LMS_SURVEYS", DEFAULTS)
