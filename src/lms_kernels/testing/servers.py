"""A project's ASGI application under a real server (uvicorn) in a subprocess, for end-to-end tests.

What a learner's browser meets in production is a server process, not an ASGI callable: restarts, several
workers sharing a database and a channel layer, kernels that outlive the worker that started them. These
helpers run the project the way operators do::

    from lms_kernels.testing.servers import AsgiServer, run_django_command

    env = {"DJANGO_SQLITE_PATH": str(tmp_path / "db.sqlite3"), "REDIS_URL": None}  # None: unset it
    run_django_command("migrate", settings_module="mysite.settings", cwd=project_dir, env=env)
    with AsgiServer("mysite.asgi:application", settings_module="mysite.settings", cwd=project_dir,
                    env=env, ready_path="/healthz") as server:
        urllib.request.urlopen(server.url + "/healthz")

The server listens on a free port of ``127.0.0.1``; :meth:`AsgiServer.stop` sends ``SIGTERM`` (uvicorn's
graceful shutdown, as a process manager does) and ``SIGKILL`` only if it does not exit in time. Its output
goes to a log file (:meth:`AsgiServer.log_text`), which start-up errors quote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["AsgiServer", "ServerError", "free_port", "run_django_command", "server_environment"]

#: Ports are picked free but can be taken before uvicorn binds them; a start is retried this often.
PORT_ATTEMPTS = 3

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerError(RuntimeError):
    """A server or command did not start, did not answer in time, or failed; the message quotes its output."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_environment(settings_module: str, env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment with ``DJANGO_SETTINGS_MODULE`` set and ``env`` applied (``None`` unsets)."""
    result = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONUNBUFFERED": "1"}
    for name, value in (env or {}).items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_django_command(
    *args: str,
    settings_module: str,
    cwd: str | os.PathLike,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 300,
) -> str:
    """``python -m django <args>`` in ``cwd`` (on ``sys.path``); returns its stdout, raises :class:`ServerError`."""
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "django", *args],
            cwd=cwd,
            env=server_environment(settings_module, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"`django {' '.join(args)}` did not finish within {timeout:.0f} s") from exc
    if completed.returncode != 0:
        raise ServerError(
            f"`django {' '.join(args)}` exited with {completed.returncode}:\n"
            f"{_tail(completed.stdout)}\n{_tail(completed.stderr)}"
        )
    return completed.stdout


class AsgiServer:
    """``uvicorn <app>`` in a subprocess on a free port of ``host``.

    ``app`` is uvicorn's ``module:attribute``; ``cwd`` is where the project's modules are importable from.
    ``ready_path`` is requested until the server answers it with any HTTP status (a path that touches the
    database, such as a health check, also proves the database answers). ``uvicorn_args`` are added to the
    command line. Use it as a context manager, or call :meth:`start` and :meth:`stop` (stop is idempotent).
    """

    def __init__(
        self,
        app: str,
        *,
        settings_module: str,
        cwd: str | os.PathLike,
        env: Mapping[str, str | None] | None = None,
        host: str = "127.0.0.1",
        ready_path: str = "/",
        start_timeout: float = 60,
        stop_timeout: float = 20,
        log_path: str | os.PathLike | None = None,
        uvicorn_args: Sequence[str] = (),
    ):
        self.app = app
        self.settings_module = settings_module
        self.cwd = Path(cwd)
        self.env = dict(env or {})
        self.host = host
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.uvicorn_args = list(uvicorn_args)
        if log_path is None:
            handle, log_path = tempfile.mkstemp(prefix="asgi-server-", suffix=".log")
            os.close(handle)
        self.log_path = Path(log_path)
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<AsgiServer {self.app} {state} at {self.url if self.port else '-'}>"

    # -- addresses ---------------------------------------------------------------------------------------

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        return f"http://{self.netloc}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.netloc}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- life ----------------------------------------------------------------------------------------------

    def __enter__(self) -> AsgiServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> AsgiServer:
        """Launch and wait until the server answers; a port taken meanwhile is retried with another."""
        for attempt in range(PORT_ATTEMPTS):
            self.launch()
            try:
                self.wait_until_ready()
                return self
            except ServerError:
                if attempt + 1 < PORT_ATTEMPTS and self._port_was_taken():
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def launch(self) -> None:
        """Start the process without waiting (start several, then :meth:`wait_until_ready` on each)."""
        if self.running:
            raise ServerError(f"{self!r} is already running")
        self.port = free_port(self.host)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--no-access-log",
            "--lifespan",
            "off",
            *self.uvicorn_args,
        ]
        self.returncode = None
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command,
                cwd=self.cwd,
                env=server_environment(self.settings_module, self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl+C in the test run reaches pytest, which stops us in order
            )

    def wait_until_ready(self) -> None:
        """Poll ``ready_path`` until any HTTP answer; :class:`ServerError` (with the log) on exit or timeout."""
        if self.process is None:
            raise ServerError("the server was not launched")
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                self.returncode = self.process.returncode
                raise ServerError(
                    f"the server exited with {self.returncode} while starting:\n{_tail(self.log_text())}"
                )
            try:
                with _no_proxy.open(self.url + self.ready_path, timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # it answered
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise ServerError(
                    f"the server did not answer {self.url}{self.ready_path} within {self.start_timeout:.0f} s:"
                    f"\n{_tail(self.log_text())}"
                )
            time.sleep(0.1)

    def _port_was_taken(self) -> bool:
        return "address already in use" in self.log_text().lower()

    def stop(self) -> int | None:
        """``SIGTERM``, then ``SIGKILL`` after ``stop_timeout``; returns the exit status (``None``: never ran).

        uvicorn re-raises ``SIGTERM`` after its graceful shutdown, so a clean stop reads ``-SIGTERM`` (or 0).
        """
        process = self.process
        if process is None:
            return self.returncode
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=10)
        self.returncode = process.returncode
        self.process = None
        return self.returncode
