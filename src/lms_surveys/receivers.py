"""Receivers connected in ``AppConfig.ready()``: lms_core's signals (only when lms_core is installed), and the
package's Answer saves (an answer changed in the package's own admin gets its rating recomputed)."""

from .conf import app_settings
from .models import ContentSurvey, Scope, SurveyAnswer, SurveyInvitation


def rerate_answer(sender, instance, raw=False, **kwargs):
    """``post_save`` of ``survey.Answer``: keep our rating in step with a body edited outside our services."""
    if raw or isinstance(instance, SurveyAnswer):
        return  # our own saves set the rating themselves
    from .services import parse_body, rating_for

    question = instance.question
    try:
        rating = rating_for(question, parse_body(question, instance.body))
    except (TypeError, ValueError):
        rating = None
    SurveyAnswer.objects.filter(pk=instance.pk).update(rating=rating)


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
