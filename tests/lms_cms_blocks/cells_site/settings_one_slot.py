"""The browser test's site with room for one kernel: a second start waits in lms_kernels' queue."""

from tests.lms_cms_blocks.cells_site.settings import *  # noqa: F403
from tests.lms_cms_blocks.cells_site.settings import LMS_KERNELS

LMS_KERNELS = {
    **LMS_KERNELS,
    "BACKENDS": {
        "local": {
            "BACKEND": "lms_kernels.backends.local.LocalBackend",
            "OPTIONS": {},
            "CAPACITY": {"KERNELS": 1},
        }
    },
}
