"""lms_core's background tasks (django-background-tasks): the repeating deadline sweep.

:func:`sweep_deadlines` runs :func:`lms_core.deadlines.sweep_enrollments` over every enrollment. It is queued as
a *repeating* task, every ``LMS_CORE["DEADLINE_SWEEP_INTERVAL"]`` seconds, by :func:`schedule_deadline_sweep`,
which lms_core calls after every ``migrate`` (so a project that migrates and runs ``manage.py process_tasks``
sweeps without further set-up) and which ``manage.py lms_core_sweep_deadlines --schedule`` calls on demand.
``DEADLINE_SWEEP_INTERVAL = None`` queues nothing (for projects that run ``manage.py lms_core_sweep_deadlines``
from cron instead) and removes a queued repetition.

Two workers may run at once: django-background-tasks locks a task row before running it, so one repetition runs
once; and the sweep itself is safe to run concurrently with another sweep (see :mod:`lms_core.deadlines`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from background_task import background
from background_task.models import Task
from django.db import connections, router, transaction
from django.utils import timezone

from .conf import app_settings
from .deadlines import SweepResult, sweep_enrollments
from .models import Enrollment
from .stats import record_status_snapshots

__all__ = ["SWEEP_TASK_NAME", "schedule_after_migrate", "schedule_deadline_sweep", "sweep_deadlines"]

logger = logging.getLogger(__name__)

#: The ``task_name`` of the repeating sweep in django-background-tasks' queue.
SWEEP_TASK_NAME = "lms_core.tasks.sweep_deadlines"

_FROM_SETTINGS = object()


@background(name=SWEEP_TASK_NAME)
def sweep_deadlines() -> SweepResult:
    """Bring every enrollment's status up to date (``delayed``, caught up, ``completed``) and send the signals.

    Calling ``sweep_deadlines()`` queues a run; ``sweep_deadlines.now()`` runs it in the calling process.
    """
    result = sweep_enrollments()
    record_status_snapshots(now=result.at)
    logger.info(
        "deadline sweep: %d delayed, %d caught up, %d completed",
        len(result.delayed),
        len(result.caught_up),
        len(result.completed),
    )
    return result


def schedule_deadline_sweep(*, interval=_FROM_SETTINGS, using: str | None = None) -> Task | None:
    """Make sure exactly one repetition of :func:`sweep_deadlines` is queued, repeating every ``interval`` seconds.

    ``interval`` defaults to ``LMS_CORE["DEADLINE_SWEEP_INTERVAL"]``. Idempotent: a queued repetition is kept
    (its interval updated when it changed, and brought forward so the new interval applies from now), extra
    ones that are not running are removed, and a new one (due now) is queued only when there is none.
    ``interval=None`` removes the queued repetitions that are not running and returns ``None``.
    """
    if interval is _FROM_SETTINGS:
        interval = app_settings.DEADLINE_SWEEP_INTERVAL
    using = using or router.db_for_write(Task)
    now = timezone.now()
    with transaction.atomic(using=using):
        queued = Task.objects.using(using).filter(task_name=SWEEP_TASK_NAME)
        if interval is None:
            queued.filter(locked_by__isnull=True).delete()
            return None
        # A locked row is a repetition running right now: it queues its own successor when it finishes.
        waiting = list(queued.filter(locked_by__isnull=True).order_by("run_at", "pk"))
        if not waiting:
            task = Task.objects.new_task(
                SWEEP_TASK_NAME, run_at=now, repeat=interval, verbose_name="lms_core: deadline sweep"
            )
            task.save(using=using)
            return task
        task, extra = waiting[0], waiting[1:]
        if extra:
            Task.objects.using(using).filter(pk__in=[t.pk for t in extra]).delete()
        if task.repeat != interval:
            task.repeat = interval
            task.run_at = min(task.run_at, now + timedelta(seconds=interval))
            Task.objects.using(using).filter(pk=task.pk).update(repeat=task.repeat, run_at=task.run_at)
        return task


def schedule_after_migrate(*, using: str) -> None:
    """After ``migrate``: queue the repeating sweep on ``using``, once lms_core's and the queue's tables exist."""
    if not router.allow_migrate_model(using, Task) or not router.allow_migrate_model(using, Enrollment):
        return
    tables = set(connections[using].introspection.table_names())
    if not {Task._meta.db_table, Enrollment._meta.db_table} <= tables:
        return  # e.g. after ``migrate lms_core zero``, or with only some apps migrated
    schedule_deadline_sweep(using=using)
