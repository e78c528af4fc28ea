"""A small Jupyter client over ``WebsocketCommunicator``, for tests."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from channels.testing import WebsocketCommunicator

from ..connection.messages import new_message, pack_message
from ..connection.protocol import V1_SUBPROTOCOL, encode_v1_frame

__all__ = ["ConnectionClosed", "ExecutionResult", "KernelWebsocket", "notice", "websocket_application"]


def websocket_application():
    """The app's WebSocket routes wrapped as a project wraps them (the Origin check, session users)."""
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter

    from ..routing import websocket_urlpatterns
    from ..security import KernelOriginValidator

    return KernelOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


def _decode_v1(data: bytes) -> dict:
    count = int.from_bytes(data[:8], "little")
    offsets = [int.from_bytes(data[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    channel = data[offsets[0] : offsets[1]].decode()
    parts = [data[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    header = json.loads(parts[0])
    return {
        "channel": channel,
        "header": header,
        "msg_id": header["msg_id"],
        "msg_type": header["msg_type"],
        "parent_header": json.loads(parts[1]),
        "metadata": json.loads(parts[2]),
        "content": json.loads(parts[3]),
        "buffers": parts[4:],
    }


@dataclass
class ExecutionResult:
    """Everything the kernel sent about one request, in order."""

    messages: list[dict] = field(default_factory=list)
    reply: dict | None = None

    def of_type(self, msg_type: str) -> list[dict]:
        return [m for m in self.messages if m["msg_type"] == msg_type]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    @property
    def result(self) -> str | None:
        results = self.of_type("execute_result")
        return results[-1]["content"]["data"]["text/plain"] if results else None

    @property
    def statuses(self) -> list[str]:
        return [m["content"]["execution_state"] for m in self.of_type("status")]


class KernelWebsocket:
    """``async with KernelWebsocket(app, path, headers=..., protocol="v1") as ws: await ws.execute("1+1")``."""

    def __init__(
        self,
        application,
        path: str,
        *,
        headers=None,
        protocol: str | None = None,
        origin="http://testserver",
        host="testserver",
    ):
        headers = list(headers or [])
        if host is not None and not any(name.lower() == b"host" for name, _value in headers):
            headers.append((b"host", host.encode()))  # as a browser sends it; the Origin check compares
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        self.protocol = V1_SUBPROTOCOL if protocol == "v1" else protocol
        self.session = uuid.uuid4().hex
        self.communicator = WebsocketCommunicator(
            application, path, headers=headers, subprotocols=[self.protocol] if self.protocol else None
        )
        self.connected = False
        self.subprotocol = None
        self.close_code: int | None = None

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.disconnect()

    async def connect(self, timeout: float = 10) -> tuple[bool, object]:
        self.connected, self.subprotocol = await self.communicator.connect(timeout=timeout)
        return self.connected, self.subprotocol

    async def disconnect(self) -> None:
        if self.connected:
            self.connected = False
            await self.communicator.disconnect(timeout=5)

    # -- frames ----------------------------------------------------------------------------------------------

    def request(self, msg_type: str, content: dict | None = None, *, channel: str = "shell") -> dict:
        msg = new_message(msg_type, content, session=self.session, username="test")
        msg["channel"] = channel
        return msg

    async def send(self, msg: dict) -> None:
        if self.protocol == V1_SUBPROTOCOL:
            await self.communicator.send_to(bytes_data=encode_v1_frame(msg["channel"], pack_message(msg)))
        else:
            await self.communicator.send_to(text_data=json.dumps(msg))

    async def send_raw(self, *, text: str | None = None, data: bytes | None = None) -> None:
        """Any frame, even an empty one (which ``send_to`` refuses)."""
        frame = {"type": "websocket.receive"}
        if text is not None:
            frame["text"] = text
        else:
            frame["bytes"] = data or b""
        await self.communicator.send_input(frame)

    async def receive(self, timeout: float = 10) -> dict:
        """The next message; a close frame raises :class:`ConnectionClosed` with its code."""
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code")
            raise ConnectionClosed(self.close_code, output.get("reason"))
        if output.get("text") is not None:
            return json.loads(output["text"])
        return _decode_v1(output["bytes"])

    async def receive_close(self, timeout: float = 10) -> int:
        """Read until the server closes; return the close code."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.receive(max(deadline - time.monotonic(), 0.01))
            except ConnectionClosed as exc:
                self.connected = False
                return exc.code

    async def receive_until(self, predicate, *, timeout: float = 30) -> tuple[dict, list[dict]]:
        """Read until a message satisfies ``predicate``; return it and everything read before it."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message in {timeout}s; got {[m['msg_type'] for m in seen]}")
            message = await self.receive(remaining)
            if predicate(message):
                return message, seen
            seen.append(message)

    async def execute(
        self, code: str, *, timeout: float = 30, stdin_reply=None, allow_stdin=False
    ) -> ExecutionResult:
        """Run ``code`` and collect its iopub messages until idle, and its reply.

        ``stdin_reply(prompt) -> str`` answers ``input()``.
        """
        msg = self.request(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "allow_stdin": allow_stdin or stdin_reply is not None,
                "user_expressions": {},
                "stop_on_error": True,
            },
        )
        await self.send(msg)
        return await self.collect(msg["header"]["msg_id"], timeout=timeout, stdin_reply=stdin_reply)

    async def collect(self, msg_id: str, *, timeout: float = 30, stdin_reply=None) -> ExecutionResult:
        result = ExecutionResult()
        idle = False
        deadline = time.monotonic() + timeout
        while not (idle and result.reply is not None):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no idle/reply for {msg_id} in {timeout}s; got {[m['msg_type'] for m in result.messages]}"
                )
            message = await self.receive(remaining)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["channel"] == "stdin" and message["msg_type"] == "input_request" and stdin_reply:
                answer = self.request(
                    "input_reply", {"value": stdin_reply(message["content"]["prompt"])}, channel="stdin"
                )
                answer["parent_header"] = message["header"]
                await self.send(answer)
                continue
            if message["channel"] in ("shell", "control") and message["msg_type"].endswith("_reply"):
                result.reply = message
                continue
            result.messages.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        return result

    async def wait_ready(self, timeout: float = 30) -> dict:
        """Send ``kernel_info_request`` and return the reply (the kernel is up and connected)."""
        msg = self.request("kernel_info_request")
        await self.send(msg)
        result = await self.collect(msg["header"]["msg_id"], timeout=timeout)
        return result.reply

    def execute_request(self, code: str, **content) -> dict:
        """An ``execute_request`` message (not sent), for tests that send and collect themselves."""
        return self.request(
            "execute_request",
            {"code": code, "silent": False, "store_history": False, "allow_stdin": False, **content},
        )


def notice(message: dict) -> str | None:
    """The kind of a service notice (``"output_cap"``, ``"died"``, ``"cull_warning"``...), else ``None``."""
    return (message.get("metadata") or {}).get("lms_kernels", {}).get("notice")


class ConnectionClosed(Exception):
    def __init__(self, code, reason=None):
        super().__init__(f"closed with {code}: {reason}")
        self.code = code
        self.reason = reason
