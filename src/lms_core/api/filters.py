"""django-filter FilterSets of the API's lists (the query parameters each list documents)."""

from __future__ import annotations

from django import forms
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from lms_common.converters import MAX_ID

from ..models import Cohort, DeadlineException, Enrollment, EnrollmentStatus, Pacing
from .querysets import NAME_ORDER, overdue_exists
from .schema import OpenApiTypes, extend_schema_field

__all__ = [
    "CohortFilter",
    "CohortLearnerFilter",
    "DeadlineExceptionFilter",
    "LearnerOrderingFilter",
    "MyEnrollmentFilter",
    "StrictBooleanFilter",
]


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.Filter):
    """An integer id (a ``NumberFilter`` would accept ``1.5``), at most a 64-bit database id: a larger one would
    reach the database through a relation, where nothing guards it (an ``OverflowError`` on SQLite)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class _StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not silently "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise forms.ValidationError(_("Use true or false."), code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class MyEnrollmentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=EnrollmentStatus.choices, help_text=_("Repeat to allow several.")
    )
    course = IdFilter(field_name="cohort__course_id", min_value=1, help_text=_("Course id."))

    class Meta:
        model = Enrollment
        fields = ["status", "course"]


class CohortFilter(filters.FilterSet):
    course = IdFilter(field_name="course_id", min_value=1, help_text=_("Course id."))
    pacing = filters.ChoiceFilter(choices=Pacing.choices)

    class Meta:
        model = Cohort
        fields = ["course", "pacing"]


class LearnerOrderingFilter(filters.OrderingFilter):
    """``ordering=name|progress|status|last_activity|started`` (``-`` in front for descending, comma-separated
    for several keys). ``name`` sorts by family name, given name, username; learners without activity come last
    either way."""

    SORT_KEYS = {
        "name": NAME_ORDER,
        "progress": ("progress_rate", "completed_required"),
        "status": ("status",),
        "last_activity": ("last_activity_at",),
        "started": ("started_at",),
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fields", tuple((key, key) for key in self.SORT_KEYS))
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = []
        for param in value:
            descending = param.startswith("-")
            for field in self.SORT_KEYS[param.lstrip("-")]:
                expression = F(field)
                ordering.append(
                    expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
                )
        return qs.order_by(*ordering, "pk")


class CohortLearnerFilter(filters.FilterSet):
    """Filters of a cohort's learners; they combine with AND."""

    status = filters.MultipleChoiceFilter(
        choices=EnrollmentStatus.choices, help_text=_("Repeat to allow several.")
    )
    delayed = StrictBooleanFilter(method="filter_delayed", help_text=_("Only (or no) delayed learners."))
    search = filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text=_("Words that must each appear in the username, given name or family name."),
    )
    progress_below = filters.NumberFilter(
        method="filter_progress_below",
        min_value=0,
        max_value=100,
        help_text=_("Progress rate below this percentage (0 to 100)."),
    )
    overdue = StrictBooleanFilter(
        field_name="has_overdue", help_text=_("Has (or has not) an overdue required content.")
    )
    overdue_content = IdFilter(
        method="filter_overdue_content",
        min_value=1,
        help_text=_("Only learners for whom this content (id) is overdue."),
    )
    ordering = LearnerOrderingFilter()

    class Meta:
        model = Enrollment
        fields = ["status", "delayed", "search", "progress_below", "overdue", "overdue_content"]

    def filter_delayed(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(status=EnrollmentStatus.DELAYED)
        return queryset.exclude(status=EnrollmentStatus.DELAYED)

    def filter_search(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(user__username__icontains=word)
                | Q(user__first_name__icontains=word)
                | Q(user__last_name__icontains=word)
            )
        return queryset

    def filter_progress_below(self, queryset, name, value):
        # completed / total < value / 100, in integers on the left so 1/3 vs 33.3 % is exact.
        return (
            queryset.filter(required_total__gt=0)
            .alias(completed_x100=F("completed_required") * 100)
            .filter(completed_x100__lt=F("required_total") * float(value))
        )

    def filter_overdue_content(self, queryset, name, value):
        return queryset.filter(overdue_exists(timezone.now(), content_id=value))


class DeadlineExceptionFilter(filters.FilterSet):
    enrollment = IdFilter(field_name="enrollment_id", min_value=1, help_text=_("Enrollment id."))
    content = IdFilter(field_name="content_id", min_value=1, help_text=_("Content id."))

    class Meta:
        model = DeadlineException
        fields = ["enrollment", "content"]
