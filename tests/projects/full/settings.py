"""All four apps together: the example project's own settings, with test-friendly overrides."""

from groundup_site.settings import *  # noqa: F403
from tests.projects.common import DATABASES, PASSWORD_HASHERS, SECRET_KEY  # noqa: F401

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SERVE_STATIC = True
LOGGING = {"version": 1, "disable_existing_loggers": False}

# A test lesson page with Jupyter blocks (tests/lms_cms_blocks/cells_site).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.lms_cms_blocks.cells_site"]  # noqa: F405
