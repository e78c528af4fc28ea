"""lms_surveys' exception tree. Each error is a DRF ``APIException`` with a status, a code and a clear message,
so REST views answer with it by themselves; the learner pages show the same messages."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

__all__ = [
    "AlreadyAnswered",
    "InvalidAnswers",
    "LmsSurveysError",
    "LoginRequired",
    "NotEditable",
    "NotEnrolled",
    "SurveyClosed",
]


class LmsSurveysError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "survey_error"
    default_detail = _("The survey could not be answered.")


class LoginRequired(LmsSurveysError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "login_required"
    default_detail = _("Log in to answer this survey.")


class NotEnrolled(LmsSurveysError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "not_enrolled"
    default_detail = _("Only learners enrolled in this course can answer its surveys.")


class SurveyClosed(LmsSurveysError):
    """Unpublished, not yet open or past its expiration date; the message says which."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "survey_closed"
    default_detail = _("This survey is closed.")


class AlreadyAnswered(LmsSurveysError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "already_answered"
    default_detail = _("You already answered this survey.")


class NotEditable(LmsSurveysError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "not_editable"
    default_detail = _("This survey does not let you change your answers.")


class InvalidAnswers(LmsSurveysError):
    """``detail`` is ``{"answers": {question id: [messages]}}`` (and ``non_field_errors`` for the payload)."""

    default_code = "invalid_answers"
    default_detail = _("Some answers are not valid.")
