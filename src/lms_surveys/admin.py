"""The package's survey admin, extended: what the survey is about, each question's scale and range, and a report
page with a chart (Chart.js, vendored with its licence) and CSV exports."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from survey.admin import QuestionInline, SurveyAdmin
from survey.models import Survey

from lms_common import converters

from . import exports, reports
from .models import ContentSurvey, QuestionOptions, Scope, SurveyInvitation, SurveyResponse
from .models.targets import CORE_MODELS, core_installed
from .permissions import can_view_reports


class ContentSurveyForm(forms.ModelForm):
    """With lms_core the key is picked from its contents and courses; without, it is typed in."""

    link = forms.ChoiceField(label=_("about"), required=False)

    class Meta:
        model = ContentSurvey
        fields = ["scope", "key", "course_key", "title"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not core_installed():
            self.fields.pop("link", None)
        if "link" not in self.fields:
            return
        from django.apps import apps

        content_model = apps.get_model(*CORE_MODELS[Scope.CONTENT])
        course_model = apps.get_model(*CORE_MODELS[Scope.COURSE])
        contents = [
            (f"content:{c.pk}", f"{c.course} · {c.title}")
            for c in content_model.objects.select_related("course")
        ]
        courses = [(f"course:{c.pk}", str(c)) for c in course_model.objects.all()]
        self.fields["link"].choices = [
            ("", "---------"),
            (str(Scope.CONTENT.label), contents),
            (str(Scope.COURSE.label), courses),
        ]
        if self.instance.pk:
            self.fields["link"].initial = f"{self.instance.scope}:{self.instance.key}"

    def clean(self):
        data = super().clean()
        if "link" in self.fields:
            if not data.get("link"):
                raise forms.ValidationError(_("Choose the learning content or course this survey is about."))
            scope, key = data["link"].split(":", 1)
            if (scope, key) != (self.instance.scope, self.instance.key):
                self.instance.title = ""  # filled in from lms_core
            self.instance.scope, self.instance.key = scope, key
        return data


class ContentSurveyInline(admin.StackedInline):
    model = ContentSurvey
    form = ContentSurveyForm
    can_delete = False
    min_num = 1
    max_num = 1
    verbose_name = _("what this survey is about")

    def get_fields(self, request, obj=None):
        # With lms_core: one select of its contents and courses; without: the plain key and its details.
        return ["link"] if core_installed() else ["scope", "key", "course_key", "title"]


class QuestionOptionsForm(forms.ModelForm):
    """The package's question fields plus ours (scale, range), saved to QuestionOptions."""

    is_scale = forms.BooleanField(
        label=_("rating scale"),
        required=False,
        help_text=QuestionOptions._meta.get_field("is_scale").help_text,
    )
    minimum = forms.FloatField(label=_("minimum"), required=False)
    maximum = forms.FloatField(label=_("maximum"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        options = getattr(self.instance, "lms_options", None) if self.instance.pk else None
        if options is not None:
            for name in ("is_scale", "minimum", "maximum"):
                self.fields[name].initial = getattr(options, name)

    def clean(self):
        data = super().clean()
        options = QuestionOptions(
            is_scale=data.get("is_scale") or False, minimum=data.get("minimum"), maximum=data.get("maximum")
        )
        options.validate_for(data.get("type") or self.instance.type)
        return data

    def save(self, commit=True):
        question = super().save(commit=commit)
        if commit:
            self.save_options()
        return question

    def save_options(self):
        data = self.cleaned_data
        QuestionOptions.objects.update_or_create(
            question=self.instance,
            defaults={
                "is_scale": data.get("is_scale") or False,
                "minimum": data.get("minimum"),
                "maximum": data.get("maximum"),
            },
        )


class LmsQuestionInline(QuestionInline):
    form = QuestionOptionsForm


class LmsSurveyAdmin(SurveyAdmin):
    inlines = [
        ContentSurveyInline,
        *[i for i in SurveyAdmin.inlines if i is not QuestionInline],
        LmsQuestionInline,
    ]
    list_display = ("name", "about", "is_published", "need_logged_user", "expire_date", "report_link")
    list_select_related = ("lms_target",)

    @admin.display(description=_("about"))
    def about(self, survey):
        target = getattr(survey, "lms_target", None)
        return f"{target.get_scope_display()}: {target.display_title}" if target else "—"

    @admin.display(description=_("report"))
    def report_link(self, survey):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:lms_surveys_report", args=[survey.pk]), _("Report")
        )

    def get_urls(self):
        converters.register()
        view = self.admin_site.admin_view
        return [
            path("<lms_id:pk>/report/", view(self.report_view), name="lms_surveys_report"),
            path(
                "course-report/<path:key>/", view(self.course_report_view), name="lms_surveys_course_report"
            ),
            *super().get_urls(),
        ]

    def report_view(self, request, pk):
        target = get_object_or_404(ContentSurvey.objects.select_related("survey"), survey_id=pk)
        if not can_view_reports(request.user, target.course_key):
            raise PermissionDenied
        cohort = request.GET.get("cohort") or None
        if request.GET.get("format") == "csv":
            return exports.responses_csv(target, cohort_key=cohort)
        report = reports.target_report(target, cohort_key=cohort)
        charts = [
            {
                "id": question["id"],
                "labels": [
                    row["label"]
                    for row in (question["rating"] or {}).get("distribution", question["choices"] or [])
                ],
                "counts": [
                    row["count"]
                    for row in (question["rating"] or {}).get("distribution", question["choices"] or [])
                ],
            }
            for question in report["questions"]
            if question["rating"] or question["choices"]
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Report: %(name)s") % {"name": target.survey.name},
            "target": target,
            "report": report,
            "charts": charts,
        }
        return TemplateResponse(request, "admin/lms_surveys/report.html", context)

    def course_report_view(self, request, key):
        if not can_view_reports(request.user, key):
            raise PermissionDenied
        cohort = request.GET.get("cohort") or None
        report = reports.course_report(key, cohort_key=cohort)
        if request.GET.get("format") == "csv":
            return exports.course_csv(report)
        chart = {
            "labels": [row["title"] for row in report["targets"]],
            "averages": [row["rating_average"] for row in report["targets"]],
            "rates": [row["response_rate"] for row in report["targets"]],
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Surveys of course %(key)s") % {"key": key},
            "report": report,
            "chart": chart,
        }
        return TemplateResponse(request, "admin/lms_surveys/course_report.html", context)


if admin.site.is_registered(Survey):
    admin.site.unregister(Survey)
admin.site.register(Survey, LmsSurveyAdmin)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "survey",
        "target",
        "learner",
        "cohort_key",
        "enrollment_status",
        "progress_percent",
        "created",
    )
    list_filter = ("target__scope", "enrollment_status", "progress_state", "created")
    search_fields = ("learner__username", "target__title", "target__key", "survey__name")
    list_select_related = ("survey", "target", "learner")
    readonly_fields = [f.name for f in SurveyResponse._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ("target", "user", "cohort_key", "created_at")
    list_select_related = ("target__survey", "user")
    search_fields = ("user__username", "target__title")
    raw_id_fields = ("user",)
