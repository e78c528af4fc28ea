"""The repeating deadline sweep as a django-background-tasks task: queued by ``migrate``, run directly, run by
``process_tasks`` (which queues the next repetition), and the ``lms_core_sweep_deadlines`` command."""

import io
import signal
from datetime import timedelta

import pytest
from background_task.models import CompletedTask, Task
from background_task.tasks import tasks as task_registry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from lms_core import signals
from lms_core.models import Enrollment, EnrollmentStatus
from lms_core.services import record_progress
from lms_core.tasks import SWEEP_TASK_NAME, schedule_deadline_sweep, sweep_deadlines
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

NOW = timezone.now()


@pytest.fixture
def population():
    """An instructor-paced cohort (started 10 days ago, a content due 3 days ago) with three learners whose stored
    status is out of date: ``late`` is overdue but ``active``, ``back`` caught up but still ``delayed``,
    ``done`` finished everything but is ``active``."""
    cohort = make_cohort(
        make_course("Sweep", contents=2), starts_at=NOW - timedelta(days=10), schedule_every=timedelta(days=7)
    )
    late = make_enrollment(make_user("late"), cohort)
    back = make_enrollment(make_user("back"), cohort)
    done = make_enrollment(make_user("done"), cohort)
    first, second = cohort.course.contents.order_by("position")
    record_progress(back.user, first, completed=True, enrollment=back)
    for content in (first, second):
        record_progress(done.user, content, completed=True, enrollment=done)
    Enrollment.objects.filter(pk__in=[late.pk, done.pk]).update(status=EnrollmentStatus.ACTIVE)
    Enrollment.objects.filter(pk=back.pk).update(status=EnrollmentStatus.DELAYED)
    return {"late": late, "back": back, "done": done}


def statuses(population):
    return {name: Enrollment.objects.get(pk=e.pk).status for name, e in population.items()}


EXPECTED = {"late": "delayed", "back": "active", "done": "completed"}


@pytest.fixture
def received():
    """Every enrollment signal sent during the test, as (signal name, enrollment ids)."""
    got = []
    receivers = {}
    for name in ("enrollment_delayed", "enrollment_caught_up", "enrollment_completed"):

        def receiver(sender, *, enrollment_ids, at, _name=name, **kwargs):
            got.append((_name, sorted(enrollment_ids)))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield got
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def queued():
    return list(Task.objects.filter(task_name=SWEEP_TASK_NAME))


# -- queueing ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_queues_exactly_one_repeating_sweep():
    Task.objects.all().delete()
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)  # idempotent
    (task,) = queued()
    assert task.repeat == 300
    assert task.run_at <= timezone.now()  # the first sweep runs as soon as a worker starts
    assert task.locked_by is None


@pytest.mark.django_db
def test_schedule_follows_the_setting_and_removes_duplicates(settings):
    Task.objects.all().delete()
    first = schedule_deadline_sweep()
    assert schedule_deadline_sweep().pk == first.pk
    # A second repetition (two processes migrating at once) is folded into the first.
    Task.objects.create(
        task_name=SWEEP_TASK_NAME,
        task_params="[[], {}]",
        task_hash="x",
        run_at=timezone.now() + timedelta(hours=1),
        repeat=300,
    )
    assert schedule_deadline_sweep().pk == first.pk
    assert len(queued()) == 1

    settings.LMS_CORE = {"DEADLINE_SWEEP_INTERVAL": 60}
    task = schedule_deadline_sweep()
    assert (task.pk, task.repeat) == (first.pk, 60)
    assert Task.objects.get(pk=first.pk).repeat == 60

    settings.LMS_CORE = {"DEADLINE_SWEEP_INTERVAL": None}
    assert schedule_deadline_sweep() is None
    assert queued() == []
    call_command("migrate", verbosity=0)
    assert queued() == []


@pytest.mark.django_db
def test_a_running_repetition_is_left_alone():
    Task.objects.all().delete()
    running = schedule_deadline_sweep()
    Task.objects.filter(pk=running.pk).update(locked_by="4242", locked_at=timezone.now())
    waiting = schedule_deadline_sweep()  # the running one queues its own successor; this one is the next
    assert waiting.pk != running.pk
    assert schedule_deadline_sweep().pk == waiting.pk
    assert schedule_deadline_sweep(interval=None) is None
    assert [t.pk for t in queued()] == [running.pk]


def test_the_interval_setting_is_validated():
    from django.test import override_settings

    from lms_core.conf import app_settings

    for bad in (5, 10**6, "300", 2.5, True):
        with override_settings(LMS_CORE={"DEADLINE_SWEEP_INTERVAL": bad}):
            (problem,) = app_settings.problems()
            assert problem.key == "DEADLINE_SWEEP_INTERVAL"
            assert "from 10 to 86400" in problem.message
            assert "or None" in problem.message
    for good in (10, 300, 86400, None):
        with override_settings(LMS_CORE={"DEADLINE_SWEEP_INTERVAL": good}):
            assert app_settings.problems() == []


# -- running -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_run_directly_sweeps_and_signals(population, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_deadlines.now()
    assert statuses(population) == EXPECTED
    assert sorted(received) == [
        ("enrollment_caught_up", [population["back"].pk]),
        ("enrollment_completed", [population["done"].pk]),
        ("enrollment_delayed", [population["late"].pk]),
    ]
    assert result.changed == 3
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_deadlines.now().changed == 0  # idempotent: nothing moves, nothing is sent
    assert received == []


@pytest.mark.django_db
def test_the_queued_task_is_run_by_the_worker_loop(population):
    Task.objects.all().delete()
    schedule_deadline_sweep()
    assert task_registry.run_next_task() is True
    assert statuses(population) == EXPECTED
    (completed,) = CompletedTask.objects.filter(task_name=SWEEP_TASK_NAME)
    assert completed.last_error == ""
    (successor,) = queued()  # the repetition queued the next one
    assert successor.run_at > timezone.now() + timedelta(seconds=250)
    assert task_registry.run_next_task() is False  # not due yet


@pytest.fixture
def restore_signal_handlers():
    """``process_tasks`` installs handlers for SIGTSTP, SIGUSR1 and SIGUSR2 in this process: put them back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.django_db(transaction=True)
def test_process_tasks_runs_the_sweep_and_queues_the_next_one(population, received, restore_signal_handlers):
    """The real worker command, as ``manage.py process_tasks`` runs it (for one second)."""
    Task.objects.all().delete()
    task = schedule_deadline_sweep(interval=60)

    call_command("process_tasks", duration=1, sleep=0.1)

    assert statuses(population) == EXPECTED
    # Sent after each transition committed, from the worker.
    assert sorted(received) == [
        ("enrollment_caught_up", [population["back"].pk]),
        ("enrollment_completed", [population["done"].pk]),
        ("enrollment_delayed", [population["late"].pk]),
    ]
    assert CompletedTask.objects.filter(task_name=SWEEP_TASK_NAME).count() == 1
    (successor,) = queued()
    assert successor.repeat == 60
    assert successor.run_at == task.run_at + timedelta(seconds=60)


# -- the management command ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_sweeps_now(population):
    out = io.StringIO()
    call_command("lms_core_sweep_deadlines", stdout=out)
    assert out.getvalue().strip() == "1 delayed, 1 caught up, 1 completed."
    assert statuses(population) == EXPECTED


@pytest.mark.django_db
def test_the_command_queues_the_repeating_sweep(settings):
    Task.objects.all().delete()
    out = io.StringIO()
    call_command("lms_core_sweep_deadlines", "--schedule", stdout=out)
    assert "runs every 300 s" in out.getvalue()
    assert len(queued()) == 1
    settings.LMS_CORE = {"DEADLINE_SWEEP_INTERVAL": None}
    call_command("lms_core_sweep_deadlines", "--schedule", stdout=out)
    assert "no repeating sweep is queued" in out.getvalue()
    assert queued() == []


def test_the_command_explains_a_missing_task_queue(monkeypatch):
    from django.apps import apps

    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "background_task" and real(name))
    with pytest.raises(CommandError, match="django-background-tasks is not installed"):
        call_command("lms_core_sweep_deadlines", "--schedule")
