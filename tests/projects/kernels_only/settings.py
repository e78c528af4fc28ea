"""lms_kernels installed alone (with Channels), no other Groundup app."""

from tests.projects.common import *  # noqa: F403
from tests.projects.common import DJANGO_CONTRIB

INSTALLED_APPS = [*DJANGO_CONTRIB, "channels", "lms_common.apps.BackgroundTaskConfig", "lms_kernels"]
ROOT_URLCONF = "tests.projects.kernels_only.urls"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
