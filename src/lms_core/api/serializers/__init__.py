"""The API's serializers: shared shapes, the learner's side, the staff side."""

from .common import (
    CohortSummarySerializer,
    ContentSummarySerializer,
    CourseSummarySerializer,
    ProgressRateField,
    UserSummarySerializer,
    avatar_url,
)
from .learner import (
    MyEnrollmentSerializer,
    NextDueSerializer,
    ProgressInputSerializer,
    ProgressSerializer,
    ScheduleEntrySerializer,
    ShiftingSerializer,
    ShiftInputSerializer,
)
from .staff import (
    CSV_COLUMNS,
    CohortSerializer,
    CohortStatsSerializer,
    DeadlineExceptionInputSerializer,
    DeadlineExceptionSerializer,
    EnrollInputSerializer,
    LearnerRowSerializer,
    ProgressBucketSerializer,
    StatusCountsSerializer,
    csv_row,
)

__all__ = [
    "CSV_COLUMNS",
    "CohortSerializer",
    "CohortStatsSerializer",
    "CohortSummarySerializer",
    "ContentSummarySerializer",
    "CourseSummarySerializer",
    "DeadlineExceptionInputSerializer",
    "DeadlineExceptionSerializer",
    "EnrollInputSerializer",
    "LearnerRowSerializer",
    "MyEnrollmentSerializer",
    "NextDueSerializer",
    "ProgressBucketSerializer",
    "ProgressInputSerializer",
    "ProgressRateField",
    "ProgressSerializer",
    "ScheduleEntrySerializer",
    "ShiftInputSerializer",
    "ShiftingSerializer",
    "StatusCountsSerializer",
    "UserSummarySerializer",
    "avatar_url",
    "csv_row",
]
