"""Cohort figures for instructors' charts: status snapshots after sweeps, the progress distribution, and the
``cohorts/{id}/stats/`` endpoint."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lms_core import stats
from lms_core.models import Cohort, CohortStatusSnapshot, EnrollmentStatus
from lms_core.services import record_progress
from lms_core.tasks import sweep_deadlines
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db


def snapshot(cohort, day=None):
    return CohortStatusSnapshot.objects.get(cohort=cohort, day=day or timezone.localdate())


def test_a_snapshot_counts_each_status_and_a_later_one_the_same_day_replaces_it():
    cohort = make_cohort()  # 3 contents, the first due 7 days after a start 7 days ago: due now
    empty = make_cohort()
    enrollments = [make_enrollment(cohort=cohort) for _ in range(4)]
    enrollments[3].status = EnrollmentStatus.DROPPED
    enrollments[3].save()
    now = timezone.now() + timedelta(hours=1)

    assert stats.record_status_snapshots(now=now) == 2
    first = snapshot(cohort, timezone.localdate(now))
    assert (first.active, first.delayed, first.completed, first.dropped) == (3, 0, 0, 1)
    zero = snapshot(empty, timezone.localdate(now))
    assert (zero.active, zero.delayed, zero.completed, zero.dropped) == (0, 0, 0, 0)

    call_command("lms_core_sweep_deadlines", stdout=open("/dev/null", "w"))  # noqa: SIM115
    again = snapshot(cohort)
    assert (again.active, again.delayed, again.dropped) == (0, 3, 1)
    assert CohortStatusSnapshot.objects.filter(cohort=cohort).count() == 1


def test_the_background_sweep_records_snapshots_in_constant_queries():
    for _ in range(3):
        cohort = make_cohort()
        for _ in range(5):
            make_enrollment(cohort=cohort)
    with CaptureQueriesContext(connection) as few:
        stats.record_status_snapshots()
    for _ in range(3):
        cohort = make_cohort()
        for _ in range(5):
            make_enrollment(cohort=cohort)
    with CaptureQueriesContext(connection) as more:
        stats.record_status_snapshots()
    assert len(more) == len(few) <= 4

    sweep_deadlines.now()
    assert CohortStatusSnapshot.objects.filter(day=timezone.localdate()).count() == Cohort.objects.count()
    assert sum(s.delayed for s in CohortStatusSnapshot.objects.all()) == 30


def test_status_history_is_oldest_first_and_limited_to_the_days_asked():
    cohort = make_cohort()
    today = timezone.localdate()
    for back in (40, 3, 1, 0):
        CohortStatusSnapshot.objects.create(
            cohort=cohort, day=today - timedelta(days=back), delayed=back, taken_at=timezone.now()
        )
    history = stats.status_history(cohort, days=30, today=today)
    assert [row["delayed"] for row in history] == [3, 1, 0]
    assert history[0]["day"] == today - timedelta(days=3)
    assert [row["delayed"] for row in stats.status_history(cohort, days=2, today=today)] == [1, 0]


def test_progress_distribution_buckets_learners_by_completed_required_contents():
    course = make_course()
    contents = [make_content(course, required=True) for _ in range(4)]
    cohort = make_cohort(course)
    done_counts = [0, 0, 1, 2, 3, 4, 4]
    for done in done_counts:
        enrollment = make_enrollment(cohort=cohort)
        for content in contents[:done]:
            record_progress(enrollment.user, content, percent=100)
    from lms_core.api.querysets import cohort_learners

    counts = stats.progress_distribution(cohort_learners(cohort.pk, now=timezone.now()))
    # 0 % → bucket 0 (twice), 25 % → bucket 2, 50 % → 5, 75 % → 7, 100 % → the last bucket (twice).
    expected = [0] * 11
    for i in (0, 0, 2, 5, 7, 10, 10):
        expected[i] += 1
    assert counts == expected
    assert len(stats.BUCKETS) == 11 and stats.BUCKETS[0] == "0-9%" and stats.BUCKETS[-1] == "100%"


def test_stats_endpoint_for_instructors_and_404_for_others():
    course = make_course(contents=2)
    cohort = make_cohort(course)
    instructor, stranger = make_user(), make_user()
    course.instructors.add(instructor)
    for _ in range(3):
        make_enrollment(cohort=cohort)
    dropped = make_enrollment(cohort=cohort)
    dropped.status = EnrollmentStatus.DROPPED
    dropped.save()
    stats.record_status_snapshots()
    url = reverse("lms_core:api-cohort-stats", kwargs={"pk": cohort.pk})

    client = APIClient()
    client.force_login(instructor)
    response = client.get(url, {"days": 7})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [b["learners"] for b in body["progress_distribution"]] == [3] + [0] * 10  # dropped left out
    assert body["progress_distribution"][0]["label"] == "0-9%"
    assert body["status_history"] == [
        {"day": timezone.localdate().isoformat(), "active": 3, "delayed": 0, "completed": 0, "dropped": 1}
    ]

    for bad in ("0", "367", "x", "-1"):
        response = client.get(url, {"days": bad})
        assert response.status_code == 400
        assert response.json() == {"days": ["A whole number of days from 1 to 366."]}

    client.force_login(stranger)
    assert client.get(url).status_code == 404
