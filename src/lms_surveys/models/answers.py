"""Our data around the package's Response and Answer (multi-table inheritance: the package's own rows stay
where its admin, exporters and reports look for them; ours add the context and the rating)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from survey.models import Answer, Question, Response

from .targets import ContentSurvey

#: Question types a rating can come from: numbers as given, choices by their position (1 = the first).
NUMERIC_TYPES = (Question.INTEGER, Question.FLOAT)
CHOICE_TYPES = (Question.RADIO, Question.SELECT, Question.SELECT_IMAGE)


class QuestionOptions(models.Model):
    """What the package's Question lacks: whether it is a rating scale, and the range of a number."""

    question = models.OneToOneField(
        Question, on_delete=models.CASCADE, related_name="lms_options", verbose_name=_("question")
    )
    is_scale = models.BooleanField(
        _("rating scale"),
        default=False,
        help_text=_(
            "Answers count as ratings in reports: the number itself (integer, float) or the position of the "
            "choice, 1 for the first (radio, select)."
        ),
    )
    minimum = models.FloatField(_("minimum"), null=True, blank=True)
    maximum = models.FloatField(_("maximum"), null=True, blank=True)

    class Meta:
        verbose_name = _("question options")
        verbose_name_plural = _("question options")

    def __str__(self):
        return f"{self.question_id}: scale={self.is_scale} [{self.minimum}, {self.maximum}]"

    def clean(self):
        self.validate_for(self.question.type if self.question_id else None)

    def validate_for(self, question_type: str | None) -> None:
        """Check these options against a question of ``question_type`` (``None``: only the range itself)."""
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValidationError({"maximum": _("The maximum is below the minimum.")})
        if question_type is None:
            return
        has_range = self.minimum is not None or self.maximum is not None
        if has_range and question_type not in NUMERIC_TYPES:
            raise ValidationError(_("Only integer and float questions have a range."))
        if self.is_scale and question_type not in (*NUMERIC_TYPES, *CHOICE_TYPES):
            raise ValidationError(_("Only number and single-choice questions can be rating scales."))


class SurveyResponse(Response):
    """One learner's answers to one survey, with where they stood when they answered."""

    target = models.ForeignKey(
        ContentSurvey, on_delete=models.PROTECT, related_name="responses", verbose_name=_("about")
    )
    # The same user as Response.user, here so that the database keeps one response per learner per survey.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lms_survey_responses",
        verbose_name=_("learner"),
    )
    content_key = models.CharField(_("content key"), max_length=200, blank=True)
    course_key = models.CharField(_("course key"), max_length=200, blank=True, db_index=True)
    cohort_key = models.CharField(_("cohort key"), max_length=200, blank=True, db_index=True)
    enrollment_status = models.CharField(_("enrollment status when answering"), max_length=20, blank=True)
    progress_state = models.CharField(_("progress when answering"), max_length=20, blank=True)
    progress_percent = models.PositiveSmallIntegerField(
        _("percent done when answering"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        constraints = [
            models.UniqueConstraint(
                fields=["target", "learner"],
                condition=models.Q(learner__isnull=False),
                name="lms_surveys_one_response_per_learner",
            )
        ]


class SurveyAnswer(Answer):
    """The package's Answer with the numeric rating, when its question is a rating scale."""

    rating = models.FloatField(_("rating"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
