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


# -- report shapes (documentation for the schema; the views return lms_surveys.reports' dicts) --------------


class DistributionRowSerializer(serializers.Serializer):
    value = serializers.FloatField()
    label = serializers.CharField(required=False)
    count = serializers.IntegerField()


class RatingSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    distribution = DistributionRowSerializer(many=True)


class ChoiceCountSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class NumbersSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)


class ValueCountSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()


class QuestionReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    is_scale = serializers.BooleanField()
    answered = serializers.IntegerField()
    rating = RatingSerializer(allow_null=True)
    choices = ChoiceCountSerializer(many=True, allow_null=True)
    numbers = NumbersSerializer(allow_null=True)
    values = ValueCountSerializer(many=True, allow_null=True)
    text_answers = serializers.ListField(child=serializers.CharField(), allow_null=True)


class SurveyRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AboutReportSerializer(serializers.Serializer):
    scope = serializers.CharField()
    key = serializers.CharField()
    title = serializers.CharField()
    course_key = serializers.CharField()


class SurveyReportSerializer(serializers.Serializer):
    survey = SurveyRefSerializer()
    about = AboutReportSerializer()
    cohort = serializers.CharField(allow_null=True)
    responses = serializers.IntegerField()
    enrolled = serializers.IntegerField(allow_null=True, help_text="null without lms_core")
    responses_from_enrolled = serializers.IntegerField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    questions = QuestionReportSerializer(many=True)


class CourseTargetRowSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    name = serializers.CharField()
    scope = serializers.CharField()
    key = serializers.CharField()
    title = serializers.CharField()
    responses = serializers.IntegerField()
    responses_from_enrolled = serializers.IntegerField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)
    rating_count = serializers.IntegerField()
    rating_average = serializers.FloatField(allow_null=True)


class CourseTextSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    title = serializers.CharField()
    question = serializers.CharField()
    answer = serializers.CharField()


class CourseReportSerializer(serializers.Serializer):
    course_key = serializers.CharField()
    cohort = serializers.CharField(allow_null=True)
    enrolled = serializers.IntegerField(allow_null=True)
    surveys = serializers.IntegerField()
    responses = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    rating = RatingSerializer()
    targets = CourseTargetRowSerializer(many=True)
    text_answers = CourseTextSerializer(many=True)
