"""Every question type the package supports, validated by its own form plus our ranges; each bad answer gets a
message on its question, and nothing is saved."""

import pytest
from django.urls import reverse
from survey.models import Answer, Question, Response

from lms_surveys.exceptions import InvalidAnswers
from lms_surveys.services import validate_answers
from lms_surveys.testing.factories import make_question, make_survey

from .conftest import valid_answers


def errors_of(survey, user, answers) -> dict:
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers(survey, user, answers)
    return {key: [str(m) for m in messages] for key, messages in caught.value.detail["answers"].items()}


def test_a_complete_valid_set_is_cleaned_to_typed_values(world):
    q = world.survey.q
    cleaned = {
        question.pk: value
        for question, value in validate_answers(
            world.survey, world.learner, valid_answers(world.survey)
        ).items()
    }
    assert cleaned[q["rating"].pk] == 4
    assert cleaned[q["pace"].pk] == "right"
    assert cleaned[q["topics"].pk] == ["video", "code-cells"]
    assert cleaned[q["hours"].pk] == 2.5
    assert str(cleaned[q["date"].pk]) == "2026-11-20"


def test_required_questions(world):
    q = world.survey.q
    answers = valid_answers(world.survey, rating=None, pace=None)
    errors = errors_of(world.survey, world.learner, answers)
    assert set(errors) == {str(q["rating"].pk), str(q["pace"].pk)}
    assert "required" in errors[str(q["pace"].pk)][0]


def test_optional_questions_may_be_left_out(world):
    q = world.survey.q
    cleaned = validate_answers(
        world.survey, world.learner, {str(q["rating"].pk): 3, str(q["pace"].pk): "right"}
    )
    assert {question.pk for question in cleaned} == {q["rating"].pk, q["pace"].pk}


@pytest.mark.parametrize("value", ["fast", "Too slow!", ""])
def test_radio_refuses_unknown_choices(world, value):
    q = world.survey.q
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, pace=value))
    assert str(q["pace"].pk) in errors


def test_choices_accept_their_label_as_well_as_their_value(world):
    q = world.survey.q
    cleaned = validate_answers(
        world.survey, world.learner, valid_answers(world.survey, pace="Too fast", topics=["Exercises"])
    )
    by_pk = {question.pk: value for question, value in cleaned.items()}
    assert by_pk[q["pace"].pk] == "too-fast"
    assert by_pk[q["topics"].pk] == ["exercises"]


def test_select_refuses_unknown_choice(world):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, clarity="superb"))
    assert "not one of the available choices" in errors[str(world.survey.q["clarity"].pk)][0]


@pytest.mark.parametrize("value", ["four", "4.5", True, [4]])
def test_integer_refuses_what_is_not_a_whole_number(world, value):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, rating=value))
    assert str(world.survey.q["rating"].pk) in errors


@pytest.mark.parametrize(("value", "message"), [(0, "at least 1."), (6, "at most 5.")])
def test_integer_range(world, value, message):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, rating=value))
    assert errors[str(world.survey.q["rating"].pk)] == [f"Give a number of {message}"]


@pytest.mark.parametrize("value", ["lots", "nan", "inf"])
def test_float_refuses_what_is_not_a_finite_number(world, value):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, hours=value))
    assert str(world.survey.q["hours"].pk) in errors


@pytest.mark.parametrize(("value", "message"), [(-0.5, "at least 0"), (40.5, "at most 40")])
def test_float_range(world, value, message):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, hours=value))
    assert message in errors[str(world.survey.q["hours"].pk)][0]


def test_float_range_edges_are_allowed(world):
    validate_answers(world.survey, world.learner, valid_answers(world.survey, hours=0, rating=5))
    validate_answers(world.survey, world.learner, valid_answers(world.survey, hours=40.0, rating=1))


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday", "20/11/2026x"])
def test_dates(world, value):
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, date=value))
    assert "valid date" in errors[str(world.survey.q["date"].pk)][0]


def test_multiple_select_refuses_unknown_items_and_non_lists(world):
    key = str(world.survey.q["topics"].pk)
    assert key in errors_of(
        world.survey, world.learner, valid_answers(world.survey, topics=["video", "slides"])
    )
    assert errors_of(world.survey, world.learner, valid_answers(world.survey, topics={"video": True}))[
        key
    ] == ["Send a list of choices."]
    assert key in errors_of(world.survey, world.learner, valid_answers(world.survey, topics=[1, 2]))


def test_multiple_select_maximum_choices(world):
    question = make_question(
        world.survey, Question.SELECT_MULTIPLE, "Pick two", choices=["a", "b", "c"], maximum_choices=2
    )
    answers = valid_answers(world.survey)
    answers[str(question.pk)] = ["a", "b", "c"]
    assert "at most 2" in errors_of(world.survey, world.learner, answers)[str(question.pk)][0]
    answers[str(question.pk)] = ["a", "c"]
    validate_answers(world.survey, world.learner, answers)


def test_unknown_questions_and_bad_shapes(world):
    other_survey = make_survey("Another")
    answers = valid_answers(world.survey)
    answers[str(other_survey.q["rating"].pk)] = 3
    answers["not-a-number"] = "x"
    errors = errors_of(world.survey, world.learner, answers)
    assert errors[str(other_survey.q["rating"].pk)] == ["This survey has no such question."]
    assert errors["not-a-number"] == ["This survey has no such question."]
    with pytest.raises(InvalidAnswers):
        validate_answers(world.survey, world.learner, ["4", "right"])
    errors = errors_of(world.survey, world.learner, valid_answers(world.survey, comment={"nested": "object"}))
    assert errors[str(world.survey.q["comment"].pk)] == ["Send a single value (text or number)."]


def test_the_api_answers_400_with_messages_per_question_and_saves_nothing(world):
    q = world.survey.q
    url = reverse("lms_surveys:api-survey-responses", args=[world.survey.pk])
    answers = valid_answers(world.survey, rating=9, pace="sideways", date="someday")
    response = world.client(world.learner).post(url, {"answers": answers}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["answers"]) == {str(q["rating"].pk), str(q["pace"].pk), str(q["date"].pk)}
    assert Response.objects.count() == 0 and Answer.objects.count() == 0
    # A payload without "answers", or not JSON at all.
    assert world.client(world.learner).post(url, {"reply": {}}, format="json").status_code == 400
    bad = world.client(world.learner).post(url, "{not json", content_type="application/json")
    assert bad.status_code == 400


def test_messages_are_shipped_in_korean(world):
    from django.utils import translation

    with translation.override("ko"):
        errors = errors_of(world.survey, world.learner, valid_answers(world.survey, rating=9))
        assert errors[str(world.survey.q["rating"].pk)] == ["5 이하의 숫자를 입력하세요."]
        from lms_surveys.exceptions import LoginRequired

        assert str(LoginRequired().detail) == "이 설문에 응답하려면 로그인하세요."


def test_select_image_questions(world):
    question = make_question(
        world.survey,
        Question.SELECT_IMAGE,
        "Which plot is right?",
        required=True,
        choices=["plot-a.png", "plot-b.png"],
    )
    answers = valid_answers(world.survey)
    answers[str(question.pk)] = "plot-c.png"
    assert str(question.pk) in errors_of(world.survey, world.learner, answers)
    answers[str(question.pk)] = "plot-b.png"  # by label
    cleaned = {q.pk: value for q, value in validate_answers(world.survey, world.learner, answers).items()}
    value_of = {label: value for value, label in question.get_choices()}
    assert cleaned[question.pk] == value_of["plot-b.png"]
