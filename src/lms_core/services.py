"""lms_core's public service functions: the one way to enroll, record progress, shift dates and grant exceptions.

The REST API calls these, and so may other apps (through ``apps.is_installed("lms_core")`` guards). Each one
validates everything before writing anything and raises an :mod:`lms_core.exceptions` error with a clear message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import signals
from .deadlines import due_dates, sweep_enrollments
from .exceptions import AlreadyEnrolled, InvalidDeadline, InvalidProgress, NotEnrolled, ShiftNotAllowed
from .models import (
    Cohort,
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Progress,
    ProgressState,
)

__all__ = ["enroll", "find_enrollment", "grant_exception", "record_progress", "shift_dates"]


def enroll(user, cohort: Cohort, *, started_at: datetime | None = None) -> Enrollment:
    """Enroll ``user`` in ``cohort``; a second enrollment in the same cohort raises :class:`AlreadyEnrolled`."""
    started_at = started_at or max(timezone.now(), cohort.starts_at)
    if started_at < cohort.starts_at:
        raise InvalidDeadline(_("A learner cannot start before the cohort starts."))
    try:
        with transaction.atomic():
            return Enrollment.objects.create(user=user, cohort=cohort, started_at=started_at)
    except IntegrityError as exc:
        if Enrollment.objects.filter(user=user, cohort=cohort).exists():
            raise AlreadyEnrolled() from exc
        raise


def find_enrollment(user, content: LearningContent) -> Enrollment:
    """The learner's current enrollment in the content's course (the latest one that is not dropped)."""
    enrollment = (
        Enrollment.objects.filter(user=user, cohort__course_id=content.course_id)
        .exclude(status=EnrollmentStatus.DROPPED)
        .order_by("-started_at", "-pk")
        .first()
    )
    if enrollment is None:
        raise NotEnrolled()
    return enrollment


def record_progress(
    user,
    content: LearningContent,
    *,
    percent: int | None = None,
    completed: bool = False,
    at: datetime | None = None,
    enrollment: Enrollment | None = None,
) -> Progress:
    """Record that ``user`` worked on ``content``: idempotent, never moves backwards.

    ``percent`` (0 to 100) raises the learner's percentage (a lower value than already recorded is ignored);
    ``completed=True`` or ``percent=100`` completes the content. ``content_completed`` is sent once, on the
    transition to completed. The enrollment's status is brought up to date right away (a learner who completes
    their overdue work is ``active`` again without waiting for the next sweep).
    """
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100
    ):
        raise InvalidProgress(
            _("Progress must be a whole percentage from 0 to 100, not %(value)r.") % {"value": percent}
        )
    at = at or timezone.now()
    enrollment = enrollment or find_enrollment(user, content)
    if enrollment.user_id != user.pk or enrollment.cohort.course_id != content.course_id:
        raise NotEnrolled()
    completes = completed or percent == 100
    with transaction.atomic():
        progress, _created = Progress.objects.select_for_update().get_or_create(
            enrollment=enrollment, content=content
        )
        was_completed = progress.state == ProgressState.COMPLETED
        progress.first_activity_at = progress.first_activity_at or at
        progress.last_activity_at = max(progress.last_activity_at or at, at)
        if percent is not None:
            progress.percent = max(progress.percent, percent)
        if completes and not was_completed:
            progress.state = ProgressState.COMPLETED
            progress.percent = 100
            progress.completed_at = at
        elif not was_completed:
            progress.state = ProgressState.IN_PROGRESS
        progress.save()
        if progress.state == ProgressState.COMPLETED and not was_completed:
            # The status is judged now, even for work recorded with an earlier ``at`` (a backfill).
            sweep_enrollments(enrollment_ids=[enrollment.pk])
            transaction.on_commit(
                lambda: signals.content_completed.send(
                    sender=Progress, progress=progress, enrollment=enrollment, user=user, content=content
                )
            )
    return progress


def shift_dates(enrollment: Enrollment, days: int, *, now: datetime | None = None) -> Enrollment:
    """Push the learner's remaining self-paced due dates back by ``days`` (Open edX's "shift due dates").

    Allowed only in self-paced cohorts, only once the learner has fallen behind (an overdue required content),
    and within the course's limits (``max_shift_days`` in total, ``max_shifts`` times).
    """
    now = now or timezone.now()
    cohort = enrollment.cohort
    course = cohort.course
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ShiftNotAllowed(_("Shift by a whole number of days, at least 1."))
    if not cohort.is_self_paced:
        raise ShiftNotAllowed(
            _("Dates are fixed in instructor-paced cohorts; ask your instructor for an exception.")
        )
    if enrollment.status in (EnrollmentStatus.DROPPED, EnrollmentStatus.COMPLETED):
        raise ShiftNotAllowed(
            _("This enrollment is %(status)s.") % {"status": enrollment.get_status_display()}
        )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        sweep_enrollments(now=now, enrollment_ids=[locked.pk])
        locked.refresh_from_db()
        if locked.status != EnrollmentStatus.DELAYED:
            raise ShiftNotAllowed(_("You can shift your dates once you have fallen behind."))
        used = locked.date_shift.days
        if locked.shift_count >= course.max_shifts:
            raise ShiftNotAllowed(
                _("You have used all %(n)d date shifts this course allows.") % {"n": course.max_shifts}
            )
        if used + days > course.max_shift_days:
            raise ShiftNotAllowed(
                _("This course allows shifting by %(max)d days in total; %(left)d are left.")
                % {"max": course.max_shift_days, "left": max(course.max_shift_days - used, 0)}
            )
        locked.date_shift += timedelta(days=days)
        locked.shift_count += 1
        locked.save(update_fields=["date_shift", "shift_count"])
        sweep_enrollments(now=now, enrollment_ids=[locked.pk])
        locked.refresh_from_db()
    return locked


def grant_exception(
    enrollment: Enrollment,
    content: LearningContent,
    due_at: datetime,
    *,
    granted_by=None,
    reason: str = "",
    now: datetime | None = None,
) -> DeadlineException:
    """Give one learner a new due date for one content (replacing an earlier exception), then re-sweep them."""
    cohort = enrollment.cohort
    if content.course_id != cohort.course_id:
        raise InvalidDeadline(_("That content is not part of this learner's course."))
    if due_at < cohort.starts_at:
        raise InvalidDeadline(_("The new due date is before the cohort starts."))
    with transaction.atomic():
        exception, _created = DeadlineException.objects.update_or_create(
            enrollment=enrollment,
            content=content,
            defaults={"due_at": due_at, "granted_by": granted_by, "reason": reason},
        )
        sweep_enrollments(now=now, enrollment_ids=[enrollment.pk])
    return exception


def next_due(
    enrollment: Enrollment, *, now: datetime | None = None
) -> tuple[LearningContent, datetime] | None:
    """The first not-completed content by effective due date (overdue ones first), or ``None``."""
    dues = due_dates(enrollment)
    done = set(
        Progress.objects.filter(enrollment=enrollment, state=ProgressState.COMPLETED).values_list(
            "content_id", flat=True
        )
    )
    pending = sorted((due, content_id) for content_id, due in dues.items() if content_id not in done)
    if not pending:
        return None
    due, content_id = pending[0]
    return LearningContent.objects.get(pk=content_id), due
