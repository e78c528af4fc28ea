"""The local backend: kernels that outlive the worker that started them, reachable from the stored state."""

import json
import os
import subprocess
import sys
import textwrap
import types
import uuid
from pathlib import Path

import psutil
import pytest

from lms_kernels.backends import get_backend
from lms_kernels.connection.messages import new_message, pack_message
from lms_kernels.connection.zmq_channels import ZmqKernelChannels

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]


def fake_kernel(**fields):
    """The two fields a backend reads, without a database row."""
    return types.SimpleNamespace(**{"id": uuid.uuid4(), "connection_info": {}, "backend_state": {}, **fields})


def gone(pid):
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def execute(connection_info, code) -> dict:
    """Execute over fresh ZeroMQ sockets, as a worker that never saw the kernel start would."""
    channels = ZmqKernelChannels(connection_info, identity=uuid.uuid4().bytes)
    channels.connect()
    try:
        msg = new_message(
            "execute_request", {"code": code, "silent": False, "store_history": False}, session="t"
        )
        channels.send("shell", pack_message(msg))
        while True:
            parts = await channels.recv("shell")
            if json.loads(parts[1])["msg_id"] == msg["header"]["msg_id"]:
                return json.loads(parts[3])
    finally:
        channels.close()


STARTER = textwrap.dedent(
    """
    import asyncio, json, sys, types, uuid
    import django
    django.setup()
    from lms_kernels.backends.local import LocalBackend
    backend = LocalBackend("local", {"runtime_dir": sys.argv[1]})
    kernel = types.SimpleNamespace(id=uuid.uuid4())
    environment = types.SimpleNamespace(slug="python3", backend_options={})
    started = asyncio.run(backend.start(kernel, environment))
    print(json.dumps({"connection_info": started.connection_info, "state": started.state}))
    """
)


@pytest.mark.slow
async def test_kernel_outlives_the_process_that_started_it(tmp_path):
    """Another process starts a kernel and exits; this one reaches and controls it with the stored state only."""
    starter = subprocess.run(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")])},
        cwd=ROOT,
        check=True,
    )
    stored = json.loads(starter.stdout.strip().splitlines()[-1])
    kernel = fake_kernel(connection_info=stored["connection_info"], backend_state=stored["state"])
    pid = stored["state"]["pid"]
    backend = get_backend("local")
    try:
        assert await backend.is_alive(kernel)
        process = psutil.Process(pid)
        assert os.getsid(pid) == pid  # its own session: signals to the worker's group do not reach it
        assert "JPY_PARENT_PID" not in process.environ()  # so it does not exit when its parent does
        assert "DJANGO_SETTINGS_MODULE" not in process.environ()  # only allow-listed variables
        reply = await execute(kernel.connection_info, "import os; os.getcwd()")
        assert reply["status"] == "ok"
    finally:
        await backend.shutdown(kernel)
    assert gone(pid)
    assert not await backend.is_alive(kernel)
    assert not os.path.exists(stored["state"]["connection_file"])
    assert not os.path.exists(stored["state"]["workdir"])


async def test_restart_keeps_ports_and_key(tmp_path, settings):
    settings.LMS_KERNELS = {
        "BACKENDS": {
            "local": {
                "BACKEND": "lms_kernels.backends.local.LocalBackend",
                "OPTIONS": {"runtime_dir": str(tmp_path)},
            }
        }
    }
    backend = get_backend("local")
    environment = types.SimpleNamespace(slug="python3", backend_options={"env": {"LESSON": "7"}})
    kernel = fake_kernel()
    started = await backend.start(kernel, environment)
    kernel.connection_info, kernel.backend_state = started.connection_info, started.state
    try:
        assert (await execute(kernel.connection_info, "import os; x = os.environ['LESSON']"))[
            "status"
        ] == "ok"
        restarted = await backend.restart(kernel, environment)
        assert restarted.connection_info == started.connection_info
        assert restarted.state["pid"] != started.state["pid"] and gone(started.state["pid"])
        kernel.backend_state = restarted.state
        assert (await execute(kernel.connection_info, "x"))["ename"] == "NameError"
    finally:
        await backend.shutdown(kernel)
    assert gone(kernel.backend_state["pid"])


async def test_a_recycled_pid_is_never_signalled(tmp_path):
    """State whose pid now belongs to another process (different start time) counts as gone."""
    backend = get_backend("local")
    me = psutil.Process()
    kernel = fake_kernel(backend_state={"pid": me.pid, "create_time": me.create_time() - 100})
    assert not await backend.is_alive(kernel)
    await backend.interrupt(kernel)  # would be SIGINT to this test process if the pid were trusted
    await backend.shutdown(kernel)
    assert me.is_running()


async def test_a_kernel_of_another_host_is_neither_alive_nor_dead_here(kernel_settings):
    """This worker cannot tell: it says so, instead of taking the kernel for dead and starting another."""
    from lms_kernels.exceptions import BackendUnavailable

    backend = get_backend("local")
    elsewhere = fake_kernel(backend_state={"pid": os.getpid(), "create_time": 0, "host": "another-host"})
    with pytest.raises(BackendUnavailable):
        await backend.is_alive(elsewhere)
    with pytest.raises(BackendUnavailable):
        backend.get_connection_info(elsewhere)
