"""Kernels that die by themselves: clients are told what happened, and the kernel comes back (or not)."""

import asyncio
import os
import signal

import psutil
import pytest

from lms_kernels import signals
from lms_kernels.models import Kernel
from lms_kernels.testing import notice

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def wait_for(predicate, timeout=20):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def is_notice(kind):
    return lambda message: notice(message) == kind


async def test_a_kernel_that_exits_is_restarted_and_the_learner_is_told_why(kernels, user):
    died = []

    def receiver(sender, kernel, reason, **kwargs):
        died.append(reason)

    signals.kernel_died.connect(receiver)
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    old = await Kernel.objects.aget(pk=kernel["id"])
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("x = 1")
        msg = ws.execute_request("import os; os._exit(3)")
        await ws.send(msg)
        message, _before = await ws.receive_until(is_notice("died"))
        text = message["content"]["text"]
        assert "exited with status 3" in text and "restarted" in text
        assert message["content"]["name"] == "stderr"
        # The notice belongs to the execution that was running, so the learner sees it under that cell.
        assert message["parent_header"]["msg_id"] == msg["header"]["msg_id"]
        await ws.receive_until(
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "restarting"
        )
        # A fresh kernel: it answers, and the old variables are gone.
        result = await ws.execute("x", timeout=60)
        assert result.reply["content"]["ename"] == "NameError"
    new = await Kernel.objects.aget(pk=kernel["id"])
    assert new.generation == old.generation + 1 and new.status == "running"
    assert new.backend_state["pid"] != old.backend_state["pid"]
    signals.kernel_died.disconnect(receiver)
    assert len(died) == 1 and "exited with status 3" in died[0]


async def test_a_kernel_killed_for_memory_says_so(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
        message, _before = await ws.receive_until(is_notice("died"))
        assert "SIGKILL" in message["content"]["text"] and "memory" in message["content"]["text"]
        assert (await ws.execute("6*7", timeout=60)).result == "42"


async def test_without_auto_restart_the_kernel_is_dead_until_restarted(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "AUTO_RESTART": False}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("import os; os._exit(1)"))
        message, _before = await ws.receive_until(is_notice("died"))
        assert "restarted" not in message["content"]["text"]
        assert await ws.receive_close() == 4500
    model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
    assert model["execution_state"] == "dead" and "exited with status 1" in model["reason"]
    # Connecting to a dead kernel is refused with the reason ...
    ws = kernel_socket(client, kernel["id"])
    assert (await ws.connect())[0] and await ws.receive_close() == 4500
    # ... and a restart brings it back.
    assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")).status_code == 200
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("1+1", timeout=60)).result == "2"


async def test_a_kernel_that_died_while_nobody_watched_is_restarted_on_connect(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("y = 2")
    # Nobody watches now, except the bridge kept for replay: close it, as if its worker had gone.
    from lms_kernels.connection import replay

    for bridge in replay.detached_bridges():
        await bridge.close()
    row = await Kernel.objects.aget(pk=kernel["id"])
    os.killpg(row.backend_state["pid"], signal.SIGKILL)
    await wait_for(lambda: _gone(row.backend_state["pid"]))
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute("y", timeout=60)
    assert result.reply["content"]["ename"] == "NameError"
    assert (await Kernel.objects.aget(pk=kernel["id"])).generation == row.generation + 1


async def test_every_connection_of_the_kernel_is_told_once(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with (
        kernel_socket(client, kernel["id"]) as first,
        kernel_socket(client, kernel["id"], query="&second") as second,
    ):
        await first.wait_ready()
        await second.wait_ready()
        await first.send(first.execute_request("import os; os._exit(2)"))
        for ws in (first, second):
            await ws.receive_until(is_notice("died"))
        for ws in (first, second):
            assert (await ws.execute("'back'", timeout=60)).result == "'back'"
    assert (await Kernel.objects.aget(pk=kernel["id"])).generation == 2


async def _gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_a_clients_shutdown_request_goes_to_the_service(kernels, user):
    """Restart and shutdown asked over the control channel, as some clients do, are the service's to do:
    the kernel is not taken for dead, and a shut down kernel is gone for good."""
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("z = 1")
        await ws.send(ws.request("shutdown_request", {"restart": True}, channel="control"))
        reply, seen = await ws.receive_until(lambda m: m["msg_type"] == "shutdown_reply")
        assert reply["content"] == {"status": "ok", "restart": True}
        _restarting, more = await ws.receive_until(
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "restarting"
        )
        assert (await ws.execute("z", timeout=60)).reply["content"]["ename"] == "NameError"
        assert not [m for m in seen + more if notice(m) == "died"]
        assert (await Kernel.objects.aget(pk=kernel["id"])).generation == 2  # one restart, by the service
        await ws.send(ws.request("shutdown_request", {"restart": False}, channel="control"))
        assert await ws.receive_close() == 4410

    async def deleted():
        return not await Kernel.objects.filter(pk=kernel["id"]).aexists()

    await wait_for(deleted)
