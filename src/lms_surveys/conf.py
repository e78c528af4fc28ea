"""``settings.LMS_SURVEYS``, read through :data:`app_settings`.

``REQUIRE_ENROLLMENT`` (default ``True``)
    With lms_core installed, only learners with a current (not dropped) enrollment in the survey's course may
    answer. Without lms_core it has no effect.
``INVITE_ON_COMPLETION`` (default ``True``)
    With lms_core installed, a learner who completes a content (or a course) with a survey is invited to it
    (a :class:`~lms_surveys.models.SurveyInvitation`: the pending surveys on their dashboard).
``REPORT_TEXT_ANSWERS_LIMIT`` (default ``200``)
    At most this many free-text answers per question in a report (the newest first); the CSV export has all.
``BASE_TEMPLATE`` (default ``"lms_surveys/base.html"``)
    The template the learner's survey page extends (it fills the blocks ``title`` and ``content``): name your
    site's base template to give the page your header and styles.
"""

from lms_common.settings import AppSettings

__all__ = ["DEFAULTS", "app_settings"]


def _positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a positive integer"
    return None


def _bool(value):
    return None if isinstance(value, bool) else "must be True or False"


DEFAULTS: dict = {
    "REQUIRE_ENROLLMENT": True,
    "INVITE_ON_COMPLETION": True,
    "REPORT_TEXT_ANSWERS_LIMIT": 200,
    "BASE_TEMPLATE": "lms_surveys/base.html",
}


def _template_name(value):
    return None if isinstance(value, str) and value else "must be a template name"


app_settings = AppSettings(
    "LMS_SURVEYS",
    DEFAULTS,
    validators={
        "REQUIRE_ENROLLMENT": _bool,
        "INVITE_ON_COMPLETION": _bool,
        "REPORT_TEXT_ANSWERS_LIMIT": _positive_int,
        "BASE_TEMPLATE": _template_name,
    },
)
