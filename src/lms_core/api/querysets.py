"""The API's querysets: every list is one query for its page plus a fixed number of prefetches.

Progress figures are SQL annotations (subqueries per enrollment), so a list can filter and order by them and still
run a constant number of queries whatever the number of rows:

``required_total``
    required contents of the enrollment's course;
``completed_required``
    of those, the ones the learner completed;
``progress_rate`` (an alias: usable in ``filter``/``order_by``, not selected)
    ``completed_required / required_total`` as a number from 0 to 1, ``NULL`` when the course requires nothing;
``last_activity_at``
    the learner's latest activity on any content of the enrollment;
``has_overdue``
    a required content is overdue (the same condition the deadline sweep uses, see :mod:`lms_core.deadlines`).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf

from ..deadlines import overdue_items
from ..models import (
    DeadlineException,
    Enrollment,
    LearningContent,
    Progress,
    ProgressState,
    ScheduleItem,
)

__all__ = [
    "NAME_ORDER",
    "cohort_learners",
    "course_outline",
    "my_enrollments",
    "overdue_exists",
    "with_progress",
]

#: How "by name" sorts people: family name, given name, then username (for users without a name).
NAME_ORDER = ("user__last_name", "user__first_name", "user__username")


def _count(queryset, group_by: str):
    """``COUNT(*)`` of ``queryset`` as a scalar subquery (0 when empty)."""
    counted = queryset.order_by().values(group_by).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def overdue_exists(now: datetime, **item_filters) -> Exists:
    """``EXISTS`` an overdue required content (optionally narrowed, e.g. ``content_id=…``) for the enrollment row.

    :func:`lms_core.deadlines.overdue_items` reaches the enrollment's columns both one and two query levels up
    (the sweep runs it inside ``UPDATE … WHERE pk IN (SELECT …)``); wrapping it in a subquery of the same
    enrollment row makes both levels this row, so it also works as a plain annotation or filter.
    """
    items = overdue_items(now).filter(**item_filters)
    return Exists(Enrollment.objects.filter(pk=OuterRef("pk")).filter(Exists(items)))


def with_progress(enrollments: QuerySet[Enrollment], *, now: datetime) -> QuerySet[Enrollment]:
    """Annotate the progress figures described in this module's docstring."""
    required = LearningContent.objects.filter(course_id=OuterRef("cohort__course_id"), required=True)
    completed = Progress.objects.filter(
        enrollment_id=OuterRef("pk"), state=ProgressState.COMPLETED, content__required=True
    )
    last_activity = (
        Progress.objects.filter(enrollment_id=OuterRef("pk"))
        .order_by()
        .values("enrollment_id")
        .annotate(latest=Max("last_activity_at"))
        .values("latest")[:1]
    )
    return enrollments.annotate(
        required_total=_count(required, "course_id"),
        completed_required=_count(completed, "enrollment_id"),
        last_activity_at=Subquery(last_activity),
        has_overdue=overdue_exists(now),
    ).alias(
        # Only for ORDER BY / WHERE: selecting it would repeat both count subqueries in the SELECT list.
        progress_rate=Cast(F("completed_required"), FloatField())
        / Cast(NullIf(F("required_total"), Value(0)), FloatField()),
    )


def my_enrollments(user, *, now: datetime) -> QuerySet[Enrollment]:
    """``user``'s enrollments with progress figures and what :func:`next_due_from_prefetched` needs (3 prefetches)."""
    return (
        with_progress(Enrollment.objects.filter(user=user), now=now)
        .select_related("cohort__course", "user")
        .prefetch_related(
            Prefetch(
                "cohort__schedule",
                queryset=ScheduleItem.objects.select_related("content"),
                to_attr="prefetched_schedule",
            ),
            Prefetch(
                "deadline_exceptions",
                queryset=DeadlineException.objects.only("id", "enrollment_id", "content_id", "due_at"),
                to_attr="prefetched_exceptions",
            ),
            Prefetch(
                "progress",
                queryset=Progress.objects.filter(state=ProgressState.COMPLETED).only(
                    "id", "enrollment_id", "content_id"
                ),
                to_attr="prefetched_completed",
            ),
        )
        .order_by("-started_at", "-pk")
    )


def cohort_learners(cohort_id: int, *, now: datetime) -> QuerySet[Enrollment]:
    """A cohort's enrollments with progress figures, by name (the staff list; one query per page)."""
    return (
        with_progress(Enrollment.objects.filter(cohort_id=cohort_id), now=now)
        .select_related("user")
        .order_by(*NAME_ORDER, "pk")
    )


def course_outline(enrollment: Enrollment) -> QuerySet[LearningContent]:
    """Every content of the enrollment's course, in order, joined with this cohort's schedule item, this learner's
    deadline exception and progress (``LEFT JOIN``s on unique keys: one row per content, one query)."""
    return (
        LearningContent.objects.filter(course_id=enrollment.cohort.course_id)
        .annotate(
            item=FilteredRelation(
                "schedule_items", condition=Q(schedule_items__cohort_id=enrollment.cohort_id)
            ),
            granted=FilteredRelation(
                "deadline_exceptions", condition=Q(deadline_exceptions__enrollment_id=enrollment.pk)
            ),
            mine=FilteredRelation("progress", condition=Q(progress__enrollment_id=enrollment.pk)),
        )
        .annotate(
            item_id=F("item__id"),
            item_due_at=F("item__due_at"),
            item_due_offset=F("item__due_offset"),
            exception_due_at=F("granted__due_at"),
            progress_state=F("mine__state"),
            progress_percent=F("mine__percent"),
            progress_first_activity_at=F("mine__first_activity_at"),
            progress_last_activity_at=F("mine__last_activity_at"),
            progress_completed_at=F("mine__completed_at"),
        )
        .order_by("position", "pk")
    )
