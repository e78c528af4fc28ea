"""Output that arrives while the learner is away is kept (bounded) and replayed when they come back."""

import asyncio

import pytest

from lms_kernels.connection import replay
from lms_kernels.connection.replay import ReplayBuffer
from lms_kernels.testing import notice

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

COUNT_SLOWLY = "import time\nfor i in range({n}):\n    print('tick', i, flush=True)\n    time.sleep({pause})\ndone = True"


def test_buffer_keeps_the_newest_within_its_limit():
    buffer = ReplayBuffer(limit=100)
    for i in range(10):
        buffer.append("iopub", [b"x" * 20, str(i).encode()], {"i": i})
    kept = buffer.drain()
    assert [header["i"] for _channel, _parts, header in kept] == [6, 7, 8, 9]
    assert buffer.dropped == 6 and buffer.size == 0 and len(buffer) == 0
    buffer.append("iopub", [b"y" * 101], {})  # larger than the whole buffer: dropped, counted
    assert len(buffer) == 0 and buffer.dropped == 7


async def read_ticks(ws, msg_id, *, count=None, timeout=60):
    """The ``tick`` lines of one execution until it is idle and replied to (or ``count`` whole lines arrived).

    The kernel may send one ``print`` in several stream messages (``"tick"``, ``" 0"``, ``"\\n"``), or several
    in one: lines are cut from the text, and a count is only reached at the end of a line."""
    text, reply, idle = "", None, False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (idle and reply):
        message = await ws.receive(max(deadline - loop.time(), 0.01))
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            text += message["content"]["text"]
            if count is not None and text.endswith("\n") and text.count("\n") >= count:
                break
        elif message["msg_type"] == "execute_reply":
            reply = message
        elif message["msg_type"] == "status":
            idle = message["content"]["execution_state"] == "idle"
    return text.splitlines(), reply


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_dropped_connection_gets_everything_it_missed_once_in_order(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    ws = kernel_socket(client, kernel["id"])
    await ws.connect()
    await ws.wait_ready()
    msg = ws.execute_request(COUNT_SLOWLY.format(n=12, pause=0.15))
    await ws.send(msg)
    first, _ = await read_ticks(ws, msg["header"]["msg_id"], count=2)
    await ws.disconnect()
    # Away while it keeps printing; the connection count says nobody is connected.
    await asyncio.sleep(1)
    assert (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()["connections"] == 0
    assert len(replay.detached_bridges(kernel["id"])) == 1
    # Back, with the same session id: the rest, then the reply to the request sent before leaving.
    async with kernel_socket(client, kernel["id"]) as again:
        rest, reply = await read_ticks(again, msg["header"]["msg_id"])
        assert reply["content"]["status"] == "ok"
        assert first + rest == [f"tick {i}" for i in range(12)]
        assert (await again.execute("done")).result == "True"
        assert (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()["connections"] == 1
    await ws.communicator.wait()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_learner_who_closed_the_tab_sees_what_was_printed_meanwhile(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        msg = ws.execute_request(COUNT_SLOWLY.format(n=5, pause=0.1))
        await ws.send(msg)
        await read_ticks(ws, msg["header"]["msg_id"], count=1)
    await asyncio.sleep(1.5)  # the training run finishes while the tab is closed
    # A new page load: another session id. It is shown what the kernel printed meanwhile.
    async with kernel_socket(client, kernel["id"], query="-new-tab") as again:
        lines, _reply = await read_ticks(again, msg["header"]["msg_id"])
        assert not replay.detached_bridges(kernel["id"])  # adopted
    assert lines[-1] == "tick 4" and len(lines) == len(set(lines))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_buffer_is_bounded_and_says_what_it_dropped(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "REPLAY_BUFFER_SIZE": 3000}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        msg = ws.execute_request(
            "import time\ntime.sleep(0.5)\nfor i in range(200): print('line', i, flush=True)"
        )
        await ws.send(msg)
    await asyncio.sleep(3)
    async with kernel_socket(client, kernel["id"]) as again:
        first = await again.receive()
        assert notice(first) == "replay_truncated"
        assert first["metadata"]["lms_kernels"]["dropped"] > 100
        lines, _reply = await read_ticks(again, msg["header"]["msg_id"])
    assert lines[-1] == "line 199" and len(lines) < 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_nothing_is_kept_when_replay_is_off_or_the_kernel_is_shut_down(kernels, user, settings):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
    assert len(replay.detached_bridges(kernel["id"])) == 1
    assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
    assert not replay.detached_bridges(kernel["id"])

    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "REPLAY_BUFFER_SIZE": 0}
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
    assert not replay.detached_bridges(kernel["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_detached_bridge_expires(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "REPLAY_TIMEOUT": 0.5}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
    bridges = replay.detached_bridges(kernel["id"])
    assert len(bridges) == 1
    await asyncio.sleep(1.5)
    assert bridges[0].closed and not replay.detached_bridges(kernel["id"])
