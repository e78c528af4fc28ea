"""lms_core installed alone: no Wagtail, no Channels, no Jupyter, no surveys."""

from tests.projects.common import *  # noqa: F403
from tests.projects.common import DJANGO_CONTRIB, MIDDLEWARE

INSTALLED_APPS = [
    *DJANGO_CONTRIB,
    "rest_framework",
    "django_filters",
    "hijack",
    "hijack.contrib.admin",
    "lms_core.apps.BackgroundTaskConfig",
    "lms_core",
]
MIDDLEWARE = [*MIDDLEWARE, "hijack.middleware.HijackUserMiddleware"]
ROOT_URLCONF = "tests.projects.core_only.urls"
HIJACK_PERMISSION_CHECK = "lms_core.hijack.can_hijack"
