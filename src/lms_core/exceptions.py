"""lms_core's exception tree. Each error carries an HTTP status and a code, like DRF's ``APIException``
(they are ``APIException`` subclasses, so REST views turn them into clear 4xx responses by themselves).
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

__all__ = [
    "AlreadyEnrolled",
    "InvalidDeadline",
    "InvalidProgress",
    "LmsCoreError",
    "NotEnrolled",
    "ShiftNotAllowed",
]


class LmsCoreError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The request could not be carried out.")
    default_code = "lms_core_error"


class NotEnrolled(LmsCoreError):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = _("You are not enrolled in a cohort of this content's course.")
    default_code = "not_enrolled"


class AlreadyEnrolled(LmsCoreError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This learner is already enrolled in this cohort.")
    default_code = "already_enrolled"


class InvalidProgress(LmsCoreError):
    default_detail = _("Progress must be a percentage from 0 to 100.")
    default_code = "invalid_progress"


class ShiftNotAllowed(LmsCoreError):
    default_detail = _("Your dates cannot be shifted.")
    default_code = "shift_not_allowed"


class InvalidDeadline(LmsCoreError):
    default_detail = _("This due date is not valid.")
    default_code = "invalid_deadline"
