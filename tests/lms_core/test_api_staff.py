"""The staff/instructor side of lms_core's REST API, through real requests: cohorts, a cohort's learners with
every filter and ordering, the CSV export, enrolling a learner, granting a deadline exception."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from lms_core.avatars import avatar_url
from lms_core.deadlines import sweep_enrollments
from lms_core.models import DeadlineException, Enrollment, EnrollmentStatus, ScheduleItem
from lms_core.services import record_progress
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def learners_url(cohort, pk=None):
    if pk is None:
        return reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": cohort.pk})
    return reverse("lms_core:api-cohort-learner-detail", kwargs={"cohort_pk": cohort.pk, "pk": pk})


def exceptions_url(cohort):
    return reverse("lms_core:api-cohort-exception-list", kwargs={"cohort_pk": cohort.pk})


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def with_perms(user, *perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)


def usernames(response):
    assert response.status_code == 200, response.content
    return [row["learner"]["username"] for row in response.json()["results"]]


@pytest.fixture
def cohort():
    """4 required contents (2 overdue, 2 upcoming) and an optional one; five learners, statuses swept:

    ========== ============ ========== ============================ =========
    username   name         progress   completed                    status
    ========== ============ ========== ============================ =========
    alice      Alice Kim    2/4        1, 2                         active
    bob        Bob Lee      1/4        1 (+ optional)               delayed
    minsu      민수 김      0/4        —                            delayed
    dave       Dave Park    4/4        1, 2, 3, 4                   completed
    erin       Erin Choi    0/4        —                            dropped
    ========== ============ ========== ============================ =========
    """
    course = make_course("Computer vision", contents=4)
    optional = make_content(course, title="Extra", required=False)
    cohort = make_cohort(course, starts_at=NOW - timedelta(days=20), schedule_every=None)
    contents = list(course.contents.filter(required=True).order_by("position"))
    for content, days in zip(contents, (5, 10, 30, 40), strict=True):
        ScheduleItem.objects.create(
            cohort=cohort, content=content, due_at=cohort.starts_at + timedelta(days=days)
        )
    people = {}
    for username, first, last in [
        ("alice", "Alice", "Kim"),
        ("bob", "Bob", "Lee"),
        ("minsu", "민수", "김"),
        ("dave", "Dave", "Park"),
        ("erin", "Erin", "Choi"),
    ]:
        user = make_user(username, first_name=first, last_name=last)
        people[username] = make_enrollment(user, cohort)
    done = {"alice": contents[:2], "bob": [contents[0], optional], "dave": contents}
    for hours, (username, finished) in enumerate(done.items()):
        for i, content in enumerate(finished):
            record_progress(
                people[username].user,
                content,
                completed=True,
                enrollment=people[username],
                at=NOW - timedelta(days=10 - i, hours=hours),
            )
    Enrollment.objects.filter(pk=people["erin"].pk).update(status=EnrollmentStatus.DROPPED)
    sweep_enrollments()
    cohort.people = people
    cohort.contents = contents
    return cohort


@pytest.fixture
def staff():
    return with_perms(make_user("staffer", is_staff=True), "lms_core.view_enrollment")


# -- cohorts ---------------------------------------------------------------------------------------------------


def test_cohort_list_counts_learners(cohort, staff):
    other = make_cohort()
    response = api_for(staff).get(reverse("lms_core:api-cohort-list"))
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {cohort.pk, other.pk}
    assert rows[cohort.pk]["learners_count"] == 5
    assert rows[cohort.pk]["delayed_count"] == 2
    assert rows[cohort.pk]["course"]["title"] == "Computer vision"
    assert rows[cohort.pk]["user_is_instructor"] is False
    detail = api_for(staff).get(reverse("lms_core:api-cohort-detail", args=[cohort.pk])).json()
    assert detail["learners_count"] == 5


# -- the learners list -----------------------------------------------------------------------------------------


def test_learner_rows_by_name_with_progress_status_activity_and_avatar(cohort, staff):
    response = api_for(staff).get(learners_url(cohort))

    # By family name, then given name: Choi, Kim, Lee, Park, then Hangul (김).
    assert usernames(response) == ["erin", "alice", "bob", "dave", "minsu"]
    rows = {row["learner"]["username"]: row for row in response.json()["results"]}
    alice = rows["alice"]
    assert alice["id"] == cohort.people["alice"].pk
    assert alice["status"] == "active"
    assert alice["progress_rate"] == 0.5
    assert (alice["completed_required"], alice["required_total"]) == (2, 4)
    assert parse_datetime(alice["last_activity_at"]) == NOW - timedelta(days=9)
    assert alice["has_overdue"] is False
    assert alice["learner"]["name"] == "Alice Kim"
    user_id = alice["learner"]["id"]
    assert alice["learner"]["avatar_url"] == f"http://testserver{avatar_url(user_id)}"  # an opaque key, no pk
    assert rows["bob"]["progress_rate"] == 0.25  # the optional content does not count
    assert rows["bob"]["status"] == "delayed"
    assert rows["bob"]["has_overdue"] is True
    assert rows["minsu"]["last_activity_at"] is None
    assert rows["minsu"]["learner"]["name"] == "민수 김"
    assert rows["dave"]["status"] == "completed"
    assert rows["dave"]["progress_rate"] == 1.0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "delayed"}, ["bob", "minsu"]),
        ({"status": ["active", "completed"]}, ["alice", "dave"]),
        ({"delayed": "true"}, ["bob", "minsu"]),
        ({"delayed": "false"}, ["erin", "alice", "dave"]),
        ({"search": "kim"}, ["alice"]),
        ({"search": "김"}, ["minsu"]),
        ({"search": "MINSU"}, ["minsu"]),
        ({"search": "alice kim"}, ["alice"]),
        ({"search": "alice lee"}, []),
        ({"progress_below": "50"}, ["erin", "bob", "minsu"]),
        ({"progress_below": "50.1"}, ["erin", "alice", "bob", "minsu"]),
        ({"progress_below": "0"}, []),
        ({"progress_below": "50", "status": "delayed"}, ["bob", "minsu"]),
        ({"overdue": "true"}, ["erin", "bob", "minsu"]),
        ({"overdue": "false"}, ["alice", "dave"]),
    ],
)
def test_learner_filters(cohort, staff, params, expected):
    assert usernames(api_for(staff).get(learners_url(cohort), params)) == expected


def test_filter_by_one_overdue_content(cohort, staff):
    client = api_for(staff)
    first, second, third, _fourth = cohort.contents
    assert usernames(client.get(learners_url(cohort), {"overdue_content": first.pk})) == ["erin", "minsu"]
    assert usernames(client.get(learners_url(cohort), {"overdue_content": second.pk})) == [
        "erin",
        "bob",
        "minsu",
    ]
    assert usernames(client.get(learners_url(cohort), {"overdue_content": third.pk})) == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-progress", ["dave", "alice", "bob", "minsu", "erin"]),
        ("progress", ["minsu", "erin", "bob", "alice", "dave"]),
        ("-name", ["minsu", "dave", "bob", "alice", "erin"]),
        ("last_activity", ["bob", "alice", "dave", "minsu", "erin"]),
        ("-last_activity", ["dave", "alice", "bob", "minsu", "erin"]),
        ("status,name", ["alice", "dave", "bob", "minsu", "erin"]),
    ],
)
def test_learner_ordering(cohort, staff, ordering, expected):
    # Ties (minsu and erin have no progress and no activity) fall back to the enrollment id: minsu enrolled first.
    assert usernames(api_for(staff).get(learners_url(cohort), {"ordering": ordering})) == expected


def test_one_learner_row(cohort, staff):
    enrollment = cohort.people["bob"]
    response = api_for(staff).get(learners_url(cohort, enrollment.pk))
    assert response.status_code == 200
    assert response.json()["learner"]["username"] == "bob"
    assert response.json()["progress_rate"] == 0.25
    foreign = make_enrollment()
    assert api_for(staff).get(learners_url(cohort, foreign.pk)).status_code == 404


def test_learner_list_runs_a_constant_number_of_queries(django_assert_num_queries):
    """session + user + the staff member's permissions (2) + cohort + count + page, for 2 or 20 learners."""
    staff = with_perms(make_user(is_staff=True), "lms_core.view_enrollment")
    client = api_for(staff)
    for n in (2, 20):
        cohort = make_cohort(make_course(contents=5))
        for content_number in range(n):
            enrollment = make_enrollment(make_user(), cohort)
            for content in cohort.course.contents.all()[: content_number % 5]:
                record_progress(enrollment.user, content, completed=True, enrollment=enrollment)
        with django_assert_num_queries(7):
            response = client.get(learners_url(cohort), {"ordering": "-progress", "overdue": "false"})
        assert response.json()["count"] <= n
        with django_assert_num_queries(7):
            response = client.get(learners_url(cohort), {"page_size": 50})
        assert len(response.json()["results"]) == n
        with django_assert_num_queries(6):  # no count query: every row, streamed
            response = client.get(learners_url(cohort), {"format": "csv"})
            lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == n + 1


# -- the CSV export ------------------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_export_is_the_filtered_ordered_list(cohort, staff):
    response = api_for(staff).get(
        learners_url(cohort), {"format": "csv", "progress_below": "60", "ordering": "-progress"}
    )
    assert "attachment" in response["Content-Disposition"]
    assert ".csv" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [row["username"] for row in rows] == ["alice", "bob", "minsu", "erin"]
    alice = rows[0]
    assert alice["name"] == "Alice Kim"
    assert alice["progress_percent"] == "50.0"
    assert (alice["completed_required"], alice["required_total"]) == ("2", "4")
    assert alice["has_overdue"] == "no"
    assert alice["status"] == "active"
    assert alice["avatar_url"].startswith("http://testserver/core/avatars/")
    assert rows[2]["name"] == "민수 김"
    assert rows[2]["last_activity_at"] == ""


def test_csv_by_accept_header_and_spreadsheet_formulas_are_neutralised(cohort, staff):
    user = make_user("mallory", first_name="=HYPERLINK(1)", last_name="")
    make_enrollment(user, cohort)
    response = api_for(staff).get(learners_url(cohort), {"search": "mallory"}, HTTP_ACCEPT="text/csv")
    (row,) = read_csv(response)
    assert row["name"] == "'=HYPERLINK(1)"


def test_csv_errors_are_answered_as_json(cohort, staff):
    response = api_for(staff).get(learners_url(cohort), {"format": "csv", "progress_below": "500"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "progress_below" in response.json()


# -- enrolling and granting exceptions -----------------------------------------------------------------------


def test_staff_enrolls_a_learner(cohort):
    manager = with_perms(make_user(is_staff=True), "lms_core.view_enrollment", "lms_core.add_enrollment")
    newcomer = make_user("newcomer")
    response = api_for(manager).post(learners_url(cohort), {"user": newcomer.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["learner"]["username"] == "newcomer"
    assert body["status"] == "active"
    assert body["progress_rate"] == 0.0
    assert response["Location"].endswith(learners_url(cohort, body["id"]))
    assert Enrollment.objects.get(pk=body["id"]).user == newcomer


def test_instructor_grants_an_exception_and_the_learner_catches_up(cohort):
    instructor = make_user("teacher")
    cohort.course.instructors.add(instructor)
    bob = cohort.people["bob"]
    second = cohort.contents[1]
    client = api_for(instructor)
    payload = {
        "enrollment": bob.pk,
        "content": second.pk,
        "due_at": (NOW + timedelta(days=3)).isoformat(),
        "reason": "아팠어요 (sick leave)",
    }

    response = client.post(exceptions_url(cohort), payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["learner"]["username"] == "bob"
    assert body["learner"]["avatar_url"].startswith("http://testserver/core/avatars/")
    assert body["content"]["id"] == second.pk
    assert body["granted_by"]["username"] == "teacher"
    assert parse_datetime(body["due_at"]) == NOW + timedelta(days=3)
    bob.refresh_from_db()
    assert bob.status == EnrollmentStatus.ACTIVE  # the only overdue content now has a later date

    payload["due_at"] = (NOW + timedelta(days=5)).isoformat()
    response = client.post(exceptions_url(cohort), payload, format="json")
    assert response.status_code == 200  # replaced, not added
    assert DeadlineException.objects.filter(enrollment=bob).count() == 1

    listed = client.get(exceptions_url(cohort), {"enrollment": bob.pk}).json()
    assert listed["count"] == 1
    assert parse_datetime(listed["results"][0]["due_at"]) == NOW + timedelta(days=5)
    schedule = {
        row["learner"]["username"]: row["has_overdue"]
        for row in client.get(learners_url(cohort)).json()["results"]
    }
    assert schedule["bob"] is False
