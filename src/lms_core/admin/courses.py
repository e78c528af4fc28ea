"""Admin for the course structure: courses (with their contents), cohorts (with their schedule), contents,
schedule items."""

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from ..models import Cohort, Course, EnrollmentStatus, LearningContent, Pacing, ScheduleItem

__all__ = ["CohortAdmin", "CourseAdmin", "LearningContentAdmin", "ScheduleItemAdmin"]


def count_of(queryset, outer_field: str):
    """A correlated ``COUNT(*)`` of ``queryset`` rows whose ``outer_field`` is the outer row's pk.

    One subquery per counted relation, rather than ``Count()`` over joins: two ``Count()`` over two
    relations multiply each other's rows.
    """
    counted = (
        queryset.filter(**{outer_field: OuterRef("pk")})
        .order_by()
        .values(outer_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class LearningContentInline(admin.TabularInline):
    model = LearningContent
    fields = ["position", "title", "slug", "kind", "required", "estimated_minutes"]
    extra = 0
    ordering = ["position", "pk"]
    show_change_link = True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "content_count", "cohort_count", "created_at"]
    list_filter = [("instructors", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["title", "slug", "description"]
    filter_horizontal = ["instructors"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "instructors"]}),
        (
            _("Learners shifting their own dates (self-paced cohorts)"),
            {"fields": ["max_shift_days", "max_shifts"]},
        ),
        (None, {"fields": ["created_at"]}),
    ]
    inlines = [LearningContentInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                content_total=count_of(LearningContent.objects.all(), "course_id"),
                cohort_total=count_of(Cohort.objects.all(), "course_id"),
            )
        )

    @admin.display(description=_("contents"), ordering="content_total")
    def content_count(self, obj):
        return obj.content_total

    @admin.display(description=_("cohorts"), ordering="cohort_total")
    def cohort_count(self, obj):
        return obj.cohort_total


class ScheduleItemFormSet(BaseInlineFormSet):
    """Checks each item against the cohort *as edited in the same form*.

    ``ScheduleItem.clean()`` checks the item against its cohort, but while a cohort is being added it has no
    primary key yet and the model cannot see it; and the cohort's pacing may be changing in the same request.
    So the formset checks again here, against ``self.instance``: the cohort with the submitted values.
    """

    def clean(self):
        super().clean()
        cohort = self.instance
        if cohort.pk is not None:
            return  # the model's own clean() saw this cohort, as submitted
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            content, due_at, due_offset = data.get("content"), data.get("due_at"), data.get("due_offset")
            if content is not None and cohort.course_id and content.course_id != cohort.course_id:
                form.add_error("content", _("The content belongs to another course."))
            if cohort.pacing == Pacing.SELF and due_at is not None:
                form.add_error("due_at", _("Self-paced cohorts use offsets from each learner's start."))
            elif cohort.pacing == Pacing.INSTRUCTOR and due_offset is not None:
                form.add_error("due_offset", _("Instructor-paced cohorts use fixed due dates."))
            elif due_at is not None and cohort.starts_at and due_at < cohort.starts_at:
                form.add_error("due_at", _("The due date is before the cohort starts."))


class ScheduleItemInline(admin.TabularInline):
    model = ScheduleItem
    formset = ScheduleItemFormSet
    fields = ["content", "due_at", "due_offset"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("content")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("content")
        if field is not None:
            # Only the cohort's own course's contents (all courses' while the cohort is being added).
            queryset = field.queryset.select_related("course")
            field.queryset = queryset.filter(course_id=obj.course_id) if obj is not None else queryset
        return formset


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "course", "pacing", "starts_at", "ends_at", "learner_count", "delayed_count"]
    list_filter = ["pacing", ("course", admin.RelatedOnlyFieldListFilter), "starts_at"]
    list_select_related = ["course"]
    search_fields = ["name", "slug", "course__title"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["course"]
    inlines = [ScheduleItemInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                learners=Count("enrollments", filter=~Q(enrollments__status=EnrollmentStatus.DROPPED)),
                delayed=Count("enrollments", filter=Q(enrollments__status=EnrollmentStatus.DELAYED)),
            )
        )

    @admin.display(description=_("learners"), ordering="learners")
    def learner_count(self, obj):
        return obj.learners

    @admin.display(description=_("delayed"), ordering="delayed")
    def delayed_count(self, obj):
        return obj.delayed


@admin.register(LearningContent)
class LearningContentAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "kind", "required", "estimated_minutes", "position"]
    list_filter = ["kind", "required", ("course", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["course"]
    search_fields = ["title", "slug", "course__title"]
    autocomplete_fields = ["course"]
    ordering = ["course__title", "position", "pk"]


@admin.register(ScheduleItem)
class ScheduleItemAdmin(admin.ModelAdmin):
    list_display = ["content", "cohort", "due_at", "due_offset"]
    list_filter = ["cohort__pacing", ("cohort__course", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["content", "cohort__course"]
    search_fields = ["content__title", "cohort__name", "cohort__course__title"]
    autocomplete_fields = ["cohort", "content"]
