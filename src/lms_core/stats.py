"""Figures about cohorts that instructors chart: the status history and the distribution of progress.

* :func:`record_status_snapshots` counts every cohort's enrollments by status and stores the counts as today's
  :class:`~lms_core.models.CohortStatusSnapshot` (one aggregate query and one upsert, whatever the number of
  enrollments). The deadline sweep task and ``manage.py lms_core_sweep_deadlines`` call it after each sweep.
* :func:`status_history` reads a cohort's snapshots for the last days, oldest first.
* :func:`progress_distribution` buckets a cohort's learners by progress (0-9 %, 10-19 %, … 90-99 %, 100 %).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import router
from django.db.models import Count, QuerySet
from django.utils import timezone

from .models import Cohort, CohortStatusSnapshot, Enrollment, EnrollmentStatus

__all__ = ["BUCKETS", "progress_distribution", "record_status_snapshots", "status_history"]

#: Labels of the progress buckets, in order: ten of 10 percentage points, then "100%" for those who finished.
BUCKETS = [f"{low}-{low + 9}%" for low in range(0, 100, 10)] + ["100%"]

_STATUS_FIELDS = {
    EnrollmentStatus.ACTIVE: "active",
    EnrollmentStatus.DELAYED: "delayed",
    EnrollmentStatus.COMPLETED: "completed",
    EnrollmentStatus.DROPPED: "dropped",
}


def record_status_snapshots(*, now: datetime | None = None, cohorts: QuerySet[Cohort] | None = None) -> int:
    """Store (or overwrite) today's status counts of every cohort (or of ``cohorts``); returns how many rows.

    "Today" is the local date of ``now`` in the project's time zone. Running it twice a day keeps the later count,
    so the history shows each day's last state. Cohorts without enrollments get a row of zeros.
    """
    now = now or timezone.now()
    day = timezone.localdate(now)
    using = router.db_for_write(CohortStatusSnapshot)
    enrollments = Enrollment.objects.using(using)
    if cohorts is None:
        cohorts = Cohort.objects.all()
    else:
        enrollments = enrollments.filter(cohort__in=cohorts.values("pk"))
    cohorts = cohorts.using(using)
    rows = {
        pk: CohortStatusSnapshot(cohort_id=pk, day=day, taken_at=now)
        for pk in cohorts.values_list("pk", flat=True)
    }
    counts = enrollments.order_by().values_list("cohort_id", "status").annotate(n=Count("pk"))
    for cohort_id, status, n in counts:
        field = _STATUS_FIELDS.get(status)
        if field and cohort_id in rows:
            setattr(rows[cohort_id], field, n)
    CohortStatusSnapshot.objects.using(using).bulk_create(
        rows.values(),
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["cohort", "day"],
        update_fields=[*_STATUS_FIELDS.values(), "taken_at"],
    )
    return len(rows)


def status_history(cohort: Cohort, *, days: int = 30, today: date | None = None) -> list[dict]:
    """The cohort's snapshots of the last ``days`` days (oldest first), as ``{"day", "active", "delayed", …}``.

    Days without a snapshot (the sweep did not run) are left out rather than guessed.
    """
    today = today or timezone.localdate()
    fields = ["day", *_STATUS_FIELDS.values()]
    return list(
        CohortStatusSnapshot.objects.filter(cohort=cohort, day__gt=today - timedelta(days=days))
        .order_by("day")
        .values(*fields)
    )


def progress_distribution(learners) -> list[int]:
    """How many of ``learners`` fall in each of :data:`BUCKETS`, from their ``completed_required`` and
    ``required_total`` (as annotated by :func:`lms_core.api.querysets.with_progress`). Learners of a course
    that requires nothing count as 100 %.
    """
    counts = [0] * len(BUCKETS)
    for done, total in learners.values_list("completed_required", "required_total"):
        percent = 100 if not total else 100 * done // total
        counts[10 if percent >= 100 else percent // 10] += 1
    return counts
