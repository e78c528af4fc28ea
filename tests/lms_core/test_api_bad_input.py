"""Bad input to lms_core's REST API: each gets a clear 4xx with a message, never a 500, and nothing is written.

Every case snapshots the tables the endpoint could touch and checks they are unchanged afterwards.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lms_core.deadlines import sweep_enrollments
from lms_core.models import DeadlineException, Enrollment, Pacing, Progress
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def snapshot():
    """Everything the API could write, as plain values."""
    return (
        list(Enrollment.objects.order_by("pk").values_list("pk", "status", "date_shift", "shift_count")),
        list(Progress.objects.order_by("pk").values_list("pk", "state", "percent", "last_activity_at")),
        list(DeadlineException.objects.order_by("pk").values_list("pk", "due_at", "reason")),
    )


@pytest.fixture
def root_client():
    client = APIClient()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-1234"))
    return client


@pytest.fixture
def fixed():
    """An instructor-paced cohort (started 10 days ago; its first content was due 3 days ago) with a learner."""
    cohort = make_cohort(make_course("Fixed", contents=3), starts_at=NOW - timedelta(days=10))
    enrollment = make_enrollment(make_user("fixed-learner"), cohort)
    sweep_enrollments()
    enrollment.refresh_from_db()
    return enrollment


@pytest.fixture
def relative():
    """A self-paced cohort where the learner is on time (started today)."""
    cohort = make_cohort(
        make_course("Relative", contents=3, max_shift_days=5, max_shifts=1),
        pacing=Pacing.SELF,
        starts_at=NOW - timedelta(days=30),
    )
    return make_enrollment(make_user("relative-learner"), cohort, started_at=NOW)


def learner_client(enrollment):
    client = APIClient()
    client.force_login(enrollment.user)
    return client


def assert_refused(response, status, field=None, message=None):
    assert response.status_code == status, response.content
    body = response.json()
    if field is not None:
        assert field in body, body
        assert body[field], body
    if message is not None:
        text = body.get("detail") if isinstance(body, dict) and "detail" in body else str(body)
        assert message in text, body


# -- recording progress --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"percent": 101}, "percent", "less than or equal to 100"),
        ({"percent": -1}, "percent", "greater than or equal to 0"),
        ({"percent": "abc"}, "percent", "A valid integer is required."),
        ({"percent": 50.5}, "percent", "A valid integer is required."),
        ({"percent": True}, "percent", "A valid integer is required."),
        ({"percent": None}, "percent", "may not be null"),
        ({}, "non_field_errors", "Send a percent from 0 to 100, completed: true, or both."),
        ({"completed": False}, "non_field_errors", "Send a percent"),
        ({"completed": "maybe"}, "completed", "Must be a valid boolean."),
    ],
)
def test_bad_progress_is_a_400_and_writes_nothing(fixed, body, field, message):
    content = fixed.cohort.course.contents.first()
    before = snapshot()
    response = learner_client(fixed).post(
        reverse("lms_core:api-my-enrollment-progress", args=[fixed.pk]),
        {"content": content.pk, **body},
        format="json",
    )
    assert_refused(response, 400, field)
    assert message in str(response.json()[field])
    assert snapshot() == before


def test_progress_for_an_unknown_or_foreign_content_is_a_404(fixed):
    other_course_content = make_course(contents=1).contents.get()
    url = reverse("lms_core:api-my-enrollment-progress", args=[fixed.pk])
    client = learner_client(fixed)
    before = snapshot()
    for content_id in (other_course_content.pk, 10**9):
        response = client.post(url, {"content": content_id, "percent": 10}, format="json")
        assert_refused(response, 404, message="This course has no content with this id.")
    response = client.post(url, {"content": "first", "percent": 10}, format="json")
    assert_refused(response, 400, "content")
    response = client.post(url, "{not json", content_type="application/json")
    assert_refused(response, 400, message="JSON parse error")
    assert snapshot() == before


def test_progress_for_an_unknown_enrollment_is_a_404(fixed):
    response = learner_client(fixed).post(
        reverse("lms_core:api-my-enrollment-progress", args=[10**9]),
        {"content": 1, "percent": 1},
        format="json",
    )
    assert_refused(response, 404, message="You have no enrollment with this id.")


# -- shifting dates ------------------------------------------------------------------------------------------


def test_shifting_in_an_instructor_paced_cohort_is_a_400_with_the_reason(fixed):
    before = snapshot()
    response = learner_client(fixed).post(
        reverse("lms_core:api-my-enrollment-shift", args=[fixed.pk]), {"days": 3}, format="json"
    )
    assert_refused(response, 400, message="Dates are fixed in instructor-paced cohorts")
    assert response.json()["detail"].startswith("Dates are fixed")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("days", "status", "message"),
    [
        (0, 400, "greater than or equal to 1"),
        (-2, 400, "greater than or equal to 1"),
        ("two", 400, "A valid integer is required."),
        (1.5, 400, "A valid integer is required."),
        (366, 400, "less than or equal to 365"),
        (2, 400, "You can shift your dates once you have fallen behind."),
    ],
)
def test_bad_or_disallowed_shifts_are_a_400(relative, days, status, message):
    before = snapshot()
    response = learner_client(relative).post(
        reverse("lms_core:api-my-enrollment-shift", args=[relative.pk]), {"days": days}, format="json"
    )
    assert response.status_code == status
    assert message in str(response.json())
    assert snapshot() == before


def test_shifting_past_the_course_limits_is_a_400(relative):
    Enrollment.objects.filter(pk=relative.pk).update(started_at=NOW - timedelta(days=20))  # now behind
    client = learner_client(relative)
    url = reverse("lms_core:api-my-enrollment-shift", args=[relative.pk])
    before = snapshot()
    response = client.post(url, {"days": 6}, format="json")
    assert_refused(response, 400, message="This course allows shifting by 5 days in total; 5 are left.")
    assert snapshot() == before


# -- granting exceptions -------------------------------------------------------------------------------------


def grant_url(cohort):
    return reverse("lms_core:api-cohort-exception-list", kwargs={"cohort_pk": cohort.pk})


def test_a_due_date_before_the_cohort_starts_is_a_400(root_client, fixed):
    cohort = fixed.cohort
    before = snapshot()
    response = root_client.post(
        grant_url(cohort),
        {
            "enrollment": fixed.pk,
            "content": cohort.course.contents.first().pk,
            "due_at": (cohort.starts_at - timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert_refused(response, 400, message="The new due date is before the cohort starts.")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"due_at": "next tuesday"}, 400, "Datetime has wrong format."),
        ({"due_at": "2026-02-30T10:00:00"}, 400, "Datetime has wrong format."),
        ({"due_at": None}, 400, "may not be null"),
        ({"enrollment": "abc"}, 400, "A valid integer is required."),
        ({"enrollment": 10**9}, 404, "This cohort has no enrollment with this id."),
        ({"content": 10**9}, 404, "This course has no content with this id."),
        ({"reason": "x" * 2001}, 400, "no more than 2000 characters"),
    ],
)
def test_bad_exception_requests(root_client, fixed, change, status, message):
    cohort = fixed.cohort
    body = {
        "enrollment": fixed.pk,
        "content": cohort.course.contents.first().pk,
        "due_at": (NOW + timedelta(days=3)).isoformat(),
        **change,
    }
    before = snapshot()
    response = root_client.post(grant_url(cohort), body, format="json")
    assert response.status_code == status, response.content
    assert message in str(response.json())
    assert snapshot() == before


def test_an_exception_for_another_cohort_or_course_is_a_404(root_client, fixed):
    other = make_enrollment(make_user(), make_cohort(make_course(contents=1)))
    cohort = fixed.cohort
    before = snapshot()
    response = root_client.post(
        grant_url(cohort),
        {"enrollment": other.pk, "content": cohort.course.contents.first().pk, "due_at": NOW.isoformat()},
        format="json",
    )
    assert_refused(response, 404, message="This cohort has no enrollment with this id.")
    response = root_client.post(
        grant_url(cohort),
        {"enrollment": fixed.pk, "content": other.cohort.course.contents.get().pk, "due_at": NOW.isoformat()},
        format="json",
    )
    assert_refused(response, 404, message="This course has no content with this id.")
    response = root_client.post(
        reverse("lms_core:api-cohort-exception-list", kwargs={"cohort_pk": 10**9}),
        {"enrollment": fixed.pk, "content": 1, "due_at": NOW.isoformat()},
        format="json",
    )
    assert_refused(response, 404, message="No cohort with this id that you may see.")
    assert snapshot() == before


# -- enrolling -----------------------------------------------------------------------------------------------


def test_a_duplicate_enrollment_is_a_409(root_client, fixed):
    before = snapshot()
    response = root_client.post(
        reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": fixed.cohort_id}),
        {"user": fixed.user_id},
        format="json",
    )
    assert_refused(response, 409, message="This learner is already enrolled in this cohort.")
    assert snapshot() == before


def _before_start(cohort):
    return (cohort.starts_at - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("make_body", "status", "message"),
    [
        (lambda user, cohort: {"user": 10**9}, 404, "No active user with this id."),
        (lambda user, cohort: {"user": "root"}, 400, "A valid integer is required."),
        (lambda user, cohort: {}, 400, "This field is required."),
        (
            lambda user, cohort: {"user": user.pk, "started_at": "yesterday"},
            400,
            "Datetime has wrong format.",
        ),
        (
            lambda user, cohort: {"user": user.pk, "started_at": _before_start(cohort)},
            400,
            "A learner cannot start before the cohort starts.",
        ),
    ],
    ids=["unknown-user", "not-an-id", "empty", "bad-date", "before-start"],
)
def test_bad_enrollment_requests(root_client, fixed, make_body, status, message):
    body = make_body(make_user(), fixed.cohort)
    before = snapshot()
    response = root_client.post(
        reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": fixed.cohort_id}),
        body,
        format="json",
    )
    assert response.status_code == status, response.content
    assert message in str(response.json())
    assert snapshot() == before


# -- query parameters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"progress_below": "abc"}, "progress_below"),
        ({"progress_below": "101"}, "progress_below"),
        ({"progress_below": "-5"}, "progress_below"),
        ({"overdue_content": "abc"}, "overdue_content"),
        ({"overdue_content": "1.5"}, "overdue_content"),
        ({"ordering": "password"}, "ordering"),
        ({"status": "asleep"}, "status"),
        ({"delayed": "perhaps"}, "delayed"),
        ({"search": "x" * 101}, "search"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(root_client, fixed, params, field):
    url = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": fixed.cohort_id})
    response = root_client.get(url, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_pages_and_unknown_cohorts(root_client, fixed):
    url = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": fixed.cohort_id})
    assert_refused(root_client.get(url, {"page": 99}), 404, message="Invalid page.")
    assert_refused(root_client.get(url, {"page": "last-ish"}), 404, message="Invalid page.")
    assert root_client.get(url, {"page_size": 10**6}).status_code == 200  # capped, not refused
    unknown = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": 10**9})
    assert_refused(root_client.get(unknown), 404, message="No cohort with this id that you may see.")
    assert root_client.get("/core/api/cohorts/abc/learners/").status_code == 404
    response = learner_client(fixed).get(reverse("lms_core:api-my-enrollment-list"), {"status": "asleep"})
    assert_refused(response, 400, "status")
