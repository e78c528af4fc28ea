"""How the example site joins the apps: a lesson's exercises passed → the learner's progress in lms_core.

Connected in :class:`groundup_site.apps.GroundupSiteConfig.ready`. The apps do not import each other; this is
the project's glue, as the architecture asks.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def exercise_blocks(page) -> list[str]:
    """The ids of the page's Jupyter blocks that have an exercise check, in order."""
    body = getattr(page, "body", None) or []
    return [
        child.id
        for child in body
        if child.block_type == "jupyter" and (child.value.get("check_code") or "").strip()
    ]


def record_exercise_progress(sender, *, user, page, block_id, **kwargs):
    """A learner passed one of a lesson's checks: their progress on the lesson's content is the share of its
    exercises they passed, and the content is completed once they passed them all."""
    from lms_cms_blocks.models import CellState
    from lms_core.receivers import record_progress_receiver

    exercises = exercise_blocks(page)
    if not exercises:
        return
    passed = CellState.objects.filter(
        user=user, page=page, block_id__in=exercises, passed_at__isnull=False
    ).count()
    record_progress_receiver(
        sender,
        user=user,
        content_slug=page.slug,
        percent=round(100 * passed / len(exercises)),
        completed=passed >= len(exercises),
    )


def learner_content(user, slug: str):
    """``(content, progress or None)``: the content of this slug in the learner's current course (the most
    recently started enrollment that is not dropped), or ``None`` when they take no course with it."""
    from lms_core.models import Enrollment, EnrollmentStatus, LearningContent, Progress

    enrollment = (
        Enrollment.objects.filter(user=user, cohort__course__contents__slug=slug)
        .exclude(status=EnrollmentStatus.DROPPED)
        .order_by("-started_at", "-pk")
        .first()
    )
    if enrollment is None:
        return None
    content = LearningContent.objects.get(course_id=enrollment.cohort.course_id, slug=slug)
    progress = Progress.objects.filter(enrollment=enrollment, content=content).first()
    return content, progress
