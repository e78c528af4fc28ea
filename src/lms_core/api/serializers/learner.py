"""What a learner reads and sends: their enrollments, their schedule, their progress, a date shift."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ...models import Enrollment, EnrollmentStatus, LearningContent, Progress, ProgressState
from ..schedules import DueSource, effective_due, next_due_from_prefetched
from ..schema import extend_schema_field
from .common import (
    CohortSummarySerializer,
    ContentSummarySerializer,
    CourseSummarySerializer,
    ProgressRateField,
    UserSummarySerializer,
)

__all__ = [
    "MyEnrollmentSerializer",
    "NextDueSerializer",
    "ProgressInputSerializer",
    "ProgressSerializer",
    "ScheduleEntrySerializer",
    "ShiftInputSerializer",
    "ShiftingSerializer",
]


class NextDueSerializer(serializers.Serializer):
    content = ContentSummarySerializer(read_only=True)
    due_at = serializers.DateTimeField(read_only=True, help_text="Computed for this learner.")
    overdue = serializers.BooleanField(read_only=True)


class ShiftingSerializer(serializers.Serializer):
    """Where the learner stands with shifting their own dates (self-paced cohorts only)."""

    allowed = serializers.BooleanField(
        read_only=True, help_text="A shift of at least one day would be accepted right now."
    )
    days_shifted = serializers.IntegerField(read_only=True)
    shifts_used = serializers.IntegerField(read_only=True)
    days_left = serializers.IntegerField(read_only=True)
    shifts_left = serializers.IntegerField(read_only=True)


class MyEnrollmentSerializer(serializers.ModelSerializer):
    """One of the learner's enrollments. ``progress_rate`` is a number from 0 to 1 (completed required contents /
    required contents), ``null`` when the course requires nothing."""

    course = CourseSummarySerializer(source="cohort.course", read_only=True)
    cohort = CohortSummarySerializer(read_only=True)
    learner = UserSummarySerializer(source="user", read_only=True)
    progress_rate = ProgressRateField()
    completed_required = serializers.IntegerField(read_only=True)
    required_total = serializers.IntegerField(read_only=True)
    last_activity_at = serializers.DateTimeField(read_only=True, allow_null=True)
    has_overdue = serializers.BooleanField(read_only=True)
    next_due = serializers.SerializerMethodField()
    shifting = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "course",
            "cohort",
            "learner",
            "status",
            "started_at",
            "progress_rate",
            "completed_required",
            "required_total",
            "last_activity_at",
            "has_overdue",
            "next_due",
            "shifting",
        ]
        read_only_fields = fields

    @extend_schema_field(NextDueSerializer(allow_null=True))
    def get_next_due(self, enrollment):
        upcoming = next_due_from_prefetched(enrollment, now=self.context["now"])
        return None if upcoming is None else NextDueSerializer(upcoming, context=self.context).data

    @extend_schema_field(ShiftingSerializer)
    def get_shifting(self, enrollment):
        course = enrollment.cohort.course
        days_shifted = enrollment.date_shift.days
        days_left = max(course.max_shift_days - days_shifted, 0)
        shifts_left = max(course.max_shifts - enrollment.shift_count, 0)
        allowed = bool(
            enrollment.cohort.is_self_paced
            and enrollment.status == EnrollmentStatus.DELAYED
            and days_left > 0
            and shifts_left > 0
        )
        return ShiftingSerializer(
            {
                "allowed": allowed,
                "days_shifted": days_shifted,
                "shifts_used": enrollment.shift_count,
                "days_left": days_left,
                "shifts_left": shifts_left,
            }
        ).data


class _ProgressOfContentSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ProgressState.choices, read_only=True)
    percent = serializers.IntegerField(read_only=True)
    first_activity_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_activity_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class ScheduleEntrySerializer(serializers.ModelSerializer):
    """A content of the course with its due date for this learner and their progress on it.

    ``due_at`` is the effective due date (``due_source``: ``exception`` granted by staff > ``fixed`` date of an
    instructor-paced cohort > ``relative``: the learner's start + their shift + the item's offset), ``null`` when
    the content is not scheduled in this cohort. ``overdue``: due and not completed.
    """

    due_at = serializers.DateTimeField(source="effective_due_at", read_only=True, allow_null=True)
    due_source = serializers.ChoiceField(
        choices=[(value, value) for value in DueSource.CHOICES], read_only=True, allow_null=True
    )
    overdue = serializers.BooleanField(read_only=True)
    progress = _ProgressOfContentSerializer(source="*", read_only=True)

    class Meta:
        model = LearningContent
        fields = [
            "id",
            "title",
            "slug",
            "kind",
            "required",
            "estimated_minutes",
            "position",
            "due_at",
            "due_source",
            "overdue",
            "progress",
        ]
        read_only_fields = fields

    def to_representation(self, content):
        """Resolve the due date and the progress of a row of :func:`~..querysets.course_outline` (no query)."""
        enrollment, now = self.context["enrollment"], self.context["now"]
        content.effective_due_at, content.due_source = effective_due(
            scheduled=content.item_id is not None,
            due_at=content.item_due_at,
            due_offset=content.item_due_offset,
            exception_due_at=content.exception_due_at,
            anchor=enrollment.schedule_anchor,
        )
        content.state = content.progress_state or ProgressState.NOT_STARTED
        content.percent = content.progress_percent or 0
        content.first_activity_at = content.progress_first_activity_at
        content.last_activity_at = content.progress_last_activity_at
        content.completed_at = content.progress_completed_at
        content.overdue = bool(
            content.effective_due_at is not None
            and content.effective_due_at < now
            and content.state != ProgressState.COMPLETED
        )
        return super().to_representation(content)


class ProgressSerializer(serializers.ModelSerializer):
    """A learner's progress on one content, as recorded; ``enrollment_status`` is the enrollment's status after it."""

    content = ContentSummarySerializer(read_only=True)
    enrollment_status = serializers.CharField(source="enrollment.status", read_only=True)

    class Meta:
        model = Progress
        fields = [
            "content",
            "state",
            "percent",
            "first_activity_at",
            "last_activity_at",
            "completed_at",
            "enrollment_status",
        ]
        read_only_fields = fields


class ProgressInputSerializer(serializers.Serializer):
    """Record work on a content: a percentage (0 to 100; a lower value than already recorded is ignored), and/or
    ``completed``. At least one of them."""

    content = serializers.IntegerField(min_value=1, help_text="Id of a content of the enrollment's course.")
    percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
    completed = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if attrs.get("percent") is None and not attrs.get("completed"):
            raise serializers.ValidationError(_("Send a percent from 0 to 100, completed: true, or both."))
        return attrs


class ShiftInputSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=365, help_text="How many days to push your remaining due dates back."
    )
