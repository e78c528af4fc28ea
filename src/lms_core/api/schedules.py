"""Effective due dates computed from rows already in memory (so lists need no query per row).

The rule is :func:`lms_core.deadlines.due_dates`'s, applied to prefetched or annotated rows: a scheduled content
is due at the learner's deadline exception if staff granted one, else at the item's fixed date, else at the
learner's start plus their own shift plus the item's offset. A content with no schedule item in the cohort has no
due date (an exception alone does not schedule it, as in the sweep). ``tests/lms_core/test_api_learner.py``
checks these agree with :func:`lms_core.deadlines.due_dates` and :func:`lms_core.services.next_due`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import Enrollment, LearningContent

__all__ = ["DueSource", "NextDue", "effective_due", "next_due_from_prefetched"]


class DueSource:
    EXCEPTION = "exception"
    FIXED = "fixed"
    RELATIVE = "relative"
    CHOICES = (EXCEPTION, FIXED, RELATIVE)


def effective_due(
    *,
    scheduled: bool,
    due_at: datetime | None,
    due_offset: timedelta | None,
    exception_due_at: datetime | None,
    anchor: datetime,
) -> tuple[datetime | None, str | None]:
    """``(due date, where it comes from)``, or ``(None, None)`` for an unscheduled content."""
    if not scheduled:
        return None, None
    if exception_due_at is not None:
        return exception_due_at, DueSource.EXCEPTION
    if due_at is not None:
        return due_at, DueSource.FIXED
    return anchor + due_offset, DueSource.RELATIVE


@dataclass(frozen=True)
class NextDue:
    content: LearningContent
    due_at: datetime
    overdue: bool


def next_due_from_prefetched(enrollment: Enrollment, *, now: datetime) -> NextDue | None:
    """:func:`lms_core.services.next_due` for an enrollment from :func:`~.querysets.my_enrollments` (no query)."""
    exceptions = {e.content_id: e.due_at for e in enrollment.prefetched_exceptions}
    done = {p.content_id for p in enrollment.prefetched_completed}
    anchor = enrollment.schedule_anchor
    pending = []
    for item in enrollment.cohort.prefetched_schedule:
        if item.content_id in done:
            continue
        due, _source = effective_due(
            scheduled=True,
            due_at=item.due_at,
            due_offset=item.due_offset,
            exception_due_at=exceptions.get(item.content_id),
            anchor=anchor,
        )
        pending.append((due, item.content_id, item.content))
    if not pending:
        return None
    due, _content_id, content = min(pending, key=lambda entry: (entry[0], entry[1]))
    return NextDue(content=content, due_at=due, overdue=due < now)
