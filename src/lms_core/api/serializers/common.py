"""Small shapes that appear inside the others: a user (with their avatar URL), a course, a cohort, a content."""

from __future__ import annotations

from rest_framework import serializers

from ... import avatars
from ...models import Cohort, Course, LearningContent
from ..schema import extend_schema_field

__all__ = [
    "CohortSummarySerializer",
    "ContentSummarySerializer",
    "CourseSummarySerializer",
    "ProgressRateField",
    "UserSummarySerializer",
    "avatar_url",
    "display_name",
]


def avatar_url(user, request=None) -> str:
    """The absolute URL of ``user``'s avatar (:func:`lms_core.avatars.avatar_url`), relative without a request."""
    return avatars.avatar_url(user, request=request)


def display_name(user) -> str:
    return user.get_full_name().strip() or user.get_username()


class UserSummarySerializer(serializers.Serializer):
    """A person as every endpoint shows them: no e-mail, no flags, an avatar anyone signed in may load."""

    id = serializers.IntegerField(source="pk", read_only=True)
    username = serializers.CharField(source="get_username", read_only=True)
    name = serializers.SerializerMethodField(help_text="Full name, or the username when there is none.")
    avatar_url = serializers.SerializerMethodField(
        help_text="Absolute URL of the user's picture, or of their identicon (PNG)."
    )

    def get_name(self, user) -> str:
        return display_name(user)

    def get_avatar_url(self, user) -> str:
        return avatar_url(user, self.context.get("request"))


class CourseSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "title", "slug"]
        read_only_fields = fields


class CohortSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Cohort
        fields = ["id", "name", "slug", "pacing", "starts_at", "ends_at"]
        read_only_fields = fields


class ContentSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LearningContent
        fields = ["id", "title", "slug", "kind", "required"]
        read_only_fields = fields


@extend_schema_field({"type": "number", "format": "double", "minimum": 0, "maximum": 1, "nullable": True})
class ProgressRateField(serializers.Field):
    """Completed required contents / required contents, from 0 to 1 (4 decimals); ``null`` when the course
    requires nothing. Computed from the row's ``completed_required`` and ``required_total`` annotations (the
    SQL ``progress_rate`` is only an alias for filtering and ordering, so the subqueries run once per row)."""

    def __init__(self, **kwargs):
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, row):
        if not row.required_total:
            return None
        return round(row.completed_required / row.required_total, 4)
