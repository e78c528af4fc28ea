"""The instructor's pages of the example site: my cohorts, a cohort dashboard with charts, granting exceptions.

Who sees what is lms_core's rule (:mod:`lms_core.api.permissions`): instructors see the cohorts of the courses
they teach, staff with ``lms_core.view_enrollment`` see all; a cohort one may not see is a 404.
"""

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from lms_core import stats
from lms_core.api.filters import CohortLearnerFilter
from lms_core.api.permissions import can_grant_exceptions, visible_cohorts
from lms_core.api.querysets import cohort_learners
from lms_core.exceptions import InvalidDeadline
from lms_core.models import Cohort, EnrollmentStatus
from lms_core.services import grant_exception

PAGE_SIZE = 50


def _cohort(request, pk) -> Cohort:
    try:
        return visible_cohorts(request.user).get(pk=pk)
    except Cohort.DoesNotExist:
        raise Http404(_("No cohort with this id that you may see.")) from None


@require_safe
@login_required
def cohorts(request):
    mine = list(visible_cohorts(request.user).order_by("-starts_at", "-pk"))
    if not mine:
        raise Http404(_("You do not teach any cohort."))
    return render(request, "groundup_site/teach/cohorts.html", {"cohorts": mine})


class ExceptionForm(forms.Form):
    enrollment = forms.IntegerField(widget=forms.HiddenInput)
    content = forms.ChoiceField(label=gettext_lazy("Content"))
    due_date = forms.DateField(
        label=gettext_lazy("New due date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False)

    def __init__(self, *args, cohort, **kwargs):
        super().__init__(*args, **kwargs)
        self.cohort = cohort
        self.fields["content"].choices = [
            (c.pk, c.title) for c in cohort.course.contents.order_by("position", "pk")
        ]

    def clean_enrollment(self):
        pk = self.cleaned_data["enrollment"]
        enrollment = self.cohort.enrollments.select_related("user").filter(pk=pk).first()
        if enrollment is None:
            raise forms.ValidationError(_("This learner is not in this cohort."))
        return enrollment

    def due_at(self) -> datetime:
        """The end of the chosen day in the site's time zone (a due date means "by the end of that day")."""
        return timezone.make_aware(datetime.combine(self.cleaned_data["due_date"], time(23, 59)))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def cohort_dashboard(request, cohort_pk):
    cohort = _cohort(request, cohort_pk)
    may_grant = can_grant_exceptions(request.user, cohort)
    form = None
    if request.method == "POST":
        if not may_grant:
            messages.error(request, _("You may not grant deadline exceptions in this cohort."))
            return redirect("cohort-dashboard", cohort_pk=cohort.pk)
        form = ExceptionForm(request.POST, cohort=cohort)
        if form.is_valid():
            enrollment = form.cleaned_data["enrollment"]
            content = cohort.course.contents.get(pk=form.cleaned_data["content"])
            try:
                grant_exception(
                    enrollment,
                    content,
                    form.due_at(),
                    granted_by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except InvalidDeadline as exc:
                form.add_error("due_date", str(exc.detail))
            else:
                messages.success(
                    request,
                    _("%(learner)s now has until %(date)s for %(content)s.")
                    % {
                        "learner": enrollment.user.get_full_name() or enrollment.user.get_username(),
                        "date": form.cleaned_data["due_date"].isoformat(),
                        "content": content.title,
                    },
                )
                return redirect(f"{request.path}?{request.GET.urlencode()}")
    now = timezone.now()
    base = cohort_learners(cohort.pk, now=now)
    learner_filter = CohortLearnerFilter(request.GET or None, queryset=base, request=request)
    learners = learner_filter.qs if learner_filter.is_bound and learner_filter.is_valid() else base
    page = Paginator(learners, PAGE_SIZE).get_page(request.GET.get("page"))
    distribution = stats.progress_distribution(base.exclude(status=EnrollmentStatus.DROPPED))
    history = stats.status_history(cohort, days=60)
    charts = {
        "distribution": {"labels": stats.BUCKETS, "counts": distribution, "label": _("Learners")},
        "history": {
            "labels": [row["day"].isoformat() for row in history],
            "delayed": [row["delayed"] for row in history],
            "active": [row["active"] for row in history],
            "label_delayed": _("Delayed"),
            "label_active": _("Active"),
        },
    }
    context = {
        "surveys": survey_results(request.user, cohort),
        "cohort": cohort,
        "filter": learner_filter,
        "filter_errors": learner_filter.errors if learner_filter.is_bound else {},
        "page": page,
        "statuses": EnrollmentStatus.choices,
        "chosen_statuses": request.GET.getlist("status"),
        "search": request.GET.get("search", ""),
        "charts": charts,
        "may_grant": may_grant,
        "form": form or ExceptionForm(cohort=cohort),
        **cohort.enrollments.aggregate(
            total=Count("pk"), delayed=Count("pk", filter=Q(status=EnrollmentStatus.DELAYED))
        ),
    }
    return render(request, "groundup_site/teach/cohort.html", context)


def survey_results(user, cohort: Cohort) -> dict | None:
    """lms_surveys' report of the cohort's course for this cohort (per survey: responses, rate, average rating;
    the newest free-text answers), or ``None`` when surveys are not installed or the user may not see reports."""
    from django.apps import apps

    if not apps.is_installed("lms_surveys"):
        return None
    from lms_surveys.permissions import can_view_reports
    from lms_surveys.reports import course_report

    course_key = str(cohort.course_id)
    if not can_view_reports(user, course_key):
        return None
    return course_report(course_key, cohort_key=str(cohort.pk))
