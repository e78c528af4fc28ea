"""Idle culling and maximum age: warnings to connected clients, the culler, its task and command."""

import asyncio
from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from lms_kernels import signals
from lms_kernels.activity import recorder
from lms_kernels.culling import acull_kernels
from lms_kernels.models import Kernel, KernelEnvironment
from lms_kernels.testing import notice

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True)]


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


async def settled(kernel_id):
    """Wait until the kernel's saved activity stops changing: the culler does not cull a kernel whose activity
    changed while it looked (right), and late messages (the answers to the connection's readiness nudges, say)
    are saved on another task."""
    previous = None
    for _ in range(50):
        await recorder.drain()
        row = await Kernel.objects.aget(pk=kernel_id)
        if row.execution_state == "idle" and row.last_activity == previous:
            return
        previous = row.last_activity
        await asyncio.sleep(0.2)
    raise AssertionError(f"the activity of kernel {kernel_id} did not settle")


@pytest.mark.asyncio
async def test_connected_clients_are_warned_then_told_when_an_idle_kernel_is_culled(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 2, "CULL_WARNING": 1.5}
    culled = []

    def receiver(sender, kernel, reason, **kwargs):
        culled.append(reason)

    signals.kernel_culled.connect(receiver)
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("1")
        warning, _ = await ws.receive_until(lambda m: notice(m) == "cull_warning", timeout=10)
        assert warning["metadata"]["lms_kernels"]["reason"] == "idle"
        assert "idle" in warning["content"]["text"]
        await settled(kernel["id"])
        result = await acull_kernels(later(5))
        assert [(c.kernel_id, c.reason) for c in result] == [(kernel["id"], "idle")]
        told, _ = await ws.receive_until(lambda m: notice(m) == "culled")
        assert "without activity" in told["content"]["text"]
        assert await ws.receive_close() == 4410
    signals.kernel_culled.disconnect(receiver)
    assert culled == ["idle"]
    assert (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 404


@pytest.mark.asyncio
async def test_activity_postpones_the_warning_and_culling(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 60, "CULL_WARNING": 1}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("1")
        await settled(kernel["id"])
        assert await acull_kernels(later(30)) == []  # idle for 30 s: not yet
        assert [c.reason for c in await acull_kernels(later(61))] == ["idle"]
        assert await ws.receive_close() == 4410


@pytest.mark.asyncio
async def test_a_busy_kernel_is_not_idle_but_is_culled_at_its_maximum_age(kernels, user, settings, python3):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 1}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("import time; time.sleep(60)"))
        await ws.receive_until(
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "busy"
        )
        for _ in range(100):  # the busy state is saved (at once in these tests, on another task)
            if (await Kernel.objects.aget(pk=kernel["id"])).execution_state == "busy":
                break
            await asyncio.sleep(0.1)
        assert (await Kernel.objects.aget(pk=kernel["id"])).execution_state == "busy"
        assert await acull_kernels(later(600)) == []  # silent for 10 minutes, but busy (training)
        await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(max_age=300)
        culled = await acull_kernels(later(600))
        assert [c.reason for c in culled] == ["max_age"]
        told, _ = await ws.receive_until(lambda m: notice(m) == "culled")
        assert "maximum age" in told["content"]["text"]


@pytest.mark.asyncio
async def test_clients_are_warned_before_the_maximum_age(kernels, user, settings, python3):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_WARNING": 120}
    await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(max_age=60)
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        warning, _ = await ws.receive_until(lambda m: notice(m) == "cull_warning", timeout=10)
    assert warning["metadata"]["lms_kernels"]["reason"] == "max_age"
    assert 0 < warning["metadata"]["lms_kernels"]["seconds"] <= 60


@pytest.mark.asyncio
async def test_a_lost_kernel_is_culled_and_a_disabled_timeout_culls_nothing(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": None}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    assert await acull_kernels(later(10**6)) == []
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 10}
    # It looks busy (it died mid-execution and nobody noticed) but its process is gone.
    row = await Kernel.objects.aget(pk=kernel["id"])
    from lms_kernels.backends import get_backend

    await get_backend(row.backend).shutdown(row)
    await Kernel.objects.filter(pk=row.pk).aupdate(execution_state="busy")
    assert [c.reason for c in await acull_kernels(later(11))] == ["lost"]
    assert not await Kernel.objects.filter(pk=row.pk).aexists()


def test_two_cullers_cull_a_kernel_once(transactional_db, python3, user, settings, monkeypatch):
    """The claim is a conditional update: the second culler finds nothing left to claim."""
    import lms_kernels.services as services

    shut = []

    async def fake_shutdown(kernel):  # no process here: the claim is what is under test
        shut.append(kernel.pk)
        await kernel.adelete()

    monkeypatch.setattr(services, "shutdown_kernel", fake_shutdown)
    kernel = Kernel.objects.create(owner=user, environment=python3, name="python3", backend="local")
    Kernel.objects.filter(pk=kernel.pk).update(status="running", last_activity=later(-7200))

    async def both():
        return await asyncio.gather(acull_kernels(), acull_kernels())

    first, second = async_to_sync(both)()
    assert len(first) + len(second) == 1 and shut == [kernel.pk]


def test_the_task_is_scheduled_once_and_runs_through_process_tasks(kernels, user, settings):
    from background_task.models import Task

    from lms_kernels.tasks import CULL_TASK_NAME, schedule_culling

    Task.objects.filter(task_name=CULL_TASK_NAME).delete()
    assert schedule_culling() is True
    assert schedule_culling() is False
    task = Task.objects.get(task_name=CULL_TASK_NAME)
    assert task.repeat == 60
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_INTERVAL": 30}
    assert schedule_culling() is True
    assert list(Task.objects.filter(task_name=CULL_TASK_NAME).values_list("repeat", flat=True)) == [30]

    from lms_kernels.services import start_kernel as start

    kernel = async_to_sync(start)(user, "python3")
    Kernel.objects.filter(pk=kernel.pk).update(last_activity=later(-7200))
    Task.objects.filter(task_name=CULL_TASK_NAME).update(run_at=timezone.now())
    call_command("process_tasks", duration=3, sleep=0.1)
    assert not Kernel.objects.filter(pk=kernel.pk).exists()
    # It repeats: rescheduled, not gone.
    assert Task.objects.get(task_name=CULL_TASK_NAME).run_at > timezone.now()


def test_the_command_culls_and_reports(kernels, user):
    from lms_kernels.services import start_kernel as start

    kernel = async_to_sync(start)(user, "python3")
    out = StringIO()
    call_command("lms_kernels_cull", stdout=out)
    assert "0 kernel(s) culled" in out.getvalue()
    Kernel.objects.filter(pk=kernel.pk).update(last_activity=later(-7200))
    call_command("lms_kernels_cull", stdout=out)
    assert f"culled {kernel.pk} (python3, user {user.pk}): idle" in out.getvalue()
    assert "1 kernel(s) culled" in out.getvalue()


@pytest.mark.asyncio
async def test_a_kernel_that_finished_unseen_is_probed_and_culled_as_idle(kernels, user, settings):
    """It looked busy when its last connection went away; the culler asks the kernel itself."""
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 10, "REPLAY_BUFFER_SIZE": 0}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("1")
    await recorder.drain()
    await Kernel.objects.filter(pk=kernel["id"]).aupdate(execution_state="busy")
    assert [c.reason for c in await acull_kernels(later(11))] == ["idle"]


@pytest.mark.asyncio
async def test_an_environment_may_switch_idle_culling_off(kernels, user, settings, python3):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 10}
    await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(idle_timeout=0)
    client = await logged_in_client(user)
    await start_kernel(client)
    assert await acull_kernels(later(10**6)) == []


@pytest.mark.asyncio
async def test_a_failing_receiver_does_not_stop_culling(kernels, user, settings, caplog):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "CULL_IDLE_TIMEOUT": 10}

    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.kernel_culled.connect(broken)
    signals.kernel_started.connect(broken)
    try:
        client = await logged_in_client(user)
        kernel = await start_kernel(client)  # 201 although a receiver of kernel_started failed
        assert [c.reason for c in await acull_kernels(later(11))] == ["idle"]
    finally:
        signals.kernel_culled.disconnect(broken)
        signals.kernel_started.disconnect(broken)
    assert not await Kernel.objects.filter(pk=kernel["id"]).aexists()
    assert "receiver bug" in caplog.text


def test_deleting_a_learner_stops_their_kernels(kernels, user):
    import psutil

    from lms_kernels.services import start_kernel as start

    kernel = async_to_sync(start)(user, "python3")
    pid = kernel.backend_state["pid"]
    user.delete()
    assert not Kernel.objects.exists()
    process = psutil.Process(pid) if psutil.pid_exists(pid) else None
    assert process is None or process.status() == psutil.STATUS_ZOMBIE
