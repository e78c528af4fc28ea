"""In Chromium: a learner completes a content, the lesson announces it, and the survey opens; they answer it and
come back to where they were. Runs against the example project (its pages load the after-completion script)."""

import re

import pytest
from django.apps import apps
from django.test import Client

from lms_surveys.models import SurveyResponse
from lms_surveys.testing.factories import attach, make_survey

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (apps.is_installed("groundup_site") and apps.is_installed("lms_core")),
        reason="needs the example project (with lms_core)",
    ),
]


@pytest.fixture
def page(chromium_executable, live_server, transactional_db, django_user_model, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls between browser steps
    # are still plain synchronous calls (the server answers from its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    from lms_core.services import record_progress
    from lms_core.testing.factories import make_cohort, make_course, make_enrollment

    learner = django_user_model.objects.create_user(username="minjun", password="pw-test-1234")
    course = make_course("AI 기초", contents=2)
    make_enrollment(learner, make_cohort(course))
    content = course.contents.order_by("position").first()
    survey = make_survey("넘파이 기초 설문 · After NumPy basics")
    attach(survey, content)
    client = Client()
    client.force_login(learner)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=["--no-sandbox"])
        context = browser.new_context(base_url=live_server.url)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
        )
        tab = context.new_page()
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.complete = lambda: record_progress(learner, content, completed=True)
        tab.content_id, tab.survey, tab.learner, tab.errors = content.pk, survey, learner, errors
        yield tab
        browser.close()


def announce(page):
    page.evaluate(
        "id => document.dispatchEvent(new CustomEvent('lms:content-completed', {detail: {content: id}}))",
        page.content_id,
    )


def test_the_survey_opens_after_a_completed_content_and_comes_back(page):
    page.goto("/")
    page.complete()
    announce(page)
    page.wait_for_url(re.compile(rf"/surveys/{page.survey.pk}/\?next=%2F$"))
    assert page.get_by_role("heading", name="넘파이 기초 설문 · After NumPy basics").is_visible()
    q = page.survey.q
    page.fill(f"input[name=question_{q['rating'].pk}]", "4")
    page.check(f"input[name=question_{q['pace'].pk}][value=right]")
    page.check(f"input[name=question_{q['topics'].pk}][value=code-cells]")
    page.fill(f"textarea[name=question_{q['comment'].pk}]", "예제가 더 있으면 좋겠어요")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text("Thank you: your answers are saved.").is_visible()
    response = SurveyResponse.objects.get(learner=page.learner)
    assert response.progress_state == "completed"
    assert {a.question_id: a.body for a in response.answers.all()}[q["topics"].pk] == "['code-cells']"
    # Announcing the same completion again does not send the learner back to a survey they answered.
    announce(page)
    page.wait_for_timeout(1000)
    assert page.url.endswith("/")
    assert page.errors == []
