"""The deadline sweep's conditions as set-based subqueries: the plan PostgreSQL runs fastest.

:mod:`lms_core.deadlines` states each condition per enrollment row (correlated ``EXISTS``), which SQLite runs
well: a few index lookups per row. PostgreSQL runs each correlated subquery as a sub-plan per row, and that
overhead dominates for 100,000 enrollments; the same conditions written as the *set* of enrollment ids they hold
for (a join of enrollments with their cohort's schedule, anti-joined with completed progress) become hash joins
over each table once, several times faster. The rules are the same, and ``tests/lms_core/test_deadlines.py`` checks
both forms against the rules written in plain Python, on SQLite and on PostgreSQL.

Each function returns a query of enrollment ids, limited to the given statuses and, when given, ids; the sweep
uses it as ``pk IN (…)``, so the ``UPDATE`` itself still has no join and re-checks each row's own status.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery

from ..models import DeadlineException, Enrollment, LearningContent, Progress, ProgressState, ScheduleItem
from .elapsed import Elapsed

__all__ = ["completed_ids", "overdue_ids"]


def _completed_progress(enrollment_ref, content_ref) -> Exists:
    return Exists(
        Progress.objects.filter(
            enrollment_id=enrollment_ref, content_id=content_ref, state=ProgressState.COMPLETED
        )
    )


def overdue_ids(now: datetime, statuses, scope_ids=None) -> QuerySet:
    """Ids of enrollments (in ``statuses``) with a required content overdue at ``now``.

    Two sets, united: schedule items whose date passed (fixed, or the learner's start + shift + offset) with no
    exception moving them to ``now`` or later; and exceptions whose date passed, for a scheduled item. Either way
    the required content is not completed.
    """
    by_schedule = (
        Enrollment.objects.filter(status__in=statuses)
        .alias(
            item_content_id=F("cohort__schedule__content_id"),
            item_due_at=F("cohort__schedule__due_at"),
            item_due_offset=F("cohort__schedule__due_offset"),
            item_required=F("cohort__schedule__content__required"),
        )
        .filter(item_required=True)
        .filter(
            Q(item_due_at__lt=now) | Q(item_due_offset__lt=Elapsed(now, F("started_at"), F("date_shift")))
        )
        .filter(
            ~_completed_progress(OuterRef("pk"), OuterRef("item_content_id")),
            ~Exists(
                DeadlineException.objects.filter(
                    enrollment_id=OuterRef("pk"), content_id=OuterRef("item_content_id"), due_at__gte=now
                )
            ),
        )
        .order_by()
        .values("pk")
    )
    by_exception = (
        DeadlineException.objects.filter(
            due_at__lt=now, content__required=True, enrollment__status__in=statuses
        )
        .filter(
            Exists(
                ScheduleItem.objects.filter(
                    cohort_id=OuterRef("enrollment__cohort_id"), content_id=OuterRef("content_id")
                )
            ),
            ~_completed_progress(OuterRef("enrollment_id"), OuterRef("content_id")),
        )
        .order_by()
        .values("enrollment_id")
    )
    if scope_ids is not None:
        by_schedule = by_schedule.filter(pk__in=scope_ids)
        by_exception = by_exception.filter(enrollment_id__in=scope_ids)
    return by_schedule.union(by_exception)


def completed_ids(statuses, scope_ids=None) -> QuerySet:
    """Ids of enrollments (in ``statuses``) that completed every required content of their course.

    Completed progress on the course's required contents, counted per enrollment: as many as the course requires
    means all of them (there is one progress row per enrollment and content). A course that requires nothing
    has no such row, so it is never completed this way.
    """
    required_total = (
        LearningContent.objects.filter(course_id=OuterRef("enrollment__cohort__course_id"), required=True)
        .order_by()
        .values("course_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    done = Progress.objects.filter(
        state=ProgressState.COMPLETED,
        content__required=True,
        content__course_id=F("enrollment__cohort__course_id"),
        enrollment__status__in=statuses,
    )
    if scope_ids is not None:
        done = done.filter(enrollment_id__in=scope_ids)
    return (
        done.order_by()
        .values("enrollment_id", "enrollment__cohort__course_id")
        .annotate(done=Count("pk"))
        .filter(done__gte=Subquery(required_total, output_field=IntegerField()))
        .values("enrollment_id")
    )
