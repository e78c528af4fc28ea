"""Fixtures of the example site's browser tests: the demo command serving a fresh database, Chromium."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_site(tmp_path):
    """``manage.py groundup_demo`` on a fresh SQLite file; yields the URL once it says it is running."""
    port = free_port()
    log_path = tmp_path / "demo.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "groundup_site.settings",
        "DJANGO_SQLITE_PATH": str(tmp_path / "demo.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        # The demo's kernels write their connection files here: then they can be found, and stopped, below.
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "groundup_demo", "--port", str(port)],
            cwd=ROOT / "example_project",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    url = None
    while time.monotonic() < deadline:
        text = log_path.read_text()
        match = re.search(r"Groundup LMS is running at (\S+)", text)
        if match:
            url = match.group(1)
            break
        if process.poll() is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # what it started before it exited
            kill_kernels_of(env["JUPYTER_RUNTIME_DIR"])
            pytest.fail(f"the demo command exited early:\n{text}")
        time.sleep(0.3)
    if url is None:
        # The whole group: the demo's server and task worker too, which a kill of the command alone leaves running.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        kill_kernels_of(env["JUPYTER_RUNTIME_DIR"])
        pytest.fail(f"the demo command did not start in time:\n{log_path.read_text()}")
    try:
        yield url, process, log_path
    finally:
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    raise
        finally:
            # Kernels lead their own sessions: a demo killed above, or one that failed to shut them down, leaves
            # them and their relays running.
            kill_kernels_of(env["JUPYTER_RUNTIME_DIR"])


def kill_kernels_of(runtime_dir: str) -> None:
    """SIGKILL the local kernels whose connection files are in ``runtime_dir`` (their command lines name them),
    with their process groups, and the iopub relays watching those files (they would linger 30 s)."""
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, OSError):
            if any(runtime_dir in part for part in proc.info["cmdline"] or ()):
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)  # a local kernel leads its own process group
                proc.kill()
            elif proc.environ().get("LMS_KERNEL_RELAY_WATCH", "").startswith(runtime_dir):
                proc.kill()


@pytest.fixture
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def watch_for_errors(page, errors: list) -> None:
    """Collect console errors and failed responses (with their URLs) of a page."""
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
