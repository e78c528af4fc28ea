#!/usr/bin/env python3
# Groundup LMS: our team's kernel benchmark harness (kernel_bench 1.0), vendored unchanged except for this
# header. It drives any server with the Jupyter Server kernels API (or, with --backend raw, jupyter_client
# in-process: the floor). benchmarks/kernels_vs_jupyter_server.py runs it; see benchmarks/harness/README.md.
# Needs only aiohttp (requirements.txt); it is run from a separate venv, not the project's.
"""kernel_bench.py - side-by-side benchmark for servers that proxy Jupyter kernels.

Targets any server exposing the Jupyter Server kernels API:

    POST   {prefix}/kernels            {"name": KERNEL}  -> {"id": ...}
    GET    {prefix}/kernels/{id}
    DELETE {prefix}/kernels/{id}
    WS     {prefix}/kernels/{id}/channels   (default JSON text-frame protocol,
                                             messages carry a "channel" field)

Scenarios: start, rtt, stream, concurrent, image (see --help / README.md).

Output: one JSON object per line on stdout (one line per scenario, or per
scenario+K for "concurrent", then a final "meta" line with versions); a
human-readable table and progress on stderr.  Exit status is non-zero if any scenario failed (missing
or wrong outputs, HTTP errors, timeouts).

Only dependency: aiohttp (see requirements.txt).  "--backend raw" instead
drives kernels in-process through jupyter_client (no web layer) as a floor;
it needs jupyter_client + ipykernel importable in the same Python.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hashlib
import json
import math
import os
import platform
import statistics
import struct
import sys
import time
import uuid
import zlib
from urllib.parse import quote, urlsplit

__version__ = "1.0"

pc = time.perf_counter


class BenchError(Exception):
    """A check failed: the scenario is reported as failed and the exit code is non-zero."""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# statistics helpers
# --------------------------------------------------------------------------

def pct(xs, p):
    """Percentile with linear interpolation (numpy's default)."""
    s = sorted(xs)
    if not s:
        return None
    k = (len(s) - 1) * p / 100.0
    f = math.floor(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def r3(x):
    return None if x is None else round(x, 3)


# --------------------------------------------------------------------------
# Jupyter message helpers
# --------------------------------------------------------------------------

def make_msg(msg_type, content, session_id, channel="shell"):
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "kernel_bench",
            "session": session_id,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": channel,
    }


def decode_binary_ws_message(data: bytes) -> dict:
    """Jupyter Server's legacy binary framing (used for messages with buffers).

    uint32 nbufs, nbufs x uint32 offsets, then JSON message, then buffers.
    """
    nbufs = struct.unpack("!I", data[:4])[0]
    offsets = list(struct.unpack("!" + "I" * nbufs, data[4:4 + 4 * nbufs]))
    offsets.append(len(data))
    msg = json.loads(data[offsets[0]:offsets[1]].decode("utf8"))
    msg["buffers"] = [data[offsets[i]:offsets[i + 1]] for i in range(1, nbufs)]
    return msg


class Request:
    """Tracks everything the kernel sends back for one request (by parent msg_id)."""

    __slots__ = ("msg_id", "msg_type", "t_send", "t_idle", "t_reply", "t_first_output",
                 "outputs", "reply", "idle", "replied", "error", "busy_seen")

    def __init__(self, msg_id, msg_type):
        self.msg_id = msg_id
        self.msg_type = msg_type
        self.t_send = None
        self.t_idle = None
        self.t_reply = None
        self.t_first_output = None
        self.outputs = []          # iopub messages other than status / execute_input
        self.reply = None
        self.idle = asyncio.Event()
        self.replied = asyncio.Event()
        self.error = None
        self.busy_seen = False

    def on_msg(self, msg, now):
        ch = msg.get("channel")
        mt = msg.get("header", {}).get("msg_type") or msg.get("msg_type")
        if ch == "iopub":
            if mt == "status":
                st = msg.get("content", {}).get("execution_state")
                if st == "idle":
                    self.t_idle = now
                    self.idle.set()
                elif st == "busy":
                    self.busy_seen = True
            elif mt == "execute_input":
                pass
            else:
                if self.t_first_output is None:
                    self.t_first_output = now
                self.outputs.append(msg)
        elif ch in ("shell", "control"):
            if mt and mt.endswith("_reply"):
                self.reply = msg
                self.t_reply = now
                self.replied.set()

    def fail(self, exc):
        self.error = exc
        self.idle.set()
        self.replied.set()


class KernelSession:
    """One kernel channels connection plus a reader task routing messages to Requests."""

    def __init__(self, conn, kernel_id, label=""):
        self.conn = conn
        self.kernel_id = kernel_id
        self.label = label
        self.session_id = conn.session_id
        self.pending: dict[str, Request] = {}
        self.unrouted = 0
        self.dead: Exception | None = None
        self.reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self):
        try:
            while True:
                msg = await self.conn.recv()
                now = pc()
                parent = (msg.get("parent_header") or {}).get("msg_id")
                req = self.pending.get(parent)
                if req is None:
                    self.unrouted += 1
                    continue
                req.on_msg(msg, now)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # connection closed or protocol error
            self.dead = e
            for req in list(self.pending.values()):
                req.fail(e)

    async def send(self, msg_type, content, channel="shell") -> Request:
        if self.dead is not None:
            raise BenchError(f"channels connection of kernel {self.kernel_id} is closed: {self.dead!r}")
        msg = make_msg(msg_type, content, self.session_id, channel)
        req = Request(msg["header"]["msg_id"], msg_type)
        self.pending[req.msg_id] = req
        req.t_send = pc()
        await self.conn.send(msg)
        return req

    def forget(self, req):
        self.pending.pop(req.msg_id, None)

    async def wait(self, req, what, timeout):
        ev = req.idle if what == "idle" else req.replied
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            raise BenchError(
                f"timeout ({timeout}s) waiting for {what} of {req.msg_type} {req.msg_id[:8]} "
                f"on kernel {self.kernel_id} (outputs so far: {len(req.outputs)}, "
                f"reply: {req.reply is not None}, busy seen: {req.busy_seen})") from None
        if req.error is not None:
            raise BenchError(f"connection failed while waiting for {what}: {req.error!r}")

    async def kernel_info(self, timeout, retry_every=5.0):
        """Send kernel_info_request until a reply arrives (resend every retry_every s)."""
        deadline = pc() + timeout
        reqs = []
        while True:
            req = await self.send("kernel_info_request", {}, "shell")
            reqs.append(req)
            remaining = deadline - pc()
            if remaining <= 0:
                break
            waiters = [asyncio.ensure_future(r.replied.wait()) for r in reqs]
            done, pend = await asyncio.wait(waiters, timeout=min(retry_every, remaining),
                                            return_when=asyncio.FIRST_COMPLETED)
            for w in pend:
                w.cancel()
            got = [r for r in reqs if r.replied.is_set()]
            if got:
                r = got[0]
                for x in reqs:
                    self.forget(x)
                if r.error is not None:
                    raise BenchError(f"channels connection failed before kernel_info_reply: {r.error!r}")
                c = r.reply.get("content", {})
                if c.get("status", "ok") != "ok":
                    raise BenchError(f"kernel_info_reply status {c.get('status')!r}: {c}")
                if "language_info" not in c:
                    raise BenchError(f"kernel_info_reply without language_info: {c}")
                return r, len(reqs)
            if pc() >= deadline:
                break
        for x in reqs:
            self.forget(x)
        raise BenchError(f"no kernel_info_reply within {timeout}s from kernel {self.kernel_id} "
                         f"({len(reqs)} requests sent)")

    async def close(self):
        self.reader.cancel()
        try:
            await self.reader
        except (asyncio.CancelledError, Exception):
            pass
        await self.conn.close()


STORE_HISTORY = False   # set from --store-history


def exec_content(code):
    # store_history=False by default: with True, IPython commits every cell to its
    # sqlite history, which costs the kernel ~10 ms per cell on a busy disk and
    # hides the transport being measured.  --store-history does what JupyterLab does.
    return {"code": code, "silent": False, "store_history": STORE_HISTORY, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}


def check_reply_ok(req, what):
    if req.reply is None:
        raise BenchError(f"{what}: no execute_reply")
    c = req.reply.get("content", {})
    if c.get("status") != "ok":
        raise BenchError(f"{what}: execute_reply status {c.get('status')!r}: "
                         f"{c.get('ename')}: {c.get('evalue')}")
    for o in req.outputs:
        mt = o.get("header", {}).get("msg_type")
        if mt == "error":
            raise BenchError(f"{what}: kernel error output {o.get('content')}")


def stderr_text(req):
    return "".join(o["content"].get("text", "") for o in req.outputs
                   if o.get("header", {}).get("msg_type") == "stream"
                   and o["content"].get("name") == "stderr")


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------

class WebConn:
    def __init__(self, ws, session_id):
        self.ws = ws
        self.session_id = session_id
        self.bytes_in = 0

    async def send(self, msg):
        await self.ws.send_str(json.dumps(msg))

    async def recv(self):
        import aiohttp
        while True:
            m = await self.ws.receive()
            if m.type == aiohttp.WSMsgType.TEXT:
                self.bytes_in += len(m.data)
                return json.loads(m.data)
            if m.type == aiohttp.WSMsgType.BINARY:
                self.bytes_in += len(m.data)
                return decode_binary_ws_message(m.data)
            if m.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
                continue
            raise ConnectionError(f"websocket closed: type={m.type} data={m.data!r} "
                                  f"close_code={self.ws.close_code}")

    async def close(self):
        await self.ws.close()


class WebBackend:
    """Talks to a server over HTTP + WebSocket with aiohttp."""

    name = "web"

    def __init__(self, args):
        self.args = args
        self.base = args.base_url.rstrip("/")
        p = args.prefix.strip("/")
        self.prefix = ("/" + p) if p else ""
        u = urlsplit(self.base)
        if u.scheme not in ("http", "https"):
            raise SystemExit("--base-url must start with http:// or https://")
        self.ws_base = ("wss://" if u.scheme == "https" else "ws://") + u.netloc + u.path.rstrip("/")
        h = {}
        if args.token:
            h["Authorization"] = f"token {args.token}"
        if args.cookie:
            h["Cookie"] = args.cookie
            jar = {}
            for part in args.cookie.split(";"):
                if "=" in part:
                    k, v = part.strip().split("=", 1)
                    jar[k] = v
            if "_xsrf" in jar:            # Jupyter Server / tornado
                h["X-XSRFToken"] = jar["_xsrf"]
            if "csrftoken" in jar:        # Django
                h["X-CSRFToken"] = jar["csrftoken"]
        origin = args.origin if args.origin is not None else f"{u.scheme}://{u.netloc}"
        if origin:
            h["Origin"] = origin
        for hv in args.header or []:
            k, v = hv.split(":", 1)
            h[k.strip()] = v.strip()
        self.headers = h
        self.http = None

    async def __aenter__(self):
        import aiohttp
        self._aiohttp = aiohttp
        conn = aiohttp.TCPConnector(limit=0, ssl=False if self.args.insecure else None)
        self.http = aiohttp.ClientSession(connector=conn, headers=self.headers,
                                          cookie_jar=aiohttp.DummyCookieJar(),
                                          timeout=aiohttp.ClientTimeout(total=self.args.timeout))
        return self

    async def __aexit__(self, *exc):
        await self.http.close()

    def url(self, path):
        return self.base + self.prefix + path

    async def _json(self, resp, what):
        body = await resp.text()
        if resp.status >= 300:
            raise BenchError(f"{what}: HTTP {resp.status}: {body[:500]}")
        try:
            return json.loads(body) if body else None
        except ValueError:
            raise BenchError(f"{what}: HTTP {resp.status} but body is not JSON: {body[:300]!r}") from None

    async def server_info(self):
        info = {"base_url": self.base, "prefix": self.prefix or "/"}
        try:
            async with self.http.get(self.url("")) as r:
                info["api_root_status"] = r.status
                info["server_header"] = r.headers.get("Server")
                if r.status == 200:
                    try:
                        info["api_root"] = json.loads(await r.text())
                    except ValueError:
                        pass
        except Exception as e:  # informative only
            info["api_root_error"] = repr(e)
        return info

    async def create_kernel(self):
        async with self.http.post(self.url("/kernels"), json={"name": self.args.kernel_name}) as r:
            body = await self._json(r, "POST /kernels")
        if not isinstance(body, dict) or not body.get("id"):
            raise BenchError(f"POST /kernels: response has no 'id': {body!r}")
        return body["id"]

    async def get_kernel(self, kid):
        async with self.http.get(self.url(f"/kernels/{kid}")) as r:
            if r.status == 404:
                return None
            return await self._json(r, f"GET /kernels/{kid}")

    async def delete_kernel(self, kid):
        async with self.http.delete(self.url(f"/kernels/{kid}")) as r:
            await self._json(r, f"DELETE /kernels/{kid}")

    async def connect(self, kid):
        sid = uuid.uuid4().hex
        url = f"{self.ws_base}{self.prefix}/kernels/{kid}/channels?session_id={sid}"
        if self.args.token and self.args.token_in_query:
            url += "&token=" + quote(self.args.token)
        try:
            ws = await self.http.ws_connect(url, max_msg_size=0, compress=0, autoping=True,
                                            timeout=self._aiohttp.ClientWSTimeout(ws_close=10)
                                            if hasattr(self._aiohttp, "ClientWSTimeout") else 10)
        except self._aiohttp.WSServerHandshakeError as e:
            raise BenchError(f"websocket handshake to {url} failed: HTTP {e.status} {e.message}") from None
        return WebConn(ws, sid)


class RawConn:
    """jupyter_client channels, merged into one queue (no web layer)."""

    def __init__(self, kc, session_id):
        self.kc = kc
        self.session_id = session_id
        self.q: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._pump(name, getattr(kc, name + "_channel")))
                      for name in ("shell", "iopub", "control")]

    async def _pump(self, name, ch):
        from queue import Empty
        try:
            while True:
                # public API; the poll timeout guards against a missed wake-up
                # (a recv pending while the same socket sends can stall in pyzmq)
                try:
                    msg = await ch.get_msg(timeout=1.0)
                except Empty:
                    continue
                msg["channel"] = name
                self.q.put_nowait(msg)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.q.put_nowait(e)

    async def send(self, msg):
        msg = dict(msg)
        ch = msg.pop("channel")
        getattr(self.kc, ch + "_channel").send(msg)

    async def recv(self):
        m = await self.q.get()
        if isinstance(m, Exception):
            raise m
        return m

    async def close(self):
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self.kc.stop_channels()


class RawBackend:
    """AsyncKernelManager + AsyncKernelClient in this process: the floor."""

    name = "raw"

    def __init__(self, args):
        self.args = args
        self.kms = {}

    async def __aenter__(self):
        try:
            from jupyter_client.manager import AsyncKernelManager  # noqa: F401
        except ImportError:
            raise SystemExit("--backend raw needs jupyter_client and ipykernel installed") from None
        return self

    async def __aexit__(self, *exc):
        for kid in list(self.kms):
            try:
                await self.delete_kernel(kid)
            except Exception:
                pass

    async def server_info(self):
        import jupyter_client
        return {"backend": "raw jupyter_client", "jupyter_client": jupyter_client.__version__}

    async def create_kernel(self):
        from jupyter_client.manager import AsyncKernelManager
        km = AsyncKernelManager(kernel_name=self.args.kernel_name)
        await km.start_kernel()
        kid = uuid.uuid4().hex
        self.kms[kid] = km
        return kid

    async def get_kernel(self, kid):
        km = self.kms.get(kid)
        return {"id": kid, "name": self.args.kernel_name} if km else None

    async def delete_kernel(self, kid):
        km = self.kms.pop(kid)
        await km.shutdown_kernel(now=False)

    async def connect(self, kid):
        kc = self.kms[kid].client()
        kc.start_channels()
        # make sure the iopub subscription is live (what the web server's "nudge" does)
        await kc.wait_for_ready(timeout=self.args.timeout)
        return RawConn(kc, uuid.uuid4().hex)


# --------------------------------------------------------------------------
# Scenario code run inside the kernel
# --------------------------------------------------------------------------

PNG_SRC = r'''
def _bench_png(w, h):
    import struct, zlib
    def chunk(t, d):
        return struct.pack("!I", len(d)) + t + d + struct.pack("!I", zlib.crc32(t + d) & 0xffffffff)
    base = bytes(range(256)) * 3
    n = 3 * w
    base = (base * (n // len(base) + 2))
    rows = [b"\x00" + base[y % 768:y % 768 + n] for y in range(h)]
    ihdr = struct.pack("!IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 0)) + chunk(b"IEND", b""))
'''


def png_dims(kb):
    w = 256
    h = max(1, math.ceil(kb * 1024 / (1 + 3 * w)))
    return w, h


def expected_png(w, h):
    ns = {}
    exec(PNG_SRC, ns)
    return ns["_bench_png"](w, h)


def stream_code(lines, line_bytes, flush_every=0):
    pad = line_bytes - 9
    code = (f"import sys\n_pad = 'x' * {pad}\n"
            f"for _i in range({lines}):\n"
            f"    print(f'{{_i:07d}}|{{_pad}}')\n")
    if flush_every > 0:   # force many stream messages instead of ipykernel's coalesced few
        code += f"    if _i % {flush_every} == {flush_every - 1}: sys.stdout.flush()\n"
    return code


def stream_expected(lines, line_bytes):
    pad = "x" * (line_bytes - 9)
    return "".join(f"{i:07d}|{pad}\n" for i in range(lines))


# --------------------------------------------------------------------------
# Scenarios (each returns a dict of figures for one run)
# --------------------------------------------------------------------------

async def open_kernel(backend, args, label=""):
    kid = await backend.create_kernel()
    try:
        conn = await backend.connect(kid)
    except BaseException:
        await safe_delete(backend, kid)
        raise
    ks = KernelSession(conn, kid, label)
    try:
        r, _ = await ks.kernel_info(args.timeout)
        if getattr(backend, "kernel_info_content", None) is None:
            backend.kernel_info_content = r.reply.get("content", {})
    except BaseException:
        await ks.close()
        await safe_delete(backend, kid)
        raise
    return ks


async def safe_delete(backend, kid):
    try:
        await backend.delete_kernel(kid)
    except Exception as e:
        log(f"  warning: could not delete kernel {kid}: {e!r}")


async def close_kernel(backend, ks):
    await ks.close()
    await backend.delete_kernel(ks.kernel_id)


async def warmup(ks, args, n):
    for i in range(n):
        req = await ks.send("execute_request", exec_content("1+1"))
        await ks.wait(req, "idle", args.timeout)
        await ks.wait(req, "reply", args.timeout)
        check_reply_ok(req, "warmup")
        ks.forget(req)


def check_result_2(req, what):
    for o in req.outputs:
        if o.get("header", {}).get("msg_type") == "execute_result":
            got = o.get("content", {}).get("data", {}).get("text/plain")
            if got != "2":
                raise BenchError(f"{what}: execute_result text/plain is {got!r}, expected '2'")
            return
    raise BenchError(f"{what}: no execute_result among {len(req.outputs)} outputs "
                     f"({[o.get('header', {}).get('msg_type') for o in req.outputs]})")


async def sc_start(backend, args, meta):
    totals, posts, wss, infos, deletes, gets = [], [], [], [], [], []
    retries = 0
    for i in range(args.start_n):
        t0 = pc()
        kid = await backend.create_kernel()
        t1 = pc()
        try:
            conn = await backend.connect(kid)
        except BaseException:
            await safe_delete(backend, kid)
            raise
        t2 = pc()
        ks = KernelSession(conn, kid)
        try:
            r, nsent = await ks.kernel_info(args.timeout)
            t3 = r.t_reply
            retries += nsent - 1
            if getattr(backend, "kernel_info_content", None) is None:
                backend.kernel_info_content = r.reply.get("content", {})
            tg = pc()
            model = await backend.get_kernel(kid)
            gets.append((pc() - tg) * 1000)
            if not model or model.get("id") != kid:
                raise BenchError(f"GET /kernels/{kid} returned {model!r}")
        finally:
            await ks.close()
        t4 = pc()
        await backend.delete_kernel(kid)
        t5 = pc()
        if await backend.get_kernel(kid) is not None:
            raise BenchError(f"kernel {kid} still listed (GET != 404) after DELETE")
        totals.append((t3 - t0) * 1000)
        posts.append((t1 - t0) * 1000)
        wss.append((t2 - t1) * 1000)
        infos.append((t3 - t2) * 1000)
        deletes.append((t5 - t4) * 1000)
        log(f"  start {i + 1}/{args.start_n}: {totals[-1]:.0f} ms")
    return {
        "n": args.start_n,
        "cold_start_ms_min": r3(min(totals)),
        "cold_start_ms_median": r3(statistics.median(totals)),
        "cold_start_ms_p95": r3(pct(totals, 95)),
        "post_ms_median": r3(statistics.median(posts)),
        "ws_connect_ms_median": r3(statistics.median(wss)),
        "ws_to_kernel_info_ms_median": r3(statistics.median(infos)),
        "get_ms_median": r3(statistics.median(gets)),
        "delete_ms_median": r3(statistics.median(deletes)),
        "kernel_info_resends": retries,
    }


async def rtt_loop(ks, args, n, lat):
    """n sequential `1+1` executes; latency = send -> status idle. Replies verified at the end."""
    reqs = []
    for i in range(n):
        req = await ks.send("execute_request", exec_content("1+1"))
        await ks.wait(req, "idle", args.timeout)
        lat.append((req.t_idle - req.t_send) * 1000)
        check_result_2(req, f"rtt #{i}")
        reqs.append(req)
    for i, req in enumerate(reqs):
        await ks.wait(req, "reply", args.timeout)
        check_reply_ok(req, f"rtt #{i}")
        ks.forget(req)


async def sc_rtt(backend, args, meta):
    ks = await open_kernel(backend, args)
    try:
        await warmup(ks, args, args.warmup)
        lat = []
        t0 = pc()
        await rtt_loop(ks, args, args.rtt_n, lat)
        wall = pc() - t0
    finally:
        await close_kernel(backend, ks)
    return {
        "n": args.rtt_n,
        "p50_ms": r3(pct(lat, 50)), "p95_ms": r3(pct(lat, 95)), "p99_ms": r3(pct(lat, 99)),
        "mean_ms": r3(statistics.fmean(lat)), "max_ms": r3(max(lat)),
        "req_per_s": r3(args.rtt_n / wall),
    }


async def sc_stream(backend, args, meta):
    lines, lb = args.stream_lines, args.stream_line_bytes
    expected = stream_expected(lines, lb)
    ks = await open_kernel(backend, args)
    try:
        await warmup(ks, args, 3)
        req = await ks.send("execute_request",
                            exec_content(stream_code(lines, lb, args.stream_flush_every)))
        await ks.wait(req, "idle", args.stream_timeout)
        await ks.wait(req, "reply", args.timeout)
        check_reply_ok(req, "stream")
        ks.forget(req)
    finally:
        await close_kernel(backend, ks)
    chunks = [o["content"].get("text", "") for o in req.outputs
              if o.get("header", {}).get("msg_type") == "stream"
              and o["content"].get("name") == "stdout"]
    got = "".join(chunks)
    if got != expected:
        first_bad = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
                         min(len(got), len(expected)))
        err = stderr_text(req)
        raise BenchError(
            f"stream output mismatch: got {len(got)} bytes / {got.count(chr(10))} lines, expected "
            f"{len(expected)} bytes / {lines} lines; first difference at byte {first_bad}"
            + (f"; stderr: {err[:400]!r}" if err else ""))
    wall = req.t_idle - req.t_send
    nbytes = len(got.encode())
    return {
        "bytes": nbytes, "lines": lines, "messages": len(chunks),
        "flush_every": args.stream_flush_every,
        "wall_s": r3(wall),
        "first_output_ms": r3((req.t_first_output - req.t_send) * 1000),
        "mb_per_s": r3(nbytes / 1e6 / wall),
    }


async def sc_image(backend, args, meta):
    w, h = png_dims(args.image_kb)
    png = expected_png(w, h)
    digest = hashlib.sha256(png).hexdigest()
    code = PNG_SRC + (f"from IPython.display import display, Image\n"
                      f"display(Image(data=_bench_png({w}, {h}), format='png'))\n")
    ks = await open_kernel(backend, args)
    lat = []
    b64len = 0
    try:
        await warmup(ks, args, 3)
        for i in range(args.image_n + 1):   # first one is a warm-up (imports IPython.display)
            req = await ks.send("execute_request", exec_content(code))
            await ks.wait(req, "idle", args.timeout)
            await ks.wait(req, "reply", args.timeout)
            check_reply_ok(req, f"image #{i}")
            ks.forget(req)
            dd = [o for o in req.outputs if o.get("header", {}).get("msg_type") == "display_data"]
            if len(dd) != 1:
                raise BenchError(f"image #{i}: expected 1 display_data, got {len(dd)} "
                                 f"(outputs {[o.get('header', {}).get('msg_type') for o in req.outputs]})")
            data = dd[0]["content"].get("data", {}).get("image/png")
            if not isinstance(data, str):
                raise BenchError(f"image #{i}: display_data has no image/png string "
                                 f"(keys {list(dd[0]['content'].get('data', {}))})")
            raw = base64.b64decode(data)
            if len(raw) != len(png) or hashlib.sha256(raw).hexdigest() != digest:
                raise BenchError(f"image #{i}: PNG differs: got {len(raw)} bytes, expected {len(png)}")
            b64len = len(data)
            if i > 0:
                lat.append((req.t_idle - req.t_send) * 1000)
    finally:
        await close_kernel(backend, ks)
    med = statistics.median(lat)
    return {
        "n": args.image_n, "png_bytes": len(png), "b64_bytes": b64len,
        "ms_median": r3(med), "ms_p95": r3(pct(lat, 95)), "ms_min": r3(min(lat)),
        "mb_per_s_median": r3(len(png) / 1e6 / (med / 1000)),
    }


async def sc_concurrent_k(backend, args, meta, k):
    sem = asyncio.Semaphore(args.start_parallel)
    sessions = []

    async def opener(i):
        async with sem:
            ks = await open_kernel(backend, args, label=f"k{i}")
            sessions.append(ks)
            await warmup(ks, args, 3)

    try:
        t_open = pc()
        res = await asyncio.gather(*(opener(i) for i in range(k)), return_exceptions=True)
        errs = [e for e in res if isinstance(e, BaseException)]
        if errs:
            raise BenchError(f"concurrent K={k}: {len(errs)} kernels failed to start: {errs[0]!r}")
        open_s = pc() - t_open
        log(f"  concurrent K={k}: {k} kernels ready in {open_s:.1f}s")
        lat = []
        per_k = []

        async def worker(ks):
            mine = []
            await rtt_loop(ks, args, args.concurrent_m, mine)
            lat.extend(mine)
            per_k.append(statistics.median(mine))

        t0 = pc()
        await asyncio.gather(*(worker(ks) for ks in sessions))
        wall = pc() - t0
    finally:
        async def closer(ks):
            async with sem:
                try:
                    await close_kernel(backend, ks)
                except Exception as e:
                    log(f"  warning: closing kernel {ks.kernel_id}: {e!r}")
        await asyncio.gather(*(closer(ks) for ks in sessions))
    total = k * args.concurrent_m
    if len(lat) != total:
        raise BenchError(f"concurrent K={k}: {len(lat)} results, expected {total}")
    return {
        "k": k, "m": args.concurrent_m, "executes": total,
        "throughput_per_s": r3(total / wall),
        "p50_ms": r3(pct(lat, 50)), "p95_ms": r3(pct(lat, 95)), "p99_ms": r3(pct(lat, 99)),
        "worst_kernel_median_ms": r3(max(per_k)),
        "startup_all_s": r3(open_s),
    }


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

HEADLINE = {
    "start": ("cold_start_ms_median", "ms", ["cold_start_ms_min", "cold_start_ms_p95", "delete_ms_median"]),
    "rtt": ("p50_ms", "ms", ["p95_ms", "p99_ms", "req_per_s"]),
    "stream": ("mb_per_s", "MB/s", ["wall_s", "bytes", "messages"]),
    "concurrent": ("throughput_per_s", "exec/s", ["p50_ms", "p95_ms", "p99_ms"]),
    "image": ("ms_median", "ms", ["ms_p95", "mb_per_s_median", "png_bytes"]),
}


def combine(runs):
    """Median of each numeric figure across repeated runs."""
    out = {}
    for key in runs[0]:
        vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        if len(vals) == len(runs):
            m = statistics.median(vals)
            out[key] = r3(m) if isinstance(m, float) else m
        else:
            out[key] = runs[0][key]
    return out


async def run_scenario(name, fn, backend, args, meta, extra=None, params=None):
    """Run one scenario --repeat times.  A failed run does not stop the others
    (so intermittent failures get a rate), except with --fail-fast or when the
    failure is not a check (BenchError) - e.g. the server is unreachable."""
    runs, errors = [], []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for rep in range(args.repeat):
        log(f"[{name}{'' if extra is None else ' ' + str(extra)}] run {rep + 1}/{args.repeat}")
        try:
            runs.append(await fn(backend, args, meta))
            log(f"  -> {json.dumps(runs[-1])}")
        except BenchError as e:
            errors.append(f"{type(e).__name__}: {e}")
            log(f"  FAILED: {errors[-1]}")
            if args.fail_fast:
                break
        except Exception as e:  # timeouts, connection refused, aiohttp errors...
            errors.append(f"{type(e).__name__}: {e}")
            log(f"  FAILED: {errors[-1]}")
            break
    line = {"scenario": name, "label": args.label, "backend": backend.name, "ok": not errors,
            "repeat": args.repeat}
    line.update(params or {})   # variant keys (k, flush_every) are present even on failure
    if errors:
        line["error"] = errors[0]
        line["failed_runs"] = len(errors)
        line["errors"] = errors
    if load_before is not None:   # other load on the machine skews results: keep a trace
        line["loadavg_1m_before"] = round(load_before, 2)
        line["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    if runs:
        line.update(combine(runs))
        line["runs"] = runs
    print(json.dumps(line), flush=True)
    return line


async def amain(args):
    backend = RawBackend(args) if args.backend == "raw" else WebBackend(args)
    results = []
    async with backend:
        meta = {"scenario": "meta", "label": args.label, "backend": backend.name,
                "harness_version": __version__, "python": platform.python_version(),
                "platform": platform.platform(), "cpus": os.cpu_count(),
                "kernel_name": args.kernel_name, "scenarios": args.scenarios,
                "store_history": STORE_HISTORY,
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        try:
            import aiohttp
            meta["aiohttp"] = aiohttp.__version__
        except ImportError:
            pass
        meta["server"] = await backend.server_info()
        scen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        for s in scen:
            if s not in HEADLINE:
                raise SystemExit(f"unknown scenario {s!r}; choose from {','.join(HEADLINE)}")
        fns = {"start": sc_start, "rtt": sc_rtt, "stream": sc_stream, "image": sc_image}
        for s in scen:
            if s == "concurrent":
                for k in [int(x) for x in str(args.concurrency).split(",")]:
                    async def fn(b, a, m, k=k):
                        return await sc_concurrent_k(b, a, m, k)
                    results.append(await run_scenario(s, fn, backend, args, meta, extra=f"K={k}",
                                                      params={"k": k}))
            elif s == "stream":
                results.append(await run_scenario(
                    s, fns[s], backend, args, meta,
                    extra=f"flush_every={args.stream_flush_every}" if args.stream_flush_every else None,
                    params={"flush_every": args.stream_flush_every}))
            else:
                results.append(await run_scenario(s, fns[s], backend, args, meta))
            if args.fail_fast and not results[-1]["ok"]:
                break
        c = getattr(backend, "kernel_info_content", None)
        if c:
            meta["kernel"] = {k: c.get(k) for k in ("implementation", "implementation_version",
                                                    "protocol_version")}
            meta["kernel"]["language_version"] = c.get("language_info", {}).get("version")
        print(json.dumps(meta), flush=True)
    print_table(results, args)
    return 0 if results and all(r["ok"] for r in results) else 1


def print_table(results, args):
    rows = [("scenario", "headline", "other figures (medians of %d runs)" % args.repeat)]
    for r in results:
        name = r["scenario"] + (f" K={r['k']}" if "k" in r else "") + \
            (f" flush={r['flush_every']}" if r.get("flush_every") else "")
        if not r["ok"]:
            rows.append((name, f"FAILED {r.get('failed_runs', 1)}/{r['repeat']} runs",
                         r.get("error", "")[:160]))
            continue
        key, unit, others = HEADLINE[r["scenario"]]
        rows.append((name, f"{r[key]} {unit} ({key})",
                     "  ".join(f"{o}={r.get(o)}" for o in others)))
    w0 = max(len(x[0]) for x in rows)
    w1 = max(len(x[1]) for x in rows)
    log("")
    log(f"kernel_bench {args.label or ''} backend={args.backend} "
        f"{'' if args.backend == 'raw' else args.base_url + (args.prefix or '')}")
    for i, (a, b, c) in enumerate(rows):
        log(f"{a:<{w0}}  {b:<{w1}}  {c}")
        if i == 0:
            log("-" * (w0 + w1 + 4 + max(len(x[2]) for x in rows)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--base-url", default="http://127.0.0.1:8888",
                   help="server root, e.g. http://127.0.0.1:8000")
    p.add_argument("--prefix", default="/api", help="API prefix, e.g. /lms/api")
    p.add_argument("--token", default=os.environ.get("KERNEL_BENCH_TOKEN"),
                   help="sends 'Authorization: token TOKEN' (env KERNEL_BENCH_TOKEN)")
    p.add_argument("--cookie", default=os.environ.get("KERNEL_BENCH_COOKIE"),
                   help="raw Cookie header, e.g. 'sessionid=..; csrftoken=..' (env KERNEL_BENCH_COOKIE); "
                        "_xsrf / csrftoken values are echoed as X-XSRFToken / X-CSRFToken")
    p.add_argument("--header", action="append", help="extra 'Name: value' header (repeatable)")
    p.add_argument("--origin", default=None,
                   help="Origin header sent on HTTP and WS (default: the base URL's origin; '' for none)")
    p.add_argument("--token-in-query", action="store_true",
                   help="also append ?token= to the websocket URL")
    p.add_argument("--insecure", action="store_true", help="don't verify TLS certificates")
    p.add_argument("--kernel-name", default="python3")
    p.add_argument("--backend", choices=["web", "raw"], default="web",
                   help="raw = in-process jupyter_client, no server (the floor)")
    p.add_argument("--scenarios", default="start,rtt,stream,concurrent,image")
    p.add_argument("--repeat", type=int, default=3, help="runs per scenario; medians reported")
    p.add_argument("--label", default="", help="free text copied into every JSON line")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    p.add_argument("--warmup", type=int, default=20, help="untimed executes before rtt")
    p.add_argument("--start-n", type=int, default=10, help="kernels started per start run")
    p.add_argument("--rtt-n", type=int, default=1000, help="executes per rtt run")
    p.add_argument("--stream-lines", type=int, default=10000)
    p.add_argument("--stream-line-bytes", type=int, default=2048, help="bytes per line incl. newline")
    p.add_argument("--stream-flush-every", type=int, default=0,
                   help="flush stdout every N lines (0: let ipykernel coalesce, typically into 1-3 "
                        "messages; 1: one message per line)")
    p.add_argument("--stream-timeout", type=float, default=300.0)
    p.add_argument("--concurrency", default="8,32", help="K values for the concurrent scenario")
    p.add_argument("--concurrent-m", type=int, default=100, help="executes per kernel")
    p.add_argument("--start-parallel", type=int, default=4,
                   help="kernels started/stopped at once while setting up 'concurrent'")
    p.add_argument("--image-kb", type=int, default=200, help="PNG size (KiB)")
    p.add_argument("--image-n", type=int, default=20, help="images per image run")
    p.add_argument("--store-history", action="store_true",
                   help="send store_history=true like JupyterLab (adds IPython's sqlite history cost)")
    p.add_argument("--fail-fast", action="store_true")
    a = p.parse_args(argv)
    if a.stream_line_bytes < 10:
        p.error("--stream-line-bytes must be >= 10")
    if a.repeat < 1:
        p.error("--repeat must be >= 1")
    return a


def main(argv=None):
    global STORE_HISTORY
    args = parse_args(argv)
    STORE_HISTORY = args.store_history
    try:
        rc = asyncio.run(amain(args))
    except KeyboardInterrupt:
        rc = 130
    sys.exit(rc)


if __name__ == "__main__":
    main()
