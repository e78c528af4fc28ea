"""The admin (the package's survey editing with our attachment and question options, the report pages with
their chart) and the learner's survey page."""

import pytest
from django.test import Client
from django.urls import reverse
from survey.models import Question, Survey

from lms_surveys.models import ContentSurvey, QuestionOptions, SurveyResponse
from lms_surveys.services import submit_response

from .conftest import CORE, valid_answers


@pytest.fixture
def admin_client_for(world):
    client = Client()
    client.force_login(world.staff)
    return client


def inline_management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_staff_create_a_survey_with_its_attachment_and_a_rating_scale_in_the_admin(world, admin_client_for):
    page = admin_client_for.get(reverse("admin:survey_survey_add"))
    assert page.status_code == 200
    link = (
        {"lms_target-0-link": f"content:{world.core['content'].pk}"}
        if CORE
        else {
            "lms_target-0-scope": "content",
            "lms_target-0-key": "plotting",
            "lms_target-0-course_key": "ai-basics",
            "lms_target-0-title": "Plotting",
        }
    )
    data = {
        "name": "After plotting",
        "description": "Two questions",
        "is_published": "on",
        "need_logged_user": "on",
        "editable_answers": "on",
        "display_method": "0",
        "publish_date": "2026-01-01",
        "expire_date": "2099-01-01",
        **inline_management("lms_target", 1),
        **inline_management("categories", 0),
        **inline_management("questions", 2),
        "questions-0-text": "Rate it",
        "questions-0-order": "1",
        "questions-0-required": "on",
        "questions-0-type": Question.INTEGER,
        "questions-0-is_scale": "on",
        "questions-0-minimum": "1",
        "questions-0-maximum": "5",
        "questions-1-text": "Comments",
        "questions-1-order": "2",
        "questions-1-type": Question.TEXT,
        **link,
    }
    if CORE:  # the plain content exists, so a second survey for it is refused below
        ContentSurvey.objects.filter(pk=world.target.pk).delete()
    response = admin_client_for.post(reverse("admin:survey_survey_add"), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    survey = Survey.objects.get(name="After plotting")
    target = survey.lms_target
    rating = survey.questions.get(text="Rate it")
    assert (rating.lms_options.is_scale, rating.lms_options.minimum, rating.lms_options.maximum) == (
        True,
        1,
        5,
    )
    if CORE:
        assert target.target == world.core["content"] and target.title == world.core["content"].title
    else:
        assert (target.key, target.course_key, target.title) == ("plotting", "ai-basics", "Plotting")
    # A range on a text question is refused with a message.
    data["name"] = "Broken"
    data["questions-1-minimum"] = "3"
    if CORE:
        data["lms_target-0-link"] = f"content:{world.core['course'].contents.last().pk}"
    else:
        data["lms_target-0-key"] = "another"
    refused = admin_client_for.post(reverse("admin:survey_survey_add"), data)
    assert refused.status_code == 200
    assert "Only integer and float questions have a range." in refused.content.decode()
    assert not Survey.objects.filter(name="Broken").exists()
    assert QuestionOptions.objects.filter(question__survey__name="Broken").count() == 0


def test_report_pages_in_the_admin(world, admin_client_for):
    submit_response(world.target, world.learner, valid_answers(world.survey))
    listing = admin_client_for.get(reverse("admin:survey_survey_changelist"))
    assert reverse("admin:lms_surveys_report", args=[world.survey.pk]) in listing.content.decode()
    page = admin_client_for.get(reverse("admin:lms_surveys_report", args=[world.survey.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "lms_surveys/vendor/chart.umd.min.js" in html
    assert 'id="lms-survey-charts"' in html and f'id="chart-{world.survey.q["rating"].pk}"' in html
    assert "More exercises, please." in html
    csv_export = admin_client_for.get(
        reverse("admin:lms_surveys_report", args=[world.survey.pk]) + "?format=csv"
    )
    assert csv_export["Content-Type"].startswith("text/csv")
    course = admin_client_for.get(reverse("admin:lms_surveys_course_report", args=[world.target.course_key]))
    assert course.status_code == 200 and "After NumPy basics" in course.content.decode()
    learner = Client()
    learner.force_login(world.learner)
    assert learner.get(reverse("admin:lms_surveys_report", args=[world.survey.pk])).status_code == 302


def test_the_vendored_chart_library_ships_with_its_licence():
    from pathlib import Path

    import lms_surveys

    vendor = Path(lms_surveys.__file__).parent / "static" / "lms_surveys" / "vendor"
    assert "Chart.js v4" in (vendor / "chart.umd.min.js").read_text()[:200]
    assert (
        "MIT" in (vendor / "chart.js-LICENSE.md").read_text()
        or "Permission is hereby granted" in (vendor / "chart.js-LICENSE.md").read_text()
    )


def page_url(world):
    return reverse("lms_surveys:take", args=[world.survey.pk])


def form_data(world, **overrides):
    data = {}
    for key, value in valid_answers(world.survey, **overrides).items():
        data[f"question_{key}"] = value
    return data


def test_the_learner_page_shows_the_questions_and_takes_answers(world):
    client = Client()
    client.force_login(world.learner)
    page = client.get(page_url(world))
    html = page.content.decode()
    assert page.status_code == 200
    assert "How useful was this lesson? (1-5)" in html and 'type="checkbox"' in html and 'min="1"' in html
    bad = client.post(page_url(world), form_data(world, rating=7))
    assert bad.status_code == 400 and "Give a number of at most 5." in bad.content.decode()
    assert SurveyResponse.objects.count() == 0
    saved = client.post(page_url(world), {**form_data(world), "next": "/"})
    assert saved.status_code == 302 and saved["Location"] == "/"
    stored = SurveyResponse.objects.get()
    assert stored.learner == world.learner
    again = client.get(page_url(world)).content.decode()
    assert "Save my changes" in again and "More exercises, please." in again
    # An off-site "next" is not followed.
    changed = client.post(page_url(world), {**form_data(world, rating=2), "next": "https://evil.example/"})
    assert changed.status_code == 302 and changed["Location"] == page_url(world)
    assert SurveyResponse.objects.count() == 1


def test_the_learner_page_says_why_it_refuses(world):
    anonymous = Client().get(page_url(world))
    assert "Log in to answer this survey." in anonymous.content.decode()
    world.survey.expire_date = "2000-01-01"
    world.survey.save()
    client = Client()
    client.force_login(world.learner)
    page = client.get(page_url(world)).content.decode()
    assert "This survey closed on" in page and "Send my answers" not in page
    client.post(page_url(world), form_data(world))
    assert SurveyResponse.objects.count() == 0


def test_an_answer_edited_in_the_packages_admin_gets_its_rating_recomputed(world, admin_client_for):
    from survey.models import Answer

    from lms_surveys.models import SurveyAnswer

    response = submit_response(world.target, world.learner, valid_answers(world.survey))
    answer = Answer.objects.get(response_id=response.pk, question=world.survey.q["rating"])
    answer.body = "2"
    answer.save()
    assert SurveyAnswer.objects.get(pk=answer.pk).rating == 2.0
    clarity = Answer.objects.get(response_id=response.pk, question=world.survey.q["clarity"])
    clarity.body = "excellent"
    clarity.save()
    assert SurveyAnswer.objects.get(pk=clarity.pk).rating == 4.0
    clarity.body = "not a choice"
    clarity.save()
    assert SurveyAnswer.objects.get(pk=clarity.pk).rating is None
