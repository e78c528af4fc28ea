"""``settings.LMS_CMS_BLOCKS``, read through :data:`app_settings`.

No keys are defined yet; any key in ``LMS_CMS_BLOCKS`` is reported as unknown (``lms_cms_blocks.E002``).
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict = {}

app_settings = AppSettings("LMS_CMS_BLOCKS", DEFAULTS)
