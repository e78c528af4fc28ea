"""lms_core's models: the course structure, the learners' side, and the audit log."""

from .audit import HijackEvent
from .courses import Cohort, Course, LearningContent, Pacing, ScheduleItem
from .learners import DeadlineException, Enrollment, EnrollmentStatus, Progress, ProgressState
from .stats import CohortStatusSnapshot

__all__ = [
    "Cohort",
    "CohortStatusSnapshot",
    "Course",
    "DeadlineException",
    "Enrollment",
    "EnrollmentStatus",
    "HijackEvent",
    "LearningContent",
    "Pacing",
    "Progress",
    "ProgressState",
    "ScheduleItem",
]
