"""The learner's REST API through real requests: the survey for a content, submitting, my responses, editing,
and the rules (login, one response per learner, closed and unpublished surveys, another learner's response)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from survey.models import Answer, Response
from survey.signals import survey_completed

from lms_surveys import signals
from lms_surveys.models import SurveyAnswer, SurveyResponse
from lms_surveys.services import submit_response
from lms_surveys.testing.factories import attach, make_survey

from .conftest import valid_answers, without_core


def content_url(world):
    return reverse("lms_surveys:api-content-survey", args=[world.target.key])


def submit_url(world):
    return reverse("lms_surveys:api-survey-responses", args=[world.survey.pk])


def mine_url(pk=None):
    if pk is None:
        return reverse("lms_surveys:api-my-responses")
    return reverse("lms_surveys:api-my-response", args=[pk])


def submit(world, user, **overrides):
    return world.client(user).post(
        submit_url(world), {"answers": valid_answers(world.survey, **overrides)}, format="json"
    )


def test_the_survey_for_a_content_lists_questions_types_choices_and_whether_i_answered(world):
    client = world.client(world.learner)
    body = client.get(content_url(world)).json()
    assert body["id"] == world.survey.pk
    assert body["about"]["scope"] == "content" and body["about"]["key"] == world.target.key
    assert body["is_open"] is True and body["closed_reason"] is None
    assert body["my_response"] is None
    by_text = {q["text"]: q for q in body["questions"]}
    assert [q["type"] for q in body["questions"]] == [
        "integer",
        "radio",
        "select",
        "select-multiple",
        "float",
        "date",
        "text",
        "short-text",
    ]
    rating = by_text["How useful was this lesson? (1-5)"]
    assert rating["required"] is True and rating["is_scale"] is True
    assert (rating["minimum"], rating["maximum"]) == (1, 5)
    assert by_text["The pace was"]["choices"] == [
        {"value": "too-slow", "label": "Too slow"},
        {"value": "right", "label": "Right"},
        {"value": "too-fast", "label": "Too fast"},
    ]
    created = submit(world, world.learner)
    assert created.status_code == 201
    assert client.get(content_url(world)).json()["my_response"] == created.json()["id"]
    # The same survey by its id.
    by_id = client.get(reverse("lms_surveys:api-survey", args=[world.survey.pk])).json()
    assert by_id["my_response"] == created.json()["id"]


def test_a_content_without_a_survey_is_404(world):
    response = world.client(world.learner).get(
        reverse("lms_surveys:api-content-survey", args=["nothing-here"])
    )
    assert response.status_code == 404


def test_submitting_stores_the_package_rows_our_data_and_sends_both_signals(
    world, django_capture_on_commit_callbacks
):
    received = []
    signals.survey_answered.connect(
        lambda sender, **kw: received.append(("ours", kw["created"])), weak=False, dispatch_uid="t1"
    )
    survey_completed.connect(
        lambda sender, **kw: received.append(("package", kw["data"]["survey_id"])),
        weak=False,
        dispatch_uid="t2",
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = submit(world, world.learner)
    finally:
        signals.survey_answered.disconnect(dispatch_uid="t1")
        survey_completed.disconnect(dispatch_uid="t2")
    assert response.status_code == 201, response.content
    body = response.json()
    q = world.survey.q
    assert body["answers"][str(q["topics"].pk)] == ["video", "code-cells"]
    assert body["answers"][str(q["rating"].pk)] == 4
    assert body["editable"] is True
    stored = SurveyResponse.objects.get()
    assert stored.user == stored.learner == world.learner
    assert stored.target == world.target and stored.survey == world.survey
    # The package's own rows, as its form would have written them.
    assert Response.objects.get().pk == stored.pk
    bodies = dict(Answer.objects.values_list("question_id", "body"))
    assert bodies[q["pace"].pk] == "right"
    assert bodies[q["topics"].pk] == "['video', 'code-cells']"
    assert bodies[q["date"].pk] == "2026-11-20"
    # Ratings: the integer scale as given, the select scale by the position of its choice ("Good" is 3rd).
    ratings = dict(SurveyAnswer.objects.exclude(rating=None).values_list("question_id", "rating"))
    assert ratings == {q["rating"].pk: 4.0, q["clarity"].pk: 3.0}
    assert received == [("package", world.survey.pk), ("ours", True)]


def test_one_response_per_learner(world):
    assert submit(world, world.learner).status_code == 201
    again = submit(world, world.learner, rating=1)
    assert again.status_code == 409
    assert "already answered" in again.json()["detail"]
    assert SurveyResponse.objects.count() == 1
    assert SurveyAnswer.objects.get(question=world.survey.q["rating"]).body == "4"
    # Another learner answers on their own.
    assert submit(world, world.other).status_code == 201


def test_the_database_keeps_one_response_per_learner_even_past_the_check(world):
    submit_response(world.target, world.learner, valid_answers(world.survey))
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(
            survey=world.survey,
            user=world.learner,
            learner=world.learner,
            interview_uuid="x",
            target=world.target,
        )


def test_my_responses_and_editing(world):
    created = submit(world, world.learner).json()
    submit(world, world.other, comment="Other learner's")
    client = world.client(world.learner)
    listed = client.get(mine_url()).json()
    assert [row["id"] for row in listed["results"]] == [created["id"]]
    q = world.survey.q
    changed = client.put(
        mine_url(created["id"]),
        {"answers": valid_answers(world.survey, rating=2, comment=None)},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    answers = changed.json()["answers"]
    assert answers[str(q["rating"].pk)] == 2
    assert str(q["comment"].pk) not in answers  # left blank this time: the old answer is gone
    assert SurveyAnswer.objects.get(response_id=created["id"], question=q["rating"]).rating == 2.0
    assert SurveyResponse.objects.count() == 2
    # Invalid edits change nothing.
    bad = client.put(
        mine_url(created["id"]), {"answers": valid_answers(world.survey, rating=99)}, format="json"
    )
    assert bad.status_code == 400
    assert client.get(mine_url(created["id"])).json()["answers"][str(q["rating"].pk)] == 2


def test_another_learners_response_is_404(world):
    theirs = submit(world, world.other).json()["id"]
    client = world.client(world.learner)
    assert client.get(mine_url(theirs)).status_code == 404
    put = client.put(mine_url(theirs), {"answers": valid_answers(world.survey, rating=1)}, format="json")
    assert put.status_code == 404
    assert SurveyAnswer.objects.get(response_id=theirs, question=world.survey.q["rating"]).body == "4"
    assert world.client().get(mine_url()).status_code in (401, 403)


def test_editing_is_refused_when_the_survey_does_not_allow_it(world):
    world.survey.editable_answers = False
    world.survey.save()
    created = submit(world, world.learner).json()
    assert created["editable"] is False
    put = world.client(world.learner).put(
        mine_url(created["id"]), {"answers": valid_answers(world.survey, rating=1)}, format="json"
    )
    assert put.status_code == 403
    assert put.json()["detail"] == "This survey does not let you change your answers."
    again = submit(world, world.learner)
    assert again.status_code == 409 and again.json()["detail"] == "You already answered this survey."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expire_date": -1}, "This survey closed on"),
        ({"publish_date": 2, "expire_date": 5}, "This survey opens on"),
        ({"is_published": False}, "This survey is not published."),
    ],
)
def test_closed_or_unpublished_surveys_refuse_answers_with_a_clear_message(world, change, message):
    today = timezone.localdate()
    for name, value in change.items():
        setattr(world.survey, name, today + timedelta(days=value) if name.endswith("date") else value)
    world.survey.save()
    response = submit(world, world.staff if "is_published" in change else world.learner)
    assert response.status_code == 403
    assert response.json()["detail"].startswith(message)
    assert SurveyResponse.objects.count() == 0
    if "is_published" not in change:
        shown = world.client(world.learner).get(content_url(world)).json()
        assert shown["is_open"] is False and shown["closed_reason"].startswith(message)


def test_unpublished_surveys_are_hidden_from_learners(world):
    world.survey.is_published = False
    world.survey.save()
    assert world.client(world.learner).get(content_url(world)).status_code == 404
    assert submit(world, world.learner).status_code == 404
    assert world.client(world.staff).get(content_url(world)).status_code == 200


def test_closing_refuses_edits_too(world):
    created = submit(world, world.learner).json()
    world.survey.expire_date = timezone.localdate() - timedelta(days=1)
    world.survey.save()
    put = world.client(world.learner).put(
        mine_url(created["id"]), {"answers": valid_answers(world.survey)}, format="json"
    )
    assert put.status_code == 403 and put.json()["detail"].startswith("This survey closed on")


def test_surveys_that_need_a_login_refuse_anonymous_answers(world):
    response = world.client().post(submit_url(world), {"answers": valid_answers(world.survey)}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Log in to answer this survey."
    assert world.client().get(content_url(world)).status_code == 403


@without_core
def test_without_lms_core_anonymous_answers_are_taken_where_the_survey_allows_them(world):
    world.survey.need_logged_user = False
    world.survey.save()
    first = world.client().post(submit_url(world), {"answers": valid_answers(world.survey)}, format="json")
    second = world.client().post(submit_url(world), {"answers": valid_answers(world.survey)}, format="json")
    assert first.status_code == second.status_code == 201
    assert SurveyResponse.objects.filter(learner=None).count() == 2


@without_core
def test_without_lms_core_the_response_has_the_plain_keys(world):
    created = submit(world, world.learner).json()
    assert created["about"] == {
        "scope": "content",
        "key": "numpy-basics",
        "title": "NumPy basics",
        "course_key": "ai-basics",
    }
    stored = SurveyResponse.objects.get()
    assert (stored.content_key, stored.course_key, stored.cohort_key) == ("numpy-basics", "ai-basics", "")
    assert stored.enrollment_status == "" and stored.progress_percent is None
    assert world.target.target_type is None


def test_learner_endpoints_run_a_constant_number_of_queries(world):
    client = world.client(world.learner)

    def counts():
        found = []
        for url in (content_url(world), mine_url()):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    submit(world, world.learner)
    small = counts()
    for n in range(3):  # more surveys answered, each with every question type
        survey = make_survey(f"More {n}")
        if world.core:
            from lms_core.testing.factories import make_content

            target = attach(survey, make_content(world.core["course"]))
        else:
            target = attach(survey, key=f"more-{n}", course_key="ai-basics")
        submit_response(target, world.learner, valid_answers(survey))
    assert counts() == small


def test_the_course_survey_endpoint_and_deleting_surveys(world):
    from django.db.models import ProtectedError
    from survey.models import Survey

    from lms_surveys.models import ContentSurvey

    course_survey = make_survey("End of course")
    if world.core:
        attach(course_survey, world.core["course"])
        key = str(world.core["course"].pk)
    else:
        key = "ai-basics"
        attach(course_survey, scope="course", key=key)
    body = world.client(world.learner).get(reverse("lms_surveys:api-course-survey", args=[key])).json()
    assert body["id"] == course_survey.pk and body["about"]["scope"] == "course"
    # A survey with answers is kept (unpublish it instead); one without goes with its attachment.
    submit(world, world.learner)
    with pytest.raises(ProtectedError):
        world.survey.delete()
    assert SurveyResponse.objects.count() == 1 and SurveyAnswer.objects.count() == 8
    course_survey.delete()
    assert not Survey.objects.filter(pk=course_survey.pk).exists()
    assert not ContentSurvey.objects.filter(survey_id=course_survey.pk).exists()


def test_the_list_of_surveys_about_a_content_is_empty_rather_than_a_404(client, django_user_model):
    from django.urls import reverse

    url = reverse("lms_surveys:api-content-surveys", kwargs={"key": "no-such-content"})
    client.force_login(django_user_model.objects.create_user("someone"))
    response = client.get(url)
    assert response.status_code == 200 and response.json() == []
