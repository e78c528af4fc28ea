"""lms_core's public services, called directly as other apps call them: enrolling, recording progress (and the
receiver other apps' signals connect to), shifting dates, granting exceptions, the next due content."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from lms_core import services, signals
from lms_core.deadlines import sweep_enrollments
from lms_core.exceptions import (
    AlreadyEnrolled,
    InvalidDeadline,
    InvalidProgress,
    NotEnrolled,
    ShiftNotAllowed,
)
from lms_core.models import DeadlineException, Enrollment, EnrollmentStatus, Pacing, Progress, ProgressState
from lms_core.receivers import record_progress_receiver
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def completions():
    """``content_completed`` as received: (user, content, enrollment, progress) tuples."""
    got = []

    def receiver(sender, *, progress, enrollment, user, content, **kwargs):
        got.append((user, content, enrollment, progress))

    signals.content_completed.connect(receiver)
    yield got
    signals.content_completed.disconnect(receiver)


@pytest.fixture
def course_run():
    """An instructor-paced cohort that started 10 days ago: content 1 due 3 days ago, content 2 due in 4 days,
    content 3 (optional) in 11; one learner, swept (so ``delayed``)."""
    course = make_course("Services", contents=3)
    optional = course.contents.order_by("position").last()
    optional.required = False
    optional.save()
    cohort = make_cohort(course, starts_at=NOW - timedelta(days=10), schedule_every=timedelta(days=7))
    enrollment = make_enrollment(make_user("learner"), cohort)
    sweep_enrollments()
    enrollment.refresh_from_db()
    return enrollment, list(course.contents.order_by("position"))


# -- enroll ------------------------------------------------------------------------------------------------------


def test_enroll_starts_now_or_at_the_cohort_start_and_refuses_a_duplicate():
    running = make_cohort(starts_at=NOW - timedelta(days=3))
    upcoming = make_cohort(starts_at=NOW + timedelta(days=3))
    user = make_user()
    before = timezone.now()
    assert services.enroll(user, running).started_at >= before
    assert services.enroll(user, upcoming).started_at == upcoming.starts_at
    with pytest.raises(AlreadyEnrolled) as excinfo:
        services.enroll(user, running)
    assert excinfo.value.status_code == 409
    assert Enrollment.objects.filter(user=user).count() == 2


def test_enroll_refuses_a_start_before_the_cohort():
    cohort = make_cohort()
    with pytest.raises(InvalidDeadline, match="cannot start before the cohort starts"):
        services.enroll(make_user(), cohort, started_at=cohort.starts_at - timedelta(seconds=1))
    assert not Enrollment.objects.exists()


# -- record_progress ---------------------------------------------------------------------------------------------


def test_record_progress_keeps_activity_dates_and_never_moves_back(course_run, completions):
    enrollment, (first, _second, _optional) = course_run
    user = enrollment.user
    t1, t2, t3 = NOW - timedelta(hours=3), NOW - timedelta(hours=2), NOW - timedelta(hours=1)

    progress = services.record_progress(user, first, percent=30, at=t2)
    assert (progress.state, progress.percent) == (ProgressState.IN_PROGRESS, 30)
    assert progress.first_activity_at == progress.last_activity_at == t2

    progress = services.record_progress(user, first, percent=10, at=t1)  # late, lower: changes no figure
    assert progress.percent == 30
    assert (progress.first_activity_at, progress.last_activity_at) == (t2, t2)

    with transaction.atomic():  # the signal waits for the commit
        progress = services.record_progress(user, first, completed=True, at=t3)
        assert completions == []
    assert (progress.state, progress.percent, progress.completed_at) == (ProgressState.COMPLETED, 100, t3)

    again = services.record_progress(user, first, completed=True, percent=50, at=NOW)
    assert (again.state, again.percent, again.completed_at) == (ProgressState.COMPLETED, 100, t3)
    assert again.last_activity_at == NOW
    assert Progress.objects.filter(enrollment=enrollment).count() == 1


def test_content_completed_is_sent_once_after_commit_with_everything_a_receiver_needs(
    course_run, completions, django_capture_on_commit_callbacks
):
    enrollment, (first, _second, _optional) = course_run
    with django_capture_on_commit_callbacks(execute=True):
        services.record_progress(enrollment.user, first, percent=100)
        services.record_progress(enrollment.user, first, completed=True)
        services.record_progress(enrollment.user, first, percent=100)
    ((user, content, got_enrollment, progress),) = completions
    assert (user, content, got_enrollment.pk) == (enrollment.user, first, enrollment.pk)
    assert progress.state == ProgressState.COMPLETED


def test_a_rolled_back_completion_sends_nothing(course_run, completions, django_capture_on_commit_callbacks):
    enrollment, (first, _second, _optional) = course_run
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.record_progress(enrollment.user, first, completed=True)
        raise RuntimeError("the caller's transaction fails")
    assert completions == []
    assert not Progress.objects.exists()


def test_completing_overdue_work_catches_up_at_once_and_the_last_content_completes(
    course_run, django_capture_on_commit_callbacks
):
    enrollment, (first, second, _optional) = course_run
    assert enrollment.status == EnrollmentStatus.DELAYED
    caught_up, completed = [], []

    def on_caught_up(sender, *, enrollment_ids, **kwargs):
        caught_up.extend(enrollment_ids)

    def on_completed(sender, *, enrollment_ids, **kwargs):
        completed.extend(enrollment_ids)

    signals.enrollment_caught_up.connect(on_caught_up)
    signals.enrollment_completed.connect(on_completed)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.record_progress(enrollment.user, first, completed=True)
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.ACTIVE
        assert caught_up == [enrollment.pk]

        with django_capture_on_commit_callbacks(execute=True):
            services.record_progress(
                enrollment.user, second, completed=True
            )  # the optional one is not needed
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.COMPLETED
        assert completed == [enrollment.pk]
    finally:
        signals.enrollment_caught_up.disconnect(on_caught_up)
        signals.enrollment_completed.disconnect(on_completed)


def test_backdated_work_is_judged_against_today(course_run):
    """Completing content 2 with a date from before content 1 was due leaves the learner delayed (content 1 is
    still overdue today)."""
    enrollment, (_first, second, _optional) = course_run
    services.record_progress(enrollment.user, second, completed=True, at=NOW - timedelta(days=9))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELAYED


@pytest.mark.parametrize("percent", [101, -1, 50.5, "50", True, 10**6])
def test_an_invalid_percentage_raises_and_writes_nothing(course_run, percent):
    enrollment, (first, _second, _optional) = course_run
    with pytest.raises(InvalidProgress, match="whole percentage from 0 to 100") as excinfo:
        services.record_progress(enrollment.user, first, percent=percent)
    assert excinfo.value.status_code == 400
    assert not Progress.objects.exists()


def test_recording_outside_an_enrollment_raises_not_enrolled(course_run):
    enrollment, (first, _second, _optional) = course_run
    stranger = make_user("stranger")
    with pytest.raises(NotEnrolled):
        services.record_progress(stranger, first, percent=10)
    with pytest.raises(NotEnrolled):  # someone else's enrollment
        services.record_progress(stranger, first, percent=10, enrollment=enrollment)
    foreign = make_content(make_course(), title="Elsewhere")
    with pytest.raises(NotEnrolled):  # a content of another course
        services.record_progress(enrollment.user, foreign, percent=10, enrollment=enrollment)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.DROPPED)
    with pytest.raises(NotEnrolled):  # a dropped enrollment is not a current one
        services.record_progress(enrollment.user, first, percent=10)
    assert not Progress.objects.exists()


def test_find_enrollment_picks_the_latest_current_run_of_the_course():
    course = make_course(contents=1)
    user = make_user()
    old = make_enrollment(user, make_cohort(course, starts_at=NOW - timedelta(days=200)))
    new = make_enrollment(user, make_cohort(course, starts_at=NOW - timedelta(days=5)))
    content = course.contents.get()
    assert services.find_enrollment(user, content) == new
    Enrollment.objects.filter(pk=new.pk).update(status=EnrollmentStatus.DROPPED)
    assert services.find_enrollment(user, content) == old
    assert services.record_progress(user, content, percent=5).enrollment_id == old.pk


# -- other apps' signals -----------------------------------------------------------------------------------------

#: Stands for another app's signal (say, lms_kernels announcing a passed exercise).
exercise_passed = Signal()


def test_another_apps_signal_records_progress_by_lesson_slug(course_run, completions):
    enrollment, (first, _second, _optional) = course_run
    elsewhere = make_enrollment(enrollment.user, make_cohort(make_course("Other", contents=0)))
    same_slug = make_content(elsewhere.cohort.course, title=first.title)  # a lesson page used by both courses
    assert same_slug.slug == first.slug
    make_content(make_course("Not enrolled"), title=first.title)  # ignored: the learner is not enrolled there
    exercise_passed.connect(record_progress_receiver, dispatch_uid="test")
    try:
        ((_receiver, recorded),) = exercise_passed.send(
            sender=None, user=enrollment.user, content_slug=first.slug, completed=True
        )
    finally:
        exercise_passed.disconnect(dispatch_uid="test")
    assert sorted((p.enrollment_id, p.content_id) for p in recorded) == [
        (enrollment.pk, first.pk),
        (elsewhere.pk, same_slug.pk),
    ]
    assert Progress.objects.filter(state=ProgressState.COMPLETED).count() == 2


def test_the_receiver_ignores_learners_outside_a_course_and_refuses_bad_input(course_run):
    enrollment, (first, _second, _optional) = course_run
    from django.contrib.auth.models import AnonymousUser

    stranger = make_user("stranger")
    assert record_progress_receiver(None, user=stranger, content=first, percent=50) == []
    assert record_progress_receiver(None, user=stranger, content_slug=first.slug, percent=50) == []
    assert record_progress_receiver(None, user=AnonymousUser(), content=first.pk, percent=50) == []
    assert record_progress_receiver(None, user=enrollment.user, content_slug="no-such-lesson") == []
    assert not Progress.objects.exists()
    (progress,) = record_progress_receiver(None, user=enrollment.user, content=first.pk, percent=50)
    assert progress.percent == 50
    with pytest.raises(InvalidProgress):
        record_progress_receiver(None, user=enrollment.user, content=first, percent=500)
    with pytest.raises(TypeError):
        record_progress_receiver(None, user=enrollment.user, percent=5)


# -- shift_dates ---------------------------------------------------------------------------------------------------


@pytest.fixture
def self_paced():
    """Self-paced: contents due 1, 5 and 10 days after the learner's start; at most 5 days, in 2 shifts."""
    course = make_course("Self", contents=3, max_shift_days=5, max_shifts=2)
    cohort = make_cohort(course, pacing=Pacing.SELF, starts_at=NOW - timedelta(days=60), schedule_every=None)
    for content, days in zip(course.contents.order_by("position"), (1, 5, 10), strict=True):
        cohort.schedule.create(content=content, due_offset=timedelta(days=days))
    return cohort


def test_a_learner_who_fell_behind_shifts_within_the_limits(self_paced):
    enrollment = make_enrollment(make_user(), self_paced, started_at=NOW - timedelta(days=2))
    shifted = services.shift_dates(enrollment, 2)
    assert (shifted.date_shift, shifted.shift_count, shifted.status) == (timedelta(days=2), 1, "active")
    assert services.next_due(shifted)[1] == enrollment.started_at + timedelta(days=2 + 1)

    Enrollment.objects.filter(pk=enrollment.pk).update(started_at=NOW - timedelta(days=8))  # behind again
    enrollment.refresh_from_db()
    with pytest.raises(ShiftNotAllowed, match="5 days in total; 3 are left"):
        services.shift_dates(enrollment, 4)
    shifted = services.shift_dates(enrollment, 3)
    assert (shifted.date_shift, shifted.shift_count) == (timedelta(days=5), 2)

    Enrollment.objects.filter(pk=enrollment.pk).update(started_at=NOW - timedelta(days=30))
    enrollment.refresh_from_db()
    with pytest.raises(ShiftNotAllowed, match="used all 2 date shifts"):
        services.shift_dates(enrollment, 1)
    enrollment.refresh_from_db()
    assert (enrollment.date_shift, enrollment.shift_count) == (timedelta(days=5), 2)


@pytest.mark.parametrize("days", [0, -3, 1.5, "2", True])
def test_shifting_by_a_non_positive_or_non_integer_number_of_days_is_refused(self_paced, days):
    enrollment = make_enrollment(make_user(), self_paced, started_at=NOW - timedelta(days=2))
    with pytest.raises(ShiftNotAllowed, match="whole number of days"):
        services.shift_dates(enrollment, days)


def test_shifting_is_refused_on_time_in_instructor_paced_runs_and_when_finished(self_paced, course_run):
    on_time = make_enrollment(make_user(), self_paced, started_at=NOW)
    with pytest.raises(ShiftNotAllowed, match="once you have fallen behind"):
        services.shift_dates(on_time, 1)
    fixed, _contents = course_run
    with pytest.raises(ShiftNotAllowed, match="instructor-paced"):
        services.shift_dates(fixed, 1)
    for status in (EnrollmentStatus.DROPPED, EnrollmentStatus.COMPLETED):
        Enrollment.objects.filter(pk=on_time.pk).update(status=status)
        on_time.refresh_from_db()
        with pytest.raises(ShiftNotAllowed, match="This enrollment is"):
            services.shift_dates(on_time, 1)
    assert not Enrollment.objects.exclude(date_shift=timedelta(0)).exists()


# -- grant_exception and next_due ----------------------------------------------------------------------------------


def test_granting_an_exception_replaces_the_earlier_one_and_resweeps(course_run):
    enrollment, (first, _second, _optional) = course_run
    staff = make_user("staff", is_staff=True)
    granted = services.grant_exception(
        enrollment, first, NOW + timedelta(days=2), granted_by=staff, reason="병가"
    )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert (granted.granted_by, granted.reason) == (staff, "병가")
    services.grant_exception(enrollment, first, NOW - timedelta(days=1))
    assert DeadlineException.objects.get().due_at == NOW - timedelta(days=1)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELAYED


def test_an_exception_must_be_for_the_learners_course_and_not_before_the_start(course_run):
    enrollment, _contents = course_run
    with pytest.raises(InvalidDeadline, match="not part of this learner's course"):
        services.grant_exception(enrollment, make_content(make_course()), NOW)
    with pytest.raises(InvalidDeadline, match="before the cohort starts"):
        services.grant_exception(enrollment, _contents[0], enrollment.cohort.starts_at - timedelta(minutes=1))
    assert not DeadlineException.objects.exists()


def test_next_due_puts_overdue_first_and_skips_completed_work(course_run):
    enrollment, (first, second, optional) = course_run
    assert services.next_due(enrollment) == (first, enrollment.cohort.starts_at + timedelta(days=7))
    services.record_progress(enrollment.user, first, completed=True)
    assert services.next_due(enrollment)[0] == second
    services.record_progress(enrollment.user, second, completed=True)
    assert services.next_due(enrollment)[0] == optional  # optional contents have dates too
    services.record_progress(enrollment.user, optional, completed=True)
    assert services.next_due(enrollment) is None
