"""The example project plus the test lesson page: what the browser test's server process runs."""

from groundup_site.settings import *  # noqa: F403
from groundup_site.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.lms_cms_blocks.cells_site"]

# A small output cap, so that the browser test sees the truncation notice.
LMS_KERNELS = {"OUTPUT_CAP": 100_000}
