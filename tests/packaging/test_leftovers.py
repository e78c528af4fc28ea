"""Processes a test session leaves running are listed, killed, and fail the session under ``CI=true``."""

from __future__ import annotations

import importlib.util
import os
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


def test_find_counts_only_this_runs_processes():
    leftovers = load_leftovers()
    run_id, other_id = uuid.uuid4().hex, uuid.uuid4().hex
    ours = subprocess.Popen(
        ["sleep", "300"], env={**os.environ, leftovers.MARKER: run_id}, start_new_session=True
    )
    theirs = subprocess.Popen(["sleep", "300"], env={**os.environ, leftovers.MARKER: other_id})
    try:
        found = leftovers.find(run_id)
        assert [leftover.pid for leftover in found] == [ours.pid]
        assert found[0].command == "sleep 300"
        leftovers.kill(found)
        assert ours.wait(timeout=10) is not None
        assert leftovers.settle(run_id, grace=1) == []
        assert [leftover.pid for leftover in leftovers.find(other_id)] == [theirs.pid]
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
