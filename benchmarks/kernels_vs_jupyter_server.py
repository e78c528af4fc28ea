#!/usr/bin/env python
"""Benchmark: lms_kernels (the example project, local backend) against Jupyter Server and the in-process floor.

    .venv/bin/python benchmarks/kernels_vs_jupyter_server.py            # full run (3 interleaved rounds)
    .venv/bin/python benchmarks/kernels_vs_jupyter_server.py --quick    # a couple of minutes
    .venv/bin/python benchmarks/kernels_vs_jupyter_server.py --rounds 5 --scenarios rtt,stream --keep out/

Run it with the project's Python (``.venv``): that interpreter serves the example project (uvicorn) and runs
every kernel. The script sets up everything else itself:

* A separate virtualenv, ``.venv-bench`` (created on first run with uv, kept afterwards; ``--bench-venv``),
  holds the harness's only dependency (aiohttp, pinned in ``harness/requirements.txt``) and the peer,
  Jupyter Server (``--jupyter-server-version``), with the project's jupyter_client version.
* One kernel for all: a ``python3`` kernelspec in a temporary ``JUPYTER_PATH`` whose argv is the project's
  Python (``-m ipykernel_launcher``). Jupyter Server and the floor (``kernel_bench.py --backend raw``, run by
  the bench venv's Python: jupyter_client in-process, no web layer) both find it there; the example project's
  ``local`` backend starts the same interpreter by default. So all three run the same ipykernel.
* Jupyter Server twice, as in the team's baseline (``harness/configs/``): stock with the IOPub rate limit off
  (otherwise ``stream`` loses output by design), and with TCP_NODELAY on its kernel WebSockets; both on
  127.0.0.1, free ports, token auth.
* The example project on uvicorn (as ``manage.py groundup_demo`` starts it: one worker, no access log), with
  ``DEBUG`` off, a fresh SQLite database in a temporary directory (migrated first), a user and an API token
  (``manage.py lms_kernels_token``), and ``benchmarks/kernels_bench_settings.py`` (why: see that file).

Each round runs the harness (``harness/kernel_bench.py``) against the floor, Jupyter Server, Jupyter Server
with TCP_NODELAY and ours, in that order: ``start`` and ``rtt`` each in a run of their own, then the other
scenarios, then ``stream`` again with one message per line (``--stream-flush-every 1``). Figures are medians
over all rounds. The server's CPU time (user + system, kernels excluded) is taken around every harness run,
which gives three more figures: server CPU per kernel start (the ``start`` run), per execute (the ``rtt`` run,
less one kernel start and stop) and per message of the one-message-per-line stream. Afterwards, for each
web server, N idle WebSocket connections (to a few kernels, each with its own ``?session_id=``, each answered
one ``kernel_info_request``, all read on as a browser tab does) are opened and the server's resident memory is
measured before and after: the server process and its children except kernels (they are separate processes).

A side-by-side table goes to stderr; the last line on stdout is one JSON object with every figure, the ratios,
the targets of issue 5 and whether each was met, and the machine (CPUs, load, versions, the commit measured).
The exit status is 0 when every target was met, 2 when one was missed, 130 when interrupted. Where a target is
relative to "Jupyter Server", the reference is the better of its two variants for that figure (the JSON has
the ratio against each). The machine is shared: the 1-minute load average before and after every harness run
is recorded; treat small differences as noise.

``--profile DIR`` additionally records the uvicorn process (and Jupyter Server with TCP_NODELAY) with py-spy
(installed into the bench venv) during one extra run of each ``--profile-scenarios`` (default ``rtt``), as
collapsed stacks plus a flame graph, and prints the hottest functions. py-spy samples wall-clock stacks: on a
busy 2-core machine the process is often preempted right after a syscall (a socket write waking the kernel or
the client), so syscall lines look hotter than their CPU cost; the server-CPU figures above are the CPU truth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
HARNESS_DIR = BENCH_DIR / "harness"
HARNESS = HARNESS_DIR / "kernel_bench.py"
EXAMPLE_PROJECT = ROOT / "example_project"
SETTINGS_MODULE = "kernels_bench_settings"  # benchmarks/kernels_bench_settings.py

DEFAULT_JUPYTER_SERVER = "2.21.1"  # the version of the team's baseline (shared results-baseline.md)
KERNEL_NAME = "python3"

FLUSH_PASS = "stream, 1 message per line"
FLOOR, JS, JS_NODELAY, OURS = "floor", "jupyter_server", "jupyter_server+nodelay", "lms_kernels"
LABELS = (FLOOR, JS, JS_NODELAY, OURS)
PEERS = (JS, JS_NODELAY)

#: Versions reported in the JSON line (those present in each venv).
PROJECT_PACKAGES = (
    "ipykernel",
    "jupyter_client",
    "pyzmq",
    "django",
    "channels",
    "uvicorn",
    "websockets",
    "uvloop",
)
BENCH_PACKAGES = ("jupyter_server", "jupyter_client", "tornado", "pyzmq", "aiohttp")


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- processes ---------------------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, stopped in reverse order with their descendants (kernels too:
    the local backend starts kernels in their own sessions, so they outlive the server by design)."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.procs.append((name, proc))
        return proc

    def stop(self, proc, timeout=15.0):
        import psutil

        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        _gone, alive = psutil.wait_procs(descendants, timeout=3)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=3)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self):
        for _name, proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                log(f"warning: could not stop pid {proc.pid}: {exc!r}")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# -- setup -------------------------------------------------------------------------------------------------


def package_versions(python, names):
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n        out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n        pass\n"
        "print(json.dumps(out))"
    )
    res = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def ensure_bench_venv(venv: Path, project_python: str, js_version: str | None, profile: bool) -> str:
    """Create or update the bench venv; returns its python. A marker file records what was installed.
    ``js_version`` None: the harness's requirements only (no Jupyter Server, no jupyter_client)."""
    requirements = [line.strip() for line in (HARNESS_DIR / "requirements.txt").read_text().splitlines()]
    requirements = [r for r in requirements if r and not r.startswith("#")]
    if js_version is not None:
        project = package_versions(project_python, ["jupyter_client"])
        requirements += [f"jupyter_server=={js_version}", f"jupyter_client=={project['jupyter_client']}"]
    if profile:
        requirements.append("py-spy")
    python = venv / "bin" / "python"
    marker = venv / ".kernels-vs-jupyter-server"
    installed = set(marker.read_text().split()) if python.exists() and marker.exists() else set()
    if set(requirements) <= installed:
        return str(python)
    uv = [project_python, "-m", "uv"]
    if not python.exists():
        log(f"setup: creating {venv} ...")
        subprocess.run([*uv, "venv", "--quiet", "--python", project_python, str(venv)], check=True)
    log(f"setup: installing {', '.join(requirements)} into {venv} ...")
    subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python), *requirements], check=True)
    pinned = {r.split("==")[0] for r in requirements}
    kept = {r for r in installed if r.split("==")[0] not in pinned}
    marker.write_text("\n".join(sorted(kept | set(requirements))))
    return str(python)


def git_state():
    """The commit measured and whether the working tree differs from it (others may be mid-change)."""

    def git(*args):
        res = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return res.stdout.strip() if res.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "src", "example_project")
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes_in_src_or_example_project": None
        if changed is None
        else len(changed.splitlines()),
    }


def write_jupyter_dirs(work: Path, project_python: str) -> dict:
    """Temporary Jupyter/IPython directories, a kernelspec running the project's ipykernel, and the two
    Jupyter Server config dirs. Returns the environment shared by every process."""
    spec = work / "jupyter_path" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [project_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (the project's ipykernel)",
                "language": "python",
                "metadata": {"debugger": True},
            },
            indent=1,
        )
    )
    for name, config in (
        ("jcfg-stock", "jupyter_server_unlimited_config.py"),
        ("jcfg-nodelay", "jupyter_server_nodelay_config.py"),
    ):
        (work / name).mkdir()
        shutil.copy(HARNESS_DIR / "configs" / config, work / name / "jupyter_server_config.py")
    for name in ("runtime", "data", "ipython", "config", "notebooks"):
        (work / name).mkdir()
    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    env.update(
        JUPYTER_PATH=str(work / "jupyter_path"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        JUPYTER_DATA_DIR=str(work / "data"),
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(work / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    return env


class Server:
    def __init__(self, label, base_url, prefix, token, proc, log_path):
        self.label, self.base_url, self.prefix, self.token = label, base_url, prefix, token
        self.proc, self.log_path = proc, log_path

    def harness_args(self):
        return ["--base-url", self.base_url, "--prefix", self.prefix, "--token", self.token]


def wait_ready(server: Server, timeout=120.0):
    url = f"{server.base_url}{server.prefix}/kernels"
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.label} exited with status {server.proc.returncode}; see {server.log_path}:\n"
                + tail(server.log_path)
            )
        req = urllib.request.Request(url, headers={"Authorization": f"token {server.token}"})
        try:
            with urllib.request.urlopen(req, timeout=3) as resp:
                if resp.status == 200:
                    json.loads(resp.read())
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as exc:
            last = exc
        time.sleep(0.25)
    raise RuntimeError(f"{server.label} did not answer {url} within {timeout:.0f} s ({last!r})")


def tail(path, n=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def start_jupyter_server(procs, label, bench_python, env, work: Path, config_dir: str) -> Server:
    port, token = free_port(), secrets.token_hex(16)
    log_path = work / f"{label}.log"
    argv = [
        bench_python,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work / 'notebooks'}",
        "--ServerApp.open_browser=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    with open(log_path, "ab") as out:
        proc = procs.start(
            label, argv, env={**env, "JUPYTER_CONFIG_DIR": str(work / config_dir)}, stdout=out, stderr=out
        )
    return Server(label, f"http://127.0.0.1:{port}", "/api", token, proc, log_path)


def manage_py(project_python, django_env, log_path, *args) -> str:
    """Run the example project's ``manage.py`` with ``args``; its output is appended to ``log_path``."""
    res = subprocess.run(
        [project_python, "manage.py", *args],
        cwd=EXAMPLE_PROJECT,
        env=django_env,
        capture_output=True,
        text=True,
    )
    with open(log_path, "a") as out:
        out.write(f"$ manage.py {' '.join(args)}\n{res.stdout}{res.stderr}\n")
    if res.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{res.stdout}{res.stderr}")
    return res.stdout


def start_ours(
    procs,
    project_python,
    env,
    work: Path,
    lift_limits: bool,
    settings_module: str = SETTINGS_MODULE,
    extra_env: dict | None = None,
) -> Server:
    """The example project on uvicorn (see the module docstring). The returned server's ``django_env`` is
    the environment its ``manage.py`` commands need (``manage_py``)."""
    port = free_port()
    log_path = work / f"{OURS}.log"
    django_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SQLITE_PATH": str(work / "lms.sqlite3"),
        "DJANGO_LOG_LEVEL": "WARNING",
        "KERNELS_BENCH_LIFT_LIMITS": "1" if lift_limits else "0",
        **(extra_env or {}),
    }
    for name in ("DATABASE_URL", "REDIS_URL"):  # the embedded shape: SQLite, in-memory channel layer
        django_env.pop(name, None)

    def manage(*args):
        return manage_py(project_python, django_env, log_path, *args)

    log("setup: migrating a fresh SQLite database for the example project ...")
    manage("migrate", "--no-input", "-v", "0")
    manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; get_user_model().objects.create_user('bench')",
    )
    token = manage("lms_kernels_token", "bench").strip().splitlines()[-1].strip()
    argv = [
        project_python,
        "-m",
        "uvicorn",
        "groundup_site.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "off",
    ]
    with open(log_path, "ab") as out:
        proc = procs.start(OURS, argv, cwd=EXAMPLE_PROJECT, env=django_env, stdout=out, stderr=out)
    server = Server(OURS, f"http://127.0.0.1:{port}", "/kernels/api", token, proc, log_path)
    server.django_env = django_env
    return server


# -- running the harness -----------------------------------------------------------------------------------


def harness_common_args(a):
    return [
        "--repeat",
        str(a.repeat),
        "--kernel-name",
        KERNEL_NAME,
        "--timeout",
        str(a.timeout),
        "--stream-timeout",
        str(a.stream_timeout),
        "--start-n",
        str(a.start_n),
        "--rtt-n",
        str(a.rtt_n),
        "--warmup",
        str(a.warmup),
        "--stream-lines",
        str(a.stream_lines),
        "--concurrency",
        a.concurrency,
        "--concurrent-m",
        str(a.concurrent_m),
        "--image-n",
        str(a.image_n),
    ]


def run_harness(
    procs, bench_python, env, label, target_args, extra, out_jsonl: Path, log_path: Path, timeout
):
    argv = [bench_python, str(HARNESS), *target_args, "--label", label, *extra]
    t0 = time.monotonic()
    with open(out_jsonl, "ab") as out, open(log_path, "ab") as err:
        err.write(f"\n$ {' '.join(argv)}\n".encode())
        err.flush()
        proc = procs.start(f"harness {label}", argv, env=env, stdout=out, stderr=err)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"  {label}: harness still running after {timeout:.0f} s: stopped")
            rc = None
        finally:
            procs.stop(proc)
    return rc, time.monotonic() - t0


def variant_of(line):
    if line.get("scenario") == "concurrent":
        return line.get("k")
    if line.get("scenario") == "stream":
        return line.get("flush_every") or 0
    return None


def collect(jsonl_files):
    """{(label, scenario, variant): {"runs": [...], "failed": n, "errors": [...], "loadavg": [...]}}"""
    groups = {}
    for path in jsonl_files:
        if not path.exists():
            continue
        for raw in path.read_text().splitlines():
            if not raw.startswith("{"):
                continue
            line = json.loads(raw)
            scenario = line.get("scenario")
            if not scenario or scenario == "meta":
                continue
            g = groups.setdefault(
                (line.get("label"), scenario, variant_of(line)),
                {"runs": [], "failed": 0, "errors": [], "loadavg_1m": []},
            )
            g["runs"].extend(line.get("runs") or [])
            if not line.get("ok"):
                g["failed"] += line.get("failed_runs", 1)
                g["errors"].extend(line.get("errors") or [line.get("error", "failed")])
            for key in ("loadavg_1m_before", "loadavg_1m_after"):
                if key in line:
                    g["loadavg_1m"].append(line[key])
    return groups


def run_summary(groups):
    """{"label/scenario[ variant]": runs, failures, the first errors and the load averages} for the JSON line."""
    return {
        f"{label}/{scenario}{'' if variant in (None, 0) else ' ' + str(variant)}": {
            "runs": len(g["runs"]),
            "failed": g["failed"],
            "errors": g["errors"][:3],
            "loadavg_1m": g["loadavg_1m"],
        }
        for (label, scenario, variant), g in sorted(groups.items(), key=lambda x: str(x[0]))
    }


def kernel_metas(jsonl_files):
    metas = {}
    for path in jsonl_files:
        if path.exists():
            for raw in path.read_text().splitlines():
                if raw.startswith("{"):
                    line = json.loads(raw)
                    if line.get("scenario") == "meta" and line.get("kernel"):
                        metas.setdefault(line.get("label"), line["kernel"])
    return metas


def median_of(groups, label, scenario, variant, key):
    g = groups.get((label, scenario, variant))
    if not g:
        return None
    values = [r[key] for r in g["runs"] if isinstance(r.get(key), int | float)]
    return round(statistics.median(values), 3) if values else None


# -- idle WebSocket memory -----------------------------------------------------------------------------------


def hold_websockets_main(cfg):
    """Child mode (bench venv, aiohttp): start kernels, then open/hold/close idle WebSockets on command.

    Talks over stdin/stdout, one JSON line per step: ``ready`` (kernels started, one connection each is open),
    then after ``open`` on stdin ``opened``, after ``close`` ``closed`` (everything deleted).
    """
    import aiohttp

    base, prefix, token = cfg["base_url"], cfg["prefix"], cfg["token"]
    ws_base = "ws" + base[len("http") :]
    headers = {"Authorization": f"token {token}", "Origin": base}

    def say(**obj):
        print(json.dumps(obj), flush=True)

    async def command():
        return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()

    closed_early = []

    async def drain(ws, kid):
        # Read on, as an idle browser tab does: answers the server's pings and takes the status messages
        # that other connections' requests broadcast.
        try:
            while True:
                m = await ws.receive()
                if m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    closed_early.append(f"{kid}: {m.type} {ws.close_code}")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            closed_early.append(f"{kid}: {exc!r}")

    async def open_ws(http, kid):
        session_id = uuid.uuid4().hex
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "kernel_info_request",
            "username": "bench",
            "session": session_id,
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        }
        request = {"header": header, "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}
        async with asyncio.timeout(60):
            ws = await http.ws_connect(
                f"{ws_base}{prefix}/kernels/{kid}/channels?session_id={session_id}", max_msg_size=0
            )
            await ws.send_str(json.dumps({**request, "buffers": []}))
            while True:
                m = await ws.receive()
                if m.type == aiohttp.WSMsgType.BINARY:
                    continue
                if m.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"websocket to kernel {kid} closed: {m.type} {m.data!r}")
                msg = json.loads(m.data)
                if msg.get("channel") == "shell" and (msg.get("parent_header") or {}).get("msg_id") == msg_id:
                    return ws, asyncio.get_running_loop().create_task(drain(ws, kid))

    async def main():
        conns, kernels = [], []
        # limit=0: aiohttp's default pool (100 connections) would make the 101st WebSocket wait for ever.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
            try:
                for _ in range(cfg["kernels"]):
                    async with http.post(f"{base}{prefix}/kernels", json={"name": cfg["kernel_name"]}) as r:
                        body = await r.json(content_type=None)
                        if r.status >= 300:
                            raise RuntimeError(f"POST /kernels: HTTP {r.status}: {body}")
                        kernels.append(body["id"])
                    conns.append(await open_ws(http, kernels[-1]))  # one per kernel, before the baseline
                say(ready=len(kernels))
                if await command() != "open":
                    return
                sem = asyncio.Semaphore(8)

                async def one(i):
                    async with sem:
                        return await open_ws(http, kernels[i % len(kernels)])

                t0 = time.perf_counter()
                conns.extend(await asyncio.gather(*(one(i) for i in range(cfg["n"]))))
                say(opened=cfg["n"], seconds=round(time.perf_counter() - t0, 3))
                await command()
                say(still_open=sum(1 for ws, _task in conns if not ws.closed), closed_early=closed_early[:5])
                await command()
            finally:
                for ws, task in conns:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    with contextlib.suppress(Exception):
                        await ws.close()
                for kid in kernels:
                    with contextlib.suppress(Exception):
                        async with http.delete(f"{base}{prefix}/kernels/{kid}") as r:
                            await r.read()
        say(closed=True)

    asyncio.run(main())


def is_kernel(proc):
    try:
        return any("ipykernel" in part for part in proc.cmdline())
    except Exception:
        return False


def server_memory(pid):
    """(RSS of the server process and its non-kernel descendants, RSS of kernel processes), in bytes."""
    import psutil

    root = psutil.Process(pid)
    server, kernels = 0, 0
    stack = [root]
    while stack:
        proc = stack.pop()
        try:
            rss = proc.memory_info().rss
            children = proc.children()
        except psutil.Error:
            continue
        if proc is not root and is_kernel(proc):
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    kernels += p.memory_info().rss
            continue
        server += rss
        stack.extend(children)
    return server, kernels


def sampled_memory(pid, samples=5, interval=0.3):
    values = []
    for i in range(samples):
        if i:
            time.sleep(interval)
        values.append(server_memory(pid))
    return statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)


def read_json_line(proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the WebSocket holder exited with status {proc.returncode}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.strip().startswith("{"):
                return json.loads(line)
    raise RuntimeError(f"no answer from the WebSocket holder within {timeout:.0f} s")


def measure_idle_websockets(procs, bench_python, env, server: Server, n, kernels, settle, log_path):
    cfg = {
        "base_url": server.base_url,
        "prefix": server.prefix,
        "token": server.token,
        "kernels": kernels,
        "n": n,
        "kernel_name": KERNEL_NAME,
    }
    with open(log_path, "ab") as err:
        holder = procs.start(
            f"ws holder {server.label}",
            [bench_python, str(Path(__file__).resolve()), "--hold-websockets", json.dumps(cfg)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        read_json_line(holder, 180)
        time.sleep(settle)
        before, kernels_before = sampled_memory(server.proc.pid)
        holder.stdin.write("open\n")
        holder.stdin.flush()
        opened = read_json_line(holder, 300)
        time.sleep(settle)
        after, kernels_after = sampled_memory(server.proc.pid)
        holder.stdin.write("check\n")
        holder.stdin.flush()
        check = read_json_line(holder, 60)
        holder.stdin.write("close\n")
        holder.stdin.flush()
        read_json_line(holder, 120)
        holder.wait(30)
    finally:
        procs.stop(holder)
    expected = n + kernels
    if check.get("still_open") != expected:
        raise RuntimeError(
            f"{expected - (check.get('still_open') or 0)} of {expected} WebSockets closed during the measurement: "
            f"{check.get('closed_early')}"
        )
    mb = 1024 * 1024
    return {
        "connections": n,
        "kernels": kernels,
        "open_seconds": opened.get("seconds"),
        "server_rss_before_mb": round(before / mb, 2),
        "server_rss_after_mb": round(after / mb, 2),
        "mb_per_connection": round((after - before) / mb / n, 4),
        "kernels_rss_mb_per_connection": round((kernels_after - kernels_before) / mb / n, 4),
    }


# -- py-spy --------------------------------------------------------------------------------------------------


def profile_scenario(procs, bench_python, env, server, scenario, a, out_dir: Path, work: Path):
    """Record ``server`` with py-spy during one run of ``scenario``, twice: collapsed stacks, flame graph."""
    py_spy = str(Path(bench_python).parent / "py-spy")
    results = {}
    for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
        path = out_dir / f"{server.label}-{scenario}.{suffix}"
        spy = procs.start(
            f"py-spy {server.label}",
            [
                py_spy,
                "record",
                "--pid",
                str(server.proc.pid),
                "--rate",
                "250",
                "--format",
                fmt,
                "-o",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "py-spy.log", "ab"),  # noqa: SIM115
        )
        time.sleep(1.0)
        run_harness(
            procs,
            bench_python,
            env,
            f"{server.label} (profiled)",
            server.harness_args(),
            [*harness_common_args(a), "--scenarios", scenario, "--repeat", "1"],
            work / "profile.jsonl",
            work / "harness.log",
            a.harness_timeout,
        )
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            procs.stop(spy)
        procs.procs = [(n, p) for n, p in procs.procs if p is not spy]
        results[fmt] = str(path)
    return results


def hottest(collapsed: Path, top=15):
    """Functions by self samples and by inclusive samples, from py-spy's collapsed ('raw') output."""
    self_counts, incl_counts, total = {}, {}, 0
    for raw in collapsed.read_text().splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        total += count
        frames = stack.split(";")
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            incl_counts[frame] = incl_counts.get(frame, 0) + count

    def top_of(counts):
        return [(round(100 * c / total, 1), f) for f, c in sorted(counts.items(), key=lambda x: -x[1])[:top]]

    return {"samples": total, "self": top_of(self_counts), "inclusive": top_of(incl_counts)}


# -- report ------------------------------------------------------------------------------------------------


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table_rows(groups, concurrency, flush_stream, memory):
    """(title, scenario, variant, key, higher_is_better)"""
    rows = [
        ("start: cold start median (ms)", "start", None, "cold_start_ms_median", False),
        ("rtt: p50 (ms)", "rtt", None, "p50_ms", False),
        ("rtt: p95 (ms)", "rtt", None, "p95_ms", False),
        ("rtt: p99 (ms)", "rtt", None, "p99_ms", False),
        ("rtt: requests/s", "rtt", None, "req_per_s", True),
        ("stream: MB/s", "stream", 0, "mb_per_s", True),
        ("stream: first output (ms)", "stream", 0, "first_output_ms", False),
    ]
    if flush_stream:
        rows += [
            ("stream, 1 msg/line: MB/s", "stream", 1, "mb_per_s", True),
            ("stream, 1 msg/line: messages", "stream", 1, "messages", True),
        ]
    for k in concurrency:
        rows += [
            (f"concurrent K={k}: executes/s", "concurrent", k, "throughput_per_s", True),
            (f"concurrent K={k}: p50 (ms)", "concurrent", k, "p50_ms", False),
            (f"concurrent K={k}: p95 (ms)", "concurrent", k, "p95_ms", False),
        ]
    rows += [
        ("image: median (ms)", "image", None, "ms_median", False),
        ("image: p95 (ms)", "image", None, "ms_p95", False),
    ]
    return [r for r in rows if any((lab, r[1], r[2]) in groups for lab in LABELS)]


def cell(groups, label, scenario, variant, key):
    g = groups.get((label, scenario, variant))
    if g is None:
        return None, ""
    value = median_of(groups, label, scenario, variant, key)
    note = f" ({g['failed']} FAILED)" if g["failed"] else ""
    if value is None and g["failed"]:
        return None, f"FAILED ({g['failed']})"
    return value, fmt(value) + note


def best_peer(groups, scenario, variant, key, higher, allow_failed=False):
    """(label, median) of the better Jupyter Server variant; one with a failed run does not count unless
    ``allow_failed`` (then the median of its passing runs does)."""
    best = None
    for label in PEERS:
        g = groups.get((label, scenario, variant))
        value = median_of(groups, label, scenario, variant, key)
        if g is None or value is None or (g["failed"] and not allow_failed):
            continue
        if best is None or (value > best[1] if higher else value < best[1]):
            best = (label, value)
    return best


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def build_targets(groups, memory, concurrency, flush_stream):
    targets = {}

    def ours_of(scenario, variant, key):
        g = groups.get((OURS, scenario, variant))
        value = median_of(groups, OURS, scenario, variant, key)
        err = None
        if g is None:
            err = "not run"
        elif g["failed"]:
            err = f"{g['failed']} run(s) failed: {g['errors'][0][:300]}"
        return value, err

    def relative(
        name, scenario, variant, key, higher, bound, peer=None, allow_peer_failures=False, note=None
    ):
        ours, err = ours_of(scenario, variant, key)
        if peer in (FLOOR, JS_NODELAY):
            peer_label, peer_value = peer, median_of(groups, peer, scenario, variant, key)
        else:
            best = best_peer(groups, scenario, variant, key, higher, allow_peer_failures)
            peer_label, peer_value = best if best else (None, None)
        r = ratio(ours, peer_value)
        entry = {
            "figure": f"{scenario}{'' if variant in (None, 0) else ' ' + str(variant)} {key}",
            "ours": ours,
            "reference": peer_label,
            "reference_value": peer_value,
            "ratio": r,
            "target": f"{'>=' if higher else '<='}{bound}",
        }
        if peer is None:
            for label in PEERS:
                entry[f"ratio_vs_{label}"] = ratio(ours, median_of(groups, label, scenario, variant, key))
                entry[f"failed_runs_{label}"] = (groups.get((label, scenario, variant)) or {}).get("failed")
        met = r is not None and err is None and (r >= bound if higher else r <= bound)
        if allow_peer_failures and r is None and err is None and ours is not None:
            met = True  # no Jupyter Server run delivered every byte; every run of ours did
        entry["met"] = met
        if note:
            entry["note"] = note
        if err:
            entry["error"] = err
        elif r is None:
            entry["error"] = "no reference figure (the peer did not run or failed every run)"
        targets[name] = entry

    relative("rtt_vs_floor", "rtt", None, "p50_ms", False, 1.15, peer=FLOOR)
    relative("rtt_vs_jupyter_server_nodelay", "rtt", None, "p50_ms", False, 1.0, peer=JS_NODELAY)
    relative(
        "stream_vs_jupyter_server",
        "stream",
        0,
        "mb_per_s",
        True,
        1.25,
        note="the harness's default stream: 20 MB of print() that ipykernel coalesces into a few messages",
    )
    if flush_stream:
        relative(
            "stream_1msg_per_line_vs_jupyter_server",
            "stream",
            1,
            "mb_per_s",
            True,
            1.25,
            allow_peer_failures=True,
            note="the same 20 MB flushed every line (10,000 messages); Jupyter Server's runs that lost output "
            "are left out of its median (see failed_runs_*)",
        )
    variants = [0, 1] if flush_stream else [0]
    failed = {v: (groups.get((OURS, "stream", v)) or {}).get("failed") for v in variants}
    ran = {v: len((groups.get((OURS, "stream", v)) or {}).get("runs", [])) for v in variants}
    targets["stream_every_byte_delivered"] = {
        "figure": "stream runs of ours that delivered every byte, in order (coalesced; one message per line)",
        "runs_ok": ran,
        "runs_failed": failed,
        "peer_runs_failed": {
            label: {v: (groups.get((label, "stream", v)) or {}).get("failed") for v in variants}
            for label in PEERS
        },
        "target": "every run",
        "met": all(ran[v] > 0 and not failed[v] for v in variants),
    }
    for k in concurrency:
        if k in (8, 32):
            relative(f"concurrent_k{k}_vs_jupyter_server", "concurrent", k, "throughput_per_s", True, 1.0)
    relative("image_vs_jupyter_server", "image", None, "ms_median", False, 1.0)
    if memory.get(OURS):
        value = memory[OURS].get("mb_per_connection")
        targets["ws_idle_memory_per_connection"] = {
            "figure": "server RSS per idle WebSocket connection (MB), kernels excluded",
            "ours": value,
            "reference": JS,
            "reference_value": (memory.get(JS) or {}).get("mb_per_connection"),
            "target": "<=1.0 MB",
            "met": value is not None and value <= 1.0,
        }
    return targets


def server_cpu(pid):
    """CPU seconds (user + system) used so far by the server process and its non-kernel descendants."""
    import psutil

    total = 0.0
    stack = [psutil.Process(pid)]
    while stack:
        proc = stack.pop()
        try:
            if proc.pid != pid and is_kernel(proc):
                continue
            times = proc.cpu_times()
            total += times.user + times.system
            stack.extend(proc.children())
        except psutil.Error:
            continue
    return total


def server_cpu_rows(cpu_runs, a, groups):
    """Server CPU figures: per execute in the rtt run, per message in the 1-message-per-line stream. Only
    runs that passed count (the medians of the CPU seconds of the harness runs)."""
    rows = {}
    per_exec = {}
    per_msg = {}
    per_start = {}
    for label in (JS, JS_NODELAY, OURS):
        start = cpu_runs.get((label, "start"))
        if start and not (groups.get((label, "start", None)) or {}).get("failed"):
            per_start[label] = statistics.median(start) / a.start_n
        rtt = cpu_runs.get((label, "rtt"))
        if rtt and not (groups.get((label, "rtt", None)) or {}).get("failed"):
            seconds = statistics.median(rtt) - per_start.get(label, 0.0)
            per_exec[label] = round(1000 * seconds / (a.rtt_n + a.warmup), 3)
        flush = cpu_runs.get((label, FLUSH_PASS))
        if flush and not (groups.get((label, "stream", 1)) or {}).get("failed"):
            per_msg[label] = round(1e6 * statistics.median(flush) / a.stream_lines, 1)
    if per_start:
        rows["start: server CPU per kernel (ms)"] = {k: round(1000 * v, 1) for k, v in per_start.items()}
    if per_exec:
        title = "rtt: server CPU per execute (ms)" + ("" if per_start else " (incl. a kernel start)")
        rows[title] = per_exec
    if per_msg:
        rows["stream, 1 msg/line: server CPU per message (us)"] = per_msg
    return rows


def print_report(groups, memory, targets, concurrency, flush_stream, meta, cpu_rows):
    rows = table_rows(groups, concurrency, flush_stream, memory)
    header = ["figure", "floor", JS, JS_NODELAY, "ours", "ours / best JS"]
    lines = [header]
    for title, scenario, variant, key, higher in rows:
        cells = [cell(groups, label, scenario, variant, key)[1] or "" for label in LABELS]
        best = best_peer(groups, scenario, variant, key, higher)
        ours = median_of(groups, OURS, scenario, variant, key)
        r = ratio(ours, best[1]) if best else None
        lines.append([title, *cells, "-" if r is None else f"{r:.2f}"])
    for title, values in cpu_rows.items():
        cells = [values.get(label) for label in LABELS]
        peers = [v for label, v in values.items() if label in PEERS]
        r = ratio(values.get(OURS), min(peers)) if peers else None
        lines.append([title, *[fmt(v) for v in cells], "-" if r is None else f"{r:.2f}"])
    if memory:
        mb = [memory.get(label, {}).get("mb_per_connection") for label in LABELS]
        r = ratio(mb[3], mb[1])
        lines.append(
            ["idle WebSocket: server MB/conn", *[fmt(v) for v in mb], "-" if r is None else f"{r:.2f}"]
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    log("")
    log(
        f"kernels_vs_jupyter_server: medians of {meta['rounds']} round(s) x {meta['repeat']} run(s); "
        f"{meta['cpus']} CPUs; load avg at start {meta['loadavg_start']}, at end {meta['loadavg_end']}"
    )
    log(f"kernel: {meta.get('kernel')}")
    for i, row in enumerate(lines):
        log(
            " | ".join(
                str(c).ljust(w) if j == 0 else str(c).rjust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            log("-+-".join("-" * w for w in widths))
    log("")
    log("targets (issue 5):")
    for name, t in targets.items():
        shown = t["ratio"] if "ratio" in t else t.get("ours", t.get("runs_ok"))
        ref = f" vs {t['reference']}" if t.get("reference") else ""
        extra = f"  ({t['error']})" if t.get("error") else ""
        log(f"  {'MET   ' if t['met'] else 'MISSED'} {name}: {shown}{ref}, target {t['target']}{extra}")
    failures = [(k, g) for k, g in groups.items() if g["failed"]]
    if failures:
        log("")
        log("failed runs:")
        for (label, scenario, variant), g in failures:
            v = "" if variant in (None, 0) else f" {variant}"
            log(f"  {label} / {scenario}{v} ({g['failed']}): {g['errors'][0][:300]}")


# -- main --------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="1 round, fewer executes: a couple of minutes")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick 1)")
    p.add_argument("--repeat", type=int, default=1, help="harness runs per scenario per round")
    p.add_argument("--scenarios", help="default start,rtt,stream,concurrent,image; --quick leaves out start")
    p.add_argument("--no-flush-stream", action="store_true", help="skip the one-message-per-line stream")
    p.add_argument("--servers", default=",".join(LABELS), help="which of " + ",".join(LABELS) + " to run")
    p.add_argument("--start-n", type=int, help="kernels per start run (default 5; --quick 3)")
    p.add_argument("--rtt-n", type=int, help="executes per rtt run (default 1000; --quick 200)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--stream-lines", type=int, default=10000, help="2 KiB lines per stream run")
    p.add_argument("--concurrency", default="8,32")
    p.add_argument("--concurrent-m", type=int, help="executes per kernel (default 100; --quick 20)")
    p.add_argument("--image-n", type=int, help="images per image run (default 20; --quick 10)")
    p.add_argument("--timeout", type=float, default=60.0, help="harness per-request timeout (s)")
    p.add_argument(
        "--stream-timeout",
        type=float,
        help="harness stream timeout (s) of the coalesced stream (default 60; --quick 30)",
    )
    p.add_argument(
        "--flush-stream-timeout",
        type=float,
        default=30.0,
        help="stream timeout (s) of the 1-message-per-line stream, where Jupyter Server sometimes hangs",
    )
    p.add_argument("--harness-timeout", type=float, default=900.0, help="limit for one harness run (s)")
    p.add_argument(
        "--ws-idle", type=int, help="idle WebSockets for the memory figure (default 100; --quick 50; 0: skip)"
    )
    p.add_argument("--ws-kernels", type=int, default=4, help="kernels the idle WebSockets connect to")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each memory sample")
    p.add_argument(
        "--lift-limits",
        action="store_true",
        help="serve ours without output cap and execute rate limit (needed for larger --stream-lines/--rtt-n)",
    )
    p.add_argument("--bench-venv", default=str(ROOT / ".venv-bench"))
    p.add_argument("--jupyter-server-version", default=DEFAULT_JUPYTER_SERVER)
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the web servers during one extra run of each profiled scenario",
    )
    p.add_argument("--profile-scenarios", default="rtt", help="scenarios run under py-spy with --profile")
    p.add_argument("--keep", metavar="DIR", help="copy raw JSON lines and server logs to DIR")
    p.add_argument("--verbose", action="store_true", help="show the harness's progress (its stderr)")
    p.add_argument("--hold-websockets", metavar="JSON", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    quick = a.quick
    for name, full, fast in (
        ("rounds", 3, 1),
        ("start_n", 5, 3),
        ("rtt_n", 1000, 200),
        ("concurrent_m", 100, 20),
        ("image_n", 20, 10),
        ("ws_idle", 100, 50),
        ("scenarios", "start,rtt,stream,concurrent,image", "rtt,stream,concurrent,image"),
        ("stream_timeout", 60.0, 30.0),
    ):
        if getattr(a, name) is None:
            setattr(a, name, fast if quick else full)
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    unknown = set(a.servers) - set(LABELS)
    if unknown:
        p.error(f"unknown servers {sorted(unknown)}; choose from {','.join(LABELS)}")
    return a


def main(argv=None):
    a = parse_args(argv)
    if a.hold_websockets:
        hold_websockets_main(json.loads(a.hold_websockets))
        return 0
    try:
        import psutil  # noqa: F401
    except ImportError:
        sys.exit(
            "Run this with the project's Python (.venv/bin/python): it needs psutil, uvicorn and Django."
        )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    project_python = sys.executable
    started = time.monotonic()
    meta = {
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rounds": a.rounds,
        "repeat": a.repeat,
        "quick": a.quick,
        "harness_args": None,
        "git": git_state(),
        "lift_limits": a.lift_limits,
    }
    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="kernels-bench-"))
    memory, profiles = {}, {}
    jsonl = {label: work / f"{label}.jsonl" for label in LABELS}
    rc = 1
    try:
        bench_python = ensure_bench_venv(
            Path(a.bench_venv), project_python, a.jupyter_server_version, bool(a.profile)
        )
        meta["versions"] = {
            "project": package_versions(project_python, PROJECT_PACKAGES),
            "bench_venv": package_versions(bench_python, BENCH_PACKAGES),
        }
        env = write_jupyter_dirs(work, project_python)
        servers = {}
        if JS in a.servers:
            servers[JS] = start_jupyter_server(procs, JS, bench_python, env, work, "jcfg-stock")
        if JS_NODELAY in a.servers:
            servers[JS_NODELAY] = start_jupyter_server(
                procs, JS_NODELAY, bench_python, env, work, "jcfg-nodelay"
            )
        if OURS in a.servers:
            servers[OURS] = start_ours(procs, project_python, env, work, a.lift_limits)
        for server in servers.values():
            wait_ready(server)
            log(f"setup: {server.label} is up at {server.base_url}{server.prefix} (pid {server.proc.pid})")
        common = harness_common_args(a)
        meta["harness_args"] = common
        targets_args = {
            label: (["--backend", "raw"] if label == FLOOR else servers[label].harness_args())
            for label in a.servers
        }
        harness_log = work / "harness.log"
        # rtt and start run alone, so that the server's CPU time during rtt can be put per execute (less
        # that of the kernel start and stop it includes, which the start run measures).
        scenarios = [x.strip() for x in a.scenarios.split(",") if x.strip()]
        others = [x for x in scenarios if x not in ("rtt", "start")]
        passes = [(name, ["--scenarios", name]) for name in ("start", "rtt") if name in scenarios]
        if others:
            passes.append(("main", ["--scenarios", ",".join(others)]))
        if not a.no_flush_stream and "stream" in scenarios:
            passes.append(
                (
                    FLUSH_PASS,
                    [
                        "--scenarios",
                        "stream",
                        "--stream-flush-every",
                        "1",
                        "--stream-timeout",
                        str(a.flush_stream_timeout),
                    ],
                )
            )
        cpu_runs = {}
        for r in range(1, a.rounds + 1):
            for pass_name, extra in passes:
                for label in a.servers:
                    log(f"round {r}/{a.rounds} [{pass_name}] {label}: load {loadavg()} ...")
                    cpu_before = server_cpu(servers[label].proc.pid) if label in servers else None
                    rc_h, secs = run_harness(
                        procs,
                        bench_python,
                        env,
                        label,
                        targets_args[label],
                        [*common, *extra],
                        jsonl[label],
                        harness_log,
                        a.harness_timeout,
                    )
                    if cpu_before is not None:
                        cpu_runs.setdefault((label, pass_name), []).append(
                            server_cpu(servers[label].proc.pid) - cpu_before
                        )
                    if a.verbose:
                        log(tail(harness_log, 40))
                    log(
                        f"  {label}: {secs:.0f} s, {'ok' if rc_h == 0 else f'SOME SCENARIOS FAILED (rc={rc_h})'}"
                    )
        if a.ws_idle > 0:
            for label in (JS, OURS):
                if label in servers:
                    log(f"memory: {a.ws_idle} idle WebSockets to {a.ws_kernels} kernels of {label} ...")
                    try:
                        memory[label] = measure_idle_websockets(
                            procs,
                            bench_python,
                            env,
                            servers[label],
                            a.ws_idle,
                            a.ws_kernels,
                            a.settle,
                            harness_log,
                        )
                        log(f"  {json.dumps(memory[label])}")
                    except Exception as exc:
                        memory[label] = {"error": repr(exc)}
                        log(f"  FAILED: {exc!r}")
        if a.profile:
            out_dir = Path(a.profile).resolve()
            out_dir.mkdir(parents=True, exist_ok=True)
            ensure_bench_venv(Path(a.bench_venv), project_python, a.jupyter_server_version, True)
            for scenario in a.profile_scenarios.split(","):
                for label in (JS_NODELAY, OURS):
                    if label in servers:
                        log(f"profile: py-spy on {label} during one {scenario} run ...")
                        files = profile_scenario(
                            procs, bench_python, env, servers[label], scenario, a, out_dir, work
                        )
                        key = f"{label}/{scenario}"
                        profiles[key] = {"files": files, **hottest(Path(files["raw"]))}
                        log(f"  {key}: {profiles[key]['samples']} samples; self time:")
                        for pct, frame in profiles[key]["self"]:
                            log(f"    {pct:5.1f}%  {frame}")
        groups = collect(jsonl.values())
        meta["kernel"] = kernel_metas(jsonl.values())
        meta["loadavg_end"] = loadavg()
        meta["seconds"] = round(time.monotonic() - started, 1)
        concurrency = [int(k) for k in a.concurrency.split(",") if k.strip()]
        flush_stream = any(name == FLUSH_PASS for name, _extra in passes)
        cpu_rows = server_cpu_rows(cpu_runs, a, groups)
        targets = build_targets(groups, memory, concurrency, flush_stream)
        print_report(groups, memory, targets, concurrency, flush_stream, meta, cpu_rows)
        figures = {}
        for title, scenario, variant, key, _higher in table_rows(groups, concurrency, flush_stream, memory):
            figures[title] = {label: median_of(groups, label, scenario, variant, key) for label in LABELS}
        figures.update(cpu_rows)
        runs = run_summary(groups)
        result = {
            "benchmark": "kernels_vs_jupyter_server",
            "figures": figures,
            "memory": memory,
            "targets": targets,
            "all_targets_met": all(t["met"] for t in targets.values()),
            "runs": runs,
            "profiles": profiles,
            "machine": meta,
        }
        print(json.dumps(result), flush=True)
        rc = 0 if result["all_targets_met"] else 2
    except KeyboardInterrupt:
        log("interrupted: stopping everything ...")
        rc = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        procs.stop_all()
        if a.keep:
            keep = Path(a.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for path in work.iterdir():
                if path.suffix in (".jsonl", ".log"):
                    shutil.copy(path, keep / path.name)
            log(f"raw JSON lines and logs copied to {keep}")
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
