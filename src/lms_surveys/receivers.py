"""Receivers of lms_core's signals, connected in ``AppConfig.ready()`` only when lms_core is installed."""

from .conf import app_settings
from .models import ContentSurvey, Scope, SurveyInvitation


def invite_after_content(sender, *, progress, enrollment, user, content, **kwargs):
    """``content_completed``: offer the content's survey to the learner (once)."""
    if not app_settings.INVITE_ON_COMPLETION:
        return
    target = (
        ContentSurvey.objects.for_target(Scope.CONTENT, content.pk).filter(survey__is_published=True).first()
    )
    if target is not None:
        SurveyInvitation.objects.get_or_create(
            target=target, user=user, defaults={"cohort_key": str(enrollment.cohort_id)}
        )


def invite_after_course(sender, *, enrollment_ids, at=None, **kwargs):
    """``enrollment_completed``: offer each course's own survey to the learners who just completed it."""
    if not app_settings.INVITE_ON_COMPLETION:
        return
    from lms_core.models import Enrollment

    enrollments = list(
        Enrollment.objects.filter(pk__in=enrollment_ids).values_list(
            "user_id", "cohort_id", "cohort__course_id"
        )
    )
    course_keys = {str(course_id) for _user, _cohort, course_id in enrollments}
    targets = {
        t.key: t
        for t in ContentSurvey.objects.filter(
            scope=Scope.COURSE, key__in=course_keys, survey__is_published=True
        )
    }
    invitations = [
        SurveyInvitation(target=targets[str(course_id)], user_id=user_id, cohort_key=str(cohort_id))
        for user_id, cohort_id, course_id in enrollments
        if str(course_id) in targets
    ]
    SurveyInvitation.objects.bulk_create(invitations, ignore_conflicts=True)
