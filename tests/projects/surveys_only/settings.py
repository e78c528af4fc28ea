"""lms_surveys installed without lms_core: learning contents degrade to plain keys."""

from tests.projects.common import *  # noqa: F403
from tests.projects.common import DJANGO_CONTRIB

INSTALLED_APPS = [*DJANGO_CONTRIB, "rest_framework", "lms_surveys.apps.SurveyConfig", "lms_surveys"]
ROOT_URLCONF = "tests.projects.surveys_only.urls"
CHOICES_SEPARATOR = "|"
USER_DID_NOT_ANSWER = "Left blank"
