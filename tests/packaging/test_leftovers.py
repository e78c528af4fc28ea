"""Processes a test session leaves running are listed, killed, and fail the session under ``CI=true``."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")


def load_leftovers():
    spec = importlib.util.spec_from_file_location("leftovers_under_test", ROOT / "scripts" / "leftovers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sleepers(marker: str) -> list[int]:
    """The ``sleep 300`` processes whose environment carries ``marker``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (
                marker.encode() in (entry / "environ").read_bytes().split(b"\0")
                and (entry / "cmdline").read_bytes() == b"sleep\x00300\x00"
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def run_leaky_session(ci: str, run_id: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/packaging/leaky_session.py"],
        cwd=ROOT,
        env={**os.environ, "CI": ci, "LMS_TEST_RUN_ID": run_id},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("ci", "exit_code"), [("true", 1), ("", 0)])
def test_a_session_that_leaves_a_process_running(ci, exit_code):
    run_id = uuid.uuid4().hex
    result = run_leaky_session(ci, run_id)
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output
    assert "processes left running" in output, output
    assert "sleep 300" in output, output
    assert "1 passed" in output, output
    assert sleepers(f"LMS_TEST_RUN_ID={run_id}") == [], "the left-over process was not killed"


def orphan(env: dict, cwd: Path | None = None) -> int:
    """Start ``sleep 300`` the way a daemon starts: its parent exits at once, so it is nobody's child here."""
    started = subprocess.run(
        ["sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(started.stdout)


def mine(found: list, *pids: int) -> list:
    """Of the leftovers found, the ones this test started: the session running it may have processes of its
    own alive (its servers and kernels while it runs), which are its children too."""
    return [leftover for leftover in found if leftover.pid in pids]


def stop(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_find_counts_only_this_runs_processes():
    leftovers = load_leftovers()
    run_id, other_id = uuid.uuid4().hex, uuid.uuid4().hex
    ours = orphan({**os.environ, leftovers.MARKER: run_id})
    theirs = orphan({**os.environ, leftovers.MARKER: other_id})
    try:
        found = mine(leftovers.find(run_id), ours, theirs)
        assert [leftover.pid for leftover in found] == [ours]
        assert found[0].command == "sleep 300"
        leftovers.kill(found)
        assert mine(leftovers.settle(run_id, grace=5), ours, theirs) == []
        assert [leftover.pid for leftover in mine(leftovers.find(other_id), ours, theirs)] == [theirs]
    finally:
        stop(ours, theirs)


def test_find_counts_processes_that_name_the_sessions_directory(tmp_path):
    """Kernels get a few environment variables only: they are found by their runtime directory."""
    leftovers = load_leftovers()
    kernel_dir = tmp_path / "kernel-1"
    kernel_dir.mkdir()
    kernel = orphan({"PATH": os.environ["PATH"]}, cwd=kernel_dir)
    relay = orphan({"PATH": os.environ["PATH"], "WATCH": str(tmp_path / "kernel-1.json")})
    elsewhere = orphan({"PATH": os.environ["PATH"]})
    try:
        run_id = uuid.uuid4().hex
        assert mine(leftovers.find(run_id), kernel, relay, elsewhere) == []
        found = mine(leftovers.find(run_id, paths=(str(tmp_path) + os.sep,)), kernel, relay, elsewhere)
        assert sorted(leftover.pid for leftover in found) == sorted([kernel, relay])
    finally:
        stop(kernel, relay, elsewhere)


def test_find_counts_our_children_whatever_their_environment():
    leftovers = load_leftovers()
    child = subprocess.Popen(["sleep", "300"], env={"PATH": os.environ["PATH"]}, start_new_session=True)
    try:
        assert [leftover.pid for leftover in mine(leftovers.find(uuid.uuid4().hex), child.pid)] == [child.pid]
    finally:
        child.kill()
        child.wait()
