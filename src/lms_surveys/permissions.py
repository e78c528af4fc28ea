"""Who may see reports: superusers, staff with ``lms_surveys.view_surveyresponse``, and (with lms_core) the
instructors of the survey's course. Anyone else gets a 404, as for any object they may not see."""

from .models.targets import core_installed

REPORT_PERMISSION = "lms_surveys.view_surveyresponse"


def can_view_reports(user, course_key: str = "") -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser or (user.is_staff and user.has_perm(REPORT_PERMISSION)):
        return True
    if core_installed() and course_key:
        from lms_core.models import Course

        try:
            return Course.objects.filter(pk=int(course_key), instructors=user).exists()
        except ValueError:
            return False
    return False
