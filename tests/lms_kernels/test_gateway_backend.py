"""The gateway backend: kernels on a remote Jupyter Server, driven through its REST API and WebSocket.

The remote end is a real Jupyter Server with a token, started on loopback (as in the gateway client's tests):
a learner's flows go through our REST API and our WebSocket unchanged (execute, interrupt, restart, shut
down), and the remote server is asked directly whether its kernel is there. A gateway that does not answer
gives our API's 503 ``backend_unavailable``, not a 500 or a hang. The options, the codecs and the start
request's ``env`` are checked without a server.
"""

from __future__ import annotations

import asyncio
import json
import time
import types
import uuid
from decimal import Decimal

import pytest
from django.core import checks

from lms_kernels.backends import get_backend
from lms_kernels.backends.gateway import (
    BACKOFF_CAP,
    GatewayBackend,
    backoff,
    decode_json_frame,
    decode_v1_frame,
)
from lms_kernels.checks import backends_check, environments_check
from lms_kernels.connection.protocol import encode_json_frame, encode_v1_frame
from lms_kernels.models import Kernel, KernelEnvironment, KernelStatus
from lms_kernels.testing.servers import free_port

from .conftest import PREFIX, kernel_socket, load_backend_without, logged_in_client, start_kernel

GATEWAY = "lms_kernels.backends.gateway.GatewayBackend"


def gateway_settings(kernel_settings, settings, url: str, **options) -> dict:
    settings.LMS_KERNELS = {
        **kernel_settings,
        "BACKENDS": {
            **kernel_settings["BACKENDS"],
            "gateway": {"BACKEND": GATEWAY, "OPTIONS": {"url": url, **options}},
        },
    }
    return settings.LMS_KERNELS


def make_environment(slug="py-gw", **fields) -> KernelEnvironment:
    defaults = {
        "display_name": "Python on a gateway",
        "backend": "gateway",
        "backend_options": {"kernel_name": "python3"},
    }
    return KernelEnvironment.objects.create(slug=slug, **{**defaults, **fields})


async def row(kernel_id) -> Kernel:
    return await Kernel.objects.select_related("environment").aget(pk=kernel_id)


# -- options, the start request, the codecs (no server) ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "'url' must be an http or https URL"),
        ({"url": "ftp://gw"}, "'url' must be an http or https URL"),
        ({"url": "http://gw:8888", "ws_url": "http://gw"}, "'ws_url' must be a ws or wss URL"),
        ({"url": "http://gw", "token": ""}, "'token' must be a non-empty string"),
        ({"url": "http://gw", "connect_timeout": 0}, "'connect_timeout' must be a positive number"),
        ({"url": "http://gw", "request_timeout": "60"}, "'request_timeout' must be a positive number"),
        ({"url": "http://gw", "retries": -1}, "'retries' must be an integer from 0 to 20"),
        ({"url": "http://gw", "kernel_name_map": {"a": 1}}, "'kernel_name_map' must be a dict"),
        ({"url": "http://gw", "env": ["KERNEL_X"]}, "'env' must be a dict of strings"),
        ({"url": "http://gw", "validate_cert": "no"}, "'validate_cert' must be True or False"),
        ({"url": "http://gw", "image": "x"}, "unknown options ['image']"),
    ],
)
def test_bad_options_are_reported_by_check_e103(settings, kernel_settings, options, expected):
    settings.LMS_KERNELS = {
        **kernel_settings,
        "BACKENDS": {**kernel_settings["BACKENDS"], "gateway": {"BACKEND": GATEWAY, "OPTIONS": options}},
    }
    errors = [e for e in backends_check() if e.id == "lms_kernels.E103"]
    assert errors, backends_check()
    assert any(expected in e.msg for e in errors), [e.msg for e in errors]
    assert all(e.level == checks.ERROR for e in errors)


def test_good_options_pass_and_derive_the_websocket_url(settings, kernel_settings):
    gateway_settings(kernel_settings, settings, "https://user:pw@gw.example:8443/eg/", token="t0k", retries=0)
    assert not [e for e in backends_check() if e.id == "lms_kernels.E103"]
    backend = get_backend("gateway")
    assert isinstance(backend, GatewayBackend)
    assert backend.url == "https://user:pw@gw.example:8443/eg"
    assert backend.ws_url == "wss://user:pw@gw.example:8443/eg"
    assert backend.display_url == "https://gw.example:8443/eg"  # no credentials in messages
    assert backend._headers()["Authorization"] == "token t0k"


def test_environment_options_are_checked_by_e105(db, settings, kernel_settings):
    gateway_settings(kernel_settings, settings, "http://127.0.0.1:9")
    make_environment(slug="bad-gw", backend_options={"image": "x", "env": {"KERNEL_X": 1}})
    messages = [e.msg for e in environments_check(databases=["default"]) if e.id == "lms_kernels.E105"]
    assert any("['image'] are unknown" in m for m in messages), messages
    assert any("'env' must be a dict of strings" in m for m in messages), messages


def test_kernelspec_and_resource_requests_in_the_start_request():
    backend = GatewayBackend(
        "gw",
        {"url": "http://gw", "kernel_name_map": {"torch": "python3-k8s"}, "env": {"KERNEL_NAMESPACE": "lms"}},
    )
    environment = types.SimpleNamespace(
        slug="torch",
        backend_options={"env": {"KERNEL_EXTRA": "1"}},
        cpu_limit=Decimal("1.5"),
        memory_limit=512 * 1024 * 1024,
        gpus=1,
    )
    kernel = types.SimpleNamespace(id=uuid.uuid4(), owner_id=42)
    assert backend.kernel_name(environment) == "python3-k8s"
    assert backend.kernel_name(types.SimpleNamespace(slug="plain", backend_options={})) == "plain"
    assert (
        backend.kernel_name(types.SimpleNamespace(slug="torch", backend_options={"kernel_name": "x"})) == "x"
    )
    assert backend.kernel_env(kernel, environment) == {
        "KERNEL_USERNAME": "lms-42",
        "KERNEL_CPUS": "1.5",
        "KERNEL_CPUS_LIMIT": "1.5",
        "KERNEL_MEMORY": str(512 * 1024 * 1024),
        "KERNEL_MEMORY_LIMIT": str(512 * 1024 * 1024),
        "KERNEL_GPUS": "1",
        "KERNEL_GPUS_LIMIT": "1",
        "KERNEL_NAMESPACE": "lms",
        "KERNEL_EXTRA": "1",
    }


def test_frames_both_protocols_round_trip():
    header = {"msg_id": "m1", "msg_type": "stream", "session": "s"}
    parts = [json.dumps(header).encode(), b'{"msg_id": "p"}', b"{}", b'{"name": "stdout", "text": "hi"}']
    assert decode_v1_frame(encode_v1_frame("iopub", parts)) == ("iopub", parts)
    assert decode_v1_frame(encode_v1_frame("shell", [*parts, b"\x00raw"])) == ("shell", [*parts, b"\x00raw"])
    channel, decoded = decode_json_frame(encode_json_frame("iopub", parts, header))
    assert channel == "iopub" and [json.loads(p) for p in decoded] == [json.loads(p) for p in parts]
    channel, decoded = decode_json_frame(encode_json_frame("shell", [*parts, b"buf"], header))
    assert channel == "shell" and decoded[4:] == [b"buf"]
    assert (
        decode_v1_frame(b"\x01") is None
        and decode_json_frame("[]") is None
        and decode_json_frame(b"x") is None
    )


def test_the_app_works_without_tornado():
    """Only the gateway backend imports tornado; without it, it says which extra to install."""
    printed = load_backend_without(
        ("tornado", "tornado.httpclient", "tornado.websocket"),
        "gateway",
        "lms_kernels.backends.gateway.GatewayBackend",
    )
    assert "InvalidBackendError" in printed
    assert "pip install 'groundup-lms[gateway]'" in printed


def test_backoff_is_capped_and_jittered():
    delays = [backoff(attempt) for attempt in range(30)]
    assert all(0 <= d <= BACKOFF_CAP for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_unreachable_gateway_is_a_503_and_logged_with_its_address(
    kernels, settings, kernel_settings, user, caplog
):
    port = free_port()  # nothing listens there
    gateway_settings(kernel_settings, settings, f"http://127.0.0.1:{port}", retries=1, connect_timeout=2)
    await KernelEnvironment.objects.acreate(
        slug="py-gw", display_name="Python on a gateway", backend="gateway"
    )
    client = await logged_in_client(user)
    started = time.monotonic()
    response = await client.post(f"{PREFIX}/kernels", {"name": "py-gw"}, content_type="application/json")
    assert time.monotonic() - started < 10
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["reason"] == "gateway_unreachable"
    assert "does not answer" in body["message"]
    assert f"127.0.0.1:{port}" not in body["message"]  # learners are not shown internal addresses
    assert f"http://127.0.0.1:{port}" in caplog.text  # operators are
    assert not await Kernel.objects.aexists()


# -- against a real Jupyter Server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A Jupyter Server with a token on loopback, running its own kernels: the gateway."""
    from .test_jupyter_clients import JupyterServer

    server = JupyterServer(tmp_path_factory.mktemp("gateway"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(remote, kernels, settings, kernel_settings):
    gateway_settings(
        kernel_settings,
        settings,
        remote.url,
        token=remote.token,
        retries=1,
        connect_timeout=5,
        request_timeout=60,
    )
    make_environment()
    return remote


def remote_status(server, remote_id: str) -> int:
    return server.api("GET", f"/kernels/{remote_id}")[0]


@pytest.mark.gateway
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_execute_and_shut_down_through_our_api(gateway, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-gw")
    stored = await row(kernel["id"])
    remote_id = stored.backend_state["kernel_id"]
    assert stored.connection_info == {"transport": "gateway", "kernel_id": remote_id}
    assert stored.backend_state["kernel_name"] == "python3"
    assert await asyncio.to_thread(remote_status, gateway, remote_id) == 200
    for protocol in (None, "v1"):
        async with kernel_socket(client, kernel["id"], protocol=protocol) as ws:
            assert (await ws.execute("1+1", timeout=60)).result == "2"
            assert (await ws.execute("print('hello')")).stdout == "hello\n"
            answered = await ws.execute(
                "name = input('Who? '); print('hi', name)", stdin_reply=lambda p: "Ada"
            )
            assert answered.stdout == "hi Ada\n"
    assert await get_backend("gateway").is_alive(stored)
    response = await client.delete(f"{PREFIX}/kernels/{kernel['id']}")
    assert response.status_code == 204
    assert await asyncio.to_thread(remote_status, gateway, remote_id) == 404
    assert not await get_backend("gateway").is_alive(stored)


@pytest.mark.gateway
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_interrupt_stops_a_long_execution(gateway, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-gw")
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready(timeout=60)
        msg = ws.execute_request("import time; time.sleep(60)", stop_on_error=False)
        await ws.send(msg)
        await ws.receive_until(lambda m: m["msg_type"] == "execute_input")
        started = time.monotonic()
        assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/interrupt")).status_code == 204
        result = await ws.collect(msg["header"]["msg_id"], timeout=20)
        assert time.monotonic() - started < 15
        assert result.reply["content"]["ename"] == "KeyboardInterrupt"
        assert (await ws.execute("'still here'")).result == "'still here'"


@pytest.mark.gateway
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_restart_loses_state_and_the_connection_carries_on(gateway, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-gw")
    before = await row(kernel["id"])
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("x = 41", timeout=60)
        assert (await ws.execute("x + 1")).result == "42"
        response = await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")
        assert response.status_code == 200, response.content
        result = await ws.execute("x + 1", timeout=60)
        assert result.reply["content"]["ename"] == "NameError"
    after = await row(kernel["id"])
    assert after.backend_state["kernel_id"] == before.backend_state["kernel_id"]  # restarted in place
    assert after.generation == before.generation + 1


@pytest.mark.gateway
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_stopped_gateway_gives_503_not_500_or_a_hang(
    kernels, settings, kernel_settings, user, tmp_path
):
    from .test_jupyter_clients import JupyterServer

    server = JupyterServer(tmp_path)
    await asyncio.to_thread(server.start)
    try:
        gateway_settings(
            kernel_settings,
            settings,
            server.url,
            token=server.token,
            retries=1,
            connect_timeout=2,
            request_timeout=10,
        )
        await asyncio.to_thread(make_environment)
        client = await logged_in_client(user)
        kernel = await start_kernel(client, "py-gw")
        async with kernel_socket(client, kernel["id"]) as ws:
            assert (await ws.execute("1+1", timeout=60)).result == "2"
            await asyncio.to_thread(server.stop)  # it shuts its kernels down as it goes
            # Our connection is closed, not left hanging: "backend unavailable" once the gateway stays away
            # (4503), or "died" (4500) when the watcher saw the kernel gone (404) before the server was.
            assert await ws.receive_close(timeout=60) in (4500, 4503)
        for method, path in (
            ("post", f"{PREFIX}/kernels"),
            ("post", f"{PREFIX}/kernels/{kernel['id']}/interrupt"),
            ("post", f"{PREFIX}/kernels/{kernel['id']}/restart"),
            ("delete", f"{PREFIX}/kernels/{kernel['id']}"),
        ):
            started = time.monotonic()
            response = await getattr(client, method)(path, {"name": "py-gw"}, content_type="application/json")
            assert time.monotonic() - started < 30, path
            assert response.status_code == 503, (path, response.content)
            assert response.json()["message"], path
        response = await client.post(f"{PREFIX}/kernels", {"name": "py-gw"}, content_type="application/json")
        assert response.json()["reason"] == "gateway_unreachable"
        assert "does not answer" in response.json()["message"]
    finally:
        await asyncio.to_thread(server.stop)
        # The gateway's kernels went with it: remove the rows without asking it (it would not answer).
        await Kernel.objects.all().aupdate(status=KernelStatus.TERMINATING)
        await Kernel.objects.all().adelete()
