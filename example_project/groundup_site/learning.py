"""The learner's pages of the example site: a course with my due dates, shifting my dates, my profile."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from lms_core.api.querysets import course_outline
from lms_core.api.schedules import effective_due
from lms_core.exceptions import ShiftNotAllowed
from lms_core.models import Enrollment, EnrollmentStatus, ProgressState
from lms_core.services import record_progress, shift_dates

from .links import lesson_urls

#: How far one click of "shift my dates" pushes the remaining due dates back.
SHIFT_DAYS = 7


def _my_enrollment(request, pk) -> Enrollment:
    # Someone else's enrollment is a 404, never a 403 that would confirm it exists.
    return get_object_or_404(Enrollment.objects.select_related("cohort__course"), pk=pk, user=request.user)


def outline_rows(enrollment: Enrollment, *, now=None) -> list[dict]:
    """Each content of the enrollment's course with my due date, its source, my state and the lesson's URL."""
    now = now or timezone.now()
    contents = list(course_outline(enrollment))
    urls = lesson_urls(contents)
    rows = []
    for content in contents:
        due_at, source = effective_due(
            scheduled=content.item_id is not None,
            due_at=content.item_due_at,
            due_offset=content.item_due_offset,
            exception_due_at=content.exception_due_at,
            anchor=enrollment.schedule_anchor,
        )
        state = content.progress_state or ProgressState.NOT_STARTED
        rows.append(
            {
                "content": content,
                "due_at": due_at,
                "due_source": source,
                "state": state,
                "state_label": ProgressState(state).label,
                "percent": content.progress_percent or 0,
                "overdue": due_at is not None and due_at < now and state != ProgressState.COMPLETED,
                "url": urls.get(content.slug),
            }
        )
    return rows


@require_safe
@login_required
def course(request, enrollment_pk):
    enrollment = _my_enrollment(request, enrollment_pk)
    rows = outline_rows(enrollment)
    required = [row for row in rows if row["content"].required]
    done = sum(row["state"] == ProgressState.COMPLETED for row in required)
    cohort, course = enrollment.cohort, enrollment.cohort.course
    can_shift = (
        cohort.is_self_paced
        and enrollment.status == EnrollmentStatus.DELAYED
        and enrollment.shift_count < course.max_shifts
        and enrollment.date_shift.days + SHIFT_DAYS <= course.max_shift_days
    )
    context = {
        "enrollment": enrollment,
        "course": course,
        "rows": rows,
        "percent": round(100 * done / len(required)) if required else 0,
        "done": done,
        "required": len(required),
        "can_shift": can_shift,
        "shift_days": SHIFT_DAYS,
    }
    return render(request, "groundup_site/course.html", context)


@require_POST
@login_required
def shift_my_dates(request, enrollment_pk):
    enrollment = _my_enrollment(request, enrollment_pk)
    try:
        shift_dates(enrollment, SHIFT_DAYS)
    except ShiftNotAllowed as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request, _("Your remaining due dates moved %(days)d days later.") % {"days": SHIFT_DAYS}
        )
    return redirect("course", enrollment_pk=enrollment.pk)


@require_POST
@login_required
def complete_lesson(request, page_id):
    """ "Mark as complete" on a lesson without exercises: its content is completed for the learner, then back to
    the lesson (which announces it, so a survey can follow). A lesson with exercises completes by passing them."""
    from wagtail.models import Page

    from .integrations import exercise_blocks, learner_content

    page = get_object_or_404(Page.objects.live().public().specific(), pk=page_id)
    found = learner_content(request.user, page.slug)
    if found is None:
        raise Http404(_("You are not enrolled in a course with this lesson."))
    if exercise_blocks(page):
        messages.error(request, _("Pass this lesson's exercises to complete it."))
        return redirect(page.get_url(request))
    content, _progress = found
    record_progress(request.user, content, completed=True)
    request.session["groundup_just_completed"] = [content.pk]
    messages.success(request, _("Lesson completed."))
    return redirect(page.get_url(request))


@require_safe
@login_required
def profile(request):
    enrollments = (
        Enrollment.objects.filter(user=request.user).select_related("cohort__course").order_by("-started_at")
    )
    return render(request, "groundup_site/profile.html", {"enrollments": enrollments})
