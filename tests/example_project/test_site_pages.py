"""The example site's learner and instructor pages, through real requests on the full project."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from lms_core import stats
from lms_core.avatars import avatar_url
from lms_core.deadlines import sweep_enrollments
from lms_core.models import DeadlineException, EnrollmentStatus, Pacing
from lms_core.services import record_progress
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def delayed_self_paced():
    """A self-paced cohort whose first item fell due yesterday: its learner is delayed."""
    course = make_course("Deep learning 101", contents=3, max_shifts=2, max_shift_days=21)
    cohort = make_cohort(
        course,
        pacing=Pacing.SELF,
        starts_at=timezone.now() - timedelta(days=8),
        schedule_every=timedelta(days=7),
    )
    learner = make_user("learner", first_name="Ada")
    enrollment = make_enrollment(learner, cohort)
    sweep_enrollments()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELAYED
    return enrollment


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_course_page_shows_my_dates_states_and_the_way_to_catch_up(client, delayed_self_paced):
    enrollment = delayed_self_paced
    first = enrollment.cohort.course.contents.order_by("position").first()
    record_progress(enrollment.user, enrollment.cohort.course.contents.order_by("position")[1], percent=40)
    client.force_login(enrollment.user)
    response = client.get(reverse("course", args=[enrollment.pk]))
    assert response.status_code == 200
    page = text_of(response)
    assert "Deep learning 101" in page
    assert "0 of 3 required contents done" in page
    assert "You have fallen behind" in page and "Shift my remaining dates by 7 days" in page
    assert page.count("is-overdue") == 1 and first.title in page
    assert "40%" in page  # the content in progress shows its percentage

    home = text_of(client.get(reverse("home")))
    assert reverse("course", args=[enrollment.pk]) + "#catch-up" in home


def test_shifting_my_dates_catches_me_up_until_the_course_limit(client, delayed_self_paced):
    enrollment = delayed_self_paced
    client.force_login(enrollment.user)
    response = client.post(reverse("shift-my-dates", args=[enrollment.pk]), follow=True)
    assert "Your remaining due dates moved 7 days later." in text_of(response)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.shift_count == 1
    # Not delayed any more: a second shift is refused with the rule's message, nothing changes.
    response = client.post(reverse("shift-my-dates", args=[enrollment.pk]), follow=True)
    assert "You can shift your dates once you have fallen behind." in text_of(response)
    enrollment.refresh_from_db()
    assert enrollment.shift_count == 1


def test_another_learners_course_is_a_404_and_get_cannot_shift(client, delayed_self_paced):
    client.force_login(make_user())
    assert client.get(reverse("course", args=[delayed_self_paced.pk])).status_code == 404
    assert client.post(reverse("shift-my-dates", args=[delayed_self_paced.pk])).status_code == 404
    client.force_login(delayed_self_paced.user)
    assert client.get(reverse("shift-my-dates", args=[delayed_self_paced.pk])).status_code == 405
    client.logout()
    assert client.get(reverse("course", args=[delayed_self_paced.pk])).status_code == 302  # to the login


def test_profile_shows_the_identicon_and_my_enrollments(client, delayed_self_paced):
    client.force_login(delayed_self_paced.user)
    page = text_of(client.get(reverse("profile")))
    user = delayed_self_paced.user
    assert avatar_url(user, 120) in page  # the header's avatar and the profile's own, by their opaque key
    assert avatar_url(user) in page
    assert f"/core/avatars/{user.pk}.png" not in page
    assert "Deep learning 101" in page and "Delayed" in page


def test_cohort_dashboard_for_the_instructor_with_filters_and_charts(client, delayed_self_paced):
    cohort = delayed_self_paced.cohort
    instructor = make_user("teacher")
    cohort.course.instructors.add(instructor)
    on_time = make_enrollment(make_user("bob"), cohort, started_at=timezone.now())
    for content in cohort.course.contents.all():
        record_progress(on_time.user, content, percent=100)
    stats.record_status_snapshots()

    client.force_login(delayed_self_paced.user)
    assert client.get(reverse("cohorts")).status_code == 404
    assert client.get(reverse("cohort-dashboard", args=[cohort.pk])).status_code == 404
    assert "Teaching" not in text_of(client.get(reverse("home")))

    client.force_login(instructor)
    assert "Teaching" in text_of(client.get(reverse("home")))
    assert "Deep learning 101" in text_of(client.get(reverse("cohorts")))
    response = client.get(reverse("cohort-dashboard", args=[cohort.pk]))
    assert response.status_code == 200
    charts = json.loads(
        re.search(r'id="cohort-charts"[^>]*>(.*?)</script>', response.content.decode(), re.S)[1]
    )
    assert charts["distribution"]["counts"] == [1] + [0] * 9 + [1]
    assert charts["history"]["delayed"] == [1] and charts["history"]["labels"] == [
        timezone.localdate().isoformat()
    ]
    page = text_of(response)
    assert 'data-learner="learner"' in page and 'data-learner="bob"' in page
    # Each learner's avatar by its opaque key: the page reveals no user ids.
    assert avatar_url(on_time.user) in page and avatar_url(delayed_self_paced.user) in page
    assert f"/core/avatars/{on_time.user.pk}.png" not in page

    filtered = text_of(client.get(reverse("cohort-dashboard", args=[cohort.pk]), {"status": "delayed"}))
    assert 'data-learner="learner"' in filtered and 'data-learner="bob"' not in filtered
    searched = text_of(client.get(reverse("cohort-dashboard", args=[cohort.pk]), {"search": "bob"}))
    assert 'data-learner="bob"' in searched and 'data-learner="learner"' not in searched
    bad = text_of(client.get(reverse("cohort-dashboard", args=[cohort.pk]), {"status": "sleeping"}))
    assert "Select a valid choice" in bad and 'data-learner="bob"' in bad  # the error shown, the list kept


def test_granting_an_exception_from_the_dashboard_catches_the_learner_up(client, delayed_self_paced):
    enrollment = delayed_self_paced
    cohort = enrollment.cohort
    instructor = make_user("teacher")
    cohort.course.instructors.add(instructor)
    first = cohort.course.contents.order_by("position").first()
    url = reverse("cohort-dashboard", args=[cohort.pk])
    client.force_login(instructor)

    too_early = (cohort.starts_at - timedelta(days=3)).date().isoformat()
    response = client.post(url, {"enrollment": enrollment.pk, "content": first.pk, "due_date": too_early})
    assert response.status_code == 200
    assert "The new due date is before the cohort starts." in text_of(response)
    assert not DeadlineException.objects.exists()

    stranger = make_enrollment(make_user(), make_cohort())
    response = client.post(url, {"enrollment": stranger.pk, "content": first.pk, "due_date": "2099-01-01"})
    assert "This learner is not in this cohort." in text_of(response)

    later = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        url,
        {"enrollment": enrollment.pk, "content": first.pk, "due_date": later, "reason": "ill"},
        follow=True,
    )
    assert "now has until" in text_of(response)
    exception = DeadlineException.objects.get()
    assert exception.granted_by == instructor and exception.reason == "ill"
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE

    # A staff member who may see the cohort but not grant: refused with a message, nothing changes.
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_enrollment"))
    client.force_login(viewer)
    response = client.post(
        url, {"enrollment": enrollment.pk, "content": first.pk, "due_date": later}, follow=True
    )
    assert "You may not grant deadline exceptions in this cohort." in text_of(response)
    assert DeadlineException.objects.count() == 1


def test_cohort_dashboard_shows_the_survey_results_of_its_learners(client, delayed_self_paced):
    from lms_surveys.services import submit_response
    from lms_surveys.testing.factories import QUESTIONS, attach, make_survey

    cohort = delayed_self_paced.cohort
    first = cohort.course.contents.order_by("position").first()
    survey = make_survey(
        "After lesson one", questions=[q for q in QUESTIONS if q[0] in ("rating", "comment")]
    )
    target = attach(survey, first)
    other = make_enrollment(make_user("bob"), cohort)
    record_progress(other.user, first, percent=100)
    submit_response(
        target, other.user, {str(survey.q["rating"].pk): 4, str(survey.q["comment"].pk): "더 많은 예제"}
    )
    instructor = make_user("teacher")
    cohort.course.instructors.add(instructor)

    client.force_login(instructor)
    page = text_of(client.get(reverse("cohort-dashboard", args=[cohort.pk])))
    row = re.search(rf'<tr data-survey="{survey.pk}">(.*?)</tr>', page)[1]
    assert first.title in row  # the row names the content the survey is about
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[1:] == ["1", "50%", "4.0"]  # 1 response of 2 enrolled learners, average rating 4
    assert "더 많은 예제" in page
    # Another course's instructor sees no results (and no dashboard at all).
    client.force_login(make_user("elsewhere"))
    assert client.get(reverse("cohort-dashboard", args=[cohort.pk])).status_code == 404
