"""lms_surveys' models: what a survey is attached to, and our data around the package's Response and Answer."""

from .answers import QuestionOptions, SurveyAnswer, SurveyResponse
from .targets import ContentSurvey, Scope, SurveyInvitation

__all__ = [
    "ContentSurvey",
    "QuestionOptions",
    "Scope",
    "SurveyAnswer",
    "SurveyInvitation",
    "SurveyResponse",
]
