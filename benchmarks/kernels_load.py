#!/usr/bin/env python
"""Load test: N simulated learners, each with a kernel, executing for a while through several ASGI workers.

    .venv/bin/python benchmarks/kernels_load.py                              # 50 learners, 60 s, 2 workers
    .venv/bin/python benchmarks/kernels_load.py --learners 5 --duration 10   # a quick look
    .venv/bin/python benchmarks/kernels_load.py --database-url postgres://... --redis-url redis://...

The production shape of the web tier on one machine: ``--workers`` uvicorn processes serving the example
project (``benchmarks/kernels_bench_settings.py``: no kernels-per-user limit, nothing else changed; the output
cap and the execute rate limit stay on) and sharing one PostgreSQL database and one Redis channel layer, with
the ``local`` backend. The database is a new one on the server that ``--database-url`` names (created,
migrated and dropped afterwards); Redis gets a database number of its own.

Each learner (one asyncio task with one WebSocket, the default JSON protocol, as a browser tab) starts its
kernel through worker ``i % W`` (REST, API token), connects its WebSocket through worker ``(i + 1) % W``, so
most learners use two workers at once, and then executes in a loop until the time is up, cycling through

* a small print: ``print("s<seq>")``;
* a multi-line stream: 20 lines ``m<seq> <i>`` (the kernel may send them as one ``stream`` message or several);
* a result: ``("r", <seq>)``, whose ``execute_result`` must read ``('r', <seq>)``.

Every message is checked: it belongs to the request named in its ``parent_header`` and arrives once (its own
``msg_id`` is never seen twice); each execute must produce ``busy``, its ``execute_input``, exactly the
expected output (the stream's text byte for byte, one result where one is due, nothing else), ``idle`` and one
``execute_reply`` with ``status: ok``. Missing output, a missing reply or idle (within ``--timeout``) counts as
*lost*; a message seen twice, or one for a request that had already finished, as *duplicated*; other output as
*wrong*. Any HTTP 5xx and any WebSocket the server closes counts too.

Figures: executes per second (all learners), p50/p95/p99 round trip (send to both ``idle`` and the reply),
HTTP 5xx, unexpected closes, and the workers' resident memory (the uvicorn processes, kernels excluded) with
all kernels running before the WebSockets connect, after they connect and after the run; "memory per
connection" is the difference before/after connecting divided by N. The resident memory of each kernel and of
each kernel's iopub relay (the local backend's ``relay`` option) is reported too. The 1-minute load average is
sampled during the run. A table goes to stderr, the last line on stdout is one JSON object with every figure and
``"target_met"``: zero lost, duplicated or wrong messages, zero 5xx and zero unexpected closes. The exit status
is 0 when the target was met, 2 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
EXAMPLE_PROJECT = ROOT / "example_project"
SETTINGS_MODULE = "kernels_bench_settings"
ASGI_APP = "groundup_site.asgi:application"
API = "/kernels/api"
USERNAME = "load"

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def services_value(name: str) -> str | None:
    """An environment variable, else the value the test suite's service file gives (if there is one)."""
    if os.environ.get(name):
        return os.environ[name]
    with contextlib.suppress(OSError, ValueError):
        return json.loads((ROOT / ".services" / "env.json").read_text()).get(name)
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# -- the site: database, workers ---------------------------------------------------------------------------


class Site:
    def __init__(self, work: Path, database_server_url: str, redis_url: str, workers: int):
        self.work = work
        self.database_server_url = database_server_url
        self.database_name = f"lms_load_{uuid.uuid4().hex[:10]}"
        self.database_url = urlunparse(urlparse(database_server_url)._replace(path=f"/{self.database_name}"))
        parsed = urlparse(redis_url)
        self.redis_url = urlunparse(parsed._replace(path=f"/{1 + secrets.randbelow(15)}"))
        self.workers = workers
        self.servers: list = []
        self.token = ""
        self.env: dict[str, str | None] = {}

    def prepare(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.database_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database_name)))
        for name in ("runtime", "ipython", "data", "config"):
            (self.work / name).mkdir()
        self.env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_SQLITE_PATH": None,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "KERNELS_BENCH_LIFT_LIMITS": "0",
            "JUPYTER_RUNTIME_DIR": str(self.work / "runtime"),
            "JUPYTER_DATA_DIR": str(self.work / "data"),
            "JUPYTER_CONFIG_DIR": str(self.work / "config"),
            "IPYTHONDIR": str(self.work / "ipython"),
        }
        log("setup: migrating a new PostgreSQL database ...")
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage(
            "shell",
            "-c",
            f"from django.contrib.auth import get_user_model; get_user_model().objects.create_user({USERNAME!r})",
        )
        self.token = self.manage("lms_kernels_token", USERNAME).strip().splitlines()[-1].strip()

    def manage(self, *args: str) -> str:
        from lms_kernels.testing.servers import run_django_command

        return run_django_command(*args, settings_module=SETTINGS_MODULE, cwd=EXAMPLE_PROJECT, env=self.env)

    def start_workers(self) -> None:
        from lms_kernels.testing.servers import AsgiServer

        log(f"setup: starting {self.workers} uvicorn workers ...")
        for index in range(self.workers):
            server = AsgiServer(
                ASGI_APP,
                settings_module=SETTINGS_MODULE,
                cwd=EXAMPLE_PROJECT,
                env=self.env,
                ready_path="/healthz",
                start_timeout=120,
                log_path=self.work / f"worker-{index}.log",
            )
            self.servers.append(server)
            server.start()

    def worker_rss(self) -> int:
        """Resident memory of the worker processes and their children, kernels excluded."""
        import psutil

        total = 0
        for server in self.servers:
            if server.pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(server.pid)
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        if proc is root or not any("ipykernel" in p for p in proc.cmdline()):
                            total += proc.memory_info().rss
        return total

    def kernel_side_rss(self) -> tuple[int, int]:
        """(RSS of the kernels, RSS of their iopub relays): processes whose command line or environment
        names this run's runtime directory."""
        import psutil

        marker = str(self.work / "runtime")
        kernels = relays = 0
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                cmdline = proc.info["cmdline"] or ()
                if any(part.endswith("relay.py") for part in cmdline):
                    if proc.environ().get("LMS_KERNEL_RELAY_WATCH", "").startswith(marker):
                        relays += proc.memory_info().rss
                elif any(marker in part for part in cmdline):
                    kernels += proc.memory_info().rss
        return kernels, relays

    def sampled_rss(self, samples: int = 5, interval: float = 0.3) -> int:
        values = []
        for i in range(samples):
            if i:
                time.sleep(interval)
            values.append(self.worker_rss())
        return int(statistics.median(values))

    def kill_left_over_kernels(self) -> None:
        import psutil

        marker = str(self.work / "runtime")
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error, OSError):
                if any(marker in part for part in proc.info["cmdline"] or ()):
                    os.killpg(proc.pid, 9)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        self.kill_left_over_kernels()
        with contextlib.suppress(Exception):
            import psycopg
            from psycopg import sql

            with psycopg.connect(self.database_server_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.database_name)
                    )
                )


# -- learners ------------------------------------------------------------------------------------------------


@dataclass
class Totals:
    executes: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    http_5xx: int = 0
    http_other_errors: int = 0
    unexpected_closes: int = 0
    connected: int = 0
    kernels: int = 0
    rtts: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)


def expected_for(seq: int) -> tuple[str, str, str | None]:
    """(code, expected stdout, expected result) of execute number ``seq``."""
    kind = seq % 3
    if kind == 0:
        return f'print("s{seq}")', f"s{seq}\n", None
    if kind == 1:
        return (
            f'for i in range(20): print("m{seq}", i)',
            "".join(f"m{seq} {i}\n" for i in range(20)),
            None,
        )
    return f'("r", {seq})', "", f"('r', {seq})"


@dataclass
class Pending:
    seq: int
    code: str
    stdout: str
    result: str | None
    sent: float
    messages: list[dict] = field(default_factory=list)
    reply: dict | None = None
    idle: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Learner:
    def __init__(self, index: int, site: Site, totals: Totals, args):
        self.index = index
        self.site = site
        self.totals = totals
        self.args = args
        self.rest = site.servers[index % len(site.servers)]
        self.ws_server = site.servers[(index + 1) % len(site.servers)]
        self.kernel_id: str | None = None
        self.session = uuid.uuid4().hex
        self.ws = None
        self.pending: dict[str, Pending] = {}
        self.finished: set[str] = set()
        self.seen: set[str] = set()
        self.closed_by_us = False
        self.unsolicited = 0
        self.reader: asyncio.Task | None = None

    def http(self, method: str, path: str, body: dict | None = None, server=None) -> tuple[int, object]:
        server = server or self.rest
        request = urllib.request.Request(
            server.url + API + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.site.token}", "Content-Type": "application/json"},
        )
        try:
            with _opener.open(request, timeout=self.args.timeout) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        if status >= 500:
            self.totals.http_5xx += 1
            self.totals.problem(f"learner {self.index}: {method} {path} -> {status} {data[:200]!r}")
        elif status >= 400:
            self.totals.http_other_errors += 1
            self.totals.problem(f"learner {self.index}: {method} {path} -> {status} {data[:200]!r}")
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    async def start_kernel(self) -> bool:
        status, body = await asyncio.to_thread(self.http, "POST", "/kernels", {"name": "python3"})
        if status == 201 and isinstance(body, dict):
            self.kernel_id = body["id"]
            self.totals.kernels += 1
            return True
        return False

    async def connect(self) -> bool:
        from websockets.asyncio.client import connect

        url = f"{self.ws_server.ws_url}{API}/kernels/{self.kernel_id}/channels?session_id={self.session}"
        self.ws = await connect(
            url,
            origin=self.ws_server.url,
            additional_headers={"Authorization": f"token {self.site.token}"},
            proxy=None,
            open_timeout=self.args.timeout,
            max_size=None,
            ping_interval=None,
        )
        self.reader = asyncio.get_running_loop().create_task(self.read())
        # One kernel_info round trip: afterwards the worker's bridge is connected to the kernel.
        msg_id, pending, frame = self.request(
            "kernel_info_request", {}, seq=-1, code="", stdout="", result=None
        )
        await self.ws.send(frame)
        try:
            await asyncio.wait_for(pending.done.wait(), self.args.timeout)
        except TimeoutError:
            self.totals.problem(f"learner {self.index}: no kernel_info_reply")
            return False
        finally:
            del self.pending[msg_id]
            self.finished.add(msg_id)
        self.totals.connected += 1
        return True

    def request(
        self, msg_type: str, content: dict, *, seq: int, code: str, stdout: str, result: str | None
    ) -> tuple[str, Pending, str]:
        """A new request: its msg_id, its record (registered) and the frame to send."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": USERNAME,
            "session": self.session,
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        }
        pending = Pending(seq, code, stdout, result, time.perf_counter())
        self.pending[msg_id] = pending
        frame = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        return msg_id, pending, json.dumps({**frame, "channel": "shell", "buffers": []})

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in self.ws:
                if not isinstance(frame, str):
                    continue
                self.on_message(json.loads(frame))
        except ConnectionClosed:
            pass
        if not self.closed_by_us:
            self.totals.unexpected_closes += 1
            code = self.ws.close_code
            self.totals.problem(f"learner {self.index}: the server closed the WebSocket ({code})")
            for pending in self.pending.values():
                pending.done.set()

    def on_message(self, message: dict) -> None:
        msg_id = message.get("header", {}).get("msg_id")
        if msg_id in self.seen:
            self.totals.duplicated += 1
            self.totals.problem(f"learner {self.index}: message {msg_id} seen twice")
            return
        self.seen.add(msg_id)
        parent_id = (message.get("parent_header") or {}).get("msg_id")
        if parent_id is None and message.get("channel") == "iopub":
            self.unsolicited += 1  # the kernel's own (e.g. iopub_welcome): no request to check it against
            return
        pending = self.pending.get(parent_id)
        if pending is None:
            if parent_id in self.finished:
                self.totals.duplicated += 1
                self.totals.problem(
                    f"learner {self.index}: {message['msg_type']} after its request had finished"
                )
            else:
                self.totals.wrong += 1
                self.totals.problem(
                    f"learner {self.index}: {message['channel']} {message['msg_type']} for an unknown request "
                    f"{message.get('parent_header')}"
                )
            return
        if message["channel"] == "shell":
            if pending.reply is not None:
                self.totals.duplicated += 1
            pending.reply = message
        elif message["channel"] == "iopub":
            pending.messages.append(message)
            if message["msg_type"] == "status" and message["content"].get("execution_state") == "idle":
                pending.idle = True
        if pending.idle and pending.reply is not None:
            pending.done.set()

    async def execute(self, seq: int) -> None:
        code, stdout, result = expected_for(seq)
        content = {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg_id, pending, frame = self.request(
            "execute_request", content, seq=seq, code=code, stdout=stdout, result=result
        )
        await self.ws.send(frame)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.done.wait(), self.args.timeout)
        elapsed = time.perf_counter() - pending.sent
        del self.pending[msg_id]
        self.finished.add(msg_id)
        self.totals.executes += 1
        self.check(pending, elapsed)

    def check(self, pending: Pending, elapsed: float) -> None:
        where = f"learner {self.index}, execute {pending.seq}"
        if not (pending.idle and pending.reply is not None):
            self.totals.lost += 1
            self.totals.problem(f"{where}: no {'idle' if not pending.idle else 'reply'} within the timeout")
            return
        if pending.reply["content"].get("status") != "ok":
            self.totals.wrong += 1
            self.totals.problem(f"{where}: reply {pending.reply['content']}")
            return
        types = [m["msg_type"] for m in pending.messages]
        states = [m["content"]["execution_state"] for m in pending.messages if m["msg_type"] == "status"]
        stdout = "".join(
            m["content"]["text"]
            for m in pending.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )
        results = [
            m["content"]["data"]["text/plain"] for m in pending.messages if m["msg_type"] == "execute_result"
        ]
        inputs = [m["content"]["code"] for m in pending.messages if m["msg_type"] == "execute_input"]
        others = [t for t in types if t not in ("status", "stream", "execute_result", "execute_input")]
        stderr = [
            m for m in pending.messages if m["msg_type"] == "stream" and m["content"]["name"] != "stdout"
        ]
        if states != ["busy", "idle"] or inputs != [pending.code]:
            self.totals.lost += 1
            self.totals.problem(f"{where}: statuses {states}, inputs {len(inputs)}")
        elif stdout != pending.stdout or results != ([pending.result] if pending.result else []):
            # Shorter than expected is lost output; anything else is wrong.
            if pending.stdout.startswith(stdout) and len(results) <= (1 if pending.result else 0):
                self.totals.lost += 1
            else:
                self.totals.wrong += 1
            self.totals.problem(f"{where}: stdout {stdout[:80]!r}, results {results}")
        elif others or stderr:
            self.totals.wrong += 1
            self.totals.problem(
                f"{where}: unexpected {others or [m['content']['text'][:80] for m in stderr]}"
            )
        else:
            self.totals.rtts.append(elapsed * 1000)

    async def run(self, until: float) -> None:
        seq = 0
        while time.monotonic() < until and not self.ws.close_code:
            await self.execute(seq)
            seq += 1
            if self.args.think:
                await asyncio.sleep(self.args.think)

    async def close(self) -> None:
        self.closed_by_us = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader

    async def shutdown_kernel(self) -> None:
        if self.kernel_id:
            await asyncio.to_thread(self.http, "DELETE", f"/kernels/{self.kernel_id}")


async def gather_limited(coros, limit: int) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)


async def load(site: Site, args) -> dict:
    totals = Totals()
    learners = [Learner(i, site, totals, args) for i in range(args.learners)]
    figures: dict = {}

    log(f"setup: starting {args.learners} kernels ({args.start_parallel} at a time) ...")
    started = time.monotonic()
    results = await gather_limited([learner.start_kernel() for learner in learners], args.start_parallel)
    figures["kernels_started_s"] = round(time.monotonic() - started, 1)
    for learner, outcome in zip(learners, results, strict=True):
        if isinstance(outcome, BaseException):
            totals.problem(f"learner {learner.index}: start failed: {outcome!r}")
    await asyncio.sleep(args.settle)
    rss_before = await asyncio.to_thread(site.sampled_rss)
    kernels_rss, relays_rss = await asyncio.to_thread(site.kernel_side_rss)

    log("setup: connecting the WebSockets ...")
    ready = [learner for learner in learners if learner.kernel_id]
    results = await gather_limited([learner.connect() for learner in ready], args.start_parallel * 2)
    for learner, outcome in zip(ready, results, strict=True):
        if isinstance(outcome, BaseException):
            totals.problem(f"learner {learner.index}: connect failed: {outcome!r}")
    connected = [learner for learner in ready if learner.reader is not None and learner.ws.close_code is None]
    await asyncio.sleep(args.settle)
    rss_connected = await asyncio.to_thread(site.sampled_rss)

    log(f"run: {len(connected)} learners execute for {args.duration:g} s ...")
    loads: list[float] = []

    async def sample_load():
        while True:
            loads.append(os.getloadavg()[0])
            await asyncio.sleep(5)

    sampler = asyncio.get_running_loop().create_task(sample_load())
    started = time.monotonic()
    until = started + args.duration
    results = await asyncio.gather(*(learner.run(until) for learner in connected), return_exceptions=True)
    wall = time.monotonic() - started
    sampler.cancel()
    for learner, outcome in zip(connected, results, strict=True):
        if isinstance(outcome, BaseException):
            totals.problem(f"learner {learner.index}: {outcome!r}")
            totals.lost += 1
    loads.append(os.getloadavg()[0])
    rss_after = await asyncio.to_thread(site.sampled_rss, 3)

    await asyncio.gather(*(learner.close() for learner in learners))
    log("teardown: shutting the kernels down ...")
    await gather_limited([learner.shutdown_kernel() for learner in learners], args.start_parallel)

    n = max(len(connected), 1)
    figures.update(
        learners=args.learners,
        workers=args.workers,
        duration_s=args.duration,
        kernels=totals.kernels,
        connected=totals.connected,
        executes=totals.executes,
        executes_per_s=round(totals.executes / wall, 1) if wall else None,
        rtt_p50_ms=_round(percentile(totals.rtts, 50)),
        rtt_p95_ms=_round(percentile(totals.rtts, 95)),
        rtt_p99_ms=_round(percentile(totals.rtts, 99)),
        rtt_max_ms=_round(max(totals.rtts) if totals.rtts else None),
        lost=totals.lost,
        duplicated=totals.duplicated,
        wrong=totals.wrong,
        http_5xx=totals.http_5xx,
        http_4xx=totals.http_other_errors,
        unexpected_closes=totals.unexpected_closes,
        worker_rss_mb_kernels_running=round(rss_before / 1e6, 1),
        worker_rss_mb_connected=round(rss_connected / 1e6, 1),
        worker_rss_mb_after_run=round(rss_after / 1e6, 1),
        rss_kb_per_connection=round((rss_connected - rss_before) / n / 1e3, 1),
        rss_kb_per_connection_after_run=round((rss_after - rss_before) / n / 1e3, 1),
        kernel_rss_mb_each=round(kernels_rss / max(totals.kernels, 1) / 1e6, 1),
        relay_rss_mb_each=round(relays_rss / max(totals.kernels, 1) / 1e6, 1),
        loadavg_1m_during_max=round(max(loads), 2),
        loadavg_1m_during_mean=round(statistics.mean(loads), 2),
        problems=totals.problems,
    )
    figures["target_met"] = (
        totals.kernels == args.learners
        and totals.connected == args.learners
        and totals.executes > 0
        and not (totals.lost or totals.duplicated or totals.wrong)
        and not (totals.http_5xx or totals.unexpected_closes)
    )
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def git_commit() -> str | None:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return None


def print_report(figures: dict) -> None:
    rows = [
        ("learners / workers", f"{figures['learners']} / {figures['workers']}"),
        ("kernels started, connected", f"{figures['kernels']}, {figures['connected']}"),
        ("executes (per s)", f"{figures['executes']} ({figures['executes_per_s']})"),
        (
            "round trip p50 / p95 / p99 ms",
            f"{figures['rtt_p50_ms']} / {figures['rtt_p95_ms']} / {figures['rtt_p99_ms']}",
        ),
        ("lost / duplicated / wrong", f"{figures['lost']} / {figures['duplicated']} / {figures['wrong']}"),
        ("HTTP 5xx / unexpected closes", f"{figures['http_5xx']} / {figures['unexpected_closes']}"),
        (
            "worker RSS MB: kernels running / connected / after",
            f"{figures['worker_rss_mb_kernels_running']} / {figures['worker_rss_mb_connected']} / "
            f"{figures['worker_rss_mb_after_run']}",
        ),
        (
            "RSS per connection kB (connected / after run)",
            f"{figures['rss_kb_per_connection']} / {figures['rss_kb_per_connection_after_run']}",
        ),
        ("kernel / relay RSS MB each", f"{figures['kernel_rss_mb_each']} / {figures['relay_rss_mb_each']}"),
        (
            "load average during (max / mean)",
            f"{figures['loadavg_1m_during_max']} / {figures['loadavg_1m_during_mean']}",
        ),
        ("target met", str(figures["target_met"])),
    ]
    width = max(len(name) for name, _value in rows)
    log("")
    for name, value in rows:
        log(f"{name:<{width}}  {value}")
    for problem in figures["problems"]:
        log(f"  problem: {problem}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--learners", type=int, default=50, help="simulated learners (one kernel and WebSocket each)"
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds each learner executes")
    p.add_argument("--workers", type=int, default=2, help="uvicorn processes sharing the database and Redis")
    p.add_argument("--think", type=float, default=0.0, help="seconds a learner waits between executes")
    p.add_argument("--start-parallel", type=int, default=4, help="kernels started at once during setup")
    p.add_argument("--timeout", type=float, default=60.0, help="limit for one request or execute (s)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each memory sample")
    p.add_argument(
        "--database-url",
        default=services_value("LMS_TEST_DATABASE_URL"),
        help="a PostgreSQL server (a new database is created on it); default: $LMS_TEST_DATABASE_URL",
    )
    p.add_argument(
        "--redis-url", default=services_value("LMS_TEST_REDIS_URL"), help="default: $LMS_TEST_REDIS_URL"
    )
    p.add_argument("--keep", help="keep the worker logs in this directory")
    args = p.parse_args(argv)
    if not args.database_url or not args.redis_url:
        p.error("a PostgreSQL server and a Redis server are needed: --database-url and --redis-url")
    if args.learners < 1 or args.workers < 1 or args.duration <= 0:
        p.error("--learners and --workers must be at least 1, --duration positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="kernels-load-"))
    work.mkdir(parents=True, exist_ok=True)
    site = Site(work, args.database_url, args.redis_url, args.workers)
    load_before = os.getloadavg()[0]
    try:
        site.prepare()
        site.start_workers()
        figures = asyncio.run(load(site, args))
    finally:
        site.close()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    figures.update(
        loadavg_1m_before=round(load_before, 2),
        cpus=os.cpu_count(),
        python=platform.python_version(),
        commit=git_commit(),
    )
    print_report(figures)
    print(json.dumps(figures), flush=True)
    return 0 if figures["target_met"] else 2


if __name__ == "__main__":
    sys.exit(main())
