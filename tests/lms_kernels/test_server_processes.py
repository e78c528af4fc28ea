"""The stateless web tier, proven with real server processes (uvicorn running the example project).

What is needed to reach a kernel is persisted, so (a) restarting the ASGI server loses no kernel: the learner
reconnects and their variables are still there; and (b) two server processes sharing the database and a
Redis channel layer serve the same kernel: output, restarts and shut-downs reach the connections of both.

Everything here talks to the servers over the network only (REST with an API token, WebSockets with
``websockets``); the test process never touches the servers' database through Django.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psutil
import pytest

from lms_kernels.exceptions import KernelGone
from lms_kernels.testing.servers import AsgiServer, ServerError, run_django_command
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROJECT_DIR = ROOT / "example_project"
SETTINGS_MODULE = "groundup_site.settings"
ASGI_APP = "groundup_site.asgi:application"
API = "/kernels/api"
USERNAME = "learner"
#: Generous: a loaded two-core machine imports Django, Wagtail and all four apps slowly.
START_TIMEOUT = 90
TIMEOUT = 60

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- a site: the project's database, its server processes and the kernels they start ------------------------


class Site:
    """One deployment of the example project for one test: environment, migrated database, user and token,
    server processes. :meth:`close` stops the servers and kills any kernel process left behind."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.jupyter_runtime = tmp_path / "jupyter-runtime"
        self.kernel_dir = self.jupyter_runtime / "lms_kernels"  # where the local backend puts its files
        self.env: dict[str, str | None] = {}
        self.token = ""
        self.servers: list[AsgiServer] = []

    def prepare(self, env: dict[str, str | None]) -> None:
        """Migrate the database ``env`` points at, create the learner and their API token."""
        self.env = {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_LOG_LEVEL": "INFO",
            "JUPYTER_RUNTIME_DIR": str(self.jupyter_runtime),
            **env,
        }
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage(
            "shell",
            "-c",
            f"from django.contrib.auth import get_user_model; get_user_model().objects.create_user({USERNAME!r})",
        )
        self.token = self.manage("lms_kernels_token", USERNAME).strip().splitlines()[-1]

    def manage(self, *args: str) -> str:
        return run_django_command(*args, settings_module=SETTINGS_MODULE, cwd=PROJECT_DIR, env=self.env)

    def start_servers(self, *names: str) -> list[AsgiServer]:
        """Start a server per name (at the same time) and wait until each answers its health check."""
        started = []
        for name in names:
            server = AsgiServer(
                ASGI_APP,
                settings_module=SETTINGS_MODULE,
                cwd=PROJECT_DIR,
                env=self.env,
                ready_path="/healthz",
                start_timeout=START_TIMEOUT,
                log_path=self.tmp_path / f"server-{name}.log",
            )
            self.servers.append(server)
            server.launch()
            started.append(server)
        for server in started:
            try:
                server.wait_until_ready()
            except ServerError:
                if "address already in use" not in server.log_text().lower():
                    raise
                server.start()  # it lost a race for its free port: again, on another
        return started

    def api(self, server: AsgiServer) -> Api:
        return Api(server, self.token)

    @contextlib.contextmanager
    def socket(self, server: AsgiServer, kernel_id: str, *, token_in: str = "header"):
        """A :class:`KernelSocket` to ``kernel_id`` through ``server``; the token in a header or the query."""
        from websockets.sync.client import connect

        url = f"{server.ws_url}{API}/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        headers = {}
        if token_in == "header":
            headers["Authorization"] = f"token {self.token}"
        else:
            url += f"&token={self.token}"
        with connect(
            url,
            origin=server.url,  # the project checks Origin against ALLOWED_HOSTS
            additional_headers=headers,
            proxy=None,
            open_timeout=TIMEOUT,
            max_size=None,
        ) as ws:
            yield KernelSocket(ws)

    def kernel_processes(self, kernel_id: str | None = None) -> list[psutil.Process]:
        """Live kernel processes of this site (or of one kernel): their command line names the connection
        file, which lies in this test's runtime directory and is named after the kernel."""
        marker = str(self.kernel_dir / (f"kernel-{kernel_id}.json" if kernel_id else ""))
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(marker in part for part in proc.info["cmdline"] or ()) and is_alive(proc):
                    found.append(proc)
        return found

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):  # the kernels below must be stopped whatever happens
                server.stop()
        for proc in self.kernel_processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # a kernel leads its own process group
        for server in self.servers:  # shown by pytest when the test failed
            print(f"----- {server.log_path.name} -----\n{server.log_text()[-20000:]}")


@pytest.fixture
def site(tmp_path):
    site = Site(tmp_path)
    try:
        yield site
    finally:
        site.close()


def is_alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a kernel killed by a server that is not its parent may linger as one)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def only_kernel_process(site: Site, kernel_id: str) -> psutil.Process:
    processes = site.kernel_processes(kernel_id)
    assert len(processes) == 1, f"expected one process of kernel {kernel_id}, found {processes}"
    return processes[0]


# -- clients -------------------------------------------------------------------------------------------------


@dataclass
class Api:
    """The kernel service's REST API through one server, authenticated with an API token."""

    server: AsgiServer
    token: str

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        request = urllib.request.Request(
            self.server.url + API + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with _opener.open(request, timeout=TIMEOUT) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        return status, json.loads(data) if data else None


@dataclass
class Collected:
    """What one connection received about one request."""

    msg_id: str
    messages: list[dict] = field(default_factory=list)
    reply: dict | None = None

    def types(self) -> list[str]:
        return [m["msg_type"] for m in self.messages]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def result(self) -> str | None:
        results = [m for m in self.messages if m["msg_type"] == "execute_result"]
        return results[-1]["content"]["data"]["text/plain"] if results else None


class KernelSocket:
    """A Jupyter client over a real WebSocket (the default JSON protocol), synchronous."""

    def __init__(self, ws):
        self.ws = ws
        self.session = uuid.uuid4().hex
        self.received: list[dict] = []
        self.close_code: int | None = None

    def send(self, msg_type: str, content: dict | None = None, channel: str = "shell") -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": USERNAME,
            "session": self.session,
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        }
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content or {}}
        self.ws.send(json.dumps({**message, "channel": channel, "buffers": []}))
        return msg_id

    def receive(self, timeout: float) -> dict:
        """The next message (binary frames, which carry buffers, do not occur here and are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
            if isinstance(frame, str):
                message = json.loads(frame)
                self.received.append(message)
                return message

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        start = len(self.received)
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = self.receive(remaining)
            except TimeoutError:
                seen = [(m["msg_type"], m["channel"]) for m in self.received[start:]]
                raise AssertionError(f"no matching message within {timeout} s; received {seen}") from None
            if predicate(message):
                return message

    def collect(self, msg_id: str, *, reply: bool = True, timeout: float = TIMEOUT) -> Collected:
        """The iopub messages of request ``msg_id`` until ``idle`` (and its reply, which only the connection
        that sent the request gets)."""
        collected = Collected(msg_id)
        idle = False

        def done(message: dict) -> bool:
            nonlocal idle
            if message["parent_header"].get("msg_id") != msg_id:
                return False
            if message["channel"] in ("shell", "control") and message["msg_type"].endswith("_reply"):
                collected.reply = message
            else:
                collected.messages.append(message)
                idle = idle or (
                    message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
                )
            return idle and (collected.reply is not None or not reply)

        self.wait_for(done, timeout)
        return collected

    def execute(self, code: str) -> Collected:
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        return self.collect(self.send("execute_request", content))

    def kernel_info(self) -> dict:
        """Ask and wait for the answer: afterwards the server's bridge is connected to the kernel."""
        return self.collect(self.send("kernel_info_request")).reply

    def wait_closed(self, timeout: float = TIMEOUT) -> int:
        """Read until the server closes the socket; return its close code."""
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.receive(max(deadline - time.monotonic(), 0.01))
            except ConnectionClosed as exc:
                self.close_code = exc.rcvd.code if exc.rcvd else None
                return self.close_code
            except TimeoutError:
                raise AssertionError(f"the server did not close the socket within {timeout} s") from None


def is_status(state: str) -> Callable[[dict], bool]:
    return lambda m: m["msg_type"] == "status" and m["content"].get("execution_state") == state


# -- (a) a restart of the server loses no kernel ---------------------------------------------------------------


def test_a_restarted_server_loses_no_kernel(site, tmp_path):
    site.prepare(
        {"DJANGO_SQLITE_PATH": str(tmp_path / "site.sqlite3"), "DATABASE_URL": None, "REDIS_URL": None}
    )
    [first] = site.start_servers("first")
    status, kernel = site.api(first)("POST", "/kernels", {"name": "python3"})
    assert status == 201, kernel
    kernel_id = kernel["id"]
    process = only_kernel_process(site, kernel_id)
    assert process.ppid() == first.pid  # the first server launched it
    with site.socket(first, kernel_id) as ws:
        reply = ws.execute("x = 41").reply
        assert reply["content"]["status"] == "ok", reply

    # SIGTERM, as a process manager stops a server: uvicorn shuts down gracefully, then re-raises the signal.
    assert first.stop() in (0, -signal.SIGTERM)
    assert "Finished server process" in first.log_text()
    assert is_alive(process), "the kernel died with the server that started it"

    [second] = site.start_servers("second")
    api = site.api(second)
    status, model = api("GET", f"/kernels/{kernel_id}")
    assert status == 200, model
    assert model["id"] == kernel_id
    status, listed = api("GET", "/kernels")
    assert [k["id"] for k in listed] == [kernel_id]
    with site.socket(second, kernel_id, token_in="query") as ws:
        result = ws.execute("x + 1")
        assert result.reply["content"]["status"] == "ok", result.reply
        assert result.result == "42"

    status, _body = api("DELETE", f"/kernels/{kernel_id}")
    assert status == 204
    assert wait_until(lambda: not is_alive(process)), "the kernel process outlived its shut-down"
    assert not (site.kernel_dir / f"kernel-{kernel_id}.json").exists()
    assert api("GET", f"/kernels/{kernel_id}")[0] == 404


# -- (b) two servers, one database, one Redis channel layer ----------------------------------------------------


@pytest.fixture
def postgres_database(postgres_server_url):
    """A new, uniquely named database on the suite's PostgreSQL server; dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"lms_servers_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunparse(urlparse(postgres_server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def redis_layer_url(redis_url):
    """The suite's Redis with a database number of its own (1-15): the example project's settings take a
    ``REDIS_URL`` but no channel-layer prefix. Groups are named after kernel ids, so sharing is harmless too."""
    parsed = urlparse(redis_url)
    return urlunparse(parsed._replace(path=f"/{1 + secrets.randbelow(15)}"))


@pytest.mark.redis
def test_two_servers_serve_one_kernel(postgres_database, redis_layer_url, site):
    site.prepare(
        {"DATABASE_URL": postgres_database, "REDIS_URL": redis_layer_url, "DJANGO_SQLITE_PATH": None}
    )
    a, b = site.start_servers("a", "b")
    api_a, api_b = site.api(a), site.api(b)
    status, kernel = api_a("POST", "/kernels", {"name": "python3"})
    assert status == 201, kernel
    kernel_id = kernel["id"]
    assert api_b("GET", f"/kernels/{kernel_id}")[0] == 200
    first_process = only_kernel_process(site, kernel_id)

    with site.socket(b, kernel_id) as on_b, site.socket(a, kernel_id, token_in="query") as on_a:
        assert on_b.kernel_info()["content"]["status"] == "ok"
        assert on_a.kernel_info()["content"]["status"] == "ok"

        # Output of an execution through B reaches the connection through A as well.
        run = on_b.execute("x = 41\nprint('hello from B')")
        assert run.reply["content"]["status"] == "ok", run.reply
        assert run.stdout == "hello from B\n"
        seen_on_a = on_a.collect(run.msg_id, reply=False)
        inputs = [m for m in seen_on_a.messages if m["msg_type"] == "execute_input"]
        assert [m["content"]["code"] for m in inputs] == ["x = 41\nprint('hello from B')"], seen_on_a.types()
        assert seen_on_a.stdout == "hello from B\n"

        # A restart through A's REST API: B's connection is told, and carries on with a fresh kernel.
        status, model = api_a("POST", f"/kernels/{kernel_id}/restart")
        assert status == 200, model
        on_b.wait_for(is_status("restarting"))
        gone = on_b.execute("x")
        assert gone.reply["content"]["status"] == "error"
        assert gone.reply["content"]["ename"] == "NameError"
        again = on_b.execute("print(6 * 7)")
        assert again.reply["content"]["status"] == "ok", again.reply
        assert again.stdout == "42\n"
        assert not is_alive(first_process)
        second_process = only_kernel_process(site, kernel_id)
        assert second_process.ppid() == a.pid  # A restarted it

        # A shut-down through B's REST API closes the connections of both servers with the documented code.
        status, _body = api_b("DELETE", f"/kernels/{kernel_id}")
        assert status == 204
        assert on_a.wait_closed() == KernelGone.close_code
        assert any(is_status("dead")(m) for m in on_a.received)
        assert on_b.wait_closed() == KernelGone.close_code

    assert wait_until(lambda: not is_alive(second_process)), "the kernel process outlived its shut-down"
    assert api_a("GET", f"/kernels/{kernel_id}")[0] == 404
    assert api_b("GET", "/kernels") == (200, [])
