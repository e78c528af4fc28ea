"""Every list of lms_core's REST API is paginated and runs the same number of queries for 3 rows or 30."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lms_core.models import DeadlineException
from lms_core.services import record_progress
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def grow(n, course, cohort, learner, teacher):
    """``n`` more of everything a list shows: enrollments of ``learner``, cohorts ``teacher`` teaches, learners
    and exceptions in ``cohort``, contents of ``course``."""
    for _ in range(n):
        other_cohort = make_cohort(make_course(contents=2))
        other_cohort.course.instructors.add(teacher)
        enrollment = make_enrollment(learner, other_cohort)
        record_progress(learner, other_cohort.course.contents.first(), percent=50, enrollment=enrollment)
        DeadlineException.objects.create(
            enrollment=enrollment, content=other_cohort.course.contents.last(), due_at=NOW + timedelta(days=1)
        )
        classmate = make_enrollment(make_user(), cohort)
        DeadlineException.objects.create(
            enrollment=classmate,
            content=course.contents.first(),
            due_at=NOW + timedelta(days=2),
            granted_by=teacher,
        )
        record_progress(classmate.user, course.contents.first(), completed=True, enrollment=classmate)
        course.contents.create(title=f"Extra {course.contents.count()}", position=course.contents.count())


@pytest.fixture
def world():
    course = make_course("Lists", contents=2)
    cohort = make_cohort(course, starts_at=NOW - timedelta(days=10))
    teacher = make_user("teacher")
    course.instructors.add(teacher)
    learner = make_user("learner")
    mine = make_enrollment(learner, cohort)
    return {"course": course, "cohort": cohort, "teacher": teacher, "learner": learner, "mine": mine}


def lists(world):
    """(who asks, URL) of every list endpoint."""
    cohort = {"cohort_pk": world["cohort"].pk}
    return [
        ("learner", reverse("lms_core:api-my-enrollment-list")),
        ("learner", reverse("lms_core:api-my-schedule", args=[world["mine"].pk])),
        ("teacher", reverse("lms_core:api-cohort-list")),
        ("teacher", reverse("lms_core:api-cohort-learner-list", kwargs=cohort)),
        ("teacher", reverse("lms_core:api-cohort-exception-list", kwargs=cohort)),
    ]


def queries(client, url, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), response.json()["count"]


def test_every_list_runs_a_constant_number_of_queries(world):
    grow(3, world["course"], world["cohort"], world["learner"], world["teacher"])
    before = {url: queries(api_for(world[who]), url) for who, url in lists(world)}
    grow(27, world["course"], world["cohort"], world["learner"], world["teacher"])
    for who, url in lists(world):
        few_queries, few_rows = before[url]
        many_queries, many_rows = queries(api_for(world[who]), url)
        assert many_rows >= few_rows + 27, url
        assert many_queries == few_queries <= 8, url


def test_every_list_is_paginated_with_a_capped_page_size(world):
    grow(3, world["course"], world["cohort"], world["learner"], world["teacher"])
    for who, url in lists(world):
        client = api_for(world[who])
        first = client.get(url, {"page_size": 2}).json()
        assert set(first) == {"count", "next", "previous", "results"}, url
        assert len(first["results"]) == 2 and first["count"] > 2, url
        assert first["previous"] is None and "page=2" in first["next"], url
        second = client.get(first["next"]).json()
        assert {r["id"] for r in second["results"]}.isdisjoint({r["id"] for r in first["results"]}), url
        assert len(client.get(url).json()["results"]) <= 50, url  # the default page
        assert client.get(url, {"page": 10**6}).status_code == 404, url


def test_the_page_size_is_capped_at_200(world):
    root = get_user_model().objects.create_superuser("root", password="pw-root-1234")
    cohort = world["cohort"]
    for _ in range(205):
        make_enrollment(make_user(), cohort)
    body = (
        api_for(root)
        .get(reverse("lms_core:api-cohort-learner-list", args=[cohort.pk]), {"page_size": 1000})
        .json()
    )
    assert (body["count"], len(body["results"])) == (206, 200)
