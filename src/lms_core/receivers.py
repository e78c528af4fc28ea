"""A receiver that other apps' signals can be connected to, so they record progress without importing lms_core.

Another app announces a fact with its own signal (say ``exercise_passed(sender, user=…, content_slug=…)``); the
project, or an integration module guarded by ``apps.is_installed("lms_core")``, connects it here::

    from lms_core.receivers import record_progress_receiver

    exercise_passed.connect(record_progress_receiver, dispatch_uid="lms_core.exercise_passed")

Every recording goes through :func:`lms_core.services.record_progress`: idempotent, never backwards,
``content_completed`` sent once.
"""

from __future__ import annotations

import logging

from .exceptions import NotEnrolled
from .models import Enrollment, EnrollmentStatus, LearningContent, Progress
from .services import record_progress

__all__ = ["record_progress_receiver"]

logger = logging.getLogger(__name__)


def record_progress_receiver(
    sender,
    *,
    user,
    content=None,
    content_slug: str | None = None,
    percent: int | None = None,
    completed: bool = False,
    at=None,
    **kwargs,
) -> list[Progress]:
    """Record ``user``'s work on a content named by the signal; returns the progress rows it recorded.

    The content is ``content`` (a :class:`~lms_core.models.LearningContent` or its id), or ``content_slug``: a
    lesson page's slug, which names the content of that slug in each course the learner is currently enrolled in
    (not dropped). A learner who is not enrolled, an anonymous user or an unknown content records nothing and
    raises nothing (a signal's sender should not fail because a learner opened a lesson outside a course).
    ``percent`` and ``completed`` are :func:`~lms_core.services.record_progress`'s: an invalid percentage
    raises :class:`~lms_core.exceptions.InvalidProgress`, as the sending app has a bug to fix.
    """
    if content is None and content_slug is None:
        raise TypeError("record_progress_receiver needs content= or content_slug= from the signal.")
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if content is not None:
        pk = getattr(content, "pk", content)
        contents = list(LearningContent.objects.filter(pk=pk))
    else:
        current = Enrollment.objects.filter(user=user).exclude(status=EnrollmentStatus.DROPPED)
        contents = list(
            LearningContent.objects.filter(
                slug=content_slug, course_id__in=current.values("cohort__course_id")
            ).order_by("course_id", "pk")
        )
    recorded = []
    for found in contents:
        try:
            recorded.append(record_progress(user, found, percent=percent, completed=completed, at=at))
        except NotEnrolled:
            logger.debug("%s is not enrolled in a course with %s: nothing recorded", user, found)
    return recorded
