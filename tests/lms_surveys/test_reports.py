"""Report figures against numbers worked out by hand, the CSV exports, who may see reports, and the query count
of the report endpoints (the same for 2 responses and for 12 responses with more questions)."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from survey.models import Question

from lms_surveys.reports import course_report, target_report
from lms_surveys.services import submit_response
from lms_surveys.testing.factories import attach, make_question, make_survey

from .conftest import CORE, make_learner, needs_core, valid_answers

#: Three learners' answers: (rating, pace, clarity, topics, hours, comment)
ANSWERS = [
    (5, "right", "good", ["video", "code-cells"], 2.5, "More exercises, please."),
    (4, "right", "excellent", ["video"], 1, '=HYPERLINK("http://evil")'),
    (2, "too-fast", None, [], 4, None),
]


def learner(world, username):
    user = make_learner(username)
    if CORE:
        from lms_core.testing.factories import make_enrollment

        make_enrollment(user, world.core["cohort"])
    return user


@pytest.fixture
def answered(world):
    """``learner``, ``other`` and a third learner answer; a fourth enrolled learner does not."""
    users = [world.learner, world.other, learner(world, "jiho")]
    learner(world, "silent")
    for user, (rating, pace, clarity, topics, hours, comment) in zip(users, ANSWERS, strict=True):
        answers = valid_answers(
            world.survey,
            rating=rating,
            pace=pace,
            clarity=clarity,
            topics=topics or None,
            hours=hours,
            comment=comment,
        )
        submit_response(world.target, user, answers)
    return world


def by_id(report):
    return {row["id"]: row for row in report["questions"]}


def test_survey_report_figures(answered):
    world = answered
    q = world.survey.q
    report = target_report(world.target)
    assert report["responses"] == 3
    if CORE:
        assert report["enrolled"] == 4  # learner, other, jiho, silent
        assert report["response_rate"] == 0.75
    else:
        assert report["enrolled"] is None and report["response_rate"] is None
    questions = by_id(report)
    rating = questions[q["rating"].pk]["rating"]
    assert rating["count"] == 3
    assert rating["average"] == round((5 + 4 + 2) / 3, 4)  # 3.6667
    assert [(row["value"], row["count"]) for row in rating["distribution"]] == [
        (1, 0),
        (2, 1),
        (3, 0),
        (4, 1),
        (5, 1),
    ]
    clarity = questions[q["clarity"].pk]
    assert clarity["answered"] == 2
    assert clarity["rating"]["average"] == 3.5  # Good = 3, Excellent = 4
    assert [(row["label"], row["count"]) for row in clarity["rating"]["distribution"]] == [
        ("Poor", 0),
        ("Fair", 0),
        ("Good", 1),
        ("Excellent", 1),
    ]
    assert [(row["label"], row["count"]) for row in questions[q["pace"].pk]["choices"]] == [
        ("Too slow", 0),
        ("Right", 2),
        ("Too fast", 1),
    ]
    assert questions[q["pace"].pk]["rating"] is None
    assert [(row["value"], row["count"]) for row in questions[q["topics"].pk]["choices"]] == [
        ("video", 2),
        ("code-cells", 1),
        ("exercises", 0),
    ]
    assert questions[q["hours"].pk]["numbers"] == {"count": 3, "average": 2.5, "minimum": 1.0, "maximum": 4.0}
    assert questions[q["date"].pk]["values"] == [{"value": "2026-11-20", "count": 3}]
    comments = questions[q["comment"].pk]
    assert comments["answered"] == 2
    assert comments["text_answers"] == [
        '=HYPERLINK("http://evil")',
        "More exercises, please.",
    ]  # newest first


def test_text_answers_are_capped_by_the_setting(answered, settings):
    settings.LMS_SURVEYS = {"REPORT_TEXT_ANSWERS_LIMIT": 1}
    comments = by_id(target_report(answered.target))[answered.survey.q["comment"].pk]
    assert comments["answered"] == 2
    assert comments["text_answers"] == ['=HYPERLINK("http://evil")']


@needs_core
def test_cohort_filter(answered):
    from lms_core.testing.factories import make_cohort, make_enrollment

    world = answered
    second = make_cohort(world.core["course"])
    late = make_learner("late")
    make_enrollment(late, second)
    make_enrollment(make_learner("late2"), second)
    submit_response(world.target, late, valid_answers(world.survey, rating=1))
    everyone = target_report(world.target)
    assert (everyone["responses"], everyone["enrolled"], everyone["response_rate"]) == (4, 6, round(4 / 6, 4))
    only = target_report(world.target, cohort_key=str(second.pk))
    assert (only["responses"], only["enrolled"], only["response_rate"]) == (1, 2, 0.5)
    assert by_id(only)[world.survey.q["rating"].pk]["rating"]["average"] == 1.0


def test_course_report_figures(answered):
    world = answered
    course_key = world.target.course_key
    second = make_survey("After plotting")
    if CORE:
        from lms_core.testing.factories import make_content

        second_target = attach(second, make_content(world.core["course"], title="Plotting"))
        course_target = attach(make_survey("End of course"), world.core["course"])
    else:
        second_target = attach(second, key="plotting", course_key=course_key, title="Plotting")
        course_target = attach(make_survey("End of course"), scope="course", key=course_key)
        # A survey of another course stays out of this course's report.
        attach(make_survey("Elsewhere"), key="other-lesson", course_key="another-course")
    submit_response(second_target, world.learner, valid_answers(second, rating=3, clarity="poor"))
    report = course_report(course_key)
    assert report["surveys"] == 3
    assert report["responses"] == 4
    rows = {row["survey"]: row for row in report["targets"]}
    assert set(rows) == {world.survey.pk, second.pk, course_target.survey_id}
    first = rows[world.survey.pk]
    # Ratings of the first survey: 5, 4, 2 (integer scale) and 3, 4 (clarity) = 18 / 5.
    assert (first["responses"], first["rating_count"], first["rating_average"]) == (3, 5, 3.6)
    assert (rows[second.pk]["rating_count"], rows[second.pk]["rating_average"]) == (2, 2.0)  # 3 and Poor = 1
    assert rows[course_target.survey_id]["responses"] == 0
    assert report["rating"]["count"] == 7
    assert report["rating"]["average"] == round((5 + 4 + 2 + 3 + 4 + 3 + 1) / 7, 4)
    assert [(r["value"], r["count"]) for r in report["rating"]["distribution"]] == [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 1),
    ]
    assert {t["answer"] for t in report["text_answers"]} >= {"More exercises, please."}
    if CORE:
        assert report["enrolled"] == 4
        assert first["response_rate"] == 0.75
        assert report["response_rate"] == round(4 / (4 * 3), 4)
    else:
        assert report["response_rate"] is None


def report_url(world, csv=False):
    url = reverse("lms_surveys:api-survey-report", args=[world.survey.pk])
    return url + "?format=csv" if csv else url


def test_survey_csv_export(answered):
    response = answered.client(answered.staff).get(report_url(answered, csv=True))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, *data = rows
    assert header[:8] == [
        "response",
        "learner",
        "submitted",
        "updated",
        "cohort",
        "enrollment_status",
        "progress_state",
        "progress_percent",
    ]
    assert len(data) == 3
    by_learner = {row[1]: dict(zip(header, row, strict=True)) for row in data}
    assert by_learner["minjun"]["Which parts helped?"] == "Video; Code cells"
    assert by_learner["minjun"]["The pace was"] == "Right"
    # A formula in a learner's answer is neutralised for spreadsheets.
    assert by_learner["seoyeon"]["What should we improve?"] == '\'=HYPERLINK("http://evil")'
    assert by_learner["jiho"]["How clear was it?"] == ""


def test_course_csv_export(answered):
    url = reverse("lms_surveys:api-course-report", args=[answered.target.course_key]) + "?format=csv"
    response = answered.client(answered.staff).get(url)
    assert response.status_code == 200
    header, row = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert header[:2] == ["survey", "name"] and row[1] == "After NumPy basics" and row[5] == "3"


def test_who_may_see_reports(answered, django_user_model):
    world = answered
    assert world.client(world.learner).get(report_url(world)).status_code == 404
    assert world.client().get(report_url(world)).status_code in (401, 403)
    clerk = django_user_model.objects.create_user(username="clerk", password="pw", is_staff=True)
    assert world.client(clerk).get(report_url(world)).status_code == 404
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_surveyresponse", content_type__app_label="lms_surveys")
    )
    clerk = django_user_model.objects.get(pk=clerk.pk)
    assert world.client(clerk).get(report_url(world)).json()["responses"] == 3
    course_url = reverse("lms_surveys:api-course-report", args=[world.target.course_key])
    assert world.client(world.learner).get(course_url).status_code == 404
    assert world.client(clerk).get(course_url).status_code == 200


@needs_core
def test_instructors_see_their_courses_reports(answered, django_user_model):
    world = answered
    teacher = django_user_model.objects.create_user(username="teacher", password="pw")
    assert world.client(teacher).get(report_url(world)).status_code == 404
    world.core["course"].instructors.add(teacher)
    assert world.client(teacher).get(report_url(world)).status_code == 200


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_report_endpoints_run_a_constant_number_of_queries(world):
    staff = world.client(world.staff)
    course_url = reverse("lms_surveys:api-course-report", args=[world.target.course_key])
    users = [world.learner, world.other]
    for user in users:
        submit_response(world.target, user, valid_answers(world.survey))
    small = (count_queries(staff, report_url(world)), count_queries(staff, course_url))
    # Five times the responses, more questions of every kind, a second survey in the course.
    make_question(world.survey, Question.INTEGER, "Difficulty", is_scale=True, minimum=1, maximum=10)
    make_question(world.survey, Question.TEXT, "Anything else?")
    make_question(world.survey, Question.RADIO, "Again?", choices=["Yes", "No"], is_scale=True)
    for n in range(10):
        submit_response(
            world.target, learner(world, f"learner{n}"), valid_answers(world.survey, rating=n % 5 + 1)
        )
    if CORE:
        from lms_core.testing.factories import make_content

        attach(make_survey("Second"), make_content(world.core["course"]))
    else:
        attach(make_survey("Second"), key="second", course_key=world.target.course_key)
    large = (count_queries(staff, report_url(world)), count_queries(staff, course_url))
    assert target_report(world.target)["responses"] == 12
    assert large == small
