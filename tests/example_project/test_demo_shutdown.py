"""Stopping the demo command shuts down the kernels it started (and their iopub relays); ``--keep-kernels`` keeps
them, as a production server keeps kernels across restarts.

The demo runs for real (``manage.py groundup_demo`` on a free port, SQLite in a temporary directory, local
kernels in a temporary Jupyter runtime directory); the learner starts a kernel through the REST API with their
session, as the lesson page does. Which processes belong to the kernel is read from its row (the pids the local
backend recorded) and from the process table (every process whose command line names a connection file of
this test's runtime directory, or whose environment points a relay at one).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT
from tests.example_project.conftest import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT = 180
STOP_TIMEOUT = 60


def is_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Demo:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.runtime = tmp_path / "jupyter-runtime"
        self.database = tmp_path / "demo.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "groundup_site.settings",
            "DJANGO_SQLITE_PATH": str(self.database),
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("DATABASE_URL", "REDIS_URL"):
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.log_path = tmp_path / "demo.log"

    def start(self, *args: str) -> None:
        port = free_port()
        self.log_path = self.tmp_path / f"demo-{port}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "groundup_demo", "--port", str(port), *args],
                cwd=ROOT / "example_project",
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals go to the command only, as `kill <pid>` would send them
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(r"Groundup LMS is running at (\S+)", self.log())
            if match:
                self.url = match[1]
                return
            if self.process.poll() is not None:
                pytest.fail(f"the demo command exited early:\n{self.log()}")
            time.sleep(0.3)
        pytest.fail(f"the demo command did not start in time:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the demo command did not stop within {STOP_TIMEOUT} s:\n{self.log()}")

    def learner_starts_a_kernel(self) -> str:
        """Log in as the demo learner and ``POST /kernels/api/kernels`` with the session and its CSRF token."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
        )
        login = self.url + "accounts/login/"
        opener.open(login, timeout=30).read()
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "learner", "password": "groundup-learner", "csrfmiddlewaretoken": csrf}
        ).encode()
        opener.open(urllib.request.Request(login, data=form, headers={"Referer": login}), timeout=30).read()
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        request = urllib.request.Request(
            self.url + "kernels/api/kernels",
            data=json.dumps({"name": "python3"}).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": self.url},
            method="POST",
        )
        with opener.open(request, timeout=120) as response:
            assert response.status == 201
            return json.load(response)["id"]

    def recorded_processes(self, kernel_id: str) -> list[psutil.Process]:
        """The kernel's process and its relay's, from the pids the backend recorded on the kernel's row."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            (state,) = db.execute(
                "SELECT backend_state FROM lms_kernels_kernel WHERE replace(id, '-', '') = ?",
                (kernel_id.replace("-", ""),),
            ).fetchone()
        state = json.loads(state)
        found = []
        for recorded in (state, state.get("relay") or {}):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(recorded["pid"])
                if abs(proc.create_time() - recorded["create_time"]) < 1.0:
                    found.append(proc)
        return found

    def kernel_and_relay_processes(self) -> list[psutil.Process]:
        """Every live process that belongs to a kernel of this demo: kernels name their connection file (in
        this test's runtime directory) on their command line; relays carry it in LMS_KERNEL_RELAY_WATCH."""
        marker = str(self.runtime)
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                named = any(marker in part for part in proc.info["cmdline"] or ())
                if not named:
                    named = marker in proc.environ().get("LMS_KERNEL_RELAY_WATCH", "")
                if named and is_alive(proc):
                    found.append(proc)
        return found

    def kill_leftovers(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        for proc in self.kernel_and_relay_processes():
            with contextlib.suppress(psutil.Error):
                proc.kill()


def wait_until_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [proc for proc in processes if is_alive(proc)]
        if not alive:
            return []
        time.sleep(0.2)
    return [proc for proc in processes if is_alive(proc)]


@pytest.fixture
def demo(tmp_path):
    demo = Demo(tmp_path)
    try:
        yield demo
    finally:
        demo.kill_leftovers()


def test_sigterm_to_the_demo_shuts_down_its_kernels_and_relays(demo):
    demo.start()
    kernel_id = demo.learner_starts_a_kernel()
    recorded = demo.recorded_processes(kernel_id)
    assert len(recorded) == 2, "the kernel and its iopub relay are running"
    processes = demo.kernel_and_relay_processes()
    assert {proc.pid for proc in recorded} <= {proc.pid for proc in processes}

    assert demo.stop(signal.SIGTERM) == 0
    assert wait_until_gone(processes, timeout=30) == []
    assert demo.kernel_and_relay_processes() == []
    log = demo.log()
    assert f"shut down {kernel_id}" in log
    assert "1 kernel(s) shut down." in log
    assert not list((demo.runtime / "lms_kernels").glob("kernel-*.json"))  # its files are removed too


def test_keep_kernels_leaves_them_running_until_shut_down_explicitly(demo):
    demo.start("--keep-kernels")
    kernel_id = demo.learner_starts_a_kernel()
    processes = demo.kernel_and_relay_processes()
    assert len(processes) >= 2

    assert demo.stop(signal.SIGINT) == 0  # Ctrl+C
    assert "The kernels keep running (--keep-kernels)" in demo.log()
    time.sleep(1)
    assert all(is_alive(proc) for proc in processes), "kept across the server's exit"

    # The next run finds them (a production server would serve them again); stopping it shuts them down.
    demo.start("--shutdown-kernels")
    assert demo.stop(signal.SIGTERM) == 0
    assert f"shut down {kernel_id}" in demo.log()
    assert wait_until_gone(processes, timeout=30) == []
    assert demo.kernel_and_relay_processes() == []
