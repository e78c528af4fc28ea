"""What staff and instructors read and send: cohorts, a cohort's learners, enrollments, deadline exceptions."""

from __future__ import annotations

from rest_framework import serializers

from ...models import Cohort, DeadlineException, Enrollment
from .common import (
    ContentSummarySerializer,
    CourseSummarySerializer,
    ProgressRateField,
    UserSummarySerializer,
    avatar_url,
    display_name,
)

__all__ = [
    "CSV_COLUMNS",
    "CohortSerializer",
    "CohortStatsSerializer",
    "DeadlineExceptionInputSerializer",
    "DeadlineExceptionSerializer",
    "EnrollInputSerializer",
    "LearnerRowSerializer",
    "ProgressBucketSerializer",
    "StatusCountsSerializer",
    "csv_row",
]


class CohortSerializer(serializers.ModelSerializer):
    course = CourseSummarySerializer(read_only=True)
    learners_count = serializers.IntegerField(read_only=True, help_text="Enrollments of every status.")
    delayed_count = serializers.IntegerField(read_only=True)
    user_is_instructor = serializers.BooleanField(read_only=True, help_text="You teach this course.")

    class Meta:
        model = Cohort
        fields = [
            "id",
            "course",
            "name",
            "slug",
            "pacing",
            "starts_at",
            "ends_at",
            "learners_count",
            "delayed_count",
            "user_is_instructor",
        ]
        read_only_fields = fields


class LearnerRowSerializer(serializers.ModelSerializer):
    """A learner of the cohort (one enrollment): ``id`` is the enrollment's. ``progress_rate`` is a number from 0
    to 1 (completed required contents / required contents), ``null`` when the course requires nothing."""

    learner = UserSummarySerializer(source="user", read_only=True)
    progress_rate = ProgressRateField()
    completed_required = serializers.IntegerField(read_only=True)
    required_total = serializers.IntegerField(read_only=True)
    last_activity_at = serializers.DateTimeField(read_only=True, allow_null=True)
    has_overdue = serializers.BooleanField(read_only=True, help_text="A required content is overdue.")
    days_shifted = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "learner",
            "status",
            "status_changed_at",
            "started_at",
            "progress_rate",
            "completed_required",
            "required_total",
            "last_activity_at",
            "has_overdue",
            "days_shifted",
            "shift_count",
        ]
        read_only_fields = fields

    def get_days_shifted(self, enrollment) -> int:
        return enrollment.date_shift.days


#: The CSV export's columns, in order (one row per learner, the same figures as the JSON list).
CSV_COLUMNS = [
    "enrollment_id",
    "user_id",
    "username",
    "name",
    "status",
    "progress_percent",
    "completed_required",
    "required_total",
    "has_overdue",
    "last_activity_at",
    "started_at",
    "days_shifted",
    "avatar_url",
]


def csv_row(enrollment, request, tz) -> list:
    """One CSV line for a row of :func:`~..querysets.cohort_learners` (plain values; the writer quotes them)."""
    user = enrollment.user
    total = enrollment.required_total
    return [
        enrollment.pk,
        user.pk,
        user.get_username(),
        display_name(user),
        enrollment.status,
        round(enrollment.completed_required * 100 / total, 1) if total else "",
        enrollment.completed_required,
        enrollment.required_total,
        "yes" if enrollment.has_overdue else "no",
        enrollment.last_activity_at.astimezone(tz).isoformat() if enrollment.last_activity_at else "",
        enrollment.started_at.astimezone(tz).isoformat(),
        enrollment.date_shift.days,
        avatar_url(user, request),
    ]


class EnrollInputSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, help_text="Id of the user to enroll.")
    started_at = serializers.DateTimeField(
        required=False, help_text="Default: now, or the cohort's start if it is later."
    )


class DeadlineExceptionSerializer(serializers.ModelSerializer):
    learner = UserSummarySerializer(source="enrollment.user", read_only=True)
    content = ContentSummarySerializer(read_only=True)
    granted_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = DeadlineException
        fields = ["id", "enrollment", "learner", "content", "due_at", "reason", "granted_by", "created_at"]
        read_only_fields = fields


class DeadlineExceptionInputSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField(min_value=1, help_text="Id of an enrollment of this cohort.")
    content = serializers.IntegerField(min_value=1, help_text="Id of a content of the cohort's course.")
    due_at = serializers.DateTimeField(help_text="The learner's new due date; not before the cohort starts.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class StatusCountsSerializer(serializers.Serializer):
    """One day of a cohort's status history: how many enrollments were in each status that day."""

    day = serializers.DateField()
    active = serializers.IntegerField()
    delayed = serializers.IntegerField()
    completed = serializers.IntegerField()
    dropped = serializers.IntegerField()


class ProgressBucketSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="0-9%, 10-19%, … 90-99%, 100%.")
    learners = serializers.IntegerField()


class CohortStatsSerializer(serializers.Serializer):
    """What a cohort dashboard charts: the progress distribution now and the status counts per day."""

    progress_distribution = ProgressBucketSerializer(many=True)
    status_history = StatusCountsSerializer(
        many=True, help_text="Oldest first; days without a count are absent."
    )
