"""Who may see and change what through the API.

* **Learners** see only their own enrollments and progress: the learner endpoints filter by ``request.user``, so
  another learner's enrollment id is simply not found (404, never a 403 that would confirm it exists).
* **Instructors** (``Course.instructors``) see the cohorts of their own courses and their learners, and may grant
  deadline exceptions there. They need not be staff.
* **Staff** (``is_staff``) with ``lms_core.view_enrollment`` see every cohort; granting an exception also needs
  ``lms_core.add_deadlineexception`` (or being the course's instructor), enrolling a learner
  ``lms_core.add_enrollment``.
* **Superusers** see and do everything.

A cohort the user may not see is a 404; a cohort they may see but not change is a 403 with a message.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied

from ..models import Cohort, Course

__all__ = [
    "MAY_NOT_ENROLL",
    "MAY_NOT_GRANT",
    "VIEW_ALL_PERMISSION",
    "can_enroll",
    "can_grant_exceptions",
    "require",
    "sees_all_cohorts",
    "visible_cohorts",
]

#: The model permission that, with ``is_staff``, shows every cohort's learners.
VIEW_ALL_PERMISSION = "lms_core.view_enrollment"

MAY_NOT_GRANT = _("You may not grant deadline exceptions in this cohort.")
MAY_NOT_ENROLL = _("You may not enroll learners in this cohort.")


def _staff_with(user, permission: str) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(permission))


def sees_all_cohorts(user) -> bool:
    return bool(user.is_active and (user.is_superuser or _staff_with(user, VIEW_ALL_PERMISSION)))


def visible_cohorts(user) -> QuerySet[Cohort]:
    """The cohorts ``user`` may look into, each annotated with ``user_is_instructor`` (one query, no join fan-out)."""
    if not user.is_authenticated:
        return Cohort.objects.none()
    teaches = Exists(
        Course.instructors.through.objects.filter(course_id=OuterRef("course_id"), user_id=user.pk)
    )
    cohorts = Cohort.objects.select_related("course")
    if sees_all_cohorts(user):
        return cohorts.annotate(user_is_instructor=teaches)
    return cohorts.annotate(user_is_instructor=teaches).filter(user_is_instructor=True)


def can_grant_exceptions(user, cohort: Cohort) -> bool:
    """``cohort`` must come from :func:`visible_cohorts` (it carries ``user_is_instructor``)."""
    return bool(
        user.is_superuser
        or getattr(cohort, "user_is_instructor", False)
        or _staff_with(user, "lms_core.add_deadlineexception")
    )


def can_enroll(user, cohort: Cohort) -> bool:
    return bool(user.is_superuser or _staff_with(user, "lms_core.add_enrollment"))


def require(allowed: bool, message) -> None:
    """Raise a 403 with ``message`` unless ``allowed`` (for users who may see the object but not change it)."""
    if not allowed:
        raise PermissionDenied(message)
