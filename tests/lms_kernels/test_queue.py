"""The fair queue: a start that finds no room waits (FIFO, one place per user), its clients hear their place
as it changes, and the kernel starts when capacity frees, or the wait ends after QUEUE_TIMEOUT."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from lms_kernels import capacity, services
from lms_kernels.models import Kernel
from lms_kernels.queue import aprocess_queue, drain
from lms_kernels.testing import notice

from .capacity_helpers import (
    amake_users,
    gpu_environment,
    is_notice,
    make_users,
    position_of,
    set_capacity,
    update_settings,
    wait_for,
)
from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True)]

CUDA = "import os; os.environ['CUDA_VISIBLE_DEVICES']"


@pytest.fixture
def gpu(db):
    return gpu_environment("gpu", 1)


@pytest.fixture
def gpu2(db):
    return gpu_environment("gpu2", 2)


async def status_of(kernel_id) -> str:
    return (await Kernel.objects.aget(pk=kernel_id)).status


async def receive_place(ws, timeout=15) -> int:
    message, _ = await ws.receive_until(is_notice("queued"), timeout=timeout)
    return position_of(message)


@pytest.mark.asyncio
async def test_a_start_without_a_free_gpu_waits_then_runs_the_waiting_cell(kernels, settings, gpu):
    set_capacity(settings, GPUS=["0"])
    first, second = await amake_users(2)
    a, b = await logged_in_client(first), await logged_in_client(second)
    running = await start_kernel(a, "gpu")
    waiting = await start_kernel(b, "gpu")  # 201, like any start
    assert waiting["execution_state"] == "starting" and waiting["queue_position"] == 1
    assert (await b.get(f"{PREFIX}/kernels/{waiting['id']}")).json()["queue_position"] == 1
    async with kernel_socket(b, waiting["id"]) as ws:
        status = await ws.receive()
        assert (status["msg_type"], status["content"]) == ("status", {"execution_state": "starting"})
        told = await ws.receive()
        assert notice(told) == "queued" and position_of(told) == 1
        assert told["content"] == {
            "name": "stderr",
            "text": "Waiting for a GPU: you are number 1 in the queue.\n",
        }
        request = ws.execute_request(CUDA)
        await ws.send(request)  # waits with the kernel
        again = await ws.receive()  # the learner sees the place under the cell they ran
        assert notice(again) == "queued" and again["parent_header"]["msg_id"] == request["header"]["msg_id"]
        assert (await a.delete(f"{PREFIX}/kernels/{running['id']}")).status_code == 204
        result = await ws.collect(request["header"]["msg_id"], timeout=60)
        assert result.result == "'0'"
        kinds = [notice(m) for m in result.messages if notice(m)]
        assert kinds == ["dequeued"]
    assert await status_of(waiting["id"]) == "running"
    assert "queue_position" not in (await b.get(f"{PREFIX}/kernels/{waiting['id']}")).json()


@pytest.mark.asyncio
async def test_the_queue_is_first_come_first_served_and_clients_hear_their_place_move(kernels, settings, gpu):
    set_capacity(settings, GPUS=["0"])
    users = await amake_users(4)
    clients = [await logged_in_client(u) for u in users]
    holder = await start_kernel(clients[0], "gpu")
    waiting = [await start_kernel(c, "gpu") for c in clients[1:]]
    assert [k["queue_position"] for k in waiting] == [1, 2, 3]
    async with (
        kernel_socket(clients[2], waiting[1]["id"]) as second,
        kernel_socket(clients[3], waiting[2]["id"]) as third,
    ):
        assert await receive_place(second) == 2 and await receive_place(third) == 3
        await clients[0].delete(f"{PREFIX}/kernels/{holder['id']}")
        assert await receive_place(second) == 1 and await receive_place(third) == 2
        await drain()
        assert [await status_of(k["id"]) for k in waiting] == ["running", "queued", "queued"]
        await clients[1].delete(f"{PREFIX}/kernels/{waiting[0]['id']}")
        await second.receive_until(is_notice("dequeued"), timeout=30)
        assert await receive_place(third) == 1
        assert (await second.execute(CUDA, timeout=60)).result == "'0'"


@pytest.mark.asyncio
async def test_one_place_in_the_queue_per_user(kernels, settings, gpu, python3):
    set_capacity(settings, GPUS=["0"], KERNELS=1)
    first, second = await amake_users(2)
    a, b = await logged_in_client(first), await logged_in_client(second)
    await start_kernel(a, "gpu")
    await start_kernel(b, "gpu")
    response = await b.post(f"{PREFIX}/kernels", {"name": "python3"}, content_type="application/json")
    assert response.status_code == 409
    assert response.json() == {
        "message": "You are already waiting in the queue for a kernel. Wait for it to start, or shut it down to "
        "ask for another one.",
        "reason": "already_queued",
    }
    assert await Kernel.objects.filter(owner=second).acount() == 1


@pytest.mark.asyncio
async def test_leaving_the_queue_moves_the_others_up(kernels, settings, gpu):
    set_capacity(settings, GPUS=["0"])
    users = await amake_users(3)
    clients = [await logged_in_client(u) for u in users]
    await start_kernel(clients[0], "gpu")
    ahead = await start_kernel(clients[1], "gpu")
    behind = await start_kernel(clients[2], "gpu")
    async with kernel_socket(clients[2], behind["id"]) as ws:
        assert await receive_place(ws) == 2
        assert (await clients[1].delete(f"{PREFIX}/kernels/{ahead['id']}")).status_code == 204
        assert await receive_place(ws) == 1
    assert not await Kernel.objects.filter(pk=ahead["id"]).aexists()


@pytest.mark.asyncio
async def test_a_wait_ends_after_the_queue_timeout_with_a_clear_message(kernels, settings, gpu):
    set_capacity(settings, GPUS=["0"])
    update_settings(settings, QUEUE_TIMEOUT=1)
    first, second = await amake_users(2)
    a, b = await logged_in_client(first), await logged_in_client(second)
    await start_kernel(a, "gpu")
    waiting = await start_kernel(b, "gpu")
    async with kernel_socket(b, waiting["id"]) as ws:
        assert await receive_place(ws) == 1
        told, _ = await ws.receive_until(is_notice("queue_timeout"), timeout=15)
        assert told["content"]["text"] == "No GPU became free within 1 second; try again later.\n"
        dead, _ = await ws.receive_until(lambda m: m["msg_type"] == "status")
        assert dead["content"]["execution_state"] == "dead"
        assert await ws.receive_close() == 4503
    model = (await b.get(f"{PREFIX}/kernels/{waiting['id']}")).json()
    assert model["execution_state"] == "dead" and model["reason"].startswith("No GPU became free")
    # Connecting again says so too, and a restart asks for a place again.
    ws = kernel_socket(b, waiting["id"])
    assert (await ws.connect())[0] and await ws.receive_close() == 4500
    update_settings(settings, QUEUE_TIMEOUT=900)
    restarted = (await b.post(f"{PREFIX}/kernels/{waiting['id']}/restart")).json()
    assert restarted["execution_state"] == "starting" and restarted["queue_position"] == 1


@pytest.mark.asyncio
async def test_the_repeating_task_ends_overdue_waits_nobody_watches(kernels, settings, python3):
    set_capacity(settings, KERNELS=1)
    update_settings(settings, QUEUE_TIMEOUT=600)
    first, second = await amake_users(2)
    await services.start_kernel(first, "python3")
    waiting = await services.start_kernel(second, "python3")
    assert waiting.status == "queued"
    ended, started = await aprocess_queue(timezone.now() + timedelta(seconds=300))
    assert ended == [] and started == []
    ended, started = await aprocess_queue(timezone.now() + timedelta(seconds=601))
    assert [k.pk for k in ended] == [waiting.pk] and started == []
    row = await Kernel.objects.aget(pk=waiting.pk)
    assert row.status == "dead"
    assert row.reason == "No room for your kernel became free within 10 minutes; try again later."


@pytest.mark.asyncio
async def test_without_a_queue_a_start_is_refused_at_once(kernels, settings, gpu, python3):
    set_capacity(settings, GPUS=["0"], KERNELS=2)
    update_settings(settings, QUEUE_TIMEOUT=0)
    first, second = await amake_users(2)
    a, b = await logged_in_client(first), await logged_in_client(second)
    await start_kernel(a, "gpu")
    response = await b.post(f"{PREFIX}/kernels", {"name": "gpu"}, content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {
        "message": "No GPU is free right now. Try again in a few minutes.",
        "reason": "no_gpu_available",
    }
    await start_kernel(b, "python3")
    response = await b.post(f"{PREFIX}/kernels", {"name": "python3"}, content_type="application/json")
    assert response.status_code == 503 and response.json()["reason"] == "capacity_exhausted"
    assert await Kernel.objects.acount() == 2


@pytest.mark.asyncio
async def test_the_repeating_task_starts_waiting_kernels_when_gpus_are_added(kernels, settings, gpu):
    """A missed wake-up (here: the operator listed another GPU) is caught by the repeating task."""
    set_capacity(settings, GPUS=["0"])
    first, second = await amake_users(2)
    await services.start_kernel(first, "gpu")
    waiting = await services.start_kernel(second, "gpu")
    set_capacity(settings, GPUS=["0", "1"])
    ended, started = await aprocess_queue()
    assert ended == [] and [k.pk for k in started] == [waiting.pk]
    row = await Kernel.objects.aget(pk=waiting.pk)
    assert row.status == "running" and row.gpu_devices == ["1"]


@pytest.mark.asyncio
async def test_kernel_slots_are_capacity_too(kernels, settings, python3):
    set_capacity(settings, KERNELS=1)
    first, second = await amake_users(2)
    a, b = await logged_in_client(first), await logged_in_client(second)
    running = await start_kernel(a, "python3")
    waiting = await start_kernel(b, "python3")
    async with kernel_socket(b, waiting["id"]) as ws:
        told, _ = await ws.receive_until(is_notice("queued"))
        assert told["content"]["text"] == "Waiting for room for your kernel: you are number 1 in the queue.\n"
        await a.delete(f"{PREFIX}/kernels/{running['id']}")
        assert (await ws.execute("6 * 7", timeout=60)).result == "42"


@pytest.mark.asyncio
async def test_a_kernel_shut_down_while_it_starts_from_the_queue_leaves_nothing_running(
    kernels, settings, gpu
):
    set_capacity(settings, GPUS=["0"])
    first, second = await amake_users(2)
    holder = await services.start_kernel(first, "gpu")
    waiting = await services.start_kernel(second, "gpu")
    await services.shutdown_kernel(holder)  # frees the GPU: the waiting kernel starts in the background
    await wait_for(lambda: _status_in(waiting.pk, {"starting", "running"}))
    await services.shutdown_kernel(await services.get_kernel(second, waiting.pk))
    await drain()
    assert not await Kernel.objects.aexists()
    assert await sync_to_async(capacity.queue_positions)("local") == {}


def test_the_culling_task_frees_the_gpu_and_starts_the_next_kernel_in_one_run(kernels, settings, gpu):
    """The task runs without an event loop of its own: culling frees, then the queue is dispatched."""
    from lms_kernels.tasks import cull_kernels_task

    set_capacity(settings, GPUS=["0"])
    update_settings(settings, CULL_IDLE_TIMEOUT=60)
    first, second = make_users(2)
    holder = async_to_sync(services.start_kernel)(first, "gpu")
    waiting = async_to_sync(services.start_kernel)(second, "gpu")
    Kernel.objects.filter(pk=holder.pk).update(last_activity=timezone.now() - timedelta(seconds=120))
    cull_kernels_task.now()
    assert not Kernel.objects.filter(pk=holder.pk).exists()
    row = Kernel.objects.get(pk=waiting.pk)
    assert row.status == "running" and row.gpu_devices == ["0"] and row.backend_state["pid"]


async def _status_in(kernel_id, statuses) -> bool:
    return await Kernel.objects.filter(pk=kernel_id, status__in=statuses).aexists()


# -- the admission policy (rows only, no processes) --------------------------------------------------------


def queue_up(users, environment):
    return [capacity.admit_new(user, environment, "local", "")[0] for user in users]


def statuses(kernels) -> list[str]:
    return [Kernel.objects.get(pk=k.pk).status for k in kernels]


def test_a_two_gpu_kernel_at_the_head_is_not_starved_by_one_gpu_kernels(settings, gpu, gpu2):
    set_capacity(settings, GPUS=["0", "1"])
    users = make_users(4)
    [holder] = queue_up(users[:1], gpu)  # holds GPU 0
    [big] = queue_up(users[1:2], gpu2)  # needs both: waits, holding GPU 1 for itself
    [small] = queue_up(users[2:3], gpu)  # GPU 1 is free, but the head waits for it
    assert statuses([holder, big, small]) == ["starting", "queued", "queued"]
    capacity.release(holder.pk)
    Kernel.objects.filter(pk=holder.pk).delete()
    admitted = capacity.admit_queued("local")
    assert [k.pk for k in admitted] == [big.pk] and admitted[0].gpu_devices == ["0", "1"]
    assert capacity.queue_positions("local") == {small.pk: 1}


def test_kernels_needing_nothing_the_head_waits_for_start_at_once(settings, gpu2, python3):
    set_capacity(settings, GPUS=["0", "1"], KERNELS=3)
    users = make_users(4)
    [holder] = queue_up(users[:1], gpu2)
    [waiting] = queue_up(users[1:2], gpu2)
    cpu = queue_up(users[2:4], python3)  # two slots are left; the head needs one of them
    assert statuses([holder, waiting, *cpu]) == ["starting", "queued", "starting", "queued"]


def test_a_kernel_that_can_never_fit_does_not_block_the_queue(settings, gpu, gpu2):
    set_capacity(settings, GPUS=["0", "1"])
    users = make_users(3)
    [big] = queue_up(users[:1], gpu2)
    Kernel.objects.filter(pk=big.pk).update(status="queued", queued_at=timezone.now())
    capacity.release(big.pk)
    set_capacity(settings, GPUS=["0"])  # the host lost a GPU: the two-GPU kernel waits out its timeout
    [small] = queue_up(users[1:2], gpu)
    assert statuses([big, small]) == ["queued", "starting"]
