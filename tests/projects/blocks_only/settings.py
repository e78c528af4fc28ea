"""lms_cms_blocks installed alone with Wagtail, no other Groundup app."""

from tests.projects.common import *  # noqa: F403
from tests.projects.common import DJANGO_CONTRIB

INSTALLED_APPS = [
    *DJANGO_CONTRIB,
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "wagtail.api.v2",
    "modelcluster",
    "taggit",
    "rest_framework",
    "lms_cms_blocks",
    "tests.projects.blocks_only.lessons",
    "tests.lms_cms_blocks.cells_site",  # a test lesson page with Jupyter blocks
]

ROOT_URLCONF = "tests.projects.blocks_only.urls"
WAGTAIL_SITE_NAME = "Blocks test"
WAGTAILADMIN_BASE_URL = "http://testserver"
MEDIA_URL = "/media/"
