"""The API's routes, included by ``lms_core.urls`` under ``api/`` (names live in the ``lms_core`` namespace,
prefixed ``api-``; ``lms_core:api-root`` is the browsable API's index)."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from . import views

__all__ = ["urlpatterns"]


class LmsCoreApiRoot(APIRootView):
    """lms_core's REST API. Learners: ``me/enrollments/``. Staff and instructors: ``cohorts/``."""

    permission_classes = [IsAuthenticated]  # whatever the project's default is


class _Router(DefaultRouter):
    APIRootView = LmsCoreApiRoot
    include_format_suffixes = False  # ``?format=csv`` rather than a second set of ``.csv`` routes
    root_view_name = "api-root"


router = _Router()
router.register("me/enrollments", views.MyEnrollmentViewSet, basename="api-my-enrollment")
router.register("cohorts", views.CohortViewSet, basename="api-cohort")

learners = views.CohortLearnerViewSet
exceptions = views.CohortDeadlineExceptionViewSet

urlpatterns = [
    path(
        "me/enrollments/<int:enrollment_pk>/schedule/",
        views.MyScheduleView.as_view(),
        name="api-my-schedule",
    ),
    path(
        "cohorts/<int:cohort_pk>/learners/",
        learners.as_view({"get": "list", "post": "create"}),
        name="api-cohort-learner-list",
    ),
    path(
        "cohorts/<int:cohort_pk>/learners/<int:pk>/",
        learners.as_view({"get": "retrieve"}),
        name="api-cohort-learner-detail",
    ),
    path(
        "cohorts/<int:cohort_pk>/deadline-exceptions/",
        exceptions.as_view({"get": "list", "post": "create"}),
        name="api-cohort-exception-list",
    ),
    *router.urls,
]
