"""Admin for the learners' side: enrollments (with a progress bar and an "impersonate" button), progress,
deadline exceptions.

Statuses ``active``/``delayed``/``completed`` belong to the deadline sweep, so every admin change that can move
them (saving an enrollment or an exception, deleting an exception, the actions) re-sweeps the enrollments it
touched instead of trusting a value typed into a form.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, F, FloatField, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..deadlines import sweep_enrollments
from ..models import (
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Progress,
    ProgressState,
)
from ..services import record_progress
from .impersonation import ImpersonateUserButtonMixin, user_search_fields

__all__ = ["DeadlineExceptionAdmin", "EnrollmentAdmin", "ProgressAdmin", "with_progress_counts"]


def with_progress_counts(queryset):
    """Annotate enrollments with ``required_total``, ``required_completed`` and ``progress_rate`` (0 to 1).

    Two correlated subqueries, so a page of enrollments costs one query whatever the number of contents.
    ``progress_rate`` is ``NULL`` for a course without required contents (nothing to measure).
    """
    required = LearningContent.objects.filter(required=True)
    completed = Progress.objects.filter(
        state=ProgressState.COMPLETED,
        content__required=True,
        content__course_id=OuterRef("cohort__course_id"),
    )
    completed_count = (
        completed.filter(enrollment_id=OuterRef("pk"))
        .order_by()
        .values("enrollment_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    total = Subquery(
        required.filter(course_id=OuterRef("cohort__course_id"))
        .order_by()
        .values("course_id")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )
    return queryset.annotate(
        required_total=Coalesce(total, Value(0)),
        required_completed=Coalesce(Subquery(completed_count, output_field=IntegerField()), Value(0)),
    ).annotate(
        progress_rate=Cast(F("required_completed"), FloatField())
        / NullIf(Cast(F("required_total"), FloatField()), Value(0.0))
    )


def progress_bar(done: int, total: int):
    """An accessible bar: a native ``<progress>`` (screen readers announce it) and the figures as text."""
    if not total:
        return _("no required contents")
    percent = round(100 * done / total)
    return format_html(
        '<progress value="{}" max="{}" aria-label="{}">{}%</progress> {} / {} ({}%)',
        done,
        total,
        _("required contents completed"),
        percent,
        done,
        total,
        percent,
    )


class ProgressInline(admin.TabularInline):
    """Read-only: progress is recorded through ``lms_core.services.record_progress`` (signals, sweep)."""

    model = Progress
    fields = ["content", "state", "percent", "first_activity_at", "last_activity_at", "completed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["content__position", "content_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("content")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EnrollmentForm(forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = ["user", "cohort", "status", "started_at", "date_shift", "shift_count"]

    def clean(self):
        data = super().clean()
        cohort, started_at = data.get("cohort"), data.get("started_at")
        if cohort is not None and started_at is not None and started_at < cohort.starts_at:
            self.add_error("started_at", _("A learner cannot start before the cohort starts."))
        return data


@admin.register(Enrollment)
class EnrollmentAdmin(ImpersonateUserButtonMixin, admin.ModelAdmin):
    form = EnrollmentForm
    list_display = ["user", "cohort", "status", "course_progress", "started_at"]
    list_filter = [
        "status",
        ("cohort__course", admin.RelatedOnlyFieldListFilter),
        ("cohort", admin.RelatedOnlyFieldListFilter),
        "cohort__pacing",
    ]
    list_select_related = ["user", "cohort__course"]
    search_fields = [*user_search_fields("user"), "cohort__name", "cohort__course__title"]
    date_hierarchy = "started_at"
    raw_id_fields = ["user"]
    autocomplete_fields = ["cohort"]
    readonly_fields = ["course_progress", "status_changed_at", "created_at"]
    inlines = [ProgressInline]
    actions = ["mark_dropped", "reactivate", "update_status"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "cohort__course")
        return with_progress_counts(queryset)

    # Not named "progress": the admin would take that for the reverse relation of that name.
    @admin.display(description=_("progress"), ordering="progress_rate")
    def course_progress(self, obj):
        return progress_bar(getattr(obj, "required_completed", 0), getattr(obj, "required_total", 0))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sweep_enrollments(enrollment_ids=[obj.pk])

    @admin.action(description=_("Mark the selected enrollments dropped"), permissions=["change"])
    def mark_dropped(self, request, queryset):
        now = timezone.now()
        count = (
            Enrollment.objects.filter(pk__in=queryset.values("pk"))
            .exclude(status=EnrollmentStatus.DROPPED)
            .update(status=EnrollmentStatus.DROPPED, status_changed_at=now)
        )
        self.message_user(
            request,
            ngettext("%(n)d enrollment marked dropped.", "%(n)d enrollments marked dropped.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Re-activate the selected dropped enrollments"), permissions=["change"])
    def reactivate(self, request, queryset):
        now = timezone.now()
        dropped = Enrollment.objects.filter(pk__in=queryset.values("pk"), status=EnrollmentStatus.DROPPED)
        ids = list(dropped.values_list("pk", flat=True))
        count = Enrollment.objects.filter(pk__in=ids).update(
            status=EnrollmentStatus.ACTIVE, status_changed_at=now
        )
        sweep_enrollments(now=now, enrollment_ids=ids)  # active, or straight to delayed/completed
        self.message_user(
            request,
            ngettext("%(n)d enrollment re-activated.", "%(n)d enrollments re-activated.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Update the selected enrollments' status now"), permissions=["change"])
    def update_status(self, request, queryset):
        result = sweep_enrollments(enrollment_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            _("%(delayed)d now delayed, %(caught_up)d caught up, %(completed)d completed.")
            % {
                "delayed": len(result.delayed),
                "caught_up": len(result.caught_up),
                "completed": len(result.completed),
            },
            messages.SUCCESS,
        )


@admin.register(Progress)
class ProgressAdmin(admin.ModelAdmin):
    """Viewable, not editable: edits here would bypass ``record_progress`` (its signal and the sweep).

    The "mark completed" action goes through ``record_progress``, so an instructor can complete work done
    offline the same way the REST API would.
    """

    list_display = [
        "learner",
        "content",
        "cohort",
        "state",
        "percent_bar",
        "last_activity_at",
        "completed_at",
    ]
    list_filter = ["state", "content__kind", ("content__course", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["enrollment__user", "enrollment__cohort__course", "content"]
    search_fields = [*user_search_fields("enrollment__user"), "content__title"]
    date_hierarchy = "last_activity_at"
    actions = ["mark_completed"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_record_permission(self, request):
        return request.user.has_perm("lms_core.change_progress")

    @admin.display(description=_("learner"), ordering="enrollment__user")
    def learner(self, obj):
        return obj.enrollment.user

    @admin.display(description=_("cohort"), ordering="enrollment__cohort")
    def cohort(self, obj):
        return obj.enrollment.cohort

    @admin.display(description=_("percent"), ordering="percent")
    def percent_bar(self, obj):
        return format_html(
            '<progress value="{}" max="100" aria-label="{}">{}%</progress> {}%',
            obj.percent,
            _("percent done"),
            obj.percent,
            obj.percent,
        )

    @admin.action(description=_("Mark the selected progress completed"), permissions=["record"])
    def mark_completed(self, request, queryset):
        count = 0
        for progress in queryset.exclude(state=ProgressState.COMPLETED).select_related(
            "enrollment__user", "enrollment__cohort", "content"
        ):
            record_progress(
                progress.enrollment.user, progress.content, completed=True, enrollment=progress.enrollment
            )
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d content marked completed.", "%(n)d contents marked completed.", count)
            % {"n": count},
            messages.SUCCESS,
        )


class DeadlineExceptionForm(forms.ModelForm):
    class Meta:
        model = DeadlineException
        fields = ["enrollment", "content", "due_at", "reason"]

    def clean(self):
        data = super().clean()
        enrollment = data.get("enrollment") or getattr(self.instance, "enrollment", None)
        content = data.get("content") or getattr(self.instance, "content", None)
        due_at = data.get("due_at")
        if enrollment is None:
            return data
        cohort = enrollment.cohort
        if content is not None and content.course_id != cohort.course_id:
            self.add_error("content", _("That content is not part of this learner's course."))
        if due_at is not None and due_at < cohort.starts_at:
            self.add_error("due_at", _("The new due date is before the cohort starts."))
        return data


@admin.register(DeadlineException)
class DeadlineExceptionAdmin(admin.ModelAdmin):
    form = DeadlineExceptionForm
    list_display = ["learner", "content", "cohort", "due_at", "granted_by", "created_at"]
    list_filter = [("content__course", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["enrollment__user", "enrollment__cohort__course", "content", "granted_by"]
    search_fields = [*user_search_fields("enrollment__user"), "content__title", "reason"]
    autocomplete_fields = ["enrollment", "content"]
    readonly_fields = ["granted_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # Moving an exception to another learner or content would be a different exception.
        if obj is not None:
            return [*self.readonly_fields, "enrollment", "content"]
        return self.readonly_fields

    @admin.display(description=_("learner"), ordering="enrollment__user")
    def learner(self, obj):
        return obj.enrollment.user

    @admin.display(description=_("cohort"), ordering="enrollment__cohort")
    def cohort(self, obj):
        return obj.enrollment.cohort

    def save_model(self, request, obj, form, change):
        obj.granted_by = request.user
        super().save_model(request, obj, form, change)
        sweep_enrollments(enrollment_ids=[obj.enrollment_id])

    def delete_model(self, request, obj):
        enrollment_id = obj.enrollment_id
        super().delete_model(request, obj)
        sweep_enrollments(enrollment_ids=[enrollment_id])

    def delete_queryset(self, request, queryset):
        enrollment_ids = set(queryset.values_list("enrollment_id", flat=True))
        super().delete_queryset(request, queryset)
        sweep_enrollments(enrollment_ids=enrollment_ids)
