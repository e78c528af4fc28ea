"""The API's JSON shapes (documented in docs/apps/lms_surveys/reference.md)."""

from rest_framework import serializers
from survey.models import Question, Survey

from ..models import ContentSurvey, QuestionOptions, SurveyResponse
from ..services import answer_values, closed_reason


class AboutSerializer(serializers.ModelSerializer):
    title = serializers.CharField(source="display_title")

    class Meta:
        model = ContentSurvey
        fields = ["scope", "key", "title", "course_key"]


class QuestionSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default=None)
    choices = serializers.SerializerMethodField()
    is_scale = serializers.SerializerMethodField()
    minimum = serializers.SerializerMethodField()
    maximum = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id",
            "text",
            "type",
            "required",
            "order",
            "category",
            "choices",
            "maximum_choices",
            "is_scale",
            "minimum",
            "maximum",
        ]

    def _options(self, question):
        try:
            return question.lms_options
        except QuestionOptions.DoesNotExist:
            return None

    def get_choices(self, question) -> list[dict]:
        return [{"value": value, "label": label} for value, label in question.get_choices()]

    def get_is_scale(self, question) -> bool:
        options = self._options(question)
        return bool(options and options.is_scale)

    def get_minimum(self, question) -> float | None:
        options = self._options(question)
        return options.minimum if options else None

    def get_maximum(self, question) -> float | None:
        options = self._options(question)
        return options.maximum if options else None


class SurveySerializer(serializers.ModelSerializer):
    """A survey for a learner: ``my_response`` is the id of their response, or ``null``."""

    about = AboutSerializer(source="lms_target")
    questions = QuestionSerializer(many=True, source="ordered_questions")
    is_open = serializers.SerializerMethodField()
    closed_reason = serializers.SerializerMethodField()
    my_response = serializers.SerializerMethodField()

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "description",
            "about",
            "is_open",
            "closed_reason",
            "need_logged_user",
            "editable_answers",
            "publish_date",
            "expire_date",
            "my_response",
            "questions",
        ]

    def get_is_open(self, survey) -> bool:
        return closed_reason(survey) is None

    def get_closed_reason(self, survey) -> str | None:
        return closed_reason(survey)

    def get_my_response(self, survey) -> int | None:
        return self.context.get("my_response")


class SubmitSerializer(serializers.Serializer):
    """``{"answers": {"<question id>": value}}``: text, a number, an ISO date, a choice (its value or label), or
    a list of choices for multiple selects. Questions left out are unanswered."""

    answers = serializers.DictField(child=serializers.JSONField(), allow_empty=True)


class ResponseSerializer(serializers.ModelSerializer):
    survey = serializers.IntegerField(source="survey_id")
    about = AboutSerializer(source="target")
    editable = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "survey",
            "about",
            "created",
            "updated",
            "editable",
            "cohort_key",
            "enrollment_status",
            "progress_state",
            "progress_percent",
            "answers",
        ]

    def get_editable(self, response) -> bool:
        return bool(response.survey.editable_answers and closed_reason(response.survey) is None)

    def get_answers(self, response) -> dict:
        return answer_values(response.answers.all())


class PendingSerializer(serializers.Serializer):
    survey = serializers.IntegerField(source="target.survey_id")
    name = serializers.CharField(source="target.survey.name")
    about = AboutSerializer(source="target")
    offered_at = serializers.DateTimeField(source="created_at")
