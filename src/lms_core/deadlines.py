"""Due dates and the set-based deadline sweep.

A required content is *overdue* for an enrollment when it has a schedule item in the enrollment's cohort, the
learner has not completed it, and its effective due date has passed. The effective due date is, in order:

1. the learner's :class:`~lms_core.models.DeadlineException` for that content, if staff granted one;
2. the item's fixed ``due_at`` (instructor-paced cohorts);
3. the learner's start plus their own date shift plus the item's ``due_offset`` (self-paced cohorts).

:func:`sweep_enrollments` moves enrollments between ``active``, ``delayed`` and ``completed`` in a constant number
of queries, whatever the number of enrollments, and is safe to run in two workers at once: every transition is one
``UPDATE … WHERE <old status> AND <condition>``, so a row another worker already moved no longer matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import (
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone

from . import signals
from .models import (
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Progress,
    ProgressState,
    ScheduleItem,
)

__all__ = ["SweepResult", "due_dates", "overdue_items", "sweep_enrollments"]


def due_dates(enrollment: Enrollment) -> dict[int, datetime]:
    """``{content_id: effective due date}`` for every scheduled content of the enrollment's cohort (2 queries)."""
    exceptions = dict(
        DeadlineException.objects.filter(enrollment=enrollment).values_list("content_id", "due_at")
    )
    anchor = enrollment.schedule_anchor
    result = {}
    for content_id, due_at, due_offset in ScheduleItem.objects.filter(
        cohort_id=enrollment.cohort_id
    ).values_list("content_id", "due_at", "due_offset"):
        if content_id in exceptions:
            result[content_id] = exceptions[content_id]
        elif due_at is not None:
            result[content_id] = due_at
        else:
            result[content_id] = anchor + due_offset
    return result


def _completed(enrollment_ref, content_ref) -> Exists:
    return Exists(
        Progress.objects.filter(
            enrollment_id=enrollment_ref, content_id=content_ref, state=ProgressState.COMPLETED
        )
    )


def overdue_items(now: datetime) -> QuerySet:
    """Schedule items overdue for the enrollment ``OuterRef("pk")`` (for use inside ``Exists``)."""
    enrollment = OuterRef(OuterRef("pk"))
    exception = DeadlineException.objects.filter(enrollment_id=enrollment, content_id=OuterRef("content_id"))
    # due_offset < now - (started_at + date_shift): the learner-side value is computed once per enrollment row.
    elapsed = ExpressionWrapper(
        Value(now, output_field=DateTimeField())
        - OuterRef(OuterRef("started_at"))
        - OuterRef(OuterRef("date_shift")),
        output_field=DurationField(),
    )
    return (
        ScheduleItem.objects.filter(cohort_id=OuterRef("cohort_id"), content__required=True)
        .filter(~_completed(enrollment, OuterRef("content_id")))
        .filter(
            Q(Exists(exception.filter(due_at__lt=now)))
            | (~Q(Exists(exception)) & (Q(due_at__lt=now) | Q(due_offset__lt=elapsed)))
        )
    )


def _incomplete_required() -> Exists:
    """A required content of the course that the enrollment ``OuterRef("pk")`` has not completed."""
    return Exists(
        LearningContent.objects.filter(course_id=OuterRef("cohort__course_id"), required=True).filter(
            ~_completed(OuterRef(OuterRef("pk")), OuterRef("pk"))
        )
    )


def _has_required() -> Exists:
    return Exists(LearningContent.objects.filter(course_id=OuterRef("cohort__course_id"), required=True))


@dataclass
class SweepResult:
    at: datetime
    delayed: list[int] = field(default_factory=list)
    caught_up: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.delayed) + len(self.caught_up) + len(self.completed)


def sweep_enrollments(*, now: datetime | None = None, enrollment_ids=None) -> SweepResult:
    """Bring every (or the given) enrollment's status up to date; emit one signal per kind of change.

    Idempotent: a second sweep at the same moment changes nothing. Dropped enrollments are never touched.
    """
    now = now or timezone.now()
    result = SweepResult(at=now)
    scope = Enrollment.objects.all()
    if enrollment_ids is not None:
        scope = scope.filter(pk__in=list(enrollment_ids))
    overdue = Exists(overdue_items(now))
    done = _has_required() & ~_incomplete_required()
    transitions = [
        # (old statuses, condition, new status, the list to record the ids in)
        (
            [EnrollmentStatus.ACTIVE, EnrollmentStatus.DELAYED],
            done,
            EnrollmentStatus.COMPLETED,
            result.completed,
        ),
        ([EnrollmentStatus.ACTIVE], overdue, EnrollmentStatus.DELAYED, result.delayed),
        ([EnrollmentStatus.DELAYED], ~overdue, EnrollmentStatus.ACTIVE, result.caught_up),
    ]
    with transaction.atomic():
        for old, condition, new, changed in transitions:
            updated = scope.filter(Q(status__in=old) & condition).update(status=new, status_changed_at=now)
            if updated:
                # status_changed_at == now marks exactly the rows this sweep moved (another sweep has another now).
                changed.extend(scope.filter(status=new, status_changed_at=now).values_list("pk", flat=True))
    for ids, signal in (
        (result.delayed, signals.enrollment_delayed),
        (result.caught_up, signals.enrollment_caught_up),
        (result.completed, signals.enrollment_completed),
    ):
        if ids:
            signal.send(sender=Enrollment, enrollment_ids=ids, at=now)
    return result
