"""The one way to check that a learner may answer a survey, validate their answers and save them.

The REST API and the learner pages call these. Answers are validated by django-survey-and-report's own
``ResponseForm`` (required questions, choices, integers, floats, dates, multiple selects and their maximum), plus
the ranges of :class:`~lms_surveys.models.QuestionOptions`; they are stored the way the package's form stores them,
so its admin and exporters read ours.
"""

from __future__ import annotations

import ast
import datetime
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from survey.forms import ResponseForm
from survey.models import Question, Response, Survey
from survey.signals import survey_completed

from . import signals
from .conf import app_settings
from .exceptions import AlreadyAnswered, InvalidAnswers, LoginRequired, NotEditable, NotEnrolled, SurveyClosed
from .models import ContentSurvey, QuestionOptions, Scope, SurveyAnswer, SurveyResponse
from .models.answers import CHOICE_TYPES, NUMERIC_TYPES
from .models.targets import core_installed

__all__ = [
    "LearnerContext",
    "answer_values",
    "closed_reason",
    "edit_response",
    "learner_context",
    "submit_response",
    "validate_answers",
]

MULTIPLE = Question.SELECT_MULTIPLE


# -- open or closed -----------------------------------------------------------------------------------------


def _as_date(value):
    """The package's date fields default to ``now()``: a datetime until the row is read back."""
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def closed_reason(survey: Survey, today: datetime.date | None = None) -> str | None:
    """Why ``survey`` refuses answers today, or ``None`` when it is open."""
    today = today or timezone.localdate()
    publish, expire = _as_date(survey.publish_date), _as_date(survey.expire_date)
    if not survey.is_published:
        return _("This survey is not published.")
    if publish and publish > today:
        return _("This survey opens on %(date)s.") % {"date": formats.date_format(publish)}
    if expire and expire < today:
        return _("This survey closed on %(date)s.") % {"date": formats.date_format(expire)}
    return None


def ensure_open(survey: Survey) -> None:
    reason = closed_reason(survey)
    if reason:
        raise SurveyClosed(reason)


# -- who may answer -----------------------------------------------------------------------------------------


@dataclass
class LearnerContext:
    """Where the learner stands in the survey's course when they answer (empty without lms_core)."""

    enrollment: object | None = None
    progress: object | None = None
    cohort_key: str = ""
    enrollment_status: str = ""
    progress_state: str = ""
    progress_percent: int | None = None


def _current_enrollment(user, target: ContentSurvey):
    from lms_core.models import Enrollment, EnrollmentStatus

    try:
        course_id = int(target.course_key)
    except ValueError:
        return None
    return (
        Enrollment.objects.filter(user=user, cohort__course_id=course_id)
        .exclude(status=EnrollmentStatus.DROPPED)
        .select_related("cohort")
        .order_by("-started_at", "-pk")
        .first()
    )


def learner_context(user, target: ContentSurvey, *, preview: bool = False) -> LearnerContext:
    """Check that ``user`` may answer ``target``'s survey and say where they stand.

    Raises :class:`LoginRequired` for anonymous users where the survey (or the enrollment rule) needs a login,
    :class:`NotEnrolled` when lms_core is installed and the learner has no current enrollment in the course.
    ``preview=True`` lets staff look at a survey they cannot answer.
    """
    needs_enrollment = core_installed() and app_settings.REQUIRE_ENROLLMENT
    if not user.is_authenticated:
        if target.survey.need_logged_user or needs_enrollment:
            raise LoginRequired()
        return LearnerContext()
    if not core_installed():
        return LearnerContext()
    enrollment = _current_enrollment(user, target)
    if enrollment is None:
        if needs_enrollment and not (preview and user.is_staff):
            raise NotEnrolled()
        return LearnerContext()
    context = LearnerContext(
        enrollment=enrollment, cohort_key=str(enrollment.cohort_id), enrollment_status=enrollment.status
    )
    if target.scope == Scope.CONTENT:
        from lms_core.models import Progress

        progress = Progress.objects.filter(enrollment=enrollment, content_id=int(target.key)).first()
        if progress is not None:
            context.progress = progress
            context.progress_state = progress.state
            context.progress_percent = progress.percent
    return context


# -- validation ---------------------------------------------------------------------------------------------


def _questions(survey: Survey) -> list[Question]:
    return list(survey.questions.select_related("lms_options").order_by("order", "id"))


def _options(question: Question) -> QuestionOptions | None:
    try:
        return question.lms_options
    except QuestionOptions.DoesNotExist:
        return None


def _choice_value(question: Question, value: str) -> str:
    """Clients may send a choice's value (the package's slug) or its label; the form wants the value."""
    for slug, label in question.get_choices():
        if value == label:
            return slug
    return value


def _form_value(question: Question, value, errors: dict) -> list[str] | None:
    """The raw JSON value as the package's form reads it from POST data, or ``None`` after an error."""
    if value is None:
        return []
    if question.type == MULTIPLE:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            errors[str(question.pk)] = [_("Send a list of choices.")]
            return None
        return [_choice_value(question, item) for item in value]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[str(question.pk)] = [_("Send a single value (text or number).")]
        return None
    value = str(value)
    if question.type in CHOICE_TYPES:
        value = _choice_value(question, value)
    return [value]


def _plain(number: float):
    """5.0 reads as 5 in messages."""
    return int(number) if float(number).is_integer() else number


def _check_range(question: Question, value, errors: dict) -> None:
    options = _options(question)
    if options is None or value is None or question.type not in NUMERIC_TYPES:
        return
    if options.minimum is not None and value < options.minimum:
        errors.setdefault(str(question.pk), []).append(
            _("Give a number of at least %(minimum)s.")
            % {"minimum": formats.number_format(_plain(options.minimum))}
        )
    if options.maximum is not None and value > options.maximum:
        errors.setdefault(str(question.pk), []).append(
            _("Give a number of at most %(maximum)s.")
            % {"maximum": formats.number_format(_plain(options.maximum))}
        )


def validate_answers(survey: Survey, user, answers) -> dict[Question, object]:
    """Validate ``{question id: value}`` for every question type; return the non-empty cleaned values.

    Raises :class:`InvalidAnswers` with ``{"answers": {question id: [messages]}}``.
    """
    if not isinstance(answers, dict):
        raise InvalidAnswers({"answers": [_("Send the answers as an object: {question id: answer}.")]})
    questions = _questions(survey)
    by_id = {str(question.pk): question for question in questions}
    errors: dict[str, list[str]] = {}
    for key in answers:
        if str(key) not in by_id:
            errors[str(key)] = [_("This survey has no such question.")]
    data = MultiValueDict()
    for key, value in answers.items():
        question = by_id.get(str(key))
        if question is not None:
            form_value = _form_value(question, value, errors)
            if form_value is not None:
                data.setlist(f"question_{question.pk}", form_value)
    if errors:
        raise InvalidAnswers({"answers": errors})
    form = ResponseForm(data=data, survey=survey, user=user)
    if not form.is_valid():
        for name, messages in form.errors.items():
            errors[name.removeprefix("question_")] = list(messages)
    cleaned = {}
    for question in questions:
        value = form.cleaned_data.get(f"question_{question.pk}")
        _check_range(question, value, errors)
        if value not in (None, "", []):
            cleaned[question] = value
    if errors:
        raise InvalidAnswers({"answers": errors})
    return cleaned


# -- storage ------------------------------------------------------------------------------------------------


def _body(value) -> str:
    """As the package's form stores it: lists as their repr, dates in ISO format, the rest as text."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def rating_for(question: Question, value) -> float | None:
    options = _options(question)
    if options is None or not options.is_scale:
        return None
    if question.type in NUMERIC_TYPES:
        return float(value)
    if question.type in CHOICE_TYPES:
        slugs = [slug for slug, _label in question.get_choices()]
        return float(slugs.index(value) + 1) if value in slugs else None
    return None


def _write_answers(response: Response, cleaned: dict, existing: dict[int, SurveyAnswer]) -> None:
    for question, value in cleaned.items():
        answer = existing.pop(question.pk, None)
        if answer is None:
            answer = SurveyAnswer(question=question)  # body set after: the package checks labels, not values
            answer.response = response
        answer.body = _body(value)
        answer.rating = rating_for(question, value)
        answer.save()
    for answer in existing.values():  # questions left blank this time
        answer.delete()


def _announce(response: SurveyResponse, cleaned: dict, created: bool) -> None:
    data = {
        "survey_id": response.survey_id,
        "interview_uuid": response.interview_uuid,
        "responses": [(question.pk, _body(value)) for question, value in cleaned.items()],
    }

    def send():
        survey_completed.send(sender=Response, instance=response, data=data)
        signals.survey_answered.send(sender=SurveyResponse, response=response, created=created)

    transaction.on_commit(send)


def _already_answered(target: ContentSurvey) -> AlreadyAnswered:
    if target.survey.editable_answers:
        return AlreadyAnswered(_("You already answered this survey; change your response instead."))
    return AlreadyAnswered()


def submit_response(target: ContentSurvey, user, answers) -> SurveyResponse:
    """Validate and save a learner's answers to ``target``'s survey (one response per learner)."""
    survey = target.survey
    ensure_open(survey)
    context = learner_context(user, target)
    learner = user if user.is_authenticated else None
    if learner is not None and SurveyResponse.objects.filter(target=target, learner=learner).exists():
        raise _already_answered(target)
    cleaned = validate_answers(survey, user, answers)
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey=survey,
                user=learner,
                learner=learner,
                interview_uuid=uuid.uuid4().hex,
                target=target,
                content_key=target.key if target.scope == Scope.CONTENT else "",
                course_key=target.course_key,
                cohort_key=context.cohort_key,
                enrollment_status=context.enrollment_status,
                progress_state=context.progress_state,
                progress_percent=context.progress_percent,
            )
            _write_answers(response, cleaned, {})
            _announce(response, cleaned, created=True)
    except IntegrityError:
        # Two submissions raced past the check above; the database kept the first.
        if learner is not None and SurveyResponse.objects.filter(target=target, learner=learner).exists():
            raise _already_answered(target) from None
        raise
    return response


def edit_response(response: SurveyResponse, user, answers) -> SurveyResponse:
    """Replace the answers of the learner's own response, where the survey allows editable answers."""
    target = response.target
    survey = target.survey
    if not survey.editable_answers:
        raise NotEditable()
    ensure_open(survey)
    learner_context(user, target)
    cleaned = validate_answers(survey, user, answers)
    with transaction.atomic():
        response = SurveyResponse.objects.select_for_update().get(pk=response.pk)
        existing = {
            answer.question_id: answer for answer in SurveyAnswer.objects.filter(response_id=response.pk)
        }
        _write_answers(response, cleaned, existing)
        response.save(update_fields=["updated"])
        _announce(response, cleaned, created=False)
    return response


# -- reading answers back -----------------------------------------------------------------------------------


def parse_body(question: Question, body: str | None):
    """An answer's stored text back to its JSON value (a list for multiple selects, numbers as numbers)."""
    if body is None:
        return None
    if question.type == MULTIPLE:
        try:
            value = ast.literal_eval(body)
        except (ValueError, SyntaxError):
            return [body]
        return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]
    if question.type == Question.INTEGER:
        try:
            return int(body)
        except ValueError:
            return body
    if question.type == Question.FLOAT:
        try:
            return float(body)
        except ValueError:
            return body
    return body


def answer_values(answers) -> dict[str, object]:
    """``{question id: value}`` for answers whose ``question`` is loaded."""
    return {str(answer.question_id): parse_body(answer.question, answer.body) for answer in answers}
