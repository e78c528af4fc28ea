"""The deadline sweep (``lms_core.deadlines``): each rule, the signals, idempotence, a constant number of
queries, agreement with a plain-Python statement of the rules on random populations, and two workers at once."""

import logging
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lms_core import deadlines, signals
from lms_core.api.querysets import overdue_exists, with_progress
from lms_core.deadlines import due_dates, sweep_enrollments
from lms_core.models import (
    Cohort,
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Pacing,
    Progress,
    ProgressState,
    ScheduleItem,
)
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

NOW = timezone.now()
DAY = timedelta(days=1)


@pytest.fixture
def received():
    """Every enrollment signal sent, as ``(signal name, enrollment ids)``, in order."""
    got = []
    receivers = []
    for name in ("enrollment_delayed", "enrollment_caught_up", "enrollment_completed"):

        def receiver(sender, *, enrollment_ids, at, _name=name, **kwargs):
            assert sender is Enrollment
            got.append((_name, list(enrollment_ids)))

        receivers.append((getattr(signals, name), receiver))
        getattr(signals, name).connect(receiver)
    yield got
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def status_of(enrollment):
    return Enrollment.objects.get(pk=enrollment.pk).status


def complete(enrollment, *contents):
    for content in contents:
        Progress.objects.update_or_create(
            enrollment=enrollment,
            content=content,
            defaults={"state": ProgressState.COMPLETED, "percent": 100, "completed_at": NOW},
        )


@pytest.fixture
def fixed_run():
    """Instructor-paced, started 10 days ago: A due 3 days ago, B due in 4 days, C (optional) due 1 day ago,
    D (required) not scheduled in this cohort."""
    course = make_course("Fixed", contents=0)
    a, b = make_content(course, title="A"), make_content(course, title="B")
    c = make_content(course, title="C", required=False)
    d = make_content(course, title="D")
    cohort = make_cohort(course, starts_at=NOW - 10 * DAY, schedule_every=None)
    ScheduleItem.objects.create(cohort=cohort, content=a, due_at=NOW - 3 * DAY)
    ScheduleItem.objects.create(cohort=cohort, content=b, due_at=NOW + 4 * DAY)
    ScheduleItem.objects.create(cohort=cohort, content=c, due_at=NOW - 1 * DAY)
    return cohort, (a, b, c, d)


# -- the rules -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_overdue_required_work_delays_and_catching_up_reactivates(
    fixed_run, received, django_capture_on_commit_callbacks
):
    cohort, (a, _b, _c, _d) = fixed_run
    late = make_enrollment(make_user(), cohort)
    on_time = make_enrollment(make_user(), cohort)
    complete(on_time, a)  # C is overdue too, but optional; D has no date here

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_enrollments()

    assert (result.delayed, result.caught_up, result.completed) == ([late.pk], [], [])
    assert (status_of(late), status_of(on_time)) == ("delayed", "active")
    complete(late, a)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_enrollments().caught_up == [late.pk]
    assert status_of(late) == "active"
    assert [name for name, _ids in received] == ["enrollment_delayed", "enrollment_caught_up"]


@pytest.mark.django_db
def test_completion_needs_every_required_content_scheduled_or_not(fixed_run):
    cohort, (a, b, _c, d) = fixed_run
    enrollment = make_enrollment(make_user(), cohort)
    complete(enrollment, a, b)
    assert sweep_enrollments().completed == []  # D is required though it has no date
    assert status_of(enrollment) == "active"
    complete(enrollment, d)
    assert sweep_enrollments().completed == [enrollment.pk]  # C is optional
    assert status_of(enrollment) == "completed"


@pytest.mark.django_db
def test_a_delayed_learner_who_finishes_everything_is_completed(fixed_run):
    cohort, (a, b, _c, d) = fixed_run
    enrollment = make_enrollment(make_user(), cohort)
    sweep_enrollments()
    assert status_of(enrollment) == "delayed"
    complete(enrollment, a, b, d)
    result = sweep_enrollments()
    assert (result.completed, result.caught_up) == ([enrollment.pk], [])


@pytest.mark.django_db
def test_dropped_and_completed_enrollments_are_left_alone(fixed_run):
    cohort, (_a, _b, _c, _d) = fixed_run
    dropped = make_enrollment(make_user(), cohort, status=EnrollmentStatus.DROPPED)
    finished = make_enrollment(make_user(), cohort, status=EnrollmentStatus.COMPLETED)
    changed_at = Enrollment.objects.get(pk=finished.pk).status_changed_at
    assert sweep_enrollments().changed == 0  # both have A overdue, and neither moves
    assert (status_of(dropped), status_of(finished)) == ("dropped", "completed")
    assert Enrollment.objects.get(pk=finished.pk).status_changed_at == changed_at


@pytest.mark.django_db
def test_a_course_without_required_contents_is_never_completed_by_the_sweep():
    course = make_course(contents=2)
    course.contents.update(required=False)
    enrollment = make_enrollment(make_user(), make_cohort(course, starts_at=NOW - 30 * DAY))
    complete(enrollment, *course.contents.all())
    assert sweep_enrollments().changed == 0
    assert status_of(enrollment) == "active"


@pytest.mark.django_db
def test_deadline_exceptions_move_one_learners_date_either_way(fixed_run):
    cohort, (a, b, _c, d) = fixed_run
    extended = make_enrollment(make_user(), cohort)
    DeadlineException.objects.create(enrollment=extended, content=a, due_at=NOW + DAY)
    brought_forward = make_enrollment(make_user(), cohort)
    complete(brought_forward, a)
    DeadlineException.objects.create(enrollment=brought_forward, content=b, due_at=NOW - DAY)
    unscheduled = make_enrollment(make_user(), cohort)
    complete(unscheduled, a)
    DeadlineException.objects.create(
        enrollment=unscheduled, content=d, due_at=NOW - DAY
    )  # not scheduled here

    assert sweep_enrollments().delayed == [brought_forward.pk]
    assert due_dates(extended)[a.pk] == NOW + DAY
    assert d.pk not in due_dates(unscheduled)


@pytest.mark.django_db
def test_self_paced_dates_count_from_each_learners_start_plus_their_shift():
    course = make_course(contents=1)
    cohort = make_cohort(course, pacing=Pacing.SELF, starts_at=NOW - 60 * DAY, schedule_every=7 * DAY)
    early = make_enrollment(make_user(), cohort, started_at=NOW - 8 * DAY)  # due a day ago
    recent = make_enrollment(make_user(), cohort, started_at=NOW - 6 * DAY)  # due tomorrow
    shifted = make_enrollment(make_user(), cohort, started_at=NOW - 8 * DAY, date_shift=2 * DAY)
    assert sweep_enrollments().delayed == [early.pk]
    assert due_dates(shifted) == {course.contents.get().pk: NOW - 8 * DAY + 2 * DAY + 7 * DAY}
    assert (status_of(recent), status_of(shifted)) == ("active", "active")


@pytest.mark.django_db
@pytest.mark.parametrize("start_microseconds", [0, 1, 999_999])
def test_self_paced_due_dates_are_exact_to_the_microsecond(start_microseconds):
    """The elapsed time of each learner is computed in the database (natively on SQLite): a date that passed a
    microsecond ago is overdue, one due in a microsecond is not, whatever the start's fraction of a second."""
    course = make_course(contents=1)
    cohort = make_cohort(course, pacing=Pacing.SELF, starts_at=NOW - 60 * DAY, schedule_every=7 * DAY)
    now = (NOW - 3 * DAY).replace(microsecond=500_000)
    started = (now - 7 * DAY).replace(microsecond=start_microseconds)
    shift = timedelta(days=1, microseconds=250)
    now = started + shift + 7 * DAY  # exactly due
    just_passed = make_enrollment(
        make_user(), cohort, started_at=started, date_shift=shift - timedelta(microseconds=1)
    )
    exactly_now = make_enrollment(make_user(), cohort, started_at=started, date_shift=shift)
    not_yet = make_enrollment(
        make_user(), cohort, started_at=started + timedelta(microseconds=1), date_shift=shift
    )
    assert sweep_enrollments(now=now).delayed == [just_passed.pk]
    assert (status_of(exactly_now), status_of(not_yet)) == ("active", "active")


@pytest.mark.django_db
def test_a_sweep_can_be_limited_to_some_enrollments(fixed_run):
    cohort, _contents = fixed_run
    one, other = make_enrollment(make_user(), cohort), make_enrollment(make_user(), cohort)
    assert sweep_enrollments(enrollment_ids=[one.pk]).delayed == [one.pk]
    assert status_of(other) == "active"
    assert sweep_enrollments(enrollment_ids=[]).changed == 0


@pytest.mark.django_db
def test_a_sweep_at_another_moment_judges_that_moment(fixed_run):
    cohort, (a, _b, _c, _d) = fixed_run
    enrollment = make_enrollment(make_user(), cohort)
    complete(enrollment, a)
    assert sweep_enrollments(now=NOW + 3 * DAY).changed == 0
    assert sweep_enrollments(now=NOW + 5 * DAY).delayed == [enrollment.pk]  # B passed
    result = sweep_enrollments(now=NOW + 5 * DAY)
    assert result.at == NOW + 5 * DAY
    assert Enrollment.objects.get(pk=enrollment.pk).status_changed_at == NOW + 5 * DAY


# -- signals, idempotence, queries ---------------------------------------------------------------------------------


def stale_population(n, cohort, contents):
    """``n`` learners of ``cohort`` in thirds: overdue but stored ``active``; caught up but stored ``delayed``;
    finished but stored ``active``. Returns the three lists of enrollments."""
    a, b, _c, d = contents
    late, back, done = [], [], []
    for i in range(n):
        kind = i % 3
        enrollment = make_enrollment(
            make_user(), cohort, status=EnrollmentStatus.DELAYED if kind == 1 else EnrollmentStatus.ACTIVE
        )
        if kind == 1:
            complete(enrollment, a)
        elif kind == 2:
            complete(enrollment, a, b, d)
        (late, back, done)[kind].append(enrollment.pk)
    return late, back, done


@pytest.mark.django_db
def test_one_signal_per_kind_of_change_with_exactly_the_ids_that_changed(
    fixed_run, received, django_capture_on_commit_callbacks
):
    cohort, contents = fixed_run
    late, back, done = stale_population(9, cohort, contents)
    make_enrollment(make_user(), cohort, status=EnrollmentStatus.DROPPED)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_enrollments()
    assert sorted(received) == [
        ("enrollment_caught_up", back),
        ("enrollment_completed", done),
        ("enrollment_delayed", late),
    ]
    assert (result.delayed, result.caught_up, result.completed) == (late, back, done)

    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_enrollments().changed == 0
    assert received == []


@pytest.mark.django_db
def test_signals_wait_for_the_commit_and_a_rollback_sends_nothing(fixed_run, received):
    cohort, _contents = fixed_run
    enrollment = make_enrollment(make_user(), cohort)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert sweep_enrollments().delayed == [enrollment.pk]
        raise RuntimeError("the caller's transaction fails")
    assert status_of(enrollment) == "active"
    assert received == []


@pytest.mark.django_db
def test_a_failing_receiver_is_logged_and_the_others_still_hear(
    fixed_run, received, caplog, django_capture_on_commit_callbacks
):
    cohort, _contents = fixed_run
    enrollment = make_enrollment(make_user(), cohort)

    def broken(sender, **kwargs):
        raise ValueError("a receiver's bug")

    signals.enrollment_delayed.connect(broken)
    try:
        with (
            caplog.at_level(logging.ERROR, logger="lms_core.deadlines"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            sweep_enrollments()
    finally:
        signals.enrollment_delayed.disconnect(broken)
    assert ("enrollment_delayed", [enrollment.pk]) in received
    assert "a receiver's bug" in caplog.text


def sweep_queries():
    with CaptureQueriesContext(connection) as captured:
        sweep_enrollments()
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db
def test_the_sweep_runs_the_same_few_queries_for_any_number_of_enrollments(fixed_run):
    """Three ``UPDATE … RETURNING`` (plus savepoints), whether 6 or 60 enrollments move: never a row at a time."""
    cohort, contents = fixed_run
    stale_population(6, cohort, contents)
    few = sweep_queries()
    Enrollment.objects.all().delete()
    stale_population(60, cohort, contents)
    many = sweep_queries()
    assert len(many) == len(few) <= 9
    statements = [
        sql for sql in many if not sql.upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]
    assert len(statements) == 3
    assert all(sql.startswith('UPDATE "lms_core_enrollment"') for sql in statements)
    assert Enrollment.objects.filter(status=EnrollmentStatus.COMPLETED).count() == 20


@pytest.mark.django_db
def test_without_update_returning_the_changed_rows_are_found_by_their_timestamp(
    fixed_run, monkeypatch, received, django_capture_on_commit_callbacks
):
    """SQLite before 3.35 (and other backends) cannot return rows from an UPDATE: the same result otherwise."""
    monkeypatch.setattr(deadlines, "_can_return_from_update", lambda connection: False)
    cohort, contents = fixed_run
    late, back, done = stale_population(6, cohort, contents)
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_enrollments()
    assert (result.delayed, result.caught_up, result.completed) == (late, back, done)
    assert sweep_enrollments().changed == 0


@pytest.mark.django_db
def test_a_transition_that_would_join_tables_is_refused():
    joined = Enrollment.objects.filter(cohort__course__title="x")
    with pytest.raises(RuntimeError, match="must not join"):
        deadlines._update_returning_pks(joined, NOW, status=EnrollmentStatus.DELAYED, status_changed_at=NOW)


# -- the same rules in plain Python, on random populations ---------------------------------------------------------


def random_population(rng: random.Random):
    """Courses with required and optional contents, instructor- and self-paced cohorts scheduling most contents,
    learners at every stage with stale stored statuses, shifts, exceptions (some on unscheduled contents)."""
    enrollments = []
    for c in range(3):
        course = make_course(f"Random {c}", contents=0)
        contents = [
            make_content(course, title=f"C{c}-{i}", required=rng.random() < 0.7)
            for i in range(rng.randint(2, 6))
        ]
        for pacing in (Pacing.INSTRUCTOR, Pacing.SELF):
            starts_at = NOW - rng.randint(0, 40) * DAY
            cohort = Cohort.objects.create(
                course=course,
                name=f"{pacing}-{c}",
                starts_at=starts_at,
                ends_at=starts_at + 200 * DAY,
                pacing=pacing,
            )
            for content in contents:
                if rng.random() < 0.8:
                    when = timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
                    if pacing == Pacing.SELF:
                        ScheduleItem.objects.create(cohort=cohort, content=content, due_offset=when)
                    else:
                        ScheduleItem.objects.create(cohort=cohort, content=content, due_at=starts_at + when)
            for _learner in range(8):
                enrollment = Enrollment.objects.create(
                    user=make_user(),
                    cohort=cohort,
                    started_at=starts_at + rng.randint(0, 20) * DAY,
                    date_shift=rng.choice([timedelta(0), timedelta(0), rng.randint(1, 9) * DAY]),
                    status=rng.choice(EnrollmentStatus.values),
                )
                for content in contents:
                    roll = rng.random()
                    if roll < 0.5:
                        complete(enrollment, content)
                    elif roll < 0.7:
                        Progress.objects.create(
                            enrollment=enrollment,
                            content=content,
                            state=ProgressState.IN_PROGRESS,
                            percent=40,
                        )
                    if rng.random() < 0.2:
                        DeadlineException.objects.create(
                            enrollment=enrollment,
                            content=content,
                            due_at=NOW + timedelta(days=rng.randint(-10, 10), hours=rng.randint(-12, 12)),
                        )
                enrollments.append(enrollment)
    return enrollments


def overdue_by_hand(enrollment, now):
    """Required scheduled contents, not completed, whose effective due date (:func:`due_dates`) has passed."""
    done = set(
        Progress.objects.filter(enrollment=enrollment, state=ProgressState.COMPLETED).values_list(
            "content_id", flat=True
        )
    )
    required = set(
        LearningContent.objects.filter(course_id=enrollment.cohort.course_id, required=True).values_list(
            "pk", flat=True
        )
    )
    return {
        cid for cid, due in due_dates(enrollment).items() if cid in required and cid not in done and due < now
    }, (bool(required) and required <= done)


def status_by_hand(enrollment, now):
    if enrollment.status in (EnrollmentStatus.DROPPED, EnrollmentStatus.COMPLETED):
        return enrollment.status
    overdue, finished = overdue_by_hand(enrollment, now)
    if finished:
        return EnrollmentStatus.COMPLETED
    return EnrollmentStatus.DELAYED if overdue else EnrollmentStatus.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_the_sweep_agrees_with_the_rules_in_plain_python(seed):
    enrollments = random_population(random.Random(seed))
    now = timezone.now()
    expected = {e.pk: status_by_hand(e, now) for e in enrollments}
    before = {e.pk: e.status for e in enrollments}

    result = sweep_enrollments(now=now)

    after = dict(Enrollment.objects.values_list("pk", "status"))
    assert after == expected
    moved = {pk for pk in after if after[pk] != before[pk]}
    assert set(result.delayed) | set(result.caught_up) | set(result.completed) == moved
    assert all(after[pk] == "delayed" for pk in result.delayed)
    assert all(before[pk] == "delayed" and after[pk] == "active" for pk in result.caught_up)
    assert sweep_enrollments(now=now).changed == 0


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(2))
def test_the_api_overdue_figures_agree_with_the_rules_in_plain_python(seed):
    """``has_overdue`` of every list row and the per-content ``overdue_content`` filter use the sweep's rule."""
    enrollments = random_population(random.Random(100 + seed))
    now = timezone.now()
    annotated = dict(with_progress(Enrollment.objects.all(), now=now).values_list("pk", "has_overdue"))
    for enrollment in enrollments:
        overdue, _finished = overdue_by_hand(enrollment, now)
        assert annotated[enrollment.pk] == bool(overdue), enrollment.pk
        for content in LearningContent.objects.filter(course_id=enrollment.cohort.course_id):
            flagged = Enrollment.objects.filter(pk=enrollment.pk).filter(
                overdue_exists(now, content_id=content.pk)
            )
            assert flagged.exists() == (content.pk in overdue), (enrollment.pk, content.pk)


# -- two workers at once (PostgreSQL: row locks and READ COMMITTED re-checks) ---------------------------------------


def wait_for_a_lock_wait(timeout=10.0):
    """Until another backend of this database waits for a row lock in an UPDATE of enrollments."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction, pg_stat_activity is a snapshot taken at its first use: clear it each time.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' "
                "AND query LIKE 'UPDATE \"lms_core_enrollment\"%%'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def in_thread(target):
    box = {}

    def run():
        try:
            box["result"] = target()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_that_waited_for_another_moves_nothing_twice(fixed_run, received):
    """Worker 1 has moved everyone but not committed; worker 2's UPDATE waits for those rows, then re-checks each
    against its new status and skips it: every id is moved, and announced, exactly once."""
    cohort, contents = fixed_run
    late, back, done = stale_population(30, cohort, contents)
    now = timezone.now()
    with transaction.atomic():
        first = sweep_enrollments(now=now)
        thread, second = in_thread(lambda: sweep_enrollments(now=now))
        assert wait_for_a_lock_wait(), "the second worker never waited for the first one's row locks"
    thread.join(30)
    assert "error" not in second, second.get("error")
    assert (first.delayed, first.caught_up, first.completed) == (late, back, done)
    assert second["result"].changed == 0
    assert sorted(received) == [
        ("enrollment_caught_up", back),
        ("enrollment_completed", done),
        ("enrollment_delayed", late),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_the_same_moment_move_each_enrollment_once(fixed_run, received):
    cohort, contents = fixed_run
    late, back, done = stale_population(300, cohort, contents)
    barrier = threading.Barrier(2)
    now = timezone.now()

    def worker():
        barrier.wait(10)
        return sweep_enrollments(now=now)

    workers = [in_thread(worker) for _ in range(2)]
    for thread, _box in workers:
        thread.join(60)
    results = [box["result"] for _thread, box in workers]
    assert sorted(results[0].delayed + results[1].delayed) == late
    assert sorted(results[0].caught_up + results[1].caught_up) == back
    assert sorted(results[0].completed + results[1].completed) == done
    by_signal = {}
    for name, ids in received:
        by_signal.setdefault(name, []).extend(ids)
    assert {name: sorted(ids) for name, ids in by_signal.items()} == {
        "enrollment_delayed": late,
        "enrollment_caught_up": back,
        "enrollment_completed": done,
    }
    assert dict(Enrollment.objects.values_list("pk", "status")) == {
        **dict.fromkeys(late, "delayed"),
        **dict.fromkeys(back, "active"),
        **dict.fromkeys(done, "completed"),
    }
