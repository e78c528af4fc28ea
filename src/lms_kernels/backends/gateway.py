"""The ``gateway`` backend: kernels on a remote Jupyter Server or Jupyter Enterprise Gateway.

The kernels run wherever the gateway puts them (its own host, a Kubernetes pod, a YARN container...); this
server starts, controls and reaches them only through the gateway's REST API and its kernel WebSocket, the
protocol Jupyter Server's own gateway client speaks:

=============  ==============================================================================================
start          ``POST {url}/api/kernels`` with ``{"name": <kernelspec>, "env": {KERNEL_*...}}``
shut down      ``DELETE {url}/api/kernels/{id}`` (a kernel the gateway no longer knows counts as shut down)
interrupt      ``POST {url}/api/kernels/{id}/interrupt``
restart        ``POST {url}/api/kernels/{id}/restart`` (the same remote kernel, so connections carry on);
               a remote kernel that is gone is replaced by a new one
alive?         ``GET {url}/api/kernels/{id}``: 404 (or the execution state ``dead``) means dead
channels       ``{ws_url}/api/kernels/{id}/channels``, see :class:`GatewayKernelChannels`
=============  ==============================================================================================

What any worker needs is stored on the kernel row: the connection info ``{"transport": "gateway",
"kernel_id": <remote id>}`` and the state ``{"kernel_id", "kernel_name"}``; the gateway's address and
token come from the options, so they can change without touching the rows.

**Kernelspecs.** An environment's kernels use the remote kernelspec ``backend_options["kernel_name"]``,
else ``kernel_name_map[slug]``, else the environment's slug.

**Resources** travel the way Enterprise Gateway expects them: as ``KERNEL_*`` variables in the start
request's ``env``, which its kernelspecs (e.g. the Kubernetes pod template) read; a plain Jupyter Server
ignores them. ``KERNEL_USERNAME`` is ``lms-<owner's primary key>`` (no learner's name or address leaves
the site; it is also a valid Kubernetes name), ``KERNEL_CPUS``/``KERNEL_CPUS_LIMIT`` the environment's CPU
limit, ``KERNEL_MEMORY``/``KERNEL_MEMORY_LIMIT`` its memory limit in bytes, ``KERNEL_GPUS``/
``KERNEL_GPUS_LIMIT`` its GPU count; then the ``env`` option and the environment's ``backend_options["env"]``
(these win). The gateway chooses the GPUs; ``CAPACITY["GPUS"]`` of a gateway backend only counts them.

**Errors.** A gateway that does not answer (refused, DNS, TLS, time-outs, and 5xx once the retries are
spent) is :class:`~lms_kernels.exceptions.BackendUnavailable` (503, code ``gateway_unreachable``); a
gateway that refuses the token is ``gateway_refused``, a kernelspec it does not have ``gateway_kernelspec_missing``.
Idempotent requests (``GET``, ``DELETE``) are retried ``retries`` times on connection errors and 5xx
answers, with capped exponential backoff and full jitter; the others only when the connection was refused
(the request never reached the gateway).

Options (``LMS_KERNELS["BACKENDS"][alias]["OPTIONS"]``): ``url`` (required: ``http(s)://host[:port][/base]``),
``ws_url`` (default: ``url`` with ``ws``/``wss``), ``token`` (sent as ``Authorization: token ...``),
``connect_timeout`` (s, default 20), ``request_timeout`` (s, default 120: a start on a cluster may wait for a
pod), ``retries`` (default 3), ``kernel_name_map`` (slug -> remote kernelspec), ``env`` (more ``KERNEL_*``
variables for every kernel), ``validate_cert`` (default ``True``).

Needs tornado (a dependency of jupyter_client; ``pip install 'groundup-lms[gateway]'``). No warm pools.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import secrets
import struct
import uuid
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

try:
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
    from tornado.websocket import (
        WebSocketClientConnection,
        WebSocketClosedError,
        WebSocketError,
        websocket_connect,
    )
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without tornado
    raise ImportError(
        "The gateway kernel backend needs tornado: pip install 'groundup-lms[gateway]'."
    ) from exc

import zmq
from django.utils.translation import gettext as _

from ..connection.protocol import V1_SUBPROTOCOL, encode_json_frame, encode_v1_frame
from ..exceptions import BackendUnavailable, KernelServiceError, KernelStartFailed
from .base import KernelBackend, StartedKernel

if TYPE_CHECKING:
    from ..models import Kernel, KernelEnvironment

__all__ = ["GatewayBackend", "GatewayKernelChannels"]

logger = logging.getLogger(__name__)

#: Environment ``backend_options`` keys this backend reads.
ENVIRONMENT_OPTIONS = {"kernel_name", "env"}
#: Largest WebSocket message taken from the gateway (a big output); larger ones close the connection.
MAX_FRAME = 512 * 1024 * 1024
#: Client messages held while the WebSocket (re)connects; more raise ``zmq.Again`` like a full DEALER queue.
MAX_OUTGOING = 1000
#: Concurrent requests to the gateway per event loop (a start on a cluster can take a while).
MAX_CLIENTS = 100
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0
WS_PING_INTERVAL = 30

_random = secrets.SystemRandom()


def backoff(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): capped exponential backoff with full jitter."""
    return _random.uniform(0, min(cap, base * 2**attempt))


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _string_dict(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _without_credentials(url: str) -> str:
    """``url`` as it may be shown: no user info, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _Unreachable(Exception):
    """A request that found no gateway (after its retries)."""


class GatewayBackend(KernelBackend):
    option_defaults = {
        "url": None,
        "ws_url": None,
        "token": None,
        "connect_timeout": 20.0,
        "request_timeout": 120.0,
        "retries": 3,
        "kernel_name_map": {},
        "env": {},
        "validate_cert": True,
    }

    def __init__(self, alias, options=None):
        super().__init__(alias, options)
        self.url = (self.options["url"] or "").rstrip("/")
        ws_url = self.options["ws_url"]
        if not ws_url:
            parts = urlsplit(self.url)
            ws_url = urlunsplit(({"https": "wss"}.get(parts.scheme, "ws"), *parts[1:]))
        self.ws_url = ws_url.rstrip("/")
        self.display_url = _without_credentials(self.url)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncHTTPClient] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def check_options(cls, options):
        problems = super().check_options(options)
        for name in ("url", "ws_url"):
            value = options.get(name)
            if value is None and name == "ws_url":
                continue
            schemes = ("http", "https") if name == "url" else ("ws", "wss")
            if (
                not isinstance(value, str)
                or urlsplit(value).scheme not in schemes
                or not urlsplit(value).netloc
            ):
                problems.append(
                    f"{name!r} must be {'an' if name == 'url' else 'a'} {' or '.join(schemes)} URL "
                    f"(the gateway's base URL){' and is required' if name == 'url' else ''}"
                )
        token = options.get("token")
        if token is not None and (not isinstance(token, str) or not token):
            problems.append("'token' must be a non-empty string (or None)")
        for name in ("connect_timeout", "request_timeout"):
            if name in options and not _number(options[name]):
                problems.append(f"{name!r} must be a positive number of seconds")
        retries = options.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
            problems.append("'retries' must be an integer from 0 to 20")
        if not _string_dict(options.get("kernel_name_map", {})):
            problems.append("'kernel_name_map' must be a dict of environment slugs to kernelspec names")
        env = options.get("env", {})
        if not _string_dict(env):
            problems.append("'env' must be a dict of strings")
        if not isinstance(options.get("validate_cert", True), bool):
            problems.append("'validate_cert' must be True or False")
        return problems

    def check_environment(self, environment: KernelEnvironment) -> list[str]:
        """Problems that keep ``environment`` from running on this backend (``lms_kernels.E105``)."""
        problems = []
        extra = environment.backend_options or {}
        unknown = sorted(set(extra) - ENVIRONMENT_OPTIONS)
        if unknown:
            problems.append(f"its backend options {unknown} are unknown (known: env, kernel_name)")
        if "kernel_name" in extra and not (isinstance(extra["kernel_name"], str) and extra["kernel_name"]):
            problems.append("its backend option 'kernel_name' must be a non-empty string")
        if "env" in extra and not _string_dict(extra["env"]):
            problems.append("its backend option 'env' must be a dict of strings")
        return problems

    # -- what is sent -------------------------------------------------------------------------------------

    def kernel_name(self, environment: KernelEnvironment) -> str:
        """The remote kernelspec of ``environment``'s kernels."""
        extra = environment.backend_options or {}
        return (
            extra.get("kernel_name")
            or self.options["kernel_name_map"].get(environment.slug)
            or environment.slug
        )

    def kernel_env(self, kernel: Kernel, environment: KernelEnvironment) -> dict[str, str]:
        """The ``env`` of the start request: Enterprise Gateway's ``KERNEL_*`` variables (module docstring)."""
        env: dict[str, str] = {}
        owner_id = getattr(kernel, "owner_id", None)
        if owner_id is not None:
            env["KERNEL_USERNAME"] = f"lms-{owner_id}"
        cpus = getattr(environment, "cpu_limit", None)
        if cpus:
            env["KERNEL_CPUS"] = env["KERNEL_CPUS_LIMIT"] = str(cpus)
        memory = getattr(environment, "memory_limit", None)
        if memory:
            env["KERNEL_MEMORY"] = env["KERNEL_MEMORY_LIMIT"] = str(int(memory))
        gpus = getattr(environment, "gpus", 0)
        if gpus:
            env["KERNEL_GPUS"] = env["KERNEL_GPUS_LIMIT"] = str(gpus)
        env.update(self.options["env"])
        env.update((environment.backend_options or {}).get("env") or {})
        return env

    # -- HTTP ------------------------------------------------------------------------------------------

    def _headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.options["token"]:
            headers["Authorization"] = f"token {self.options['token']}"
        return headers

    def _http(self) -> AsyncHTTPClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # An instance of our own: AsyncHTTPClient's shared one allows only 10 requests at a time.
            client = self._clients[loop] = AsyncHTTPClient(force_instance=True, max_clients=MAX_CLIENTS)
        return client

    async def _request(
        self, method: str, path: str, body: dict | None = None, *, idempotent: bool | None = None
    ) -> tuple[int, Any]:
        """``(status, parsed JSON or None)`` of a request to ``{url}/api/kernels{path}``.

        Raises :class:`_Unreachable` when no answer came (after the retries; see the module docstring).
        """
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE")
        url = f"{self.url}/api/kernels{path}"
        attempts = self.options["retries"] + 1
        error: BaseException | None = None
        for attempt in range(attempts):
            request = HTTPRequest(
                url,
                method=method,
                headers=self._headers(json_body=body is not None),
                body=json.dumps(body) if body is not None else ("" if method == "POST" else None),
                connect_timeout=self.options["connect_timeout"],
                request_timeout=self.options["request_timeout"],
                validate_cert=self.options["validate_cert"],
                follow_redirects=False,
            )
            try:
                response = await self._http().fetch(request, raise_error=False)
            except (OSError, HTTPClientError) as exc:  # refused, DNS, TLS, time-outs (599)
                error = exc
                retry = idempotent or isinstance(exc, ConnectionRefusedError)
            else:
                if response.code == 599:
                    error = response.error or OSError("no response")
                    retry = idempotent
                elif response.code >= 500 and idempotent and attempt + 1 < attempts:
                    error = HTTPClientError(response.code)
                    retry = True
                else:
                    try:
                        data = json.loads(response.body) if response.body else None
                    except ValueError:
                        data = None
                    return response.code, data
            if not retry or attempt + 1 >= attempts:
                break
            await asyncio.sleep(backoff(attempt))
        raise _Unreachable(str(error)) from error

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        logger.error(
            "Kernel backend %r: the kernel gateway at %s does not answer: %s",
            self.alias,
            self.display_url,
            exc,
        )
        return BackendUnavailable(
            _(
                "Kernels cannot be reached right now: the kernel gateway does not answer. "
                "Please tell the site's operators."
            ),
            code="gateway_unreachable",
        )

    def _refused(self, status: int, data: Any, doing: str) -> BackendUnavailable:
        message = data.get("message") if isinstance(data, dict) else None
        logger.error(
            "Kernel backend %r: the kernel gateway at %s answered %s to %s: %s",
            self.alias,
            self.display_url,
            status,
            doing,
            message,
        )
        if status in (401, 403):
            return BackendUnavailable(
                _(
                    "Kernels cannot be reached right now: the kernel gateway refused this site's "
                    "credentials. Please tell the site's operators."
                ),
                code="gateway_refused",
            )
        return BackendUnavailable(
            _("The kernel gateway could not %(doing)s (HTTP %(status)s).")
            % {"doing": doing, "status": status},
            code="gateway_error",
        )

    async def _call(self, method: str, path: str, body: dict | None = None, **kwargs) -> tuple[int, Any]:
        try:
            return await self._request(method, path, body, **kwargs)
        except _Unreachable as exc:
            raise self._unavailable(exc.__cause__ or exc) from exc

    @staticmethod
    def remote_id(kernel) -> str | None:
        """The gateway's id of ``kernel`` (``None`` before it started)."""
        return (kernel.backend_state or {}).get("kernel_id") or (kernel.connection_info or {}).get(
            "kernel_id"
        )

    @staticmethod
    def _path(remote_id: str, action: str = "") -> str:
        return f"/{quote(remote_id, safe='')}{action}"

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        name = self.kernel_name(environment)
        body = {"name": name, "env": self.kernel_env(kernel, environment)}
        status, data = await self._call("POST", "", body)
        if status in (200, 201) and isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            remote = data["id"]
            logger.info(
                "Kernel %s started on the gateway %s as %s (%s).", kernel.id, self.display_url, remote, name
            )
            return StartedKernel(
                {"transport": "gateway", "kernel_id": remote}, {"kernel_id": remote, "kernel_name": name}
            )
        if status == 404 or (
            status in (400, 500)
            and "No such kernel" in str(data.get("message") if isinstance(data, dict) else "")
        ):
            logger.error(
                "Kernel backend %r: the gateway at %s has no kernelspec %r.",
                self.alias,
                self.display_url,
                name,
            )
            raise BackendUnavailable(
                _(
                    "The kernel gateway has no kernel named %(name)s (environment %(env)s). "
                    "Please tell the site's operators."
                )
                % {"name": name, "env": environment.slug},
                code="gateway_kernelspec_missing",
            )
        if status in (401, 403):
            raise self._refused(status, data, "start a kernel")
        logger.error(
            "Kernel backend %r: the gateway at %s could not start %r: HTTP %s %s",
            self.alias,
            self.display_url,
            name,
            status,
            data,
        )
        raise KernelStartFailed()

    async def shutdown(self, kernel: Kernel, *, restart: bool = False) -> None:
        remote = self.remote_id(kernel)
        if not remote:
            return
        status, data = await self._call("DELETE", self._path(remote))
        if status not in (200, 204, 404):
            raise self._refused(status, data, "shut a kernel down")

    async def is_alive(self, kernel: Kernel) -> bool:
        model = await self._model(kernel)
        return model is not None and model.get("execution_state") != "dead"

    async def _model(self, kernel: Kernel) -> dict | None:
        """The gateway's model of the kernel; ``None`` when the gateway does not know it."""
        remote = self.remote_id(kernel)
        if not remote:
            return None
        status, data = await self._call("GET", self._path(remote))
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise self._refused(status, data, "say whether a kernel runs")
        return data

    async def is_idle(self, kernel: Kernel, *, timeout: float = 2.0) -> bool | None:
        """What the gateway last saw of the kernel's execution state (it follows the kernel's iopub)."""
        try:
            model = await self._model(kernel)
        except BackendUnavailable:
            return None
        state = (model or {}).get("execution_state")
        if state in ("idle", "busy"):
            return state == "idle"
        return None

    async def interrupt(self, kernel: Kernel) -> None:
        remote = self.remote_id(kernel)
        if not remote:
            return
        status, data = await self._call("POST", self._path(remote, "/interrupt"), {})
        if status not in (200, 204, 404):
            raise self._refused(status, data, "interrupt a kernel")

    async def restart(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        """Restart the remote kernel in place (same id: connections carry on); start a new one if it is gone."""
        remote = self.remote_id(kernel)
        if remote:
            status, data = await self._call("POST", self._path(remote, "/restart"), {})
            if status == 200:
                return StartedKernel(dict(kernel.connection_info), dict(kernel.backend_state))
            if status != 404:
                # A kernel that could not be restarted is replaced (as a dead one would be).
                logger.warning(
                    "Kernel %s: the gateway could not restart %s (HTTP %s %s); starting a new one.",
                    kernel.id,
                    remote,
                    status,
                    data,
                )
                await self.shutdown(kernel, restart=True)
        return await self.start(kernel, environment)

    # -- reaching the kernel ---------------------------------------------------------------------------

    def open_channels(self, kernel: Kernel, *, identity: bytes) -> GatewayKernelChannels:
        remote = self.remote_id(kernel)
        if not remote:
            raise BackendUnavailable(_("The kernel is not running on the gateway."), code="gateway_no_kernel")
        return GatewayKernelChannels(self, remote, identity)

    async def open_websocket(self, remote_id: str, session_id: str) -> WebSocketClientConnection:
        """A WebSocket to the remote kernel's channels (``v1`` subprotocol offered)."""
        url = f"{self.ws_url}/api/kernels/{quote(remote_id, safe='')}/channels?session_id={session_id}"
        request = HTTPRequest(
            url,
            headers=self._headers(),
            connect_timeout=self.options["connect_timeout"],
            request_timeout=self.options["request_timeout"],
            validate_cert=self.options["validate_cert"],
        )
        return await websocket_connect(
            request,
            subprotocols=[V1_SUBPROTOCOL],
            max_message_size=MAX_FRAME,
            ping_interval=WS_PING_INTERVAL,
        )

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), weakref.WeakKeyDictionary()
        for client in clients:
            client.close()


# -- the channels ----------------------------------------------------------------------------------------------


def decode_v1_frame(data: bytes) -> tuple[str, list[bytes]] | None:
    """Channel and parts of a ``v1`` frame from the gateway (``None`` if it is not one)."""
    if len(data) < 8:
        return None
    count = int.from_bytes(data[:8], "little")
    if count < 6 or len(data) < 8 * (count + 1):
        return None
    offsets = [int.from_bytes(data[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets != sorted(offsets) or offsets[-1] > len(data):
        return None
    view = memoryview(data)
    channel = bytes(view[offsets[0] : offsets[1]]).decode("utf-8", "replace")
    parts = [bytes(view[offsets[i] : offsets[i + 1]]) for i in range(1, count - 1)]
    return channel, parts


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def decode_json_frame(frame: str | bytes) -> tuple[str, list[bytes]] | None:
    """Channel and parts of a frame in Jupyter's default protocol (JSON text, or the legacy buffers framing)."""
    buffers: list[bytes] = []
    try:
        if isinstance(frame, str):
            msg = json.loads(frame)
        else:
            (count,) = struct.unpack("!I", frame[:4])
            offsets = [*struct.unpack(f"!{count}I", frame[4 : 4 * (count + 1)]), len(frame)]
            msg = json.loads(frame[offsets[0] : offsets[1]])
            buffers = [bytes(frame[offsets[i] : offsets[i + 1]]) for i in range(1, count)]
    except (ValueError, struct.error, RecursionError):
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("channel"), str):
        return None
    parts = [_dumps(msg.get(name) or {}) for name in ("header", "parent_header", "metadata", "content")]
    return msg["channel"], [*parts, *buffers]


class GatewayKernelChannels:
    """A remote kernel's channels over the gateway's WebSocket, with the methods of
    :class:`~lms_kernels.connection.zmq_channels.ZmqKernelChannels` the bridge uses.

    :meth:`connect` starts a task that opens the WebSocket (offering the ``v1`` subprotocol, whose frames carry
    the kernel's parts unparsed; the JSON protocol otherwise) and sorts what arrives into one queue per
    channel. :meth:`send` queues (the gateway signs the messages: no key here) and a writer sends once the
    socket is open, so messages sent while it opens or reopens are not lost. A socket that closes is
    reopened with the same ``session_id`` (the gateway replays what it kept meanwhile); a gateway that does not
    answer after the backend's ``retries`` makes every :meth:`recv` raise
    :class:`~lms_kernels.exceptions.BackendUnavailable`. A kernel the gateway does not know (404) is waited for:
    the bridge's watcher finds it dead and follows its replacement.
    """

    readable = ("iopub", "shell", "control", "stdin")

    def __init__(self, backend: GatewayBackend, remote_id: str, identity: bytes):
        self.backend = backend
        self.remote_id = remote_id
        self.identity = identity
        self.session_id = uuid.uuid4().hex
        self.protocol: str | None = None
        self._queues: dict[str, asyncio.Queue] = {channel: asyncio.Queue() for channel in self.readable}
        self._outgoing: collections.deque[tuple[str, list[bytes]]] = collections.deque()
        self._wake_writer = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._ws: WebSocketClientConnection | None = None
        self._closed = False
        self._started = False

    def connect(self, channels: tuple[str, ...] = readable, *, monitor: bool | None = None) -> None:
        """Start opening the WebSocket (it carries every channel, so ``channels`` and ``monitor`` are moot)."""
        if self._started:
            return
        self._started = True
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_connected(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
            return True
        except TimeoutError:
            return False

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, channel: str, parts: list[bytes]) -> None:
        if self._closed:
            raise RuntimeError("the channels are closed")
        if len(self._outgoing) >= MAX_OUTGOING:
            raise zmq.Again()  # what a full DEALER queue raises; the bridge refuses the message
        self._outgoing.append((channel, parts))
        self._wake_writer.set()

    async def recv(self, channel: str) -> list[bytes]:
        queue = self._queues[channel]
        item = await queue.get()
        if isinstance(item, BaseException):
            queue.put_nowait(item)  # every later call fails the same way
            raise item
        return item

    def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    # -- the connection task ----------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        missing = 0
        retries = self.backend.options["retries"]
        try:
            while not self._closed:
                try:
                    ws = await self.backend.open_websocket(self.remote_id, self.session_id)
                except HTTPClientError as exc:
                    if exc.code == 404:  # the gateway does not know the kernel (any more)
                        missing += 1
                        await asyncio.sleep(backoff(missing, cap=BACKOFF_CAP) + 0.5)
                        continue
                    if exc.code in (401, 403):
                        self._fail(self.backend._refused(exc.code, None, "open a kernel's channels"))
                        return
                    error: BaseException = exc
                except (OSError, WebSocketError) as exc:  # refused, DNS, TLS, not a WebSocket
                    error = exc
                else:
                    failures = missing = 0
                    await self._serve(ws)
                    continue
                failures += 1
                if failures > retries:
                    self._fail(self.backend._unavailable(error))
                    return
                await asyncio.sleep(backoff(failures - 1))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("The gateway connection of remote kernel %s failed.", self.remote_id)
            if not isinstance(exc, KernelServiceError):
                exc = KernelServiceError(_("The connection to the kernel failed."))
            self._fail(exc)

    async def _serve(self, ws: WebSocketClientConnection) -> None:
        """Read one open WebSocket until it closes (the writer sends meanwhile)."""
        self._ws = ws
        self.protocol = ws.selected_subprotocol
        self._connected.set()
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            while True:
                frame = await ws.read_message()
                if frame is None:
                    break
                if self.protocol == V1_SUBPROTOCOL and isinstance(frame, bytes):
                    decoded = decode_v1_frame(frame)
                else:
                    decoded = decode_json_frame(frame)
                if decoded is None:
                    logger.warning("Dropped an unreadable frame from remote kernel %s.", self.remote_id)
                    continue
                channel, parts = decoded
                queue = self._queues.get(channel)
                if queue is not None and len(parts) >= 4:
                    queue.put_nowait(parts)
        finally:
            self._connected.clear()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if self._ws is ws:
                self._ws = None
            ws.close()
        if not self._closed:
            logger.info(
                "The WebSocket of remote kernel %s closed (%s %s); reopening it.",
                self.remote_id,
                ws.close_code,
                ws.close_reason,
            )

    async def _write(self, ws: WebSocketClientConnection) -> None:
        while True:
            while self._outgoing:
                channel, parts = self._outgoing[0]
                try:
                    frame = self._encode(channel, parts)
                except (ValueError, UnicodeDecodeError):
                    logger.warning(
                        "Dropped a message for remote kernel %s that cannot be encoded.", self.remote_id
                    )
                    self._outgoing.popleft()
                    continue
                try:
                    await ws.write_message(frame, binary=isinstance(frame, bytes))
                except WebSocketClosedError:
                    return  # kept for the next connection
                self._outgoing.popleft()
            self._wake_writer.clear()
            await self._wake_writer.wait()

    def _encode(self, channel: str, parts: list[bytes]) -> str | bytes:
        if self.protocol == V1_SUBPROTOCOL:
            return encode_v1_frame(channel, [bytes(part) for part in parts])
        header = json.loads(parts[0])
        return encode_json_frame(channel, [bytes(part) for part in parts], header)

    def _fail(self, error: BaseException) -> None:
        for queue in self._queues.values():
            queue.put_nowait(error)
