"""The connection object between one WebSocket and one kernel (what a thin consumer hands its frames to).

Life of a connection:

1. :meth:`KernelBridge.open` connects the kernel's channels and *nudges* the kernel: it sends
   ``kernel_info_request`` on control (answered even while the kernel is busy) until a message arrives on
   iopub, which proves the iopub subscription is live (ZeroMQ drops what is published before a subscriber
   has joined). Client messages that arrive meanwhile wait in a queue, so no output of theirs is lost.
   The nudges' replies and status messages are the service's own and are not forwarded.
2. Kernel messages are forwarded as they come, in the client's protocol; the content is not parsed, except
   the parent header of output messages, which are counted against the execution's output cap
   (:class:`~.limits.OutputCap`): past the cap the client gets one notice and the rest is dropped. Output
   whose parent is not an ``execute_request`` relayed to the kernel counts towards a ceiling per kernel.
3. Client frames are checked (:mod:`.protocol`); a bad one is answered (an error ``*_reply`` for a request,
   and a ``stream`` message on stderr saying why) and the socket stays open, up to a limit.
   ``execute_request`` is rate-limited (:class:`~.limits.ExecuteRateLimiter`), per user and kernel.
4. Every ``WATCH_INTERVAL`` the connection checks that the kernel's process lives (a dead one is recovered
   through :func:`lms_kernels.services.recover_kernel`) and warns the client before idle culling.
5. Events from the channel layer: ``restarting`` (status ``restarting``; client messages wait),
   ``restarted`` (reconnect if the kernel moved, nudge again), ``died`` (a notice saying what happened),
   ``shutdown``/``culled``/``dead`` (status ``dead``, then a close code).
6. When the WebSocket goes away while the kernel lives on, the bridge is *detached* (:mod:`.replay`): it
   keeps listening and buffers what arrives, for the next WebSocket of the kernel to adopt.

A kernel that waits in the queue (:mod:`lms_kernels.capacity`) has no process yet: the bridge starts in
*waiting* mode (the methods under "waiting in the queue"). It opens no channels; it sends status
``starting`` and a ``queued`` notice with the connection's place (``{"notice": "queued", "position": N}``)
whenever the place changes (``queue`` events, and a poll every ``WATCH_INTERVAL``); client messages wait as
they do during start-up. When the kernel runs (``started``) it sends a ``dequeued`` notice and carries on as
a fresh connection; when the wait times out, a ``queue_timeout`` notice, status ``dead`` and close code 4503.

Server notices (output cap, culling, a dead kernel) are ``stream`` messages on stderr, so every Jupyter
client shows them; their ``metadata["lms_kernels"]`` says what they are (``{"notice": "output_cap"}``,
``"cull_warning"``, ``"died"``, ``"culled"``, ``"replay_truncated"``, ``"rate_limited"``, ``"invalid_message"``,
``"queued"``, ``"dequeued"``, ``"queue_timeout"``, ``"not_responding"``) for clients that want to show more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import zmq
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..activity import recorder
from ..conf import app_settings
from ..exceptions import (
    KernelCulled,
    KernelDied,
    KernelGone,
    KernelNotResponding,
    KernelRestartLimitReached,
    KernelServiceError,
    KernelStartFailed,
    MessageTooLarge,
    QueueTimeout,
    TooManyInvalidMessages,
)
from . import replay
from .limits import (
    OUTPUT_TYPES,
    OutputCap,
    kernel_executions,
    release_kernel_executions,
    release_rate_limiter,
    shared_rate_limiter,
)
from .messages import new_message, pack_message
from .protocol import CLIENT_CHANNELS, BadFrame, ClientMessage, decode_client_frame, encode_message

__all__ = ["KernelBridge"]

logger = logging.getLogger(__name__)

#: Invalid frames one connection may send before it is closed (4400).
MAX_INVALID_FRAMES = 100
#: Client messages held while the kernel (re)connects; more are refused.
MAX_QUEUED = 1000
#: Seconds to wait for a kernel's iopub relay to say what a session missed.
RELAY_TIMEOUT = 3.0

SendFrame = Callable[[str | bytes], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.3g}"


class KernelBridge:
    """Carries one WebSocket connection's messages to and from one kernel.

    ``send_frame(text_or_bytes)`` and ``close_socket(code, reason)`` are the consumer's; the bridge never
    touches the consumer otherwise, so it can be driven by anything that speaks WebSocket.
    """

    def __init__(
        self,
        *,
        kernel,
        backend,
        protocol: str | None,
        session_id: str,
        send_frame: SendFrame,
        close_socket: CloseSocket,
        user_id=None,
    ):
        self.kernel_id = kernel.id
        # Whose executions these are (the rate limit is per user and kernel); the kernel's owner by default.
        self.user_id = kernel.owner_id if user_id is None else user_id
        self._kernel = kernel
        self._backend = backend
        self.protocol = protocol
        self.session_id = session_id
        self._send_frame: SendFrame | None = send_frame
        self._close_socket: CloseSocket | None = close_socket
        self._server_session = uuid.uuid4().hex
        # None while the kernel waits in the queue (see "waiting in the queue").
        self.channels = None if _waits(kernel) else backend.open_channels(kernel, identity=_identity())
        self._queue_position: int | None = None
        self.generation = kernel.generation
        self.ready = asyncio.Event()
        self._iopub_seen = asyncio.Event()
        self._nudges: dict[str, float] = {}
        self._nudges_half_answered: set[str] = set()
        self._queued: list[ClientMessage] = []
        self._tasks: list[asyncio.Task] = []
        self._nudge_task: asyncio.Task | None = None
        self._watch_task: asyncio.Task | None = None
        self._invalid = 0
        self._closed = False
        self._counted = False
        environment = kernel.environment
        cap = environment.output_cap if environment.output_cap is not None else app_settings.OUTPUT_CAP
        ceiling = app_settings.BACKGROUND_OUTPUT_CAP
        self._executions = kernel_executions(self.kernel_id)
        self._cap = OutputCap(
            cap, ceiling="limit" if ceiling is None else ceiling, executions=self._executions
        )
        self._rate = shared_rate_limiter(
            self.user_id, self.kernel_id, app_settings.EXECUTE_RATE, app_settings.EXECUTE_BURST
        )
        # What the connection knows of the kernel from the messages it sees.
        self._execution_state = kernel.execution_state
        self._busy_parent: dict = {}
        # This connection's executions that have not finished (msg_id -> header), oldest first: when the
        # kernel dies, the oldest is the one it was running, even if its "busy" status never got out.
        self._running: dict[str, dict] = {}
        self._last_activity = time.monotonic()
        self._warned: str | None = None
        self._died_notice_for = 0
        # With a kernel whose iopub goes through a relay: None (no relay), True until what this session
        # missed has been asked for and forwarded (before any live message), then False.
        self._replay_from_relay: bool | None = None
        self._last_iopub_id: str | None = None
        self._ack_scheduled = False
        # While detached: where messages go instead of a socket, and when the bridge gives up waiting.
        self._buffer: replay.ReplayBuffer | None = None
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def detached(self) -> bool:
        return self._buffer is not None

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self.channels is None:
            await self._open_waiting()
            return
        self.channels.connect()
        self._replay_from_relay = self._use_relay()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(channel)) for channel in self.channels.readable]
        self._start_nudging()
        self._watch_task = loop.create_task(self._watch())
        await self._count_connection(+1)

    def _use_relay(self) -> bool | None:
        """``True`` to ask the kernel's iopub relay for what this session missed (:mod:`lms_kernels.relay`),
        when the kernel has one and replay is on; else ``None``. Call right after the channels connect."""
        relay = getattr(self.channels, "has_relay", False)
        if relay and app_settings.REPLAY_BUFFER_SIZE and app_settings.REPLAY_TIMEOUT:
            self.channels.connect_relay()
            return True
        return None

    async def close(self) -> None:
        """Release everything; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self.ready.set()
        replay.unregister(self)
        if self._expiry is not None:
            self._expiry.cancel()
        tasks = [*self._tasks, self._nudge_task, self._watch_task]
        current = asyncio.current_task()
        for task in tasks:
            if task is not None and task is not current:
                task.cancel()
        for task in tasks:
            if task is not None and task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.channels is not None:
            self.channels.close()
        self._queued.clear()
        self._buffer = None
        release_kernel_executions(self.kernel_id)
        release_rate_limiter(self.user_id, self.kernel_id)
        await recorder.flush(self.kernel_id)
        await self._count_connection(-1)

    async def _close_with(self, error: KernelServiceError) -> None:
        if self._closed:
            return
        reason = error.detail.encode("utf-8")[:120].decode("utf-8", "ignore")
        if self._close_socket is not None:
            with contextlib.suppress(Exception):
                await self._close_socket(error.close_code, reason)
        await self.close()

    async def _count_connection(self, delta: int) -> None:
        from ..models import Kernel

        try:
            if delta > 0 and not self._counted:
                self._counted = True
                await Kernel.objects.filter(pk=self.kernel_id).aupdate(connections=F("connections") + 1)
            elif delta < 0 and self._counted:
                self._counted = False
                await Kernel.objects.filter(pk=self.kernel_id, connections__gt=0).aupdate(
                    connections=F("connections") - 1
                )
        except Exception:
            logger.exception("Could not update the connection count of kernel %s.", self.kernel_id)

    # -- detaching and adopting ----------------------------------------------------------------------------

    async def detach(self) -> None:
        """The WebSocket went away: keep listening into a replay buffer, or close if nothing is to be kept."""
        if self._closed:
            return
        if self.channels is None or not app_settings.REPLAY_BUFFER_SIZE or not app_settings.REPLAY_TIMEOUT:
            await self.close()  # (a waiting kernel has nothing to keep yet)
            return
        self._send_frame = self._close_socket = None
        self._buffer = replay.ReplayBuffer(app_settings.REPLAY_BUFFER_SIZE)
        replay.register(self)
        if self._replay_from_relay is not None:
            # The client may come back through another worker, which asks the relay for what it missed.
            self.channels.tell_relay("away", self.session_id)
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(app_settings.REPLAY_TIMEOUT, self._expire)
        await self._count_connection(-1)

    def _expire(self) -> None:
        if self.detached and not self._closed:
            task = asyncio.get_running_loop().create_task(self.close())
            _background.add(task)
            task.add_done_callback(_background.discard)

    async def attach(self, *, protocol: str | None, send_frame: SendFrame, close_socket: CloseSocket) -> None:
        """A new WebSocket adopts this detached bridge: replay what was kept, then carry on live."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.protocol = protocol
        self._send_frame, self._close_socket = send_frame, close_socket
        self._last_activity = time.monotonic()
        recorder.record(self.kernel_id)  # coming back counts as activity, for the culler too
        await self._count_connection(+1)
        buffer = self._buffer
        if buffer is None:
            return
        if buffer.dropped:
            text = ngettext(
                "%(count)d earlier message was not kept while you were away.\n",
                "%(count)d earlier messages were not kept while you were away.\n",
                buffer.dropped,
            ) % {"count": buffer.dropped}
            msg = self._notice_message(text, "replay_truncated", dropped=buffer.dropped)
            await self._send_now("iopub", pack_message(msg), msg["header"])
        # Messages that arrive during the replay join the buffer behind it, so the order is kept; the
        # buffer is let go only when it is empty, with no await in between.
        while len(buffer):
            for channel, parts, header in buffer.drain():
                await self._send_now(channel, parts, header)
        self._buffer = None
        if self._replay_from_relay is not None:
            self.channels.tell_relay("back", self.session_id)
            self._acknowledge()

    # -- nudging -------------------------------------------------------------------------------------------

    def _start_nudging(self) -> None:
        self.ready.clear()
        self._iopub_seen.clear()
        if self._nudge_task is not None and not self._nudge_task.done():
            self._nudge_task.cancel()
        self._nudge_task = asyncio.get_running_loop().create_task(self._nudge())

    async def _nudge(self) -> None:
        timeout = app_settings.KERNEL_STARTUP_TIMEOUT
        deadline = time.monotonic() + timeout
        delay = 0.05
        while not self._iopub_seen.is_set():
            now = time.monotonic()
            if now >= deadline:
                await self._give_up()
                return
            self._forget_old_nudges(now)
            msg = new_message("kernel_info_request", session=self._server_session)
            self._nudges[msg["msg_id"]] = now
            with contextlib.suppress(zmq.Again):
                self.channels.send("control", pack_message(msg))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._iopub_seen.wait(), min(delay, max(deadline - now, 0.01)))
            delay = min(delay * 2, 1.0)
        self.ready.set()
        queued, self._queued = self._queued, []
        for message in queued:
            await self._to_kernel(message)

    def _forget_old_nudges(self, now: float) -> None:
        """Nudges whose answers did not all come (iopub sent before the subscription was live is lost)."""
        for msg_id, sent in list(self._nudges.items()):
            if now - sent > 30:
                del self._nudges[msg_id]
                self._nudges_half_answered.discard(msg_id)

    async def _give_up(self) -> None:
        alive = await self._backend.is_alive(self._kernel)
        if alive:
            error = KernelNotResponding()
        else:
            error = KernelStartFailed(_("The kernel died before it could answer."))
        await self._send_status("dead")
        await self._close_with(error)

    # -- watching the kernel -------------------------------------------------------------------------------

    async def _watch(self) -> None:
        interval = app_settings.WATCH_INTERVAL
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                if self.channels is None:
                    await self._check_queue()
                    continue
                nudging = self._nudge_task is not None and not self._nudge_task.done()
                if self._nudges and not nudging:
                    self._forget_old_nudges(time.monotonic())
                # Also while nudging: a kernel that dies on start is found at once, so the restart limit's
                # stable-start window (STABLE_START_TIME) sees it, not KERNEL_STARTUP_TIMEOUT later.
                if not await self._backend.is_alive(self._kernel):
                    await self._kernel_gone()
                elif not self.detached:
                    await self._warn_before_culling()
            except asyncio.CancelledError:
                raise
            except KernelServiceError as exc:  # e.g. a gateway that does not answer: no traceback needed
                logger.warning("Watching kernel %s failed: %s", self.kernel_id, exc.detail)
            except Exception:
                logger.exception("Watching kernel %s failed.", self.kernel_id)

    async def _kernel_gone(self) -> None:
        """The process is gone: shut down on purpose (the row is gone too), died, or replaced meanwhile.

        The events of :func:`~lms_kernels.services.recover_kernel` reach every connection through the channel
        layer; this connection applies them itself too (they are idempotent), so it also copes without a
        layer, or detached, when no event reaches it.
        """
        from ..services import recover_kernel

        # Until a new process has answered, client messages wait (they would reach it before this
        # connection's iopub subscription does, and their output would be lost).
        self.ready.clear()
        self._iopub_seen.clear()
        kernel, message = await recover_kernel(self.kernel_id, self.generation)
        if kernel is None:
            await self.on_event({"event": "shutdown"})
            return
        if message:
            restarting = kernel.status != "dead"
            gave_up = not restarting and kernel.restart_count >= app_settings.RESTART_LIMIT
            await self.on_event(
                {
                    "event": "died",
                    "message": kernel.reason if gave_up else message,
                    "restarting": restarting,
                    "generation": self.generation,
                    "code": KernelRestartLimitReached.default_code if gave_up else None,
                }
            )
        if kernel.status == "dead":
            await self.on_event({"event": "dead", "reason": kernel.reason})
        elif kernel.generation != self.generation:
            await self.on_event({"event": "restarted", "generation": kernel.generation}, kernel=kernel)

    def _idle_limits(self) -> tuple[float | None, float | None]:
        from ..culling import idle_timeout

        environment = self._kernel.environment
        return idle_timeout(environment), environment.max_age

    async def _warn_before_culling(self) -> None:
        warning = app_settings.CULL_WARNING
        if not warning:
            return
        idle_timeout, max_age = self._idle_limits()
        if max_age and self._warned != "max_age":
            age = time.time() - self._kernel.created.timestamp()
            left = max_age - age
            if left <= warning:
                self._warned = "max_age"
                text = _(
                    "This kernel reaches its maximum age in %(minutes)s minutes and will then be shut "
                    "down; save your work.\n"
                ) % {"minutes": max(round(left / 60, 1), 0)}
                await self._send_notice(text, "cull_warning", reason="max_age", seconds=max(int(left), 0))
                return
        if idle_timeout and self._warned is None and self._execution_state != "busy":
            left = idle_timeout - (time.monotonic() - self._last_activity)
            if left <= warning:
                self._warned = "idle"
                text = _(
                    "This kernel has been idle for a while and will be shut down in %(minutes)s minutes "
                    "unless you run something.\n"
                ) % {"minutes": max(round(left / 60, 1), 0)}
                await self._send_notice(text, "cull_warning", reason="idle", seconds=max(int(left), 0))

    # -- kernel -> client ----------------------------------------------------------------------------------

    async def _pump(self, channel: str) -> None:
        try:
            while True:
                parts = await self.channels.recv(channel)
                if channel == "iopub" and self._replay_from_relay:
                    await self._relay_replay(parts)
                    continue
                await self._forward(channel, parts)
                if channel == "iopub" and self._replay_from_relay is not None:
                    self._acknowledge()
        except asyncio.CancelledError:
            raise
        except KernelServiceError as error:  # channels that say why (e.g. a gateway that does not answer)
            if not self._closed:
                logger.warning(
                    "The %s channel of kernel %s failed: %s", channel, self.kernel_id, error.detail
                )
                await self._close_with(error)
        except Exception:
            if not self._closed:
                logger.exception("The %s channel of kernel %s failed.", channel, self.kernel_id)
                await self._close_with(KernelServiceError(_("The connection to the kernel failed.")))

    async def _relay_replay(self, first: list[bytes]) -> None:
        """Before the first live iopub message ``first``, forward what this session missed while no worker
        listened (its last worker died), oldest first, up to and including ``first``; live messages carry on
        after it."""
        self._replay_from_relay = False
        messages, dropped, until = [], 0, None
        try:
            until = json.loads(first[0])["msg_id"]
            messages, dropped = await self.channels.fetch_replay(self.session_id, until, RELAY_TIMEOUT)
        except (ValueError, KeyError, TypeError):
            pass
        except TimeoutError:
            logger.warning(
                "The iopub relay of kernel %s did not answer; nothing is replayed.", self.kernel_id
            )
        if dropped:
            text = ngettext(
                "%(count)d earlier message was not kept while you were away.\n",
                "%(count)d earlier messages were not kept while you were away.\n",
                dropped,
            ) % {"count": dropped}
            await self._send_notice(text, "replay_truncated", dropped=dropped)
        for parts in messages:
            await self._forward("iopub", parts)
            self._acknowledge()
        if not messages or self._last_iopub_id != until:
            # The relay had nothing for this session (a new one), or did not answer: it is simply live.
            await self._forward("iopub", first)
            self._acknowledge()

    def _acknowledge(self) -> None:
        """Tell the relay (soon, once per burst) that the client has been handed iopub up to the last
        message this connection handled."""
        if self._last_iopub_id is None or self._buffer is not None or self._closed:
            return  # (a detached bridge keeps messages, it has not handed them to anyone)
        if not self._ack_scheduled:
            self._ack_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_acknowledgement)

    def _send_acknowledgement(self) -> None:
        self._ack_scheduled = False
        if self.channels is not None and not self._closed and self._last_iopub_id is not None:
            self.channels.acknowledge(self.session_id, self._last_iopub_id)

    async def _forward(self, channel: str, parts: list[bytes]) -> None:
        try:
            header = json.loads(parts[0])
            msg_type = header["msg_type"]
        except (ValueError, KeyError, TypeError):
            logger.warning("Dropped a kernel message with an unreadable header on %s.", channel)
            return
        parent = None
        if channel == "iopub":
            self._last_iopub_id = header.get("msg_id")
            self._iopub_seen.set()
            self._last_activity = time.monotonic()
            if self._warned == "idle":
                self._warned = None
            state = None
            if msg_type == "status":
                parent = _loads(parts[1])
                state = _loads(parts[3]).get("execution_state")
                if parent.get("msg_id") in self._nudges:
                    state = None  # the state of answering our own nudge on control, not of the kernel's work
                else:
                    self._execution_state = state or self._execution_state
                    if state == "busy":
                        self._busy_parent = parent
                        self._executions.started(parent.get("msg_id"))
                    elif state == "idle":
                        # (the execution's output count is kept: a forged idle must not reset it)
                        self._running.pop(parent.get("msg_id"), None)
            elif msg_type in OUTPUT_TYPES and self._cap.active:
                parent = _loads(parts[1])
                verdict = self._cap.admit(parent.get("msg_id"), sum(len(part) for part in parts[3:]))
                if verdict != "send":
                    if verdict == "notice":
                        await self._output_cap_notice(parent)
                    elif verdict == "ceiling":
                        await self._output_ceiling_notice()
                    return
            recorder.record(self.kernel_id, state)
        elif msg_type == "execute_reply" and self._running:
            parent = _loads(parts[1])
            self._running.pop(parent.get("msg_id"), None)
        if self._nudges and msg_type in _NUDGE_ANSWERS:
            if parent is None:
                parent = _loads(parts[1])
            parent_id = parent.get("msg_id")
            if parent_id in self._nudges:
                # A nudge is answered by busy, idle (iopub) and its reply (control), in either order across
                # the two sockets: it is forgotten once idle and the reply have both come.
                if msg_type == "kernel_info_reply" or _loads(parts[3]).get("execution_state") == "idle":
                    if parent_id in self._nudges_half_answered:
                        self._nudges_half_answered.discard(parent_id)
                        self._nudges.pop(parent_id, None)
                    else:
                        self._nudges_half_answered.add(parent_id)
                return
        await self._emit(channel, parts, header)

    async def _emit(self, channel: str, parts: list[bytes], header: dict) -> None:
        """Send one message to the client, or keep it for later while detached."""
        if self._buffer is not None:
            self._buffer.append(channel, parts, header)
            return
        await self._send_now(channel, parts, header)

    async def _send_now(self, channel: str, parts: list[bytes], header: dict) -> None:
        if self._send_frame is None:
            return
        try:
            frame = encode_message(self.protocol, channel, parts, header)
        except UnicodeDecodeError:
            logger.warning("Dropped a kernel message that is not UTF-8 on %s.", channel)
            return
        await self._send_frame(frame)

    async def _send_server_message(self, channel: str, msg: dict) -> None:
        try:
            await self._emit(channel, pack_message(msg), msg["header"])
        except (TypeError, ValueError):
            # A message of the service's own that cannot be encoded is a bug here, not the client's doing.
            logger.warning(
                "could not encode a %s message for the client", msg["header"].get("msg_type"), exc_info=True
            )
        except Exception:  # the connection is closing: nobody is left to tell
            logger.debug(
                "could not send a %s message to the client", msg["header"].get("msg_type"), exc_info=True
            )

    async def _send_status(self, execution_state: str) -> None:
        msg = new_message("status", {"execution_state": execution_state}, session=self._server_session)
        await self._send_server_message("iopub", msg)

    async def _send_notice(self, text: str, notice: str, *, parent: dict | None = None, **details) -> None:
        """A ``stream`` message on stderr from the service (see the module docstring)."""
        await self._send_server_message("iopub", self._notice_message(text, notice, parent=parent, **details))

    def _notice_message(self, text: str, notice: str, *, parent: dict | None = None, **details) -> dict:
        msg = new_message(
            "stream", {"name": "stderr", "text": text}, session=self._server_session, parent_header=parent
        )
        msg["metadata"] = {"lms_kernels": {"notice": notice, **details}}
        return msg

    async def _output_cap_notice(self, parent: dict) -> None:
        limit = self._cap.limit
        text = _(
            "\nOutput limit reached: this execution printed more than %(limit)s MB, so the rest of its "
            "output is not shown. The code keeps running.\n"
        ) % {"limit": _megabytes(limit)}
        await self._send_notice(text, "output_cap", parent=parent, limit=limit, scope="execution")

    async def _output_ceiling_notice(self) -> None:
        """Output that is not an execution's crossed the kernel's ceiling: say so under the cell that runs
        (the oldest unfinished one), else the newest cell run; the output's own parent header is the kernel
        code's choice, and may name no cell at all."""
        limit = self._cap.ceiling
        text = _(
            "\nOutput limit reached: the kernel printed more than %(limit)s MB outside of the cells you ran "
            "(e.g. from a background thread), so the rest of it is not shown until you run a cell again.\n"
        ) % {"limit": _megabytes(limit)}
        running = next(iter(self._running.values()), None) or self._executions.last
        await self._send_notice(text, "output_cap", parent=running, limit=limit, scope="kernel")

    # -- client -> kernel ----------------------------------------------------------------------------------

    async def receive(self, text: str | None = None, data: bytes | None = None) -> None:
        if self._closed:
            return
        size = len(text) if text is not None else len(data or b"")
        if size > app_settings.MAX_MESSAGE_SIZE:
            await self._close_with(
                MessageTooLarge(
                    _("Messages may be at most %(limit)d bytes.") % {"limit": app_settings.MAX_MESSAGE_SIZE}
                )
            )
            return
        try:
            message = decode_client_frame(text=text, data=data, protocol=self.protocol)
        except BadFrame as exc:
            await self._refuse(exc)
            return
        if message.header["msg_type"] == "execute_request" and not self._rate.allow():
            await self._answer_error(
                message.header,
                message.channel,
                "RateLimited",
                _("Too many executions: at most %(rate)s per second. Wait a moment and run it again.")
                % {"rate": app_settings.EXECUTE_RATE},
                "rate_limited",
            )
            return
        if message.header["msg_type"] == "shutdown_request" and message.channel == "control":
            await self._shutdown_requested(message)
            return
        if not self.ready.is_set():
            if len(self._queued) >= MAX_QUEUED:
                await self._refuse(BadFrame(_("The kernel is not ready yet."), header=message.header))
                return
            self._queued.append(message)
            if self.channels is None:
                await self._request_while_waiting(message)
            return
        await self._to_kernel(message)

    async def _shutdown_requested(self, message: ClientMessage) -> None:
        """A client's ``shutdown_request`` goes to the service, not the kernel: a kernel that exited by
        itself would be taken for dead (and restarted), and the service must free what the kernel held."""
        from ..services import restart_kernel, shutdown_kernel

        content = _loads(message.parts[3])
        restart = content.get("restart") is True
        reply = new_message(
            "shutdown_reply",
            {"status": "ok", "restart": restart},
            session=self._server_session,
            parent_header=message.header,
        )
        await self._send_server_message("control", reply)
        kernel = self._kernel

        async def act():
            try:
                await (restart_kernel(kernel) if restart else shutdown_kernel(kernel))
            except Exception:
                logger.exception("A client's shutdown_request on kernel %s failed.", kernel.id)

        task = asyncio.get_running_loop().create_task(act())
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _to_kernel(self, message: ClientMessage) -> None:
        try:
            self.channels.send(message.channel, message.parts)
        except zmq.Again:
            await self._refuse(
                BadFrame(
                    _("The kernel is not accepting messages."), header=message.header, channel=message.channel
                )
            )
            return
        except Exception:
            if not self._closed:
                logger.exception("Could not send to kernel %s.", self.kernel_id)
            return
        self._last_activity = time.monotonic()
        if message.header["msg_type"] == "execute_request":
            self._executions.add(message.header)  # its output counts towards its own cap
            if len(self._running) < MAX_QUEUED:
                self._running[message.header["msg_id"]] = message.header
        recorder.record(self.kernel_id)

    async def _refuse(self, exc: BadFrame) -> None:
        """Answer a bad frame: an error reply to a request, and a notice on stderr."""
        self._invalid += 1
        logger.info("Refused a frame on kernel %s: %s", self.kernel_id, exc.detail)
        if self._invalid > MAX_INVALID_FRAMES:
            await self._close_with(TooManyInvalidMessages())
            return
        text = _("Message refused: %(reason)s") % {"reason": exc.detail}
        await self._answer_error(exc.header or {}, exc.channel, "InvalidMessage", text, "invalid_message")

    async def _answer_error(
        self, header: dict, channel: str | None, ename: str, text: str, notice: str
    ) -> None:
        msg_type, msg_id = header.get("msg_type"), header.get("msg_id")
        parent = header if isinstance(msg_id, str) and isinstance(msg_type, str) else {}
        answered = bool(parent and msg_type.endswith("_request"))
        if answered:
            # A client waits for the reply *and* for the request's busy/idle statuses on iopub (JupyterLab
            # leaves a cell "running" until idle comes): the service answers as a kernel would.
            await self._send_server_message(
                "iopub",
                new_message(
                    "status", {"execution_state": "busy"}, session=self._server_session, parent_header=parent
                ),
            )
            reply = new_message(
                msg_type[: -len("_request")] + "_reply",
                {"status": "error", "ename": ename, "evalue": text, "traceback": []},
                session=self._server_session,
                parent_header=parent,
            )
            await self._send_server_message(channel if channel in CLIENT_CHANNELS else "shell", reply)
        await self._send_notice(text + "\n", notice, parent=parent)
        if answered:
            await self._send_server_message(
                "iopub",
                new_message(
                    "status", {"execution_state": "idle"}, session=self._server_session, parent_header=parent
                ),
            )

    # -- events from the service ---------------------------------------------------------------------------

    async def on_event(self, event: dict, *, kernel=None) -> None:
        kind = event.get("event")
        if self._closed:
            return
        if kind in _QUEUE_EVENTS:
            await self._on_queue_event(event)
        elif kind == "restarting":
            self.ready.clear()
            self._iopub_seen.clear()
            await self._send_status("restarting")
        elif kind == "restarted":
            if event.get("generation", self.generation + 1) <= self.generation:
                return  # this connection already follows that kernel process
            await self._follow_restart(kernel)
        elif kind == "died":
            generation = event.get("generation", self.generation)
            if self._died_notice_for >= generation:
                return
            self._died_notice_for = generation
            if event.get("restarting"):
                self.ready.clear()
                self._iopub_seen.clear()
            text = event.get("message") or _("The kernel died unexpectedly.")
            if event.get("restarting"):
                text += " " + _(
                    "It is being restarted: variables and imports are lost, run your cells again."
                )
            running = next(iter(self._running.values()), None)
            code = event.get("code")
            details = {"code": code} if code else {}
            await self._send_notice(text + "\n", "died", parent=running or self._busy_parent, **details)
            self._running.clear()
            if not event.get("restarting"):
                await self._send_status("dead")
                error = (
                    KernelRestartLimitReached
                    if code == KernelRestartLimitReached.default_code
                    else KernelDied
                )
                await self._close_with(error(event.get("message") or None))
        elif kind == "not_responding":
            running = next(iter(self._running.values()), None)
            await self._send_notice(
                event.get("message", "") + "\n",
                "not_responding",
                parent=running or self._busy_parent,
                restarting=bool(event.get("restarting")),
                busy_since=event.get("busy_since"),
            )
        elif kind in ("shutdown", "culled"):
            if kind == "culled":
                await self._send_notice(event.get("message", "") + "\n", "culled", reason=event.get("reason"))
            await self._send_status("dead")
            await self._close_with(KernelCulled(event.get("message")) if kind == "culled" else KernelGone())
        elif kind == "dead":
            await self._send_status("dead")
            await self._close_with(KernelDied(event.get("reason") or None))

    async def _follow_restart(self, kernel=None) -> None:
        """Carry on with the kernel's new process: reconnect if it moved, then nudge it."""
        from ..models import Kernel

        if kernel is None:
            kernel = await Kernel.objects.select_related("environment").filter(pk=self.kernel_id).afirst()
            if kernel is None:
                await self.on_event({"event": "shutdown"})
                return
        moved = kernel.connection_info != self._kernel.connection_info
        self._kernel, self.generation = kernel, kernel.generation
        self._execution_state, self._busy_parent, self._warned = "starting", {}, None
        self._running.clear()
        self._cap = OutputCap(self._cap.limit, ceiling=self._cap.ceiling, executions=self._executions)
        if moved:
            await self._reconnect()
        self._start_nudging()

    async def _reconnect(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.channels.close()
        self.channels = self._backend.open_channels(self._kernel, identity=self.channels.identity)
        self.channels.connect()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(channel)) for channel in self.channels.readable]

    # -- waiting in the queue ------------------------------------------------------------------------------

    async def _open_waiting(self) -> None:
        """Open on a kernel that waits for capacity: no channels until it runs (see the module docstring)."""
        self._watch_task = asyncio.get_running_loop().create_task(self._watch())
        await self._count_connection(+1)
        await self._send_status("starting")
        await self._check_queue()

    async def _check_queue(self) -> None:
        """Look at the kernel's row: tell the client its place, or follow the kernel out of the queue."""
        from ..capacity import timeout_message
        from ..queue import poll

        kernel, position, timed_out = await poll(self.kernel_id)
        if self.channels is not None or self._closed:
            return
        if kernel is None:
            await self.on_event({"event": "shutdown"})
        elif kernel.status == "queued":
            await self._queue_notice(position)
        elif kernel.status == "running":
            await self._leave_queue(kernel)
        elif kernel.status == "dead":
            if timed_out or kernel.reason == timeout_message(kernel.environment):
                await self._queue_timed_out(kernel.reason)
            else:
                await self.on_event({"event": "dead", "reason": kernel.reason})
        # "starting": admitted, its process is being started; "started" follows (or the next poll sees it).

    async def _on_queue_event(self, event: dict) -> None:
        if self.channels is not None:
            return  # not waiting (any more)
        kind = event["event"]
        if kind == "queue":
            await self._queue_notice(event.get("position"))
        elif kind == "started":
            await self._check_queue()
        elif kind == "queue_timeout":
            await self._queue_timed_out(event.get("message"))

    def _waiting_parent(self) -> dict:
        """The first request the client sent meanwhile (notices show under its cell), else none."""
        for message in self._queued:
            if message.header.get("msg_type") == "execute_request":
                return message.header
        return {}

    async def _queue_notice(self, position: int | None, *, again: bool = False) -> None:
        if position is None or (position == self._queue_position and not again):
            return
        self._queue_position = position
        if self._kernel.environment.gpus:
            text = _("Waiting for a GPU: you are number %(position)d in the queue.\n")
        else:
            text = _("Waiting for room for your kernel: you are number %(position)d in the queue.\n")
        await self._send_notice(
            text % {"position": position}, "queued", parent=self._waiting_parent(), position=position
        )

    async def _request_while_waiting(self, message: ClientMessage) -> None:
        """The first execution asked for while waiting hears the place too, under its cell."""
        first = self._waiting_parent()
        if first and first.get("msg_id") == message.header.get("msg_id"):
            await self._queue_notice(self._queue_position, again=True)

    async def _leave_queue(self, kernel) -> None:
        """The kernel runs now: connect to it and carry on like a new connection (nudge, then forward)."""
        self._kernel, self.generation = kernel, kernel.generation
        self._execution_state = kernel.execution_state
        parent = self._waiting_parent()
        try:
            self.channels = self._backend.open_channels(kernel, identity=_identity())
            self.channels.connect()
            self._replay_from_relay = self._use_relay()
        except KernelServiceError as error:
            await self._send_status("dead")
            await self._close_with(error)
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(channel)) for channel in self.channels.readable]
        self._start_nudging()
        await self._send_notice(_("Your kernel is starting.\n"), "dequeued", parent=parent)

    async def _queue_timed_out(self, message: str | None) -> None:
        error = QueueTimeout(message or None)
        await self._send_notice(error.detail + "\n", "queue_timeout", parent=self._waiting_parent())
        await self._send_status("dead")
        await self._close_with(error)


_QUEUE_EVENTS = frozenset({"queue", "started", "queue_timeout"})
#: The messages that answer a nudge (``kernel_info_request`` on control).
_NUDGE_ANSWERS = frozenset({"status", "kernel_info_reply"})


def _waits(kernel) -> bool:
    """Whether the kernel has no process to connect to yet: queued, or admitted and still being started."""
    return kernel.status in ("queued", "starting")


def _identity() -> bytes:
    return f"lms-{uuid.uuid4().hex}".encode()


def _loads(raw: bytes | memoryview) -> dict:
    try:
        value = json.loads(bytes(raw) if isinstance(raw, memoryview) else raw)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser can take
        return {}
    return value if isinstance(value, dict) else {}


#: Strong references to fire-and-forget tasks, so they are not garbage-collected half-way.
_background: set[asyncio.Task] = set()
