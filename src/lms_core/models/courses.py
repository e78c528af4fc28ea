"""Course → cohort (course run) → ordered learning contents, and each cohort's schedule."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..internal.slugs import unique_slug


class Course(models.Model):
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, allow_unicode=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="lms_instructed_courses",
        verbose_name=_("instructors"),
        help_text=_("They see this course's cohorts and learners and may grant deadline exceptions."),
    )
    # Limits on learners shifting their own dates in self-paced cohorts (Open edX's "shift due dates").
    max_shift_days = models.PositiveIntegerField(
        _("maximum days a learner may shift"),
        default=14,
        help_text=_(
            "Total days a learner of a self-paced cohort may push their remaining due dates back. 0: never."
        ),
    )
    max_shifts = models.PositiveIntegerField(_("maximum number of shifts"), default=3)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(self.title, Course.objects.exclude(pk=self.pk), fallback="course")
        super().save(*args, **kwargs)


class Pacing(models.TextChoices):
    INSTRUCTOR = "instructor", _("Instructor-paced (fixed dates)")
    SELF = "self", _("Self-paced (dates relative to each learner's start)")


class Cohort(models.Model):
    """One run of a course, with its own dates and schedule."""

    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="cohorts", verbose_name=_("course")
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, allow_unicode=True, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    pacing = models.CharField(_("pacing"), max_length=20, choices=Pacing.choices, default=Pacing.INSTRUCTOR)

    class Meta:
        ordering = ["course", "starts_at"]
        verbose_name = _("cohort")
        verbose_name_plural = _("cohorts")
        constraints = [
            models.UniqueConstraint(fields=["course", "slug"], name="lms_core_cohort_unique_slug"),
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")), name="lms_core_cohort_ends_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.course} · {self.name}"

    def save(self, *args, **kwargs):
        if not self.slug:
            others = Cohort.objects.filter(course_id=self.course_id).exclude(pk=self.pk)
            self.slug = unique_slug(self.name, others, fallback="cohort")
        super().save(*args, **kwargs)

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValidationError({"ends_at": _("A cohort cannot end before it starts.")})

    @property
    def is_self_paced(self) -> bool:
        return self.pacing == Pacing.SELF


class LearningContent(models.Model):
    """A lesson, exercise, quiz… of a course. Its slug maps it to a lesson page (lms_cms_blocks) by convention."""

    class Kind(models.TextChoices):
        LESSON = "lesson", _("Lesson")
        EXERCISE = "exercise", _("Exercise")
        QUIZ = "quiz", _("Quiz")
        PROJECT = "project", _("Project")
        VIDEO = "video", _("Video")
        READING = "reading", _("Reading")

    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="contents", verbose_name=_("course")
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, allow_unicode=True, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.LESSON)
    required = models.BooleanField(_("required"), default=True)
    estimated_minutes = models.PositiveIntegerField(_("estimated minutes"), default=30)
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)

    class Meta:
        ordering = ["course", "position", "pk"]
        verbose_name = _("learning content")
        verbose_name_plural = _("learning contents")
        constraints = [
            models.UniqueConstraint(fields=["course", "slug"], name="lms_core_content_unique_slug")
        ]
        # The deadline sweep counts a course's required contents once per enrollment: from this index alone.
        indexes = [models.Index(fields=["course", "required"], name="lms_core_content_course_req")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            others = LearningContent.objects.filter(course_id=self.course_id).exclude(pk=self.pk)
            self.slug = unique_slug(self.title, others, fallback="content")
        super().save(*args, **kwargs)


class ScheduleItem(models.Model):
    """When a content is due in a cohort: a fixed date (instructor-paced) or an offset from each learner's start."""

    cohort = models.ForeignKey(
        Cohort, on_delete=models.CASCADE, related_name="schedule", verbose_name=_("cohort")
    )
    content = models.ForeignKey(
        LearningContent, on_delete=models.CASCADE, related_name="schedule_items", verbose_name=_("content")
    )
    due_at = models.DateTimeField(_("due (fixed date)"), null=True, blank=True)
    due_offset = models.DurationField(
        _("due (after the learner's start)"),
        null=True,
        blank=True,
        help_text=_("e.g. '7 days' in self-paced cohorts"),
    )

    class Meta:
        ordering = ["cohort", "content__position", "content_id"]
        verbose_name = _("schedule item")
        verbose_name_plural = _("schedule items")
        constraints = [
            models.UniqueConstraint(fields=["cohort", "content"], name="lms_core_schedule_unique_content"),
            models.CheckConstraint(
                condition=Q(due_at__isnull=False, due_offset__isnull=True)
                | Q(due_at__isnull=True, due_offset__isnull=False),
                name="lms_core_schedule_one_kind_of_date",
            ),
        ]
        # The deadline sweep visits only the items already due: index ranges on these (lms_core.deadlines).
        indexes = [
            models.Index(fields=["cohort", "due_at"], name="lms_core_sched_cohort_due_at"),
            models.Index(fields=["cohort", "due_offset"], name="lms_core_sched_cohort_offset"),
        ]

    def __str__(self):
        when = self.due_at.isoformat() if self.due_at else f"start + {self.due_offset}"
        return f"{self.content} due {when}"

    def clean(self):
        errors = {}
        if (self.due_at is None) == (self.due_offset is None):
            errors["__all__"] = _(
                "Give either a fixed due date or an offset from the learner's start, not both."
            )
        cohort = self.cohort if self.cohort_id else None
        if cohort is not None:
            if self.content_id and self.content.course_id != cohort.course_id:
                errors["content"] = _("The content belongs to another course.")
            if self.due_at is not None and self.due_at < cohort.starts_at:
                errors["due_at"] = _("The due date is before the cohort starts.")
            if cohort.is_self_paced and self.due_at is not None:
                errors["due_at"] = _("Self-paced cohorts use offsets from each learner's start.")
            if not cohort.is_self_paced and self.due_offset is not None:
                errors["due_offset"] = _("Instructor-paced cohorts use fixed due dates.")
        if self.due_offset is not None and self.due_offset < timedelta(0):
            errors["due_offset"] = _("The offset cannot be negative.")
        if errors:
            raise ValidationError(errors)
