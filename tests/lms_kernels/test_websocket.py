"""The WebSocket channels with real ipykernel kernels: execute, stdin, interrupt, restart, shutdown."""

import asyncio
import time

import psutil
import pytest
from asgiref.sync import sync_to_async

from lms_kernels.models import Kernel

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def kernel_pid(kernel_id) -> int:
    kernel = await Kernel.objects.aget(pk=kernel_id)
    return kernel.backend_state["pid"]


async def test_execute_one_plus_one_and_print(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    assert kernel["execution_state"] == "starting" and kernel["name"] == "python3"
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute("1+1")
        assert result.result == "2"
        assert result.statuses == ["busy", "idle"]
        assert result.reply["content"]["status"] == "ok"
        printed = await ws.execute("for i in range(3): print('line', i)")
        assert printed.stdout == "line 0\nline 1\nline 2\n"
        model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
        assert model["connections"] == 1 and model["execution_state"] == "idle"
    model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
    assert model["connections"] == 0


async def test_input_round_trip_over_stdin(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    prompts = []

    def answer(prompt):
        prompts.append(prompt)
        return "Ada"

    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute("name = input('Who? ')\nprint('hello', name)", stdin_reply=answer)
    assert prompts == ["Who? "]
    assert result.stdout == "hello Ada\n"


async def test_interrupt_stops_a_long_execution(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        msg = ws.request("execute_request", {"code": "import time; time.sleep(30)", "silent": False})
        await ws.send(msg)
        while (await ws.receive())["msg_type"] != "execute_input":
            pass
        started = time.monotonic()
        response = await client.post(f"{PREFIX}/kernels/{kernel['id']}/interrupt")
        assert response.status_code == 204
        result = await ws.collect(msg["header"]["msg_id"], timeout=10)
        assert time.monotonic() - started < 5
    assert result.reply["content"]["status"] == "error"
    assert result.reply["content"]["ename"] == "KeyboardInterrupt"
    assert result.of_type("error")[0]["content"]["ename"] == "KeyboardInterrupt"


async def test_restart_gives_a_fresh_kernel_on_the_same_connection(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    old_pid = await kernel_pid(kernel["id"])
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("x = 41")).reply["content"]["status"] == "ok"
        response = await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")
        assert response.status_code == 200
        assert response.json()["id"] == kernel["id"]
        # The connection was told, and carries on with the new kernel.
        while True:
            message = await ws.receive()
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "restarting":
                break
        result = await ws.execute("x + 1")
    assert result.reply["content"]["ename"] == "NameError"
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    assert await kernel_pid(kernel["id"]) != old_pid


async def test_delete_stops_the_process_and_closes_connections(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    pid = await kernel_pid(kernel["id"])
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        response = await client.delete(f"{PREFIX}/kernels/{kernel['id']}")
        assert response.status_code == 204
        assert await ws.receive_close() == 4410
    assert (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 404
    assert (await client.get(f"{PREFIX}/kernels")).json() == []
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 404


async def test_every_connection_gets_iopub(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as first, kernel_socket(client, kernel["id"]) as second:
        await first.wait_ready()
        await second.wait_ready()
        model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).json()
        assert model["connections"] == 2
        result = await first.execute("print('to everyone')")
        assert result.stdout == "to everyone\n"
        # The second connection sees the same iopub messages (not the shell reply, which is the sender's).
        stream = []
        while True:
            message = await second.receive()
            if message["parent_header"].get("msg_id") != result.reply["parent_header"]["msg_id"]:
                continue
            assert message["channel"] == "iopub"
            stream.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        assert "".join(m["content"]["text"] for m in stream if m["msg_type"] == "stream") == "to everyone\n"


async def test_v1_subprotocol_round_trip(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"], protocol="v1") as ws:
        assert ws.subprotocol == "v1.kernel.websocket.jupyter.org"
        result = await ws.execute("print('v1'); 6*7")
    assert result.result == "42" and result.stdout == "v1\n"


async def test_messages_sent_before_the_kernel_is_up_are_not_lost(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        # No wait for readiness: the first message goes out while the kernel is still starting.
        result = await ws.execute("print('early')")
    assert result.stdout == "early\n" and result.statuses[-1] == "idle"


async def test_token_auth_on_rest_and_query_token_on_websocket(kernels, user):
    from django.test import AsyncClient

    from lms_kernels.models import KernelApiToken

    _row, token = await sync_to_async(KernelApiToken.objects.issue)(user)
    client = AsyncClient(enforce_csrf_checks=True)
    # An unsafe method without a CSRF token: fine with an API token.
    kernel = await start_kernel(client, headers={"Authorization": f"token {token}"})
    async with kernel_socket(None, kernel["id"], query=f"&token={token}") as ws:
        assert (await ws.execute("3*3")).result == "9"
    async with kernel_socket(
        None, kernel["id"], headers=[(b"authorization", f"token {token}".encode())]
    ) as ws:
        assert (await ws.execute("4*4")).result == "16"


async def test_another_users_kernel_is_not_found_on_rest_and_websocket(kernels, user, other_user):
    owner = await logged_in_client(user)
    intruder = await logged_in_client(other_user)
    kernel = await start_kernel(owner)
    for method, path in [
        ("get", ""),
        ("delete", ""),
        ("post", "/interrupt"),
        ("post", "/restart"),
    ]:
        response = await getattr(intruder, method)(f"{PREFIX}/kernels/{kernel['id']}{path}")
        assert response.status_code == 404, (method, path)
        assert response.json()["reason"] == "kernel_not_found"
    assert (await intruder.get(f"{PREFIX}/kernels")).json() == []
    ws = kernel_socket(intruder, kernel["id"])
    connected, _ = await ws.connect()
    assert connected and await ws.receive_close() == 4404
    assert (await owner.get(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 200


async def test_anonymous_and_bad_tokens_are_refused_on_the_websocket(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    for ws in (kernel_socket(None, kernel["id"]), kernel_socket(None, kernel["id"], query="&token=wrong")):
        connected, _ = await ws.connect()
        assert connected
        assert await ws.receive_close() == 4401


async def test_foreign_origin_is_refused_before_accept(kernels, user):
    from lms_kernels.testing import KernelWebsocket, websocket_application

    from .conftest import session_headers

    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    path = f"{PREFIX}/kernels/{kernel['id']}/channels"
    ws = KernelWebsocket(
        websocket_application(), path, headers=session_headers(client), origin="http://evil.example"
    )
    connected, _code = await ws.connect()
    assert not connected


async def test_unknown_kernel_id_closes_4404(kernels, user):
    client = await logged_in_client(user)
    ws = kernel_socket(client, "00000000-0000-0000-0000-000000000000")
    connected, _ = await ws.connect()
    assert connected and await ws.receive_close() == 4404


async def test_kernel_survives_reconnect_with_its_variables(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("kept = 'still here'")
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("kept")).result == "'still here'"


async def test_waiting_is_not_busy_looping(kernels, user):
    """A connection that waits for output costs no CPU (the ZeroMQ reads are event driven)."""
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        before = time.process_time()
        await asyncio.sleep(0.5)
        assert time.process_time() - before < 0.2
