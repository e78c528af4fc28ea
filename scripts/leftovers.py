"""Processes a test run left behind (stdlib only, Linux ``/proc``).

``scripts/run_tests.py`` (and, when run on its own, each pytest session) puts a marker in the environment,
``LMS_TEST_RUN_ID=<random id>``. Every process the run starts inherits it: servers, task workers, ipykernel
kernels and the iopub relays the local backend starts beside them, even after they detach into their own
session. At the end, any process still carrying the marker was left behind. Processes of other runs in the
same checkout carry another id, so they are never counted. What does not inherit the environment (the local
backend's kernels get only a few variables) is found by the paths it names: the session's temporary directory,
where the tests put the kernels' runtime directories.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import NamedTuple

#: Set by ``scripts/run_tests.py`` for the whole run.
MARKER = "LMS_TEST_RUN_ID"
#: Set by ``tests/conftest.py`` for one pytest session.
SESSION_MARKER = "LMS_TEST_SESSION_ID"


#: Helpers that live exactly as long as the process that started them (multiprocessing's resource tracker and
#: fork server end when their parent does): not left over while that parent is one of us.
HELPERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "multiprocessing.semaphore_tracker",
)


class Leftover(NamedTuple):
    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.command[:200]}"


def _ancestors(pid: int) -> set[int]:
    found = set()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def _descendants(pid: int) -> set[int]:
    """Our children, their children and so on (whatever environment they were given)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = list(children.get(pid, ()))
    while todo:
        child = todo.pop()
        if child not in found:
            found.add(child)
            todo += children.get(child, ())
    return found


def _names(entry: Path, paths: tuple[str, ...]) -> bool:
    """Whether the process's command line, working directory or environment names one of ``paths``."""
    if not paths:
        return False
    try:
        cwd = os.readlink(entry / "cwd")
    except OSError:
        cwd = ""
    text = (entry / "cmdline").read_bytes() + b"\0" + (entry / "environ").read_bytes() + b"\0" + cwd.encode()
    return any(path.encode() in text for path in paths)


def find(run_id: str, marker: str = MARKER, paths: tuple[str, ...] = ()) -> list[Leftover]:
    """The live processes that descend from us, whose environment carries ``marker=run_id``, or that name one
    of ``paths`` (say the session's temporary directory) in their command line, working directory or
    environment; never us or our ancestors.

    ``paths`` finds what does not inherit the environment: the local backend passes its kernels only a few
    variables, but their connection files (in their command line) and working directories are in the runtime
    directory the tests gave them, and their relays' environment names those files.
    """
    needle = f"{marker}={run_id}".encode()
    ours = _ancestors(os.getpid())
    descendants = _descendants(os.getpid())
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid in ours:
            continue
        try:
            if (
                pid not in descendants
                and needle not in (entry / "environ").read_bytes().split(b"\0")
                and not _names(entry, paths)
            ):
                continue
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            if state == "Z":
                continue  # a zombie: already dead, its parent has not reaped it yet
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            if int(ppid) in ours and any(helper in command for helper in HELPERS):
                continue
        except OSError:
            continue
        found.append(Leftover(pid, command or f"[{entry.name}]"))
    return sorted(found, key=lambda leftover: leftover.pid)


def settle(
    run_id: str, marker: str = MARKER, paths: tuple[str, ...] = (), grace: float = 5.0
) -> list[Leftover]:
    """:func:`find`, waiting up to ``grace`` seconds for processes that are already on their way out."""
    deadline = time.monotonic() + grace
    while (leftovers := find(run_id, marker, paths)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return leftovers


def kill(leftovers: list[Leftover], timeout: float = 5.0) -> None:
    """SIGTERM each left-over process, then SIGKILL what is still there after ``timeout`` seconds."""
    for leftover in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(leftover.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = list(leftovers)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [leftover for leftover in alive if Path(f"/proc/{leftover.pid}").exists()]
    for leftover in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(leftover.pid, signal.SIGKILL)
