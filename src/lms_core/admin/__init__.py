"""lms_core's Django admin: every model, a progress bar on enrollments, impersonation buttons and its audit log.

Importing this package (Django's admin autodiscovery does) registers the model admins on the default site.
The user admin is not lms_core's: add ``"hijack.contrib.admin"`` to ``INSTALLED_APPS`` for an "impersonate"
button on users, or mix :class:`hijack.contrib.admin.HijackUserAdminMixin` into your own user admin.
"""

from .courses import CohortAdmin, CourseAdmin, LearningContentAdmin, ScheduleItemAdmin
from .impersonation import HijackEventAdmin, ImpersonateUserButtonMixin
from .learners import DeadlineExceptionAdmin, EnrollmentAdmin, ProgressAdmin, with_progress_counts

__all__ = [
    "CohortAdmin",
    "CourseAdmin",
    "DeadlineExceptionAdmin",
    "EnrollmentAdmin",
    "HijackEventAdmin",
    "ImpersonateUserButtonMixin",
    "LearningContentAdmin",
    "ProgressAdmin",
    "ScheduleItemAdmin",
    "with_progress_counts",
]
