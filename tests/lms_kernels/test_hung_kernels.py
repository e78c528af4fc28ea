"""Kernels that keep dying on start (the restart limit) and kernels that stop answering while busy."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from lms_kernels.activity import recorder
from lms_kernels.culling import acull_kernels
from lms_kernels.models import Kernel, KernelEnvironment
from lms_kernels.testing import notice

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def is_status(state):
    return lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == state


async def test_a_kernel_that_dies_on_start_is_left_dead_after_the_restart_limit(
    kernels, user, settings, python3, tmp_path
):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "RESTART_LIMIT": 2, "STABLE_START_TIME": 120}
    # An IPython startup file that makes the kernel exit on start while the file `broken` exists.
    broken = tmp_path / "broken"
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-die.py").write_text(f"import os\nif os.path.exists({str(broken)!r}):\n    os._exit(3)\n")
    await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(
        backend_options={"env": {"IPYTHONDIR": str(tmp_path / "ipython")}}
    )
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        broken.touch()  # from now on every start of the kernel fails
        await ws.send(ws.execute_request("import os; os._exit(3)"))
        told, before = await ws.receive_until(
            lambda m: notice(m) == "died" and m["metadata"]["lms_kernels"].get("code"), timeout=120
        )
        # It died, was restarted twice, died on start each time, and is not restarted a third time.
        assert [notice(m) for m in before].count("died") == 2
        assert told["metadata"]["lms_kernels"]["code"] == "restart_limit_reached"
        text = told["content"]["text"]
        assert "restarted 2 times in a row and died each time on start" in text
        assert "exited with status 3" in text
        await ws.receive_until(is_status("dead"))
        assert await ws.receive_close() == 4500
    row = await Kernel.objects.aget(pk=kernel["id"])
    assert row.status == "dead" and row.restart_count == 2
    model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
    assert model["execution_state"] == "dead"
    assert "restarted 2 times in a row and died each time on start" in model["reason"]
    # Connecting again does not start it again: the connection is refused with the reason.
    ws = kernel_socket(client, kernel["id"])
    assert (await ws.connect())[0] and await ws.receive_close() == 4500
    assert (await Kernel.objects.aget(pk=kernel["id"])).generation == row.generation
    # Once the cause is fixed, the learner's restart brings it back, with its automatic restarts reset.
    broken.unlink()
    assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")).status_code == 200
    assert (await Kernel.objects.aget(pk=kernel["id"])).restart_count == 0
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("1+1", timeout=60)).result == "2"


async def test_deaths_far_apart_are_each_restarted(kernels, user, settings):
    """Only deaths within STABLE_START_TIME of the last restart count as in a row."""
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "RESTART_LIMIT": 1, "STABLE_START_TIME": 0.5}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        for generation in (2, 3):
            await ws.wait_ready()
            await asyncio.sleep(1)  # it has lived longer than the stable-start window
            await ws.send(ws.execute_request("import os; os._exit(1)"))
            told, _ = await ws.receive_until(lambda m: notice(m) == "died", timeout=60)
            assert "code" not in told["metadata"]["lms_kernels"], told["content"]["text"]
            assert "being restarted" in told["content"]["text"]
            assert (await ws.execute("'back'", timeout=60)).result == "'back'"
            assert (await Kernel.objects.aget(pk=kernel["id"])).generation == generation


async def _busy_since(kernel_id):
    for _ in range(100):  # the busy state is saved at once in these tests, on another task
        await recorder.drain()
        row = await Kernel.objects.aget(pk=kernel_id)
        if row.execution_state == "busy" and row.busy_since is not None:
            return row.busy_since
        await asyncio.sleep(0.1)
    raise AssertionError("the kernel's busy state was not saved")


async def test_a_kernel_whose_shell_hangs_is_reported_then_restarted_past_its_maximum_busy_time(
    kernels, user, settings, python3
):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "BUSY_PROBE_AFTER": 60, "CULL_IDLE_TIMEOUT": None}
    await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(max_busy_time=600)
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    url = f"{PREFIX}/kernels/{kernel['id']}"
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("x = 1")
        # A cell that blocks the shell and ignores interrupts.
        hang = ws.execute_request(
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)"
        )
        await ws.send(hang)
        await ws.receive_until(is_status("busy"))
        await _busy_since(kernel["id"])
        assert await acull_kernels(later(30)) == []  # busy for 30 s: nothing to say yet
        assert (await client.post(f"{url}/interrupt")).status_code == 204  # does not help
        assert await acull_kernels(later(90)) == []  # asked on shell: no answer, but not past its limit
        told, _ = await ws.receive_until(lambda m: notice(m) == "not_responding")
        assert told["parent_header"]["msg_id"] == hang["header"]["msg_id"]  # shown under the cell
        assert told["metadata"]["lms_kernels"]["restarting"] is False
        assert "does not answer" in told["content"]["text"] and "restart" in told["content"]["text"]
        model = (await client.get(url)).json()
        assert model["execution_state"] == "busy" and "not_responding_since" in model
        assert await acull_kernels(later(120)) == []  # told once, not at every run
        # Past the environment's maximum busy time it is restarted.
        assert [c.reason for c in await acull_kernels(later(601))] == ["stuck"]
        told, _ = await ws.receive_until(
            lambda m: notice(m) == "not_responding" and m["metadata"]["lms_kernels"]["restarting"]
        )
        assert "was restarted" in told["content"]["text"]
        result = await ws.execute("x", timeout=60)
        assert result.reply["content"]["ename"] == "NameError"  # a fresh kernel, that answers
    row = await Kernel.objects.aget(pk=kernel["id"])
    assert row.generation == 2 and row.status == "running"
    assert row.busy_since is None and row.unresponsive_since is None


async def test_a_long_computation_is_reported_but_not_restarted_without_a_maximum(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "BUSY_PROBE_AFTER": 60}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("import time; time.sleep(600)"))
        await ws.receive_until(is_status("busy"))
        await _busy_since(kernel["id"])
        assert await acull_kernels(later(10**5)) == []
        await ws.receive_until(lambda m: notice(m) == "not_responding")
    row = await Kernel.objects.aget(pk=kernel["id"])
    assert row.generation == 1 and row.unresponsive_since is not None


async def test_a_kernel_that_claims_busy_but_answers_is_saved_as_idle(kernels, user, settings):
    """Its idle status was missed (nobody listened): REST no longer says busy forever."""
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "BUSY_PROBE_AFTER": 60, "REPLAY_BUFFER_SIZE": 0}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("1")
    await recorder.drain()
    await Kernel.objects.filter(pk=kernel["id"]).aupdate(execution_state="busy", busy_since=timezone.now())
    assert await acull_kernels(later(61)) == []
    model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
    assert model["execution_state"] == "idle" and "not_responding_since" not in model
