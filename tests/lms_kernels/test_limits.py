"""Limits on the message path, with real kernels: the output cap per execution and the execute rate."""

import pytest

from lms_kernels.connection.limits import (
    ExecuteRateLimiter,
    KernelExecutions,
    OutputCap,
    kernel_executions,
    release_kernel_executions,
    release_rate_limiter,
    shared_rate_limiter,
)
from lms_kernels.models import KernelEnvironment
from lms_kernels.testing import notice

from .conftest import kernel_socket, logged_in_client, start_kernel

# -- the bookkeeping alone ------------------------------------------------------------------------------------


def test_output_cap_sends_then_one_notice_then_drops():
    cap = OutputCap(100)
    cap.executions.add({"msg_id": "a"})
    cap.executions.add({"msg_id": "b"})
    assert [cap.admit("a", 40) for _ in range(2)] == ["send", "send"]
    assert cap.admit("a", 40) == "notice"
    assert cap.admit("a", 1) == "drop"
    assert cap.admit("b", 100) == "send"  # another execution has its own budget
    assert cap.admit("a", 10) == "drop"  # a finished execution's count is kept (a forged idle resets nothing)
    assert OutputCap(None).admit("a", 10**12) == "send"


def test_output_not_of_a_relayed_execution_counts_towards_the_ceiling_until_the_next_execution():
    executions = KernelExecutions()
    cap = OutputCap(100, ceiling=50, executions=executions)
    # Fresh parents, or none: one budget for all of them.
    assert [cap.admit(f"forged{i}", 20) for i in range(4)] == ["send", "send", "ceiling", "drop"]
    assert cap.admit(None, 1) == "drop"
    # A relayed execution: its output has its own cap.
    executions.add({"msg_id": "run"})
    assert cap.admit("run", 100) == "send"
    assert cap.admit("forged9", 1) == "drop"
    # Once the kernel starts it (its busy status), the ceiling starts over, once.
    executions.started("run")
    assert cap.admit("forged9", 50) == "send"
    assert cap.admit("forged9", 1) == "ceiling"
    executions.started("run")
    executions.started("forged10")
    assert cap.admit("forged9", 1) == "drop"
    assert executions.last == {"msg_id": "run"}
    # The ceiling is the cap unless set; None switches it off.
    assert OutputCap(10).ceiling == 10
    assert OutputCap(10, ceiling=None).admit("forged", 10**9) == "send"


def test_output_cap_forgets_old_executions_first():
    cap = OutputCap(10)
    for i in range(300):
        cap.executions.add({"msg_id": f"x{i}"})
        cap.executions.started(f"x{i}")
        cap.admit(f"x{i}", 11)
    assert len(cap._counts) == len(cap.executions.relayed) == 256
    assert cap.admit("x299", 1) == "drop"  # the newest are kept
    assert cap.admit("x0", 11) == "ceiling"  # the oldest were forgotten: it is no execution's any more


def test_the_connections_of_a_kernel_share_what_was_relayed_to_it():
    first, second, other = (
        kernel_executions("unit-k1"),
        kernel_executions("unit-k1"),
        kernel_executions("unit-k2"),
    )
    assert first is second and other is not first
    for kernel_id in ("unit-k1", "unit-k1", "unit-k2"):
        release_kernel_executions(kernel_id)
    assert kernel_executions("unit-k1") is not first  # the last connection let it go
    release_kernel_executions("unit-k1")


@pytest.mark.asyncio
async def test_the_connections_of_a_user_to_a_kernel_share_one_bucket(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("lms_kernels.connection.limits.time.monotonic", lambda: now[0])
    a, b = shared_rate_limiter(1, "unit-k1", 1, 3), shared_rate_limiter(1, "unit-k1", 1, 3)
    other_user, other_kernel = (
        shared_rate_limiter(2, "unit-k1", 1, 3),
        shared_rate_limiter(1, "unit-k2", 1, 3),
    )
    assert a is b and a is not other_user and a is not other_kernel
    assert [a.allow(), b.allow(), a.allow(), b.allow()] == [True, True, True, False]
    assert other_user.allow() and other_kernel.allow()
    for user_id, kernel_id in [(1, "unit-k1"), (1, "unit-k1"), (1, "unit-k2")]:
        release_rate_limiter(user_id, kernel_id)
    # The last connection went away with the bucket empty: reconnecting does not refill it.
    again = shared_rate_limiter(1, "unit-k1", 1, 3)
    assert again is a and not again.allow()
    release_rate_limiter(1, "unit-k1")
    # A bucket that is full when its last connection goes away is forgotten at once.
    now[0] += 10
    release_rate_limiter(2, "unit-k1")
    assert shared_rate_limiter(2, "unit-k1", 1, 3) is not other_user
    release_rate_limiter(2, "unit-k1")


def test_rate_limiter_allows_a_burst_then_the_rate(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("lms_kernels.connection.limits.time.monotonic", lambda: now[0])
    limiter = ExecuteRateLimiter(per_second=2, burst=3)
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [limiter.allow(), limiter.allow()] == [True, False]
    now[0] += 100  # refills up to the burst, not beyond
    assert sum(limiter.allow() for _ in range(10)) == 3
    assert all(ExecuteRateLimiter(per_second=None, burst=1).allow() for _ in range(100))


# -- with a real kernel ---------------------------------------------------------------------------------------


PRINT_CHUNKS = """
import sys
for i in range({n}):
    sys.stdout.write(('%05d' % i) + 'x' * 995 + '\\n')
    sys.stdout.flush()
after_the_cap = 'still ran'
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_output_past_the_cap_is_cut_with_one_notice_and_the_code_runs_on(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "OUTPUT_CAP": 20_000}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute(PRINT_CHUNKS.format(n=200))
        notices = [m for m in result.messages if notice(m)]
        assert [notice(m) for m in notices] == ["output_cap"]
        assert notices[0]["parent_header"]["msg_id"] == result.reply["parent_header"]["msg_id"]
        assert "Output limit reached" in notices[0]["content"]["text"]
        assert notices[0]["metadata"]["lms_kernels"]["limit"] == 20_000
        # What came through is the start of the output, in order, and no more than the cap.
        assert 10_000 <= len(result.stdout) <= 20_000
        assert "".join(f"{i:05d}" + "x" * 995 + "\n" for i in range(200)).startswith(result.stdout)
        assert result.statuses[-1] == "idle" and result.reply["content"]["status"] == "ok"
        # The execution carried on past the cap, and the next one has a budget of its own.
        assert (await ws.execute("print(after_the_cap)")).stdout == "still ran\n"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_environment_cap_overrides_the_setting(kernels, user, settings, python3):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "OUTPUT_CAP": None}
    await KernelEnvironment.objects.filter(pk=python3.pk).aupdate(output_cap=5_000)
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute(PRINT_CHUNKS.format(n=50))
    assert [notice(m) for m in result.messages if notice(m)] == ["output_cap"]
    assert len(result.stdout) <= 5_000


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_below_the_cap_every_one_of_ten_thousand_messages_arrives(kernels, user):
    """Jupyter Server's rate limiter drops output like this; with the default settings nothing is lost."""
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    code = "import sys\nfor i in range(10000):\n    sys.stdout.write('%05d|%s\\n' % (i, 'y' * 200))\n    sys.stdout.flush()"
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute(code, timeout=120)
    assert result.stdout == "".join(f"{i:05d}|{'y' * 200}\n" for i in range(10000))
    assert not [m for m in result.messages if notice(m)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_executions_past_the_rate_get_an_error_reply_and_the_socket_stays(kernels, user, settings):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "EXECUTE_RATE": 0.1, "EXECUTE_BURST": 3}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()  # kernel_info_request is not an execution: not counted
        requests = [ws.execute_request(f"{i} * 2") for i in range(5)]
        for msg in requests:
            await ws.send(msg)
        replies, idle = {}, set()
        while len(replies) < 5 or len(idle) < 5:
            message = await ws.receive()
            if message["msg_type"] == "execute_reply":
                replies[message["parent_header"]["msg_id"]] = message["content"]
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                idle.add(message["parent_header"].get("msg_id"))
        # Every request, refused or not, gets its reply and its idle status (clients wait for both).
        assert idle >= {m["header"]["msg_id"] for m in requests}
        statuses = [replies[m["header"]["msg_id"]]["status"] for m in requests]
        assert statuses == ["ok", "ok", "ok", "error", "error"]
        refused = replies[requests[3]["header"]["msg_id"]]
        assert refused["ename"] == "RateLimited" and "per second" in refused["evalue"]
        # Other requests are not limited, and the connection works on.
        assert (await ws.wait_ready())["content"]["status"] == "ok"


# -- output the server did not ask for, and several connections of one learner -------------------------------

#: Output published with a fresh parent ``msg_id`` per message (not a request the server relayed).
FORGED_PARENTS = """
import uuid
kernel = get_ipython().kernel
for i in range(200):
    text = ('%05d' % i) + 'z' * 995 + '\\n'
    parent = {'header': {'msg_id': uuid.uuid4().hex, 'msg_type': 'execute_request', 'session': 'x'}}
    kernel.session.send(kernel.iopub_socket, 'stream', {'name': 'stdout', 'text': text}, parent=parent)
"""

#: Output of the execution itself, with an ``idle`` status of its own execution forged after every chunk.
FORGED_IDLE = """
import sys
kernel = get_ipython().kernel
for i in range(200):
    sys.stdout.write(('%05d' % i) + 'z' * 995 + '\\n')
    sys.stdout.flush()
    kernel.session.send(kernel.iopub_socket, 'status', {'execution_state': 'idle'}, parent=kernel.get_parent())
"""


async def _everything_until_the_next_execution(ws, code: str) -> tuple[dict, list[dict]]:
    """Run ``code``, then ``1``; return the first request and every message that arrived before the second
    execution's reply (the kernel publishes in order, so this is all the output of the first)."""
    first, second = ws.execute_request(code), ws.execute_request("1")
    await ws.send(first)
    await ws.send(second)
    _reply, seen = await ws.receive_until(
        lambda m: (
            m["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == second["header"]["msg_id"]
        ),
        timeout=60,
    )
    return first, seen


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("code", [FORGED_PARENTS, FORGED_IDLE], ids=["fresh-parents", "forged-idle"])
async def test_output_with_forged_parents_is_capped_with_one_notice(kernels, user, settings, code):
    """Kernel code cannot step around the cap by choosing the parent of what it publishes."""
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "OUTPUT_CAP": 20_000}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        first, seen = await _everything_until_the_next_execution(ws, code)
        chunks = [m for m in seen if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"]
        notices = [m for m in seen if notice(m)]
        assert [notice(m) for m in notices] == ["output_cap"]
        # The notice shows under the cell that ran the code, whatever parent the output named.
        assert notices[0]["parent_header"]["msg_id"] == first["header"]["msg_id"]
        assert "Output limit reached" in notices[0]["content"]["text"]
        # No more than the cap came through (plus the message that crossed it, replaced by the notice).
        assert 10 <= len(chunks) <= 20
        assert sum(len(m["content"]["text"]) for m in chunks) <= 20_000
        assert [m["content"]["text"][:5] for m in chunks] == [f"{i:05d}" for i in range(len(chunks))]
        # The kernel works on, and the next execution has a budget of its own.
        assert (await ws.execute("print('next')")).stdout == "next\n"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_connections_of_one_learner_to_one_kernel_share_the_execute_rate(
    kernels, user, other_user, settings
):
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "EXECUTE_RATE": 0.01, "EXECUTE_BURST": 5}
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    other_client = await logged_in_client(other_user)
    other_kernel = await start_kernel(other_client)
    sockets = [kernel_socket(client, kernel["id"], query=str(i)) for i in range(4)]
    for ws in sockets:
        await ws.connect()
    other = kernel_socket(other_client, other_kernel["id"])
    await other.connect()
    try:
        statuses = []
        for ws in sockets:
            await ws.wait_ready()
            for i in range(3):
                result = await ws.execute(f"{i} * 2")
                statuses.append(result.reply["content"]["status"])
        # Twelve executions over four connections: the burst of five, then refusals (the rate is tiny).
        assert statuses == ["ok"] * 5 + ["error"] * 7
        refused = await sockets[3].execute("1")
        assert refused.reply["content"]["ename"] == "RateLimited"
        assert [notice(m) for m in refused.messages if notice(m)] == ["rate_limited"]
        # Another learner's connection to their own kernel has a bucket of its own.
        for i in range(5):
            assert (await other.execute(f"print({i})")).stdout == f"{i}\n"
    finally:
        for ws in [*sockets, other]:
            await ws.disconnect()
