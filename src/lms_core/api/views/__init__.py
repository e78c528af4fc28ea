"""The API's views: the learner's side (``me/…``) and the staff/instructor side (``cohorts/…``)."""

from .learner import MyEnrollmentViewSet, MyScheduleView
from .staff import CohortDeadlineExceptionViewSet, CohortLearnerViewSet, CohortViewSet

__all__ = [
    "CohortDeadlineExceptionViewSet",
    "CohortLearnerViewSet",
    "CohortViewSet",
    "MyEnrollmentViewSet",
    "MyScheduleView",
]
