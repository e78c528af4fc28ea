"""Due dates and the set-based deadline sweep.

A required content is *overdue* for an enrollment when it has a schedule item in the enrollment's cohort, the
learner has not completed it, and its effective due date has passed. The effective due date is, in order:

1. the learner's :class:`~lms_core.models.DeadlineException` for that content, if staff granted one;
2. the item's fixed ``due_at`` (instructor-paced cohorts);
3. the learner's start plus their own date shift plus the item's ``due_offset`` (self-paced cohorts).

:func:`sweep_enrollments` moves enrollments between ``active``, ``delayed`` and ``completed`` in a constant number
of queries, whatever the number of enrollments. Why its SQL has the shape it has:

* **Two workers at once.** Every transition is one ``UPDATE lms_core_enrollment … WHERE status IN (<old>) AND
  <condition>``, the condition being correlated ``EXISTS`` subqueries, with no join in the ``UPDATE`` itself
  (:func:`_update_returning_pks` refuses one). That matters on PostgreSQL under READ COMMITTED: a second worker
  that waited for the first one's row lock re-checks the *target row's own* ``WHERE`` against the new row, sees
  the status has moved, and skips it. Django turns an ``UPDATE`` with a join into ``WHERE id IN (SELECT …)``,
  where the status test sits in the subquery and is not re-checked, so the row would be moved twice.
* **Exactly the rows that changed.** ``UPDATE … RETURNING id`` (PostgreSQL, SQLite ≥ 3.35) names the rows this
  statement moved and no others, so each signal carries each id once even with two workers.
* **Fast on SQLite too.** The overdue test is three ``EXISTS``: fixed dates, offsets, exceptions. ``due_at <
  now`` and ``due_offset < <the learner's elapsed time>`` are then index range conditions on
  ``(cohort, due_at)`` and ``(cohort, due_offset)``: only items already due are visited, and the learner's
  elapsed time (a Python function on SQLite, which has no native datetime arithmetic) is computed once per
  enrollment instead of once per schedule item. Completion is first pre-filtered by a count of completed
  progress rows, answered from the ``(enrollment, state)`` index, before looking for a missing content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.lookups import IsNull
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from . import signals
from .internal.elapsed import Elapsed
from .models import (
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Progress,
    ProgressState,
    ScheduleItem,
)

__all__ = ["SweepResult", "due_dates", "overdue_condition", "overdue_items", "sweep_enrollments"]

logger = logging.getLogger(__name__)


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


# -- building blocks (the enrollment is always the query directly around the one being built) ------------------


def _completed(enrollment_ref, content_ref) -> Exists:
    return Exists(
        Progress.objects.filter(
            enrollment_id=enrollment_ref, content_id=content_ref, state=ProgressState.COMPLETED
        )
    )


def _elapsed(now: datetime) -> Elapsed:
    """How far the enrollment ``OuterRef`` is into its own schedule: ``now - (started_at + date_shift)``."""
    return Elapsed(now, OuterRef("started_at"), OuterRef("date_shift"))


def _exception(**due) -> QuerySet:
    """The learner's exception for the schedule item ``OuterRef`` (inside a subquery of the enrollment)."""
    return DeadlineException.objects.filter(
        enrollment_id=OuterRef(OuterRef("pk")), content_id=OuterRef("content_id"), **due
    )


def _unfinished_items() -> QuerySet:
    """Required schedule items of the enrollment ``OuterRef``'s cohort that it has not completed."""
    return ScheduleItem.objects.filter(cohort_id=OuterRef("cohort_id"), content__required=True).filter(
        ~_completed(OuterRef(OuterRef("pk")), OuterRef("content_id"))
    )


def overdue_items(now: datetime) -> QuerySet:
    """Schedule items overdue for the enrollment ``OuterRef`` (for ``Exists``/``Subquery`` inside an enrollment query).

    ``Enrollment.objects.filter(Exists(overdue_items(now).filter(content_id=…)))``: enrollments for which that
    content is overdue. To ask whether *any* content is overdue, :func:`overdue_condition` is faster.
    """
    exception = _exception()
    return _unfinished_items().filter(
        Q(Exists(exception.filter(due_at__lt=now)))
        | (~Q(Exists(exception)) & (Q(due_at__lt=now) | Q(due_offset__lt=_elapsed(now))))
    )


def overdue_condition(now: datetime) -> Q:
    """``Enrollment.objects.filter(overdue_condition(now))``: enrollments with at least one overdue content.

    The same rule as :func:`overdue_items`, split so that each part is an index range (see the module's
    docstring): items whose schedule date passed and that no exception moved later, then exceptions that passed.
    """
    pending = _unfinished_items().filter(~Exists(_exception(due_at__gte=now)))
    passed_exceptions = DeadlineException.objects.filter(
        enrollment_id=OuterRef("pk"), due_at__lt=now, content__required=True
    ).filter(
        Exists(
            ScheduleItem.objects.filter(
                cohort_id=OuterRef(OuterRef("cohort_id")), content_id=OuterRef("content_id")
            )
        ),
        ~_completed(OuterRef("enrollment_id"), OuterRef("content_id")),
    )
    return (
        Q(Exists(pending.filter(due_at__lt=now)))
        | Q(Exists(pending.filter(due_offset__lt=_elapsed(now))))
        | Q(Exists(passed_exceptions))
    )


def completion_condition() -> Q:
    """``Enrollment.objects.filter(completion_condition())``: every required content of the course completed.

    A course without required contents is never completed this way. Learners mostly work through a course in
    order, so its last required content is the likeliest to be missing: looking for a missing content from the
    last one down finds one at the first step for most learners who are not done (the answer does not depend on
    the order; only the time it takes does).
    """
    required = LearningContent.objects.filter(course__cohorts=OuterRef("cohort_id"), required=True)
    missing = required.filter(~_completed(OuterRef(OuterRef("pk")), OuterRef("pk")))
    last_missing = Subquery(missing.order_by("-pk").values("pk")[:1])
    return Q(Exists(required)) & Q(IsNull(last_missing, True))


# -- the sweep -------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What one sweep changed: the ids (sorted) of the enrollments that moved, by kind of change."""

    at: datetime
    delayed: list[int] = field(default_factory=list)
    caught_up: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.delayed) + len(self.caught_up) + len(self.completed)


def _can_return_from_update(connection) -> bool:
    # SQLite has UPDATE … RETURNING since 3.35 (Django reports it as can_return_columns_from_insert).
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert


def _update_returning_pks(queryset: QuerySet, now: datetime, **values) -> list[int]:
    """``queryset.update(**values)``, returning the primary keys of exactly the rows this statement changed.

    Where the database cannot return rows from an ``UPDATE``, the rows are found again by their
    ``status_changed_at == now`` (exact as long as no other sweep uses the same ``now``).
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.clear_ordering(force=True)
    query.get_initial_alias()
    if query.count_active_tables() != 1:
        # See the module docstring: a join makes Django write WHERE id IN (SELECT …), unsafe with two workers.
        raise RuntimeError("A deadline transition must not join other tables into its UPDATE.")
    connection = connections[queryset.db]
    if not _can_return_from_update(connection):
        queryset.update(**values)
        return sorted(
            queryset.model.objects.filter(status=values["status"], status_changed_at=now).values_list(
                "pk", flat=True
            )
        )
    sql, params = query.get_compiler(queryset.db).as_sql()
    pk = connection.ops.quote_name(queryset.model._meta.pk.column)
    with transaction.mark_for_rollback_on_error(using=queryset.db), connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return sorted(row[0] for row in cursor.fetchall())


def _send_after_commit(signal, ids: list[int], at: datetime, using: str) -> None:
    """Send ``signal`` once the change is committed; a failing receiver is logged and does not stop the others."""

    def send():
        for receiver, response in signal.send_robust(sender=Enrollment, enrollment_ids=ids, at=at):
            if isinstance(response, Exception):
                logger.error(
                    "Receiver %r of an lms_core enrollment signal failed.",
                    receiver,
                    exc_info=(type(response), response, response.__traceback__),
                )

    transaction.on_commit(send, using=using)


_CAN_COMPLETE = [EnrollmentStatus.ACTIVE, EnrollmentStatus.DELAYED]


def _conditions(vendor: str, now: datetime, enrollment_ids) -> tuple[Q, Q, Q]:
    """The conditions of the three transitions (completed; active → delayed; delayed → active) on one row.

    The same rules in the form each database runs fastest: correlated ``EXISTS`` per row (SQLite and others), or
    ``pk IN (<the set of ids>)`` (PostgreSQL: see :mod:`lms_core.internal.set_based`).
    """
    if vendor == "postgresql":
        from .internal.set_based import completed_ids, overdue_ids

        still_overdue = Enrollment.objects.filter(
            pk=OuterRef("pk"), pk__in=overdue_ids(now, [EnrollmentStatus.DELAYED], enrollment_ids)
        )
        return (
            Q(pk__in=completed_ids(_CAN_COMPLETE, enrollment_ids)),
            Q(pk__in=overdue_ids(now, [EnrollmentStatus.ACTIVE], enrollment_ids)),
            ~Q(Exists(still_overdue)),
        )
    overdue = overdue_condition(now)
    return completion_condition(), overdue, ~overdue


def sweep_enrollments(*, now: datetime | None = None, enrollment_ids=None) -> SweepResult:
    """Bring every (or the given) enrollment's status up to date; emit one signal per kind of change.

    Three ``UPDATE … RETURNING`` statements (plus ``BEGIN``/``COMMIT`` where the backend logs them), whatever the
    number of enrollments. Idempotent: a second sweep at the same moment changes nothing and sends nothing.
    Dropped enrollments are never touched, and completed ones stay completed.

    Each transition commits on its own (inside a caller's transaction, with it), and its signal
    (``enrollment_completed``, ``enrollment_delayed``, ``enrollment_caught_up``, with ``enrollment_ids`` and
    ``at``) is sent after that commit, so a receiver never hears of a change that was rolled back.
    """
    now = now or timezone.now()
    result = SweepResult(at=now)
    using = router.db_for_write(Enrollment)
    scope = Enrollment.objects.using(using)
    if enrollment_ids is not None:
        enrollment_ids = list(enrollment_ids)
        if not enrollment_ids:
            return result
        scope = scope.filter(pk__in=enrollment_ids)
    completion, delayed, caught_up = _conditions(connections[using].vendor, now, enrollment_ids)
    transitions = [
        # (old statuses, condition, new status, the list of ids, the signal)
        (
            _CAN_COMPLETE,
            completion,
            EnrollmentStatus.COMPLETED,
            result.completed,
            signals.enrollment_completed,
        ),
        (
            [EnrollmentStatus.ACTIVE],
            delayed,
            EnrollmentStatus.DELAYED,
            result.delayed,
            signals.enrollment_delayed,
        ),
        (
            [EnrollmentStatus.DELAYED],
            caught_up,
            EnrollmentStatus.ACTIVE,
            result.caught_up,
            signals.enrollment_caught_up,
        ),
    ]
    for old, condition, new, ids, signal in transitions:
        with transaction.atomic(using=using):
            moved = _update_returning_pks(
                scope.filter(Q(status__in=old) & condition), now, status=new, status_changed_at=now
            )
            if moved:
                ids.extend(moved)
                _send_after_commit(signal, moved, now, using)
    return result
