"""The learner's endpoints (``me/…``): only ever the signed-in user's own enrollments.

An enrollment id that is not the user's is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ... import services
from ...models import Enrollment, LearningContent, Progress
from ..filters import MyEnrollmentFilter
from ..querysets import course_outline, my_enrollments
from ..schema import extend_schema
from ..serializers import (
    MyEnrollmentSerializer,
    ProgressInputSerializer,
    ProgressSerializer,
    ScheduleEntrySerializer,
    ShiftInputSerializer,
)
from .base import ApiViewMixin, get_or_404, validated

__all__ = ["NOT_YOUR_ENROLLMENT", "MyEnrollmentViewSet", "MyScheduleView", "my_enrollment"]

NOT_YOUR_ENROLLMENT = _("You have no enrollment with this id.")


def my_enrollment(request, pk) -> Enrollment:
    """The signed-in user's enrollment ``pk`` (a 404 when it is someone else's)."""
    return get_or_404(
        Enrollment.objects.select_related("cohort__course"), NOT_YOUR_ENROLLMENT, pk=pk, user=request.user
    )


class MyEnrollmentViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Your enrollments.

    * ``GET me/enrollments/``: your enrollments, newest first, paginated (``page``, ``page_size``); filter with
      ``status`` (repeatable) and ``course``. Each has its course and cohort, ``status``, ``progress_rate``
      (a number from 0 to 1: completed required contents / required contents; ``null`` when nothing is
      required), ``next_due`` (the first content you have not completed, by due date computed for you, overdue
      ones first; ``null`` when none) and ``shifting`` (whether and how far you may shift your dates).
    * ``GET me/enrollments/{id}/``: one of them.
    * ``POST me/enrollments/{id}/progress/`` ``{"content": id, "percent": 0..100, "completed": true}``: record
      work on a content (percent and/or completed). Idempotent; progress never moves backwards.
    * ``POST me/enrollments/{id}/shift/`` ``{"days": n}``: push your remaining due dates back (self-paced
      cohorts, once you have fallen behind, within the course's limits); 400 with the reason otherwise.
    """

    filterset_class = MyEnrollmentFilter
    lookup_value_regex = r"\d+"
    not_found_message = NOT_YOUR_ENROLLMENT

    def get_serializer_class(self):
        return {"progress": ProgressInputSerializer, "shift": ShiftInputSerializer}.get(
            self.action, MyEnrollmentSerializer
        )

    def get_queryset(self):
        if self.for_schema:
            return Enrollment.objects.none()
        return my_enrollments(self.request.user, now=self.now)

    @extend_schema(
        request=ProgressInputSerializer,
        responses={200: ProgressSerializer},
        summary="Record progress on a content",
    )
    @action(detail=True, methods=["post"])
    def progress(self, request, pk=None):
        enrollment = my_enrollment(request, pk)
        data = validated(ProgressInputSerializer, request)
        content = get_or_404(
            LearningContent.objects.filter(course_id=enrollment.cohort.course_id),
            _("This course has no content with this id."),
            pk=data["content"],
        )
        recorded = services.record_progress(
            request.user,
            content,
            percent=data.get("percent"),
            completed=bool(data.get("completed")),
            enrollment=enrollment,
        )
        recorded = Progress.objects.select_related("content", "enrollment").get(pk=recorded.pk)
        return Response(ProgressSerializer(recorded, context=self.get_serializer_context()).data)

    @extend_schema(
        request=ShiftInputSerializer,
        responses={200: MyEnrollmentSerializer},
        summary="Shift your remaining due dates",
    )
    @action(detail=True, methods=["post"])
    def shift(self, request, pk=None):
        enrollment = my_enrollment(request, pk)
        data = validated(ShiftInputSerializer, request)
        services.shift_dates(enrollment, data["days"], now=self.now)
        fresh = self.get_queryset().get(pk=enrollment.pk)
        return Response(MyEnrollmentSerializer(fresh, context=self.get_serializer_context()).data)


class MyScheduleView(ApiViewMixin, generics.ListAPIView):
    """``GET me/enrollments/{enrollment_id}/schedule/``: your course, content by content, with your due dates.

    Every content of the enrollment's course in order (paginated), with ``due_at`` computed for you: a deadline
    exception staff granted you wins, then the cohort's fixed date (instructor-paced), then your start plus your
    own shift plus the item's offset (self-paced); ``due_source`` says which, and both are ``null`` for a content
    this cohort does not schedule. ``progress`` is your state (``not_started``, ``in_progress``, ``completed``),
    percentage and activity dates; ``overdue`` means due and not completed.
    """

    serializer_class = ScheduleEntrySerializer
    filter_backends = []

    @cached_property
    def enrollment(self) -> Enrollment:
        return my_enrollment(self.request, self.kwargs["enrollment_pk"])

    def get_queryset(self):
        if self.for_schema:
            return LearningContent.objects.none()
        return course_outline(self.enrollment)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not self.for_schema:
            context["enrollment"] = self.enrollment
        return context
