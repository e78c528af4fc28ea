from django.db import connection
from django.db.models import Count, Q
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
def home(request):
    """The learner's dashboard: their courses with progress, status and the next due item."""
    context = {"enrollments": [], "pending_surveys": []}
    if request.user.is_authenticated:
        context["enrollments"] = learner_dashboard(request.user)
        context["pending_surveys"] = pending_surveys(request.user)
    return render(request, "groundup_site/home.html", context)


def learner_dashboard(user):
    from lms_core.models import Enrollment, EnrollmentStatus, ProgressState
    from lms_core.services import next_due

    enrollments = (
        Enrollment.objects.filter(user=user)
        .exclude(status=EnrollmentStatus.DROPPED)
        .select_related("cohort__course")
        .annotate(
            required_total=Count(
                "cohort__course__contents",
                filter=Q(cohort__course__contents__required=True),
                distinct=True,
            ),
            required_done=Count(
                "progress",
                filter=Q(progress__state=ProgressState.COMPLETED, progress__content__required=True),
                distinct=True,
            ),
        )
        .order_by("-started_at")
    )
    rows = []
    for enrollment in enrollments:
        total = enrollment.required_total or 0
        rate = round(100 * enrollment.required_done / total) if total else 0
        upcoming = next_due(enrollment)
        rows.append(
            {
                "enrollment": enrollment,
                "percent": rate,
                "next_content": upcoming[0] if upcoming else None,
                "next_due": upcoming[1] if upcoming else None,
                "overdue": bool(upcoming) and upcoming[1] < timezone.now(),
            }
        )
    return rows


def pending_surveys(user):
    """Surveys offered after the learner completed a content (lms_surveys), not answered yet."""
    from django.apps import apps

    if not apps.is_installed("lms_surveys"):
        return []
    from lms_surveys.pending import pending_invitations

    return list(pending_invitations(user)[:10])


@require_safe
@never_cache
def healthz(request):
    """Liveness for load balancers and the demo command: the app is up and its database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok"})
