"""Background tasks of lms_kernels (django-background-tasks): the repeating culler (which reconciles first, and
moves the queue and fills the warm pools after culling).

:func:`schedule_culling` makes sure exactly one repeating culling task exists; it runs after ``migrate``
(connected in :class:`~lms_kernels.apps.LmsKernelsConfig`) whenever ``background_task`` is installed, so a
deployment's task worker (``manage.py process_tasks``) culls every ``CULL_INTERVAL`` seconds without further
set-up. Without django-background-tasks, run ``manage.py lms_kernels_cull`` from cron instead
(``lms_kernels.W103`` says so).
"""

from __future__ import annotations

from background_task import background
from background_task.models import Task

from .conf import app_settings
from .culling import cull_kernels
from .pools import fill as fill_pools
from .queue import process_queue
from .reconcile import reconcile_kernels

__all__ = ["CULL_TASK_NAME", "cull_kernels_task", "schedule_culling"]

CULL_TASK_NAME = "lms_kernels.cull_kernels"


@background(name=CULL_TASK_NAME, schedule=0)
def cull_kernels_task():
    reconcile_kernels()  # orphan containers removed, lost kernels recovered (lms_kernels.reconcile)
    cull_kernels()
    process_queue()  # overdue waits end, missed wake-ups of the queue are caught (lms_kernels.queue)
    fill_pools()  # warm pools back to size; stale, dead and left-over pooled kernels removed (lms_kernels.pools)


def schedule_culling() -> bool:
    """Schedule the repeating culling task unless it is; returns whether it was scheduled now.

    An existing task whose interval no longer matches ``CULL_INTERVAL`` is replaced.
    """
    interval = max(1, round(app_settings.CULL_INTERVAL))
    existing = Task.objects.filter(task_name=CULL_TASK_NAME)
    if existing.filter(repeat=interval).exists():
        return False
    existing.delete()
    cull_kernels_task(repeat=interval, verbose_name="Cull idle kernels")
    return True
