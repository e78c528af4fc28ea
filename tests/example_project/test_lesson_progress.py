"""The example site's glue: passing a lesson's exercises and "Mark as complete" record progress in lms_core."""

import json
import uuid

import pytest
from django.urls import reverse
from wagtail.models import Site

from groundup_site.models import LessonPage
from lms_core.models import Progress, ProgressState
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db


def jupyter(check=""):
    return {
        "type": "jupyter",
        "id": str(uuid.uuid4()),
        "value": {
            "source": "x = 1",
            "environment": "python3",
            "setup_code": "",
            "outputs": [],
            "check_code": check,
        },
    }


def make_lesson(slug, blocks):
    root = Site.objects.get(is_default_site=True).root_page
    lesson = LessonPage(title=slug, slug=slug, body=blocks)
    root.add_child(instance=lesson)
    lesson.save_revision().publish()
    return lesson


@pytest.fixture
def enrolled():
    course = make_course()
    make_content(course, title="Exercises", slug="exercises")
    make_content(course, title="Reading", slug="reading")
    enrollment = make_enrollment(make_user("learner"), make_cohort(course))
    return enrollment


def progress_of(enrollment, slug):
    return Progress.objects.filter(enrollment=enrollment, content__slug=slug).first()


def test_passing_each_exercise_moves_progress_and_the_last_completes(
    client, enrolled, django_capture_on_commit_callbacks
):
    first, second = jupyter("assert x == 1"), jupyter("assert x")
    lesson = make_lesson("exercises", [first, jupyter(), second])
    client.force_login(enrolled.user)

    def check(block, passed=True):
        url = reverse("lms_cms_blocks:cells-check", args=[lesson.pk, block["id"]])
        with django_capture_on_commit_callbacks(execute=True):  # exercise_passed is sent after the commit
            response = client.post(url, json.dumps({"passed": passed}), content_type="application/json")
        assert response.status_code in (200, 201), response.content

    check(first, passed=False)
    assert progress_of(enrolled, "exercises") is None
    check(first)
    progress = progress_of(enrolled, "exercises")
    assert (progress.percent, progress.state) == (50, ProgressState.IN_PROGRESS)
    check(second)
    progress.refresh_from_db()
    assert (progress.percent, progress.state) == (100, ProgressState.COMPLETED)

    page = client.get(lesson.url).content.decode()
    assert "You completed this lesson." in page and "Mark as complete" not in page


def test_mark_as_complete_for_a_lesson_without_exercises(client, enrolled):
    lesson = make_lesson("reading", [jupyter()])
    url = reverse("complete-lesson", args=[lesson.pk])

    client.force_login(make_user("stranger"))
    assert "Mark as complete" not in client.get(lesson.url).content.decode()  # not in a course with it
    assert client.post(url).status_code == 404

    client.force_login(enrolled.user)
    page = client.get(lesson.url).content.decode()
    assert "Mark as complete" in page
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == lesson.url
    html = response.content.decode()
    assert "Lesson completed." in html and "You completed this lesson." in html
    # The page announces the completed content once (it opens the survey), and not on the next visit.
    content_id = progress_of(enrolled, "reading").content_id
    assert f'id="lesson-just-completed" type="application/json">[{content_id}]' in html
    assert 'id="lesson-just-completed" type="application/json">[]' in client.get(lesson.url).content.decode()
    assert progress_of(enrolled, "reading").state == ProgressState.COMPLETED
    assert client.get(url).status_code == 405


def test_a_lesson_with_exercises_is_not_marked_complete_by_hand(client, enrolled):
    lesson = make_lesson("exercises", [jupyter("assert True")])
    client.force_login(enrolled.user)
    response = client.post(reverse("complete-lesson", args=[lesson.pk]), follow=True)
    assert "Pass this lesson&#x27;s exercises to complete it." in response.content.decode()
    assert progress_of(enrolled, "exercises") is None
