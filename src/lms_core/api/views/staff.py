"""Staff and instructor endpoints (``cohorts/…``).

Which cohorts a user may see, and what they may change there, is :mod:`lms_core.api.permissions`: a cohort the
user may not see is a 404; one they may see but not change is a 403 with a message.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from ... import services, stats
from ...models import Cohort, DeadlineException, Enrollment, EnrollmentStatus, LearningContent
from ..filters import CohortFilter, CohortLearnerFilter, DeadlineExceptionFilter
from ..permissions import (
    MAY_NOT_ENROLL,
    MAY_NOT_GRANT,
    can_enroll,
    can_grant_exceptions,
    require,
    visible_cohorts,
)
from ..querysets import cohort_learners
from ..renderers import CSVRenderer, stream_csv
from ..schema import OpenApiParameter, extend_schema
from ..serializers import (
    CSV_COLUMNS,
    CohortSerializer,
    CohortStatsSerializer,
    DeadlineExceptionInputSerializer,
    DeadlineExceptionSerializer,
    EnrollInputSerializer,
    LearnerRowSerializer,
    csv_row,
)
from .base import ApiViewMixin, get_or_404, validated

__all__ = ["CohortDeadlineExceptionViewSet", "CohortLearnerViewSet", "CohortViewSet"]

NO_SUCH_COHORT = _("No cohort with this id that you may see.")


def _enrollment_count(**conditions):
    counted = (
        Enrollment.objects.filter(cohort_id=OuterRef("pk"), **conditions)
        .order_by()
        .values("cohort_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class CohortViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Cohorts you may look into: those of courses you teach; every cohort for staff with
    ``lms_core.view_enrollment`` and for superusers.

    * ``GET cohorts/``: newest first, paginated; filter with ``course`` (id) and ``pacing``. Each has its
      course, dates, pacing, ``learners_count``, ``delayed_count`` and ``user_is_instructor``.
    * ``GET cohorts/{id}/``: one of them (404 for a cohort you may not see).
    * ``GET cohorts/{id}/stats/?days=30``: what a cohort dashboard charts: ``progress_distribution`` (learners
      per progress bucket, dropped enrollments left out) and ``status_history`` (enrollments per status per day,
      oldest first, for the last ``days`` days, 1 to 366; recorded after each deadline sweep).
    """

    serializer_class = CohortSerializer
    filterset_class = CohortFilter
    lookup_value_regex = r"\d+"
    not_found_message = NO_SUCH_COHORT

    def get_queryset(self):
        if self.for_schema:
            return Cohort.objects.none()
        return (
            visible_cohorts(self.request.user)
            .annotate(
                learners_count=_enrollment_count(),
                delayed_count=_enrollment_count(status=EnrollmentStatus.DELAYED),
            )
            .order_by("-starts_at", "-pk")
        )

    @extend_schema(
        parameters=[OpenApiParameter("days", int, OpenApiParameter.QUERY, description="1 to 366 (30).")],
        responses=CohortStatsSerializer,
    )
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        cohort = self.get_object()
        raw = request.query_params.get("days", "30")
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 366):
            raise ValidationError({"days": [_("A whole number of days from 1 to 366.")]})
        learners = cohort_learners(cohort.pk, now=self.now).exclude(status=EnrollmentStatus.DROPPED)
        counts = stats.progress_distribution(learners)
        data = {
            "progress_distribution": [
                {"label": label, "learners": n} for label, n in zip(stats.BUCKETS, counts, strict=True)
            ],
            "status_history": stats.status_history(cohort, days=int(raw)),
        }
        return Response(CohortStatsSerializer(data).data)


class _InCohort(ApiViewMixin):
    """Views under ``cohorts/{cohort_id}/``: the cohort comes from the URL and must be visible to the user."""

    @cached_property
    def cohort(self) -> Cohort:
        return get_or_404(visible_cohorts(self.request.user), NO_SUCH_COHORT, pk=self.kwargs["cohort_pk"])


class CohortLearnerViewSet(
    _InCohort,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """A cohort's learners (one row per enrollment), for its instructors and staff.

    * ``GET cohorts/{cohort_id}/learners/``: by name, paginated. Each row has the learner (with their avatar
      URL), ``status``, ``progress_rate`` (0 to 1), ``completed_required``/``required_total``,
      ``last_activity_at``, ``has_overdue``. Filters (combined with AND): ``status`` (repeatable), ``delayed``,
      ``search`` (words in the username or name), ``progress_below`` (a percentage), ``overdue`` (any overdue
      required content), ``overdue_content`` (this content id is overdue). ``ordering``: ``name``,
      ``progress``, ``status``, ``last_activity``, ``started``, ``-`` for descending.
    * ``GET cohorts/{cohort_id}/learners/?format=csv`` (or ``Accept: text/csv``): the same filtered, ordered
      list as a CSV download, every row (no pagination), streamed.
    * ``GET cohorts/{cohort_id}/learners/{id}/``: one row (``id`` is the enrollment's).
    * ``POST cohorts/{cohort_id}/learners/`` ``{"user": id, "started_at": optional}``: enroll a user (staff with
      ``lms_core.add_enrollment``, superusers). 409 when they are already enrolled.
    """

    filterset_class = CohortLearnerFilter
    not_found_message = _("This cohort has no enrollment with this id.")

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return EnrollInputSerializer
        return LearnerRowSerializer

    def get_queryset(self):
        if self.for_schema:
            return Enrollment.objects.none()
        return cohort_learners(self.cohort.pk, now=self.now)

    def get_renderers(self):
        return [*super().get_renderers(), CSVRenderer()]

    def finalize_response(self, request, response, *args, **kwargs):
        # An error asked for as CSV (a bad filter, a 404) is still answered as JSON, which clients can read.
        renderer = getattr(request, "accepted_renderer", None)
        if getattr(response, "exception", False) and getattr(renderer, "format", None) == CSVRenderer.format:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                OpenApiParameter.QUERY,
                enum=["json", "csv"],
                description="csv: every filtered row as a CSV download (no pagination).",
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format == CSVRenderer.format:
            return self.csv_response(self.filter_queryset(self.get_queryset()))
        return super().list(request, *args, **kwargs)

    def csv_response(self, learners) -> StreamingHttpResponse:
        request, tz = self.request, timezone.get_current_timezone()
        lines = stream_csv(
            CSV_COLUMNS, learners.iterator(chunk_size=500), lambda row: csv_row(row, request, tz)
        )
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        filename = f"{self.cohort.course.slug}-{self.cohort.slug}-learners.csv"
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response

    @extend_schema(request=EnrollInputSerializer, responses={201: LearnerRowSerializer})
    def create(self, request, *args, **kwargs):
        cohort = self.cohort
        require(can_enroll(request.user, cohort), MAY_NOT_ENROLL)
        data = validated(EnrollInputSerializer, request)
        user = get_or_404(
            get_user_model().objects.filter(is_active=True),
            _("No active user with this id."),
            pk=data["user"],
        )
        enrollment = services.enroll(user, cohort, started_at=data.get("started_at"))
        row = self.get_queryset().get(pk=enrollment.pk)
        location = reverse(
            "lms_core:api-cohort-learner-detail", kwargs={"cohort_pk": cohort.pk, "pk": row.pk}
        )
        return Response(
            LearnerRowSerializer(row, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location)},
        )


class CohortDeadlineExceptionViewSet(_InCohort, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Deadline exceptions of a cohort's learners.

    * ``GET cohorts/{cohort_id}/deadline-exceptions/``: paginated; filter with ``enrollment`` and ``content``.
    * ``POST cohorts/{cohort_id}/deadline-exceptions/``
      ``{"enrollment": id, "content": id, "due_at": datetime, "reason": "…"}``: give one learner a new due date
      for one content (instructors of the course, staff with ``lms_core.add_deadlineexception``, superusers).
      It replaces an earlier exception for the same content (200) or creates one (201); the learner's status is
      brought up to date at once. A due date before the cohort starts is a 400; an enrollment of another cohort
      or a content of another course a 404.
    """

    filterset_class = DeadlineExceptionFilter

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return DeadlineExceptionInputSerializer
        return DeadlineExceptionSerializer

    def get_queryset(self):
        if self.for_schema:
            return DeadlineException.objects.none()
        return (
            DeadlineException.objects.filter(enrollment__cohort_id=self.cohort.pk)
            .select_related("enrollment__user", "content", "granted_by")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        request=DeadlineExceptionInputSerializer,
        responses={200: DeadlineExceptionSerializer, 201: DeadlineExceptionSerializer},
    )
    def create(self, request, *args, **kwargs):
        cohort = self.cohort
        require(can_grant_exceptions(request.user, cohort), MAY_NOT_GRANT)
        data = validated(DeadlineExceptionInputSerializer, request)
        enrollment = get_or_404(
            Enrollment.objects.select_related("cohort").filter(cohort_id=cohort.pk),
            _("This cohort has no enrollment with this id."),
            pk=data["enrollment"],
        )
        content = get_or_404(
            LearningContent.objects.filter(course_id=cohort.course_id),
            _("This course has no content with this id."),
            pk=data["content"],
        )
        replaces = DeadlineException.objects.filter(enrollment=enrollment, content=content).exists()
        granted = services.grant_exception(
            enrollment, content, data["due_at"], granted_by=request.user, reason=data["reason"]
        )
        return Response(
            DeadlineExceptionSerializer(
                self.get_queryset().get(pk=granted.pk), context=self.get_serializer_context()
            ).data,
            status=status.HTTP_200_OK if replaces else status.HTTP_201_CREATED,
        )
