"""Who sees what through lms_core's REST API: anonymous users, learners (only their own data; someone else's id
is a 404), instructors (only their courses), staff (with the model permission), superusers; CSRF on writes."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lms_core.models import DeadlineException, Enrollment, Pacing, Progress
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def with_perms(user, *perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def world():
    """Two courses, each with a cohort and an instructor; learner ``ann`` in course A, ``ben`` in course B."""
    course_a, course_b = make_course("A", contents=2), make_course("B", contents=2)
    cohort_a = make_cohort(course_a, pacing=Pacing.SELF, starts_at=NOW - timedelta(days=30))
    cohort_b = make_cohort(course_b, starts_at=NOW - timedelta(days=30))
    teacher_a, teacher_b = make_user("teacher-a"), make_user("teacher-b")
    course_a.instructors.add(teacher_a)
    course_b.instructors.add(teacher_b)
    ann = make_enrollment(make_user("ann"), cohort_a, started_at=NOW - timedelta(days=20))
    ben = make_enrollment(make_user("ben"), cohort_b)
    return {
        "cohort_a": cohort_a,
        "cohort_b": cohort_b,
        "teacher_a": teacher_a,
        "teacher_b": teacher_b,
        "ann": ann,
        "ben": ben,
    }


def every_endpoint(world):
    """(method, url, body) for each endpoint, about ann's enrollment and cohort A."""
    ann, cohort = world["ann"], world["cohort_a"]
    content = cohort.course.contents.first()
    in_cohort = {"cohort_pk": cohort.pk}
    return [
        ("get", reverse("lms_core:api-root"), None),
        ("get", reverse("lms_core:api-my-enrollment-list"), None),
        ("get", reverse("lms_core:api-my-enrollment-detail", args=[ann.pk]), None),
        ("get", reverse("lms_core:api-my-schedule", args=[ann.pk]), None),
        (
            "post",
            reverse("lms_core:api-my-enrollment-progress", args=[ann.pk]),
            {"content": content.pk, "percent": 5},
        ),
        ("post", reverse("lms_core:api-my-enrollment-shift", args=[ann.pk]), {"days": 1}),
        ("get", reverse("lms_core:api-cohort-list"), None),
        ("get", reverse("lms_core:api-cohort-detail", args=[cohort.pk]), None),
        ("get", reverse("lms_core:api-cohort-learner-list", kwargs=in_cohort), None),
        ("get", reverse("lms_core:api-cohort-learner-list", kwargs=in_cohort) + "?format=csv", None),
        ("get", reverse("lms_core:api-cohort-learner-detail", kwargs={**in_cohort, "pk": ann.pk}), None),
        ("post", reverse("lms_core:api-cohort-learner-list", kwargs=in_cohort), {"user": ann.user_id}),
        ("get", reverse("lms_core:api-cohort-exception-list", kwargs=in_cohort), None),
        (
            "post",
            reverse("lms_core:api-cohort-exception-list", kwargs=in_cohort),
            {"enrollment": ann.pk, "content": content.pk, "due_at": NOW.isoformat()},
        ),
    ]


def test_anonymous_users_are_refused_everywhere(world):
    client = api_for()
    for method, url, body in every_endpoint(world):
        response = getattr(client, method)(url, body, format="json")
        # 403 with session authentication only (the example project), 401 where HTTP Basic is also on.
        assert response.status_code in (401, 403), url
        assert response.json()["detail"] == "Authentication credentials were not provided.", url
    assert not Progress.objects.exists()
    assert not DeadlineException.objects.exists()


def test_another_learners_enrollment_is_a_404_and_nothing_is_written(world):
    ann, ben = world["ann"], world["ben"]
    content_b = world["cohort_b"].course.contents.first()
    client = api_for(ben.user)
    urls = [
        reverse("lms_core:api-my-enrollment-detail", args=[ann.pk]),
        reverse("lms_core:api-my-schedule", args=[ann.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["detail"] == "You have no enrollment with this id."
    response = client.post(
        reverse("lms_core:api-my-enrollment-progress", args=[ann.pk]),
        {"content": content_b.pk, "completed": True},
        format="json",
    )
    assert response.status_code == 404
    response = client.post(
        reverse("lms_core:api-my-enrollment-shift", args=[ann.pk]), {"days": 2}, format="json"
    )
    assert response.status_code == 404
    assert not Progress.objects.exists()
    ann.refresh_from_db()
    assert ann.date_shift == timedelta(0)
    # And the lists only ever show one's own.
    listed = client.get(reverse("lms_core:api-my-enrollment-list")).json()
    assert [row["id"] for row in listed["results"]] == [ben.pk]


def test_learners_see_no_cohort_of_the_staff_side(world):
    client = api_for(world["ann"].user)
    assert client.get(reverse("lms_core:api-cohort-list")).json()["count"] == 0
    in_cohort = {"cohort_pk": world["cohort_a"].pk}
    for url in [
        reverse("lms_core:api-cohort-detail", args=[world["cohort_a"].pk]),
        reverse("lms_core:api-cohort-learner-list", kwargs=in_cohort),
        reverse("lms_core:api-cohort-exception-list", kwargs=in_cohort),
    ]:
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("lms_core:api-cohort-exception-list", kwargs=in_cohort),
        {
            "enrollment": world["ann"].pk,
            "content": world["cohort_a"].course.contents.first().pk,
            "due_at": (NOW + timedelta(days=9)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 404
    assert not DeadlineException.objects.exists()


def test_instructors_see_only_their_courses(world):
    client = api_for(world["teacher_a"])
    cohorts = client.get(reverse("lms_core:api-cohort-list")).json()
    assert [row["id"] for row in cohorts["results"]] == [world["cohort_a"].pk]
    assert cohorts["results"][0]["user_is_instructor"] is True
    mine = client.get(reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_a"].pk}))
    assert [row["id"] for row in mine.json()["results"]] == [world["ann"].pk]
    theirs = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_b"].pk})
    assert client.get(theirs).status_code == 404
    assert client.get(theirs + "?format=csv").status_code == 404
    # They may grant exceptions in their cohort but not enroll people (that is staff's job).
    response = client.post(
        reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_a"].pk}),
        {"user": world["ben"].user_id},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not enroll learners in this cohort."
    assert not Enrollment.objects.filter(user=world["ben"].user, cohort=world["cohort_a"]).exists()


def test_staff_need_the_permission_to_see_and_more_to_change(world):
    url = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_b"].pk})
    grant_url = reverse("lms_core:api-cohort-exception-list", kwargs={"cohort_pk": world["cohort_b"].pk})
    grant = {
        "enrollment": world["ben"].pk,
        "content": world["cohort_b"].course.contents.first().pk,
        "due_at": (NOW + timedelta(days=9)).isoformat(),
    }

    bare_staff = make_user(is_staff=True)
    assert api_for(bare_staff).get(url).status_code == 404
    permission_without_staff = with_perms(make_user(), "lms_core.view_enrollment")
    assert api_for(permission_without_staff).get(url).status_code == 404

    viewer = with_perms(make_user(is_staff=True), "lms_core.view_enrollment")
    assert api_for(viewer).get(url).status_code == 200
    assert api_for(viewer).get(reverse("lms_core:api-cohort-list")).json()["count"] == 2
    response = api_for(viewer).post(grant_url, grant, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not grant deadline exceptions in this cohort."
    assert not DeadlineException.objects.exists()

    granter = with_perms(
        make_user(is_staff=True), "lms_core.view_enrollment", "lms_core.add_deadlineexception"
    )
    assert api_for(granter).post(grant_url, grant, format="json").status_code == 201


def test_superusers_see_and_do_everything(world):
    root = get_user_model().objects.create_superuser("root", password="pw-root-1234")
    client = api_for(root)
    assert client.get(reverse("lms_core:api-cohort-list")).json()["count"] == 2
    response = client.post(
        reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_b"].pk}),
        {"user": world["ann"].user_id},
        format="json",
    )
    assert response.status_code == 201


def test_session_writes_need_the_csrf_token(world):
    ann = world["ann"]
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="ann", password="pw-test-1234")
    url = reverse("lms_core:api-my-enrollment-progress", args=[ann.pk])
    body = {"content": world["cohort_a"].course.contents.first().pk, "percent": 30}

    response = client.post(url, body, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Progress.objects.exists()

    page = client.get(url, HTTP_ACCEPT="text/html")  # the browsable API's form sets the CSRF cookie
    token = page.cookies["csrftoken"].value
    response = client.post(url, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json()["percent"] == 30


def test_browsable_api_for_staff_shows_the_filters_and_the_enroll_form(world):
    root = get_user_model().objects.create_superuser("root", password="pw-root-1234")
    client = api_for(root)
    response = client.get(
        reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": world["cohort_a"].pk}),
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="progress_below"' in html
    assert 'name="user"' in html  # the POST form enrolls a user
    assert "?format=csv" in html
    root_page = client.get(reverse("lms_core:api-root"), HTTP_ACCEPT="text/html")
    assert root_page.status_code == 200
    assert "/core/api/me/enrollments/" in root_page.content.decode()
