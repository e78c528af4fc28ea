"""Pending surveys: offered to a learner (they completed the content or course), still open, not yet answered."""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import SurveyInvitation, SurveyResponse

__all__ = ["pending_invitations"]


def pending_invitations(user) -> QuerySet[SurveyInvitation]:
    if not user.is_authenticated:
        return SurveyInvitation.objects.none()
    today = timezone.localdate()
    answered = SurveyResponse.objects.filter(target_id=OuterRef("target_id"), learner_id=user.pk)
    return (
        SurveyInvitation.objects.filter(user=user, target__survey__is_published=True)
        .filter(Q(target__survey__publish_date__lte=today), Q(target__survey__expire_date__gte=today))
        .exclude(Exists(answered))
        .select_related("target__survey")
        .order_by("-created_at", "-pk")
    )
