"""Limits on the message path, with real kernels: the output cap per execution and the execute rate."""

import pytest

from lms_kernels.connection.limits import ExecuteRateLimiter, OutputCap
from lms_kernels.models import KernelEnvironment
from lms_kernels.testing import notice

from .conftest import kernel_socket, logged_in_client, start_kernel

# -- the bookkeeping alone ------------------------------------------------------------------------------------


def test_output_cap_sends_then_one_notice_then_drops():
    cap = OutputCap(100)
    assert [cap.admit("a", 40) for _ in range(2)] == ["send", "send"]
    assert cap.admit("a", 40) == "notice"
    assert cap.admit("a", 1) == "drop"
    assert cap.admit("b", 100) == "send"  # another execution has its own budget
    cap.finished("a")
    assert cap.admit("a", 10) == "send"
    assert OutputCap(None).admit("a", 10**12) == "send"


def test_output_cap_forgets_old_executions_first():
    cap = OutputCap(10)
    for i in range(300):
        cap.admit(f"x{i}", 11)
    assert len(cap._counts) == 256
    assert cap.admit("x299", 1) == "drop"  # the newest are kept
    assert cap.admit("x0", 1) == "send"  # the oldest were forgotten


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
