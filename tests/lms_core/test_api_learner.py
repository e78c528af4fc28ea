"""The learner's side of lms_core's REST API, through real requests: my enrollments, my schedule, recording
progress, shifting my dates; figures checked against the services they must agree with."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from lms_core import signals
from lms_core.avatars import avatar_url
from lms_core.deadlines import due_dates, sweep_enrollments
from lms_core.models import (
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    Pacing,
    Progress,
    ProgressState,
    ScheduleItem,
)
from lms_core.services import next_due, record_progress
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def enrollments_url():
    return reverse("lms_core:api-my-enrollment-list")


def enrollment_url(pk, action=None):
    if action is None:
        return reverse("lms_core:api-my-enrollment-detail", args=[pk])
    return reverse(f"lms_core:api-my-enrollment-{action}", args=[pk])


def schedule_url(pk):
    return reverse("lms_core:api-my-schedule", args=[pk])


def when(value):
    return parse_datetime(value) if value else None


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def instructor_paced():
    """A course with 3 required contents and an optional one; a cohort that started 10 days ago, where the first
    content was due 7 days ago, the second is due in 10 days, the third in 20; the optional one is unscheduled."""
    course = make_course("Deep learning 101", contents=3)
    optional = make_content(course, title="Further reading", required=False)
    cohort = make_cohort(course, starts_at=NOW - timedelta(days=10), schedule_every=None)
    contents = list(course.contents.filter(required=True).order_by("position"))
    for content, days in zip(contents, (3, 20, 30), strict=True):
        ScheduleItem.objects.create(
            cohort=cohort, content=content, due_at=cohort.starts_at + timedelta(days=days)
        )
    return cohort, contents, optional


@pytest.fixture
def self_paced():
    """A self-paced cohort: contents due 1, 5 and 10 days after each learner's start."""
    course = make_course("자기 주도 과정", contents=3, max_shift_days=10, max_shifts=2)
    cohort = make_cohort(course, pacing=Pacing.SELF, starts_at=NOW - timedelta(days=30), schedule_every=None)
    contents = list(course.contents.order_by("position"))
    for content, days in zip(contents, (1, 5, 10), strict=True):
        ScheduleItem.objects.create(cohort=cohort, content=content, due_offset=timedelta(days=days))
    return cohort, contents


# -- my enrollments ------------------------------------------------------------------------------------------


def test_my_enrollments_show_progress_rate_next_due_and_avatar(instructor_paced):
    cohort, contents, _optional = instructor_paced
    learner = make_user("learner")
    enrollment = make_enrollment(learner, cohort)
    record_progress(learner, contents[0], completed=True, enrollment=enrollment)
    make_enrollment(make_user("someone-else"), cohort)  # not shown to our learner

    response = api_for(learner).get(enrollments_url())

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["id"] == enrollment.pk
    assert row["course"] == {
        "id": cohort.course_id,
        "title": "Deep learning 101",
        "slug": "deep-learning-101",
    }
    assert row["cohort"]["id"] == cohort.pk
    assert row["cohort"]["pacing"] == "instructor"
    assert row["status"] == "active"
    assert row["progress_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert (row["completed_required"], row["required_total"]) == (1, 3)
    assert row["has_overdue"] is False
    assert row["next_due"]["content"]["id"] == contents[1].pk
    assert row["next_due"]["content"]["slug"] == contents[1].slug
    assert when(row["next_due"]["due_at"]) == cohort.starts_at + timedelta(days=20)
    assert row["next_due"]["overdue"] is False
    assert row["learner"]["username"] == "learner"
    assert row["learner"]["avatar_url"] == f"http://testserver{avatar_url(learner)}"  # an opaque key, no pk
    assert row["shifting"]["allowed"] is False  # instructor-paced: dates are fixed


def test_overdue_item_comes_first_and_a_finished_course_has_no_next_due(instructor_paced):
    cohort, contents, _optional = instructor_paced
    learner = make_user()
    enrollment = make_enrollment(learner, cohort)
    sweep_enrollments()
    client = api_for(learner)

    row = client.get(enrollment_url(enrollment.pk)).json()
    assert row["status"] == "delayed"
    assert row["has_overdue"] is True
    assert row["next_due"]["content"]["id"] == contents[0].pk
    assert row["next_due"]["overdue"] is True

    for content in contents:
        record_progress(learner, content, completed=True, enrollment=enrollment)
    row = client.get(enrollment_url(enrollment.pk)).json()
    assert row["status"] == "completed"
    assert row["progress_rate"] == 1.0
    assert row["next_due"] is None


def test_my_enrollments_filter_by_status(instructor_paced, self_paced):
    learner = make_user()
    delayed = make_enrollment(learner, instructor_paced[0])
    active = make_enrollment(learner, self_paced[0], started_at=NOW)
    sweep_enrollments()
    client = api_for(learner)

    assert [r["id"] for r in client.get(enrollments_url(), {"status": "delayed"}).json()["results"]] == [
        delayed.pk
    ]
    both = client.get(enrollments_url(), {"status": ["delayed", "active"]}).json()["results"]
    assert {r["id"] for r in both} == {delayed.pk, active.pk}


def test_next_due_agrees_with_the_service(instructor_paced, self_paced):
    """The list computes next_due from prefetched rows; it must give what services.next_due gives."""
    learner = make_user()
    fixed = make_enrollment(learner, instructor_paced[0])
    relative = make_enrollment(learner, self_paced[0], started_at=NOW - timedelta(days=3))
    Enrollment.objects.filter(pk=relative.pk).update(date_shift=timedelta(days=1))
    DeadlineException.objects.create(
        enrollment=relative, content=self_paced[1][0], due_at=NOW + timedelta(days=2)
    )
    record_progress(learner, instructor_paced[1][0], completed=True, enrollment=fixed)

    rows = {r["id"]: r for r in api_for(learner).get(enrollments_url()).json()["results"]}
    for enrollment in Enrollment.objects.filter(user=learner):
        content, due = next_due(enrollment)
        assert rows[enrollment.pk]["next_due"]["content"]["id"] == content.pk
        assert when(rows[enrollment.pk]["next_due"]["due_at"]) == due


def test_my_enrollments_run_a_constant_number_of_queries(django_assert_num_queries, instructor_paced):
    """session + user + count + page + 3 prefetches (schedule, exceptions, completed progress), for 2 or 20."""
    learner = make_user()
    courses = [make_course(contents=4), make_course(contents=2)]
    client = api_for(learner)
    for n in (2, 20):
        Enrollment.objects.filter(user=learner).delete()
        for i in range(n):
            enrollment = make_enrollment(learner, make_cohort(courses[i % 2]))
            DeadlineException.objects.create(
                enrollment=enrollment, content=courses[i % 2].contents.first(), due_at=NOW
            )
            record_progress(learner, courses[i % 2].contents.last(), completed=True, enrollment=enrollment)
        with django_assert_num_queries(7):
            response = client.get(enrollments_url(), {"page_size": 50})
        assert len(response.json()["results"]) == n


# -- my schedule ---------------------------------------------------------------------------------------------


def test_schedule_applies_exception_then_fixed_date_then_start_plus_shift_plus_offset(self_paced):
    cohort, contents = self_paced
    learner = make_user()
    started = NOW - timedelta(days=2)
    enrollment = make_enrollment(learner, cohort, started_at=started, date_shift=timedelta(days=2))
    granted = NOW + timedelta(days=30)
    DeadlineException.objects.create(enrollment=enrollment, content=contents[2], due_at=granted)
    record_progress(learner, contents[1], percent=40, enrollment=enrollment)
    unscheduled = make_content(cohort.course, title="Bonus", required=False)

    response = api_for(learner).get(schedule_url(enrollment.pk))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [*(c.pk for c in contents), unscheduled.pk]
    first, second, third, bonus = rows
    assert when(first["due_at"]) == started + timedelta(days=2 + 1)
    assert first["due_source"] == "relative"
    assert first["overdue"] is False  # started 2 days ago + 2 days shift + 1 day: due tomorrow
    assert when(second["due_at"]) == started + timedelta(days=2 + 5)
    assert second["progress"]["state"] == "in_progress"
    assert second["progress"]["percent"] == 40
    assert when(third["due_at"]) == granted
    assert third["due_source"] == "exception"
    assert third["progress"] == {
        "state": "not_started",
        "percent": 0,
        "first_activity_at": None,
        "last_activity_at": None,
        "completed_at": None,
    }
    assert bonus["due_at"] is None and bonus["due_source"] is None and bonus["required"] is False
    # The same dates the deadline sweep works with.
    assert {r["id"]: when(r["due_at"]) for r in rows[:3]} == due_dates(enrollment)


def test_schedule_of_an_instructor_paced_cohort_uses_fixed_dates(instructor_paced):
    cohort, contents, optional = instructor_paced
    learner = make_user()
    enrollment = make_enrollment(learner, cohort)
    record_progress(learner, contents[0], completed=True, enrollment=enrollment)

    rows = api_for(learner).get(schedule_url(enrollment.pk)).json()["results"]

    by_id = {r["id"]: r for r in rows}
    assert by_id[contents[0].pk]["due_source"] == "fixed"
    assert by_id[contents[0].pk]["overdue"] is False  # due 7 days ago, but completed
    assert by_id[contents[0].pk]["progress"]["state"] == "completed"
    assert when(by_id[contents[1].pk]["due_at"]) == cohort.starts_at + timedelta(days=20)
    assert by_id[optional.pk]["due_at"] is None


def test_schedule_runs_a_constant_number_of_queries(django_assert_num_queries):
    """session + user + enrollment + count + page (contents LEFT JOIN schedule, exception and progress)."""
    learner = make_user()
    for n in (2, 20):
        course = make_course(contents=n)
        cohort = make_cohort(course)
        enrollment = make_enrollment(learner, cohort)
        for content in course.contents.all()[: n // 2]:
            record_progress(learner, content, percent=50, enrollment=enrollment)
        client = api_for(learner)
        with django_assert_num_queries(5):
            response = client.get(schedule_url(enrollment.pk), {"page_size": 50})
        assert len(response.json()["results"]) == n


# -- recording progress --------------------------------------------------------------------------------------


def test_record_progress_is_idempotent_never_moves_back_and_completes_once(
    instructor_paced, django_capture_on_commit_callbacks
):
    cohort, contents, _optional = instructor_paced
    learner = make_user()
    enrollment = make_enrollment(learner, cohort)
    sweep_enrollments()
    completions = []

    def on_completed(sender, progress, **kwargs):
        completions.append(progress.content_id)

    signals.content_completed.connect(on_completed)
    try:
        client = api_for(learner)
        url = enrollment_url(enrollment.pk, "progress")

        response = client.post(url, {"content": contents[0].pk, "percent": 40}, format="json")
        assert response.status_code == 200
        assert response.json()["state"] == "in_progress"
        assert response.json()["percent"] == 40
        assert response.json()["enrollment_status"] == "delayed"

        response = client.post(url, {"content": contents[0].pk, "percent": 20}, format="json")
        assert response.json()["percent"] == 40  # never backwards

        for _attempt in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(url, {"content": contents[0].pk, "completed": True}, format="json")
            assert response.status_code == 200
        body = response.json()
    finally:
        signals.content_completed.disconnect(on_completed)

    assert body["state"] == "completed"
    assert body["percent"] == 100
    assert body["content"]["id"] == contents[0].pk
    assert body["enrollment_status"] == "active"  # the overdue work is done: caught up at once
    assert completions == [contents[0].pk]
    assert Progress.objects.filter(enrollment=enrollment).count() == 1


def test_percent_100_completes(instructor_paced):
    cohort, contents, _optional = instructor_paced
    learner = make_user()
    enrollment = make_enrollment(learner, cohort)
    response = api_for(learner).post(
        enrollment_url(enrollment.pk, "progress"), {"content": contents[1].pk, "percent": 100}, format="json"
    )
    assert response.status_code == 200
    progress = Progress.objects.get(enrollment=enrollment, content=contents[1])
    assert progress.state == ProgressState.COMPLETED
    assert progress.completed_at is not None


# -- shifting dates ------------------------------------------------------------------------------------------


def test_a_delayed_self_paced_learner_shifts_their_dates(self_paced):
    cohort, _contents = self_paced
    learner = make_user()
    started = NOW - timedelta(days=2)
    enrollment = make_enrollment(learner, cohort, started_at=started)  # the first content was due yesterday
    sweep_enrollments()
    client = api_for(learner)
    assert client.get(enrollment_url(enrollment.pk)).json()["shifting"]["allowed"] is True

    response = client.post(enrollment_url(enrollment.pk, "shift"), {"days": 3}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"  # the first content is now due in 2 days
    assert body["shifting"] == {
        "allowed": False,
        "days_shifted": 3,
        "shifts_used": 1,
        "days_left": 7,
        "shifts_left": 1,
    }
    assert when(body["next_due"]["due_at"]) == started + timedelta(days=3 + 1)
    enrollment.refresh_from_db()
    assert enrollment.date_shift == timedelta(days=3)
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_browsable_api_renders_for_a_learner(instructor_paced):
    learner = make_user()
    enrollment = make_enrollment(learner, instructor_paced[0])
    client = api_for(learner)
    for url in (enrollments_url(), enrollment_url(enrollment.pk), schedule_url(enrollment.pk)):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
    # A POST-only action shows its form (and says GET is not allowed).
    response = client.get(enrollment_url(enrollment.pk, "progress"), HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert b'name="percent"' in response.content
