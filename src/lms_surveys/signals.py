"""Facts lms_surveys announces (receivers are connected in the listening app's ``AppConfig.ready()``).

``survey_answered(sender=SurveyResponse, response, created)``
    A learner submitted (``created=True``) or changed (``created=False``) their answers; sent after commit.

django-survey-and-report's own ``survey.signals.survey_completed(sender=Response, instance, data)`` is sent too,
with the data shape the package documents, so receivers written for the package keep working.
"""

from django.dispatch import Signal

survey_answered = Signal()

__all__ = ["survey_answered"]
