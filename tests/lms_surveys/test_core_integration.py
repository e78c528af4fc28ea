"""With lms_core installed: the real link to contents and courses, enrollment as the rule for answering, where
the learner stood when answering, and invitations after completing a content or a course (lms_core's signals).
Skipped in ``surveys_only``; they run in the full project."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.urls import reverse

from lms_surveys.models import ContentSurvey, Scope, SurveyInvitation, SurveyResponse
from lms_surveys.testing.factories import attach, make_survey

from .conftest import CORE, needs_core, valid_answers

pytestmark = needs_core

if CORE:
    from lms_core.models import EnrollmentStatus, LearningContent
    from lms_core.services import record_progress
    from lms_core.testing.factories import make_enrollment


def submit(world, user, **overrides):
    url = reverse("lms_surveys:api-survey-responses", args=[world.survey.pk])
    return world.client(user).post(url, {"answers": valid_answers(world.survey, **overrides)}, format="json")


def test_the_attachment_is_a_real_link_to_the_content(world):
    content = world.core["content"]
    assert world.target.target == content
    assert world.target.target_type == ContentType.objects.get_for_model(LearningContent)
    assert world.target.course_key == str(content.course_id)
    assert world.target.title == content.title
    course_survey = attach(make_survey("End of course"), world.core["course"])
    assert course_survey.scope == Scope.COURSE and course_survey.target == world.core["course"]
    with pytest.raises(ValidationError) as caught:
        ContentSurvey(survey=make_survey("Lost"), scope=Scope.CONTENT, key="999999").full_clean()
    assert "No learning content has the id" in str(caught.value)
    with pytest.raises(ValidationError):
        ContentSurvey(survey=make_survey("Plain"), scope=Scope.CONTENT, key="numpy-basics").full_clean()


def test_only_enrolled_learners_answer(world, django_user_model):
    stranger = django_user_model.objects.create_user(username="stranger", password="pw")
    response = submit(world, stranger)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only learners enrolled in this course can answer its surveys."
    assert (
        world.client(stranger)
        .get(reverse("lms_surveys:api-content-survey", args=[world.target.key]))
        .status_code
        == 403
    )
    dropped = world.core["enrollments"][1]
    dropped.status = EnrollmentStatus.DROPPED
    dropped.save()
    assert submit(world, world.other).status_code == 403
    # Staff may look at the survey without being enrolled, but not answer it.
    assert (
        world.client(world.staff)
        .get(reverse("lms_surveys:api-content-survey", args=[world.target.key]))
        .status_code
        == 200
    )
    assert submit(world, world.staff).status_code == 403
    assert SurveyResponse.objects.count() == 0


def test_the_response_records_cohort_enrollment_status_and_progress(world):
    record_progress(world.learner, world.core["content"], percent=60)
    body = submit(world, world.learner).json()
    assert body["cohort_key"] == str(world.core["cohort"].pk)
    assert (body["enrollment_status"], body["progress_state"], body["progress_percent"]) == (
        "active",
        "in_progress",
        60,
    )
    stored = SurveyResponse.objects.get()
    assert stored.content_key == str(world.core["content"].pk)
    assert stored.course_key == str(world.core["course"].pk)


def test_completing_a_content_offers_its_survey_until_answered(world, django_capture_on_commit_callbacks):
    pending_url = reverse("lms_surveys:api-my-pending")
    client = world.client(world.learner)
    assert client.get(pending_url).json() == []
    with django_capture_on_commit_callbacks(execute=True):
        record_progress(world.learner, world.core["content"], completed=True)
    pending = client.get(pending_url).json()
    assert [(row["survey"], row["about"]["key"]) for row in pending] == [(world.survey.pk, world.target.key)]
    # Completing again (or another content without a survey) offers nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        record_progress(world.learner, world.core["content"], completed=True)
    assert SurveyInvitation.objects.count() == 1
    assert world.client(world.other).get(pending_url).json() == []
    assert submit(world, world.learner).status_code == 201
    assert client.get(pending_url).json() == []


def test_completing_the_course_offers_the_course_survey(world, django_capture_on_commit_callbacks):
    course_target = attach(make_survey("End of course"), world.core["course"])
    with django_capture_on_commit_callbacks(execute=True):
        for content in world.core["course"].contents.all():
            record_progress(world.learner, content, completed=True)
    offered = set(SurveyInvitation.objects.filter(user=world.learner).values_list("target_id", flat=True))
    assert offered == {world.target.pk, course_target.pk}


def test_invitations_can_be_switched_off(world, settings, django_capture_on_commit_callbacks):
    settings.LMS_SURVEYS = {"INVITE_ON_COMPLETION": False}
    with django_capture_on_commit_callbacks(execute=True):
        record_progress(world.learner, world.core["content"], completed=True)
    assert SurveyInvitation.objects.count() == 0


def test_enrollment_rule_can_be_switched_off(world, settings, django_user_model):
    settings.LMS_SURVEYS = {"REQUIRE_ENROLLMENT": False}
    stranger = django_user_model.objects.create_user(username="stranger", password="pw")
    assert submit(world, stranger).status_code == 201
    assert SurveyResponse.objects.get().cohort_key == ""


def test_a_learner_enrolled_in_two_cohorts_answers_for_the_latest(world):
    from datetime import timedelta

    from lms_core.testing.factories import make_cohort

    later = make_cohort(world.core["course"], starts_at=world.core["cohort"].starts_at + timedelta(days=1))
    make_enrollment(world.learner, later)
    assert submit(world, world.learner).json()["cohort_key"] == str(later.pk)
