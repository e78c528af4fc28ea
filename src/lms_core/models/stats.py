from django.db import models
from django.utils.translation import gettext_lazy as _

from .courses import Cohort


class CohortStatusSnapshot(models.Model):
    """How many of a cohort's enrollments were in each status on one day (the latest count of that day).

    Written by :func:`lms_core.stats.record_status_snapshots` after every deadline sweep, so instructors can see
    how many learners were delayed over time (enrollments keep only their current status).
    """

    cohort = models.ForeignKey(
        Cohort, on_delete=models.CASCADE, related_name="status_snapshots", verbose_name=_("cohort")
    )
    day = models.DateField(_("day"))
    active = models.PositiveIntegerField(_("active"), default=0)
    delayed = models.PositiveIntegerField(_("delayed"), default=0)
    completed = models.PositiveIntegerField(_("completed"), default=0)
    dropped = models.PositiveIntegerField(_("dropped"), default=0)
    taken_at = models.DateTimeField(_("counted at"))

    class Meta:
        ordering = ["cohort", "day"]
        verbose_name = _("cohort status snapshot")
        verbose_name_plural = _("cohort status snapshots")
        constraints = [models.UniqueConstraint(fields=["cohort", "day"], name="lms_core_snapshot_unique_day")]

    def __str__(self):
        return f"{self.cohort} on {self.day}: {self.delayed} delayed"
