"""The learner's side: enrollments, progress per content, deadline exceptions."""

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .courses import Cohort, LearningContent


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DELAYED = "delayed", _("Delayed")
    COMPLETED = "completed", _("Completed")
    DROPPED = "dropped", _("Dropped")


class Enrollment(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_enrollments",
        verbose_name=_("learner"),
    )
    cohort = models.ForeignKey(
        Cohort, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("cohort")
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
        db_index=True,
    )
    started_at = models.DateTimeField(
        _("started"), default=timezone.now, help_text=_("Self-paced due dates count from here.")
    )
    date_shift = models.DurationField(
        _("own date shift"),
        default=timedelta(0),
        help_text=_("How far the learner pushed their remaining dates back."),
    )
    shift_count = models.PositiveIntegerField(_("shifts used"), default=0)
    status_changed_at = models.DateTimeField(_("status changed"), default=timezone.now)
    created_at = models.DateTimeField(_("enrolled"), auto_now_add=True)

    class Meta:
        ordering = ["cohort", "user"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [models.UniqueConstraint(fields=["user", "cohort"], name="lms_core_enrollment_unique")]
        indexes = [models.Index(fields=["cohort", "status"], name="lms_core_enr_cohort_status")]

    def __str__(self):
        return f"{self.user} in {self.cohort}"

    @property
    def schedule_anchor(self):
        """Self-paced offsets count from here: the learner's start plus their own shift."""
        return self.started_at + self.date_shift


class ProgressState(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class Progress(models.Model):
    """One learner's progress on one content, within one enrollment."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="progress", verbose_name=_("enrollment")
    )
    content = models.ForeignKey(
        LearningContent, on_delete=models.CASCADE, related_name="progress", verbose_name=_("content")
    )
    state = models.CharField(
        _("state"), max_length=20, choices=ProgressState.choices, default=ProgressState.NOT_STARTED
    )
    percent = models.PositiveSmallIntegerField(
        _("percent"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    first_activity_at = models.DateTimeField(_("first activity"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("progress")
        verbose_name_plural = _("progress")
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "content"], name="lms_core_progress_unique"),
            models.CheckConstraint(condition=Q(percent__lte=100), name="lms_core_progress_percent_max_100"),
        ]
        indexes = [models.Index(fields=["enrollment", "state"], name="lms_core_progress_enr_state")]

    def __str__(self):
        return f"{self.enrollment.user} · {self.content}: {self.percent}%"


class DeadlineException(models.Model):
    """A due date granted by staff to one learner for one content; it wins over the schedule and shifts."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="deadline_exceptions", verbose_name=_("enrollment")
    )
    content = models.ForeignKey(
        LearningContent,
        on_delete=models.CASCADE,
        related_name="deadline_exceptions",
        verbose_name=_("content"),
    )
    due_at = models.DateTimeField(_("new due date"))
    reason = models.TextField(_("reason"), blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)

    class Meta:
        verbose_name = _("deadline exception")
        verbose_name_plural = _("deadline exceptions")
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "content"], name="lms_core_exception_unique")
        ]

    def __str__(self):
        return f"{self.enrollment.user} · {self.content} due {self.due_at:%Y-%m-%d}"
