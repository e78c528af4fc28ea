"""Real Jupyter clients drive the kernel service unchanged, over the network, against the example project.

* ``@jupyterlab/services`` (what JupyterLab and thebe are built on) from Node: ``tests/js/js_client_check.mjs``
  starts a kernel with ``KernelManager``, runs ``print(6*7)``, requires stdout ``42``, shuts the kernel down
  and checks it is gone; once with an API token (each WebSocket protocol), once with a Django session cookie
  and CSRF token, as a browser on the site sends them.
* JupyterLab's gateway client: a real Jupyter Server started with ``--gateway-url`` pointing at our service.
  Everything goes through *that* server's own REST API and WebSocket, exactly as JupyterLab would use it
  (kernelspecs, start, execute, interrupt, restart, shut down, sessions); our service is only asked, with our
  token, whether the kernel is there. Last, the whole JupyterLab stack: ``@jupyterlab/services`` talking to
  that Jupyter Server, which uses our kernels.

The Jupyter Server connects without ``Origin`` and with ``Authorization: token <ours>`` (tornado's client),
which :class:`~lms_kernels.security.KernelOriginValidator` accepts; it offers no WebSocket subprotocol.

The example project runs under uvicorn (:class:`~lms_kernels.testing.servers.AsgiServer`) once for the whole
module; each test checks that the kernels it started are gone at its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from lms_kernels.testing.servers import AsgiServer, ServerError, free_port
from tests.conftest import IN_CI, ROOT
from tests.lms_kernels.test_server_processes import USERNAME, Api, KernelSocket, Site, wait_until

pytestmark = pytest.mark.slow

JS_DIR = ROOT / "tests" / "js"
V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
#: Node's check and Jupyter Server's start: generous for a loaded two-core machine.
CLIENT_TIMEOUT = 120

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- our service: one example-project server for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("jupyter-clients")
    site = Site(tmp_path)
    try:
        site.prepare(
            {"DJANGO_SQLITE_PATH": str(tmp_path / "site.sqlite3"), "DATABASE_URL": None, "REDIS_URL": None}
        )
        site.start_servers("ours")
        yield site
    finally:
        site.close()


@pytest.fixture(scope="module")
def ours(site) -> AsgiServer:
    return site.servers[0]


@pytest.fixture(scope="module")
def our_api(site, ours) -> Api:
    return site.api(ours)


def assert_gone(site: Site, api: Api, kernel_id: str) -> None:
    """Our service no longer knows the kernel, and its process has exited."""
    assert api("GET", f"/kernels/{kernel_id}")[0] == 404
    status, listed = api("GET", "/kernels")
    assert status == 200, listed
    assert kernel_id not in [k["id"] for k in listed]
    assert wait_until(lambda: not site.kernel_processes(kernel_id)), f"kernel {kernel_id}'s process lives on"


# -- 1. @jupyterlab/services from Node ----------------------------------------------------------------------


def _give_up(message: str):
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def js_client_check() -> Path:
    """The check script, with its pinned packages installed (``npm ci``) once into ``tests/js/node_modules``.

    An install is reused while it is newer than ``package-lock.json``. An install that fails (no registry)
    skips locally and fails under ``CI=true``, as a missing component does."""
    installed = JS_DIR / "node_modules" / ".package-lock.json"  # npm writes it last
    lock = JS_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        try:
            completed = subprocess.run(
                [shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                env={**os.environ, "npm_config_update_notifier": "false"},
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _give_up(f"`npm ci` in tests/js failed: {exc}")
        if completed.returncode != 0:
            _give_up(f"`npm ci` in tests/js exited with {completed.returncode}:\n{completed.stderr[-3000:]}")
    return JS_DIR / "js_client_check.mjs"


def run_js_check(script: Path, base_url: str, *args: str) -> dict:
    """Run the check; its last stdout line is a JSON object with ``ok`` (and ``error`` when not)."""
    command = [shutil.which("node") or "node", str(script), "--base-url", base_url, "--timeout"]
    command += [str(CLIENT_TIMEOUT), *args]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT + 60, check=False, cwd=JS_DIR
    )
    lines = completed.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise AssertionError(
            f"the check printed no JSON (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        ) from None
    assert result["ok"] and completed.returncode == 0, f"{json.dumps(result, indent=1)}\n{completed.stderr}"
    return result


def session_cookie(site: Site) -> str:
    """A logged-in Django session for the learner, made the way ``login()`` makes one, and a CSRF cookie:
    the ``Cookie`` header a browser on the site would send."""
    code = (
        "import json\n"
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model\n"
        f"user = get_user_model().objects.get(username={USERNAME!r})\n"
        "store = import_module(settings.SESSION_ENGINE).SessionStore()\n"
        "store[SESSION_KEY] = user._meta.pk.value_to_string(user)\n"
        "store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]\n"
        "store[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "store.create()\n"
        "print(json.dumps([settings.SESSION_COOKIE_NAME, store.session_key, settings.CSRF_COOKIE_NAME]))\n"
    )
    session_name, session_key, csrf_name = json.loads(
        site.manage("shell", "-c", code).strip().splitlines()[-1]
    )
    # A CSRF secret is 32 letters and digits; the check echoes the csrftoken cookie as X-CSRFToken.
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    assert csrf_name == "csrftoken", "the check echoes only a cookie named csrftoken"
    return f"{session_name}={session_key}; {csrf_name}={csrf}"


@pytest.mark.node
@pytest.mark.parametrize("protocol", ["auto", "v1", "json"])
def test_jupyterlab_services_with_a_token(site, ours, our_api, js_client_check, protocol):
    """``--protocol auto`` is what a browser does: offer the v1 subprotocol, which our server selects."""
    result = run_js_check(
        js_client_check, f"{ours.url}/kernels/", "--token", site.token, "--protocol", protocol
    )
    assert result["stdout"].strip() == "42"
    expected = "(none: JSON text frames)" if protocol == "json" else V1_SUBPROTOCOL
    assert result["ws_protocol_selected"] == expected, result
    assert not result.get("subprotocol_fallback"), result
    assert_gone(site, our_api, result["kernel_id"])


@pytest.mark.node
def test_jupyterlab_services_with_a_session_cookie(site, ours, our_api, js_client_check):
    """A page of the site: the session cookie and CSRF token, ``Origin`` the site's own; no token anywhere."""
    result = run_js_check(js_client_check, f"{ours.url}/kernels/", "--cookie", session_cookie(site))
    assert result["stdout"].strip() == "42"
    assert result["ws_protocol_selected"] == V1_SUBPROTOCOL, result
    assert_gone(site, our_api, result["kernel_id"])


@pytest.mark.node
def test_the_check_is_refused_without_credentials(ours, js_client_check):
    """The cookie test above proves the session was used: without it the same client gets nowhere."""
    command = [shutil.which("node") or "node", str(js_client_check), "--base-url", f"{ours.url}/kernels/"]
    completed = subprocess.run(
        [*command, "--timeout", str(CLIENT_TIMEOUT)],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT + 60,
        check=False,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not result["ok"] and completed.returncode == 1, result
    assert "kernel_id" not in result, result
    assert "ResponseError" in result["error"], result  # an HTTP error answer (our 403), not a crash


# -- 2. Jupyter Server as a gateway client --------------------------------------------------------------------


class JupyterServer:
    """``python -m jupyter_server`` with ``--gateway-url``: every kernel it offers lives on our service.

    Without a ``gateway_url`` it runs its own kernels (the remote end of the gateway backend's tests)."""

    def __init__(self, tmp_path: Path, gateway_url: str | None = None, gateway_token: str | None = None):
        self.tmp_path = tmp_path
        self.gateway_url = gateway_url
        self.gateway_token = gateway_token
        self.token = secrets.token_hex(24)
        self.log_path = tmp_path / "jupyter-server.log"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        for _attempt in range(3):
            self.port = free_port()
            self.launch()
            if self.wait_until_ready():
                return
            taken = "address already in use" in self.log_text().lower()
            self.stop()
            if not taken:
                break
        raise ServerError(f"Jupyter Server did not start:\n{self.log_text()[-6000:]}")

    def launch(self) -> None:
        home = self.tmp_path / "jupyter"
        root = self.tmp_path / "notebooks"
        root.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "JPY_"))}
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.terminals_enabled=False",
            "--ServerApp.log_level=DEBUG",
        ]
        if self.gateway_url:
            command += [
                f"--gateway-url={self.gateway_url}",
                f"--GatewayClient.auth_token={self.gateway_token}",
                f"--GatewayClient.request_timeout={CLIENT_TIMEOUT}",
                f"--GatewayClient.connect_timeout={CLIENT_TIMEOUT}",
            ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=self.tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self) -> bool:
        deadline = time.monotonic() + CLIENT_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), _opener.open(f"{self.url}/api", timeout=5) as response:
                if response.status == 200:
                    return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # it asks the gateway to shut its kernels down, then exits
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        request = urllib.request.Request(
            self.url + "/api" + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with _opener.open(request, timeout=CLIENT_TIMEOUT) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode(errors="replace")

    @contextlib.contextmanager
    def socket(self, kernel_id: str):
        """A Jupyter client on this server's own kernel WebSocket (its default JSON protocol)."""
        from websockets.sync.client import connect

        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        with connect(
            url,
            additional_headers={"Authorization": f"token {self.token}"},
            proxy=None,
            open_timeout=CLIENT_TIMEOUT,
            max_size=None,
        ) as ws:
            yield KernelSocket(ws)


@pytest.fixture(scope="module")
def jupyter_server(site, ours, tmp_path_factory):
    server = JupyterServer(tmp_path_factory.mktemp("jupyter-server"), f"{ours.url}/kernels", site.token)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(f"----- jupyter-server.log -----\n{server.log_text()[-20000:]}")


def wait_for_kernel_info(ws: KernelSocket, timeout: float = CLIENT_TIMEOUT) -> dict:
    """Ask until answered, resending every 5 s, as JupyterLab does while a kernel (re)starts."""
    deadline = time.monotonic() + timeout
    while True:
        msg_id = ws.send("kernel_info_request")
        try:
            return ws.wait_for(
                lambda m, msg_id=msg_id: (
                    m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "kernel_info_reply"
                ),
                timeout=min(5, max(deadline - time.monotonic(), 0.1)),
            )
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


@pytest.mark.gateway
def test_jupyter_server_gateway_client_drives_our_kernels(site, our_api, jupyter_server):
    js = jupyter_server

    status, specs = js.api("GET", "/kernelspecs")
    assert status == 200, specs
    assert "python3" in specs["kernelspecs"], specs
    spec = specs["kernelspecs"]["python3"]
    assert spec["spec"]["display_name"] == "Python 3", spec
    assert spec["spec"]["language"] == "python", spec
    assert js.api("GET", "/kernelspecs/python3")[0] == 200

    status, kernel = js.api("POST", "/kernels", {"name": "python3"})
    assert status == 201, kernel
    kernel_id = kernel["id"]
    try:
        # The kernel is ours: the gateway client uses our id, and our service started and owns it.
        status, model = our_api("GET", f"/kernels/{kernel_id}")
        assert status == 200, model
        assert model["name"] == "python3"
        assert len(site.kernel_processes(kernel_id)) == 1
        status, listed = js.api("GET", "/kernels")
        assert status == 200, listed
        assert kernel_id in [k["id"] for k in listed]

        with js.socket(kernel_id) as ws:
            wait_for_kernel_info(ws)
            result = ws.execute("x = 6*7; print(x)")
            assert result.reply["content"]["status"] == "ok", result.reply
            assert result.stdout == "42\n", result.types()

            # interrupt: a sleeping execution ends with KeyboardInterrupt, long before its 30 s
            started = time.monotonic()
            content = {"code": "import time; time.sleep(30)", "silent": False, "store_history": True}
            content.update(user_expressions={}, allow_stdin=False, stop_on_error=True)
            msg_id = ws.send("execute_request", content)
            ws.wait_for(
                lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input"
            )
            status, body = js.api("POST", f"/kernels/{kernel_id}/interrupt")
            assert status == 204, body
            reply = ws.collect(msg_id, timeout=CLIENT_TIMEOUT).reply
            assert reply["content"]["status"] == "error", reply
            assert reply["content"]["ename"] == "KeyboardInterrupt", reply
            assert time.monotonic() - started < 30

            # restart: the same kernel id, a fresh interpreter
            status, restarted = js.api("POST", f"/kernels/{kernel_id}/restart")
            assert status == 200, restarted
            assert restarted["id"] == kernel_id
            wait_for_kernel_info(ws)
            result = ws.execute("print('x' in dir())")
            assert result.reply["content"]["status"] == "ok", result.reply
            assert result.stdout == "False\n", result.types()
            assert our_api("GET", f"/kernels/{kernel_id}")[0] == 200

        status, body = js.api("DELETE", f"/kernels/{kernel_id}")
        assert status == 204, body
        assert js.api("GET", f"/kernels/{kernel_id}")[0] == 404
    finally:
        with contextlib.suppress(Exception):
            our_api("DELETE", f"/kernels/{kernel_id}")
    assert_gone(site, our_api, kernel_id)


@pytest.mark.gateway
def test_jupyter_server_sessions_start_kernels_on_our_service(site, our_api, jupyter_server):
    """JupyterLab opens a notebook through ``/api/sessions``: the gateway client keeps the session, our
    service runs its kernel; deleting the session shuts the kernel down."""
    js = jupyter_server
    body = {"path": "lesson.ipynb", "name": "lesson.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    status, session = js.api("POST", "/sessions", body)
    assert status == 201, session
    kernel_id = session["kernel"]["id"]
    try:
        assert our_api("GET", f"/kernels/{kernel_id}")[0] == 200
        with js.socket(kernel_id) as ws:
            wait_for_kernel_info(ws)
            result = ws.execute("print(6*7)")
            assert result.stdout == "42\n", result.types()
        status, _body = js.api("DELETE", f"/sessions/{session['id']}")
        assert status == 204
    finally:
        with contextlib.suppress(Exception):
            our_api("DELETE", f"/kernels/{kernel_id}")
    assert_gone(site, our_api, kernel_id)


@pytest.mark.node
@pytest.mark.gateway
def test_jupyterlab_services_through_the_gateway_client(site, our_api, jupyter_server, js_client_check):
    """The whole JupyterLab stack: its client library talks to Jupyter Server, which uses our kernels."""
    result = run_js_check(js_client_check, f"{jupyter_server.url}/", "--token", jupyter_server.token)
    assert result["stdout"].strip() == "42"
    assert f"GatewayKernelManager started kernel: {result['kernel_id']}" in jupyter_server.log_text()
    assert_gone(site, our_api, result["kernel_id"])
