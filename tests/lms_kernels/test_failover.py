"""Failover of the web tier: the worker serving a learner dies mid-execution, another one takes over.

Two uvicorn processes run the example project on one PostgreSQL database and one Redis channel layer, with the
``local`` backend. A kernel is started through the first (it is that process's child), used through the second,
then the learner runs a long cell through the first, which is killed with ``SIGKILL`` while the cell prints.
The learner's client reconnects through the second with the same ``session_id`` and must find the same kernel
with its variables, every line the cell printed exactly once and in order, including those printed while no
worker listened (the kernel's iopub relay kept them, :mod:`lms_kernels.relay`), and the cell's end. The
one exception, allowed and bounded: the message or two the dead worker had handed over but not yet
acknowledged to the relay come again, as the very same messages (same ``msg_id``).

What is *not* recovered, by design: the ``execute_reply`` of a request sent through the dead worker (a reply
goes to the shell socket of the connection that asked, which died with its worker); its outputs and its
``idle`` status come through iopub and are.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import uuid

import psutil
import pytest

from tests.lms_kernels import test_server_processes as servers
from tests.lms_kernels.test_server_processes import (
    API,
    TIMEOUT,
    KernelSocket,
    is_alive,
    only_kernel_process,
    wait_until,
)

# The fixtures of the two-server test: a site, a database of its own, a Redis database number.
site = servers.site
postgres_database = servers.postgres_database
redis_layer_url = servers.redis_layer_url

pytestmark = [pytest.mark.slow, pytest.mark.redis]

LINES = 60
INTERVAL = 0.05
CELL = f"""
import time
for i in range({LINES}):
    print(f"line {{i}} {{time.time():.6f}}", flush=True)
    time.sleep({INTERVAL})
x += 1
"""
LINE = re.compile(r"line (\d+) (\d+\.\d+)")


@contextlib.contextmanager
def learner_socket(site, server, kernel_id: str, session_id: str):
    """Like ``site.socket``, but with the ``session_id`` the learner's client keeps across reconnects."""
    from websockets.sync.client import connect

    url = f"{server.ws_url}{API}/kernels/{kernel_id}/channels?session_id={session_id}"
    ws = connect(
        url,
        origin=server.url,
        additional_headers={"Authorization": f"token {site.token}"},
        proxy=None,
        open_timeout=TIMEOUT,
        max_size=None,
    )
    try:
        yield KernelSocket(ws)
    finally:
        with contextlib.suppress(Exception):
            ws.close()


def stdout_messages(messages: list[dict], msg_id: str) -> list[dict]:
    return [
        m
        for m in messages
        if m["msg_type"] == "stream"
        and m["content"]["name"] == "stdout"
        and m["parent_header"].get("msg_id") == msg_id
    ]


def stdout_of(messages: list[dict], msg_id: str) -> str:
    return "".join(m["content"]["text"] for m in stdout_messages(messages, msg_id))


def relays_of(site) -> list[psutil.Process]:
    """The site's kernel relays: their environment names a connection file under the site's runtime dir."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(part.endswith("relay.py") for part in proc.info["cmdline"] or ()):
                watch = proc.environ().get("LMS_KERNEL_RELAY_WATCH", "")
                if watch.startswith(str(site.kernel_dir)):
                    found.append(proc)
    return found


@pytest.fixture
def relays_stopped(site):
    yield
    for proc in relays_of(site):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def test_a_learner_survives_the_death_of_their_worker(
    postgres_database, redis_layer_url, site, relays_stopped
):
    site.prepare(
        {"DATABASE_URL": postgres_database, "REDIS_URL": redis_layer_url, "DJANGO_SQLITE_PATH": None}
    )
    a, b = site.start_servers("a", "b")
    status, kernel = site.api(a)("POST", "/kernels", {"name": "python3"})
    assert status == 201, kernel
    kernel_id = kernel["id"]
    process = only_kernel_process(site, kernel_id)
    assert process.ppid() == a.pid  # A started it: the kernel must outlive its parent
    [relay] = relays_of(site)

    # State, set through the other server.
    with site.socket(b, kernel_id) as on_b:
        assert on_b.execute("x = 41").reply["content"]["status"] == "ok"

    session_id = uuid.uuid4().hex
    with learner_socket(site, a, kernel_id, session_id) as on_a:
        assert on_a.kernel_info()["content"]["status"] == "ok"
        run_id = on_a.send(
            "execute_request",
            {
                "code": CELL,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
            },
        )
        on_a.wait_for(lambda m: "line 5 " in stdout_of([m], run_id))
        os.kill(a.pid, signal.SIGKILL)
        killed_at = time.time()
        a.process.wait(timeout=10)
        with contextlib.suppress(Exception):  # whatever was still in flight on the dead connection
            while True:
                on_a.receive(0.2)
        before = stdout_messages(on_a.received, run_id)

    assert is_alive(process), "the kernel died with the server that started it"
    assert is_alive(relay), "the kernel's iopub relay died with the server that started it"
    time.sleep(1.0)  # the cell prints on, with nobody listening
    reconnected_at = time.time()

    with learner_socket(site, b, kernel_id, session_id) as again:
        again.wait_for(
            lambda m: (
                m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
                and m["parent_header"].get("msg_id") == run_id
            )
        )
        after = stdout_messages(again.received, run_id)

        # What the old worker handed over but had not acknowledged when it died (the last message or two,
        # microseconds' worth) comes again, as the very same message: same msg_id, so clients can tell.
        seen = {m["header"]["msg_id"] for m in before}
        repeated = [m for m in after if m["header"]["msg_id"] in seen]
        assert repeated == after[: len(repeated)], "only the first messages of the replay may repeat"
        assert repeated == before[len(before) - len(repeated) :], "and only the last ones seen before"
        assert len(repeated) <= 2, f"{len(repeated)} messages came twice"
        fresh = after[len(repeated) :]
        text = "".join(m["content"]["text"] for m in before + fresh)
        lines = [LINE.fullmatch(line) for line in text.splitlines()]
        assert all(lines), text
        numbers = [int(match.group(1)) for match in lines]
        assert numbers == list(range(LINES)), f"lost or repeated lines: {numbers}"
        printed_meanwhile = [
            int(m.group(1)) for m in lines if killed_at + 0.05 < float(m.group(2)) < reconnected_at - 0.05
        ]
        assert len(printed_meanwhile) >= 5, "no line printed while nobody listened was checked"

        # The same kernel, with its state and the cell's effect; and it runs on as usual.
        result = again.execute("x")
        assert result.reply["content"]["status"] == "ok", result.reply
        assert result.result == "42"
        live = again.execute("print('still here')")
        assert live.stdout == "still here\n"
    assert only_kernel_process(site, kernel_id).pid == process.pid

    status, _body = site.api(b)("DELETE", f"/kernels/{kernel_id}")
    assert status == 204
    assert wait_until(lambda: not is_alive(process)), "the kernel process outlived its shut-down"
    assert wait_until(lambda: not is_alive(relay), timeout=10), "the relay outlived its kernel's shut-down"
