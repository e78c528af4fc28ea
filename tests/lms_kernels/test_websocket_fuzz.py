"""Hostile frames on the kernel WebSocket, against real kernels, with another learner working meanwhile.

Each frame must be answered (the service's "Message refused" notice, and an error reply when the header can be
read), passed to the kernel when it is a valid message, or end the connection with a documented close code;
never an exception in the consumer (an abnormal close, 1006/1011 under a real server) or an error in the log.
After each frame the kernel must still answer on the same connection, and the bystander's cells, which run all
the while on another learner's kernel, must print everything, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct

import pytest

from lms_kernels.conf import app_settings
from lms_kernels.connection.protocol import encode_v1_frame
from lms_kernels.testing import ConnectionClosed
from lms_kernels.testing.client import notice

from .conftest import kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

#: Close codes a client may get for what it sent (lms_kernels.exceptions): a bad frame too many, too large.
DOCUMENTED = {4400, 4413}

REFUSED, FORWARDED, EITHER = "refused", "forwarded", "either"


def message(msg_type="kernel_info_request", channel="shell", **fields) -> dict:
    msg = {
        "header": {
            "msg_id": f"fuzz-{msg_type}",
            "msg_type": msg_type,
            "username": "fuzz",
            "session": "fuzz",
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {},
        "channel": channel,
    }
    msg.update(fields)
    return msg


def text(msg: dict) -> str:
    return json.dumps(msg)


def with_header(**changes) -> dict:
    msg = message()
    msg["header"].update(changes)
    return msg


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_json(msg: dict, replacements: dict[str, str]) -> str:
    """``msg`` as JSON with placeholder strings replaced by raw JSON (escapes, numbers JSON cannot hold)."""
    encoded = json.dumps(msg)
    for placeholder, raw in replacements.items():
        encoded = encoded.replace(json.dumps(placeholder), raw)
    return encoded


def legacy(count: int, offsets: list[int], tail: bytes = b"") -> bytes:
    return struct.pack(f"!{1 + len(offsets)}I", count, *offsets) + tail


def v1_table(count: int, offsets: list[int], tail: bytes = b"") -> bytes:
    return b"".join(value.to_bytes(8, "little") for value in (count, *offsets)) + tail


def v1(channel: str | bytes, header: bytes, parent=b"{}", metadata=b"{}", content=b"{}") -> bytes:
    if isinstance(channel, str):
        return encode_v1_frame(channel, [header, parent, metadata, content])
    chunks = [channel, header, parent, metadata, content]
    offsets = [8 * (len(chunks) + 2)]
    for chunk in chunks:
        offsets.append(offsets[-1] + len(chunk))
    return v1_table(len(offsets), offsets, b"".join(chunks))


HEADER = json.dumps(message()["header"]).encode()

JSON_CASES = [
    ("not JSON", "hello", None, REFUSED),
    ("empty text", "", None, REFUSED),
    ("binary garbage", None, b"\x00\xff\x13\x37garbage\x00", REFUSED),
    ("empty binary", None, b"", REFUSED),
    ("legacy binary, huge count", None, legacy(0xFFFFFFFF, [8]), REFUSED),
    ("legacy binary, offset past the end", None, legacy(2, [12, 1_000_000], b"{}"), REFUSED),
    ("legacy binary, offsets backwards", None, legacy(2, [12, 11], b'{"a": 1}'), REFUSED),
    ("legacy binary, no JSON", None, legacy(1, [8], b"\xff\xfe"), REFUSED),
    ("legacy binary, JSON array", None, legacy(1, [8], b"[1]"), REFUSED),
    ("a JSON array", "[1, 2]", None, REFUSED),
    ("a JSON number", "42", None, REFUSED),
    ("JSON null", "null", None, REFUSED),
    ("a JSON string", '"shell"', None, REFUSED),
    (
        "no channel (Jupyter's default: shell)",
        text({k: v for k, v in message().items() if k != "channel"}),
        None,
        FORWARDED,
    ),
    ("channel control", text(message(channel="control")), None, FORWARDED),
    ("channel nope", text(message(channel="nope")), None, REFUSED),
    ("channel iopub", text(message(channel="iopub")), None, REFUSED),
    ("channel 42", text(message(channel=42)), None, REFUSED),
    ("channel null", text(message(channel=None)), None, REFUSED),
    ("no header", text({"channel": "shell", "content": {}}), None, REFUSED),
    ("empty header", text(message(header={})), None, REFUSED),
    ("header a list", text(message(header=[1])), None, REFUSED),
    ("msg_id a number", text(with_header(msg_id=42)), None, REFUSED),
    ("msg_id empty", text(with_header(msg_id="")), None, REFUSED),
    ("msg_type a list", text(with_header(msg_type=["execute_request"])), None, REFUSED),
    ("content a list", text(message(content=[1, 2])), None, REFUSED),
    ("metadata a string", text(message(metadata="x")), None, REFUSED),
    ("parent_header a number", text(message(parent_header=5)), None, REFUSED),
    ("deep array", nested(50_000), None, REFUSED),
    ("deep content", raw_json(message(content={"a": "DEEP"}), {"DEEP": nested(50_000)}), None, REFUSED),
    # Around the interpreter's recursion limit, where decoding may work and encoding again may not.
    *(
        (
            f"content {depth} deep",
            raw_json(message(content={"a": "DEEP"}), {"DEEP": nested(depth)}),
            None,
            EITHER,
        )
        for depth in range(700, 1001, 10)
    ),
    ("lone surrogate in content", raw_json(message(content={"a": "S"}), {"S": '"\\udfff"'}), None, REFUSED),
    ("lone surrogate msg_id", raw_json(with_header(msg_id="S"), {"S": '"\\udfff"'}), None, REFUSED),
    ("lone surrogate in header", raw_json(with_header(session="S"), {"S": '"\\ud800"'}), None, REFUSED),
    ("lone surrogate channel", raw_json(message(channel="S"), {"S": '"\\udfff"'}), None, REFUSED),
    ("lone surrogate msg_type", raw_json(with_header(msg_type="S"), {"S": '"\\udfff"'}), None, REFUSED),
    ("2**64 in content", text(message(content={"n": 2**64})), None, FORWARDED),
    ("1e309 in content", raw_json(message(content={"n": "N"}), {"N": "1e309"}), None, REFUSED),
    ("NaN in content", raw_json(message(content={"n": "N"}), {"N": "NaN"}), None, REFUSED),
    ("-Infinity in metadata", raw_json(message(metadata={"n": "N"}), {"N": "-Infinity"}), None, REFUSED),
    ("1e309 in the header", raw_json(with_header(date="N"), {"N": "1e309"}), None, REFUSED),
    (
        "NaN in the parent header",
        raw_json(message(parent_header={"msg_id": "N"}), {"N": "NaN"}),
        None,
        REFUSED,
    ),
    ("msg_id 2**64", text(with_header(msg_id=2**64)), None, REFUSED),
    (
        "input_reply with no input pending",
        text(message("input_reply", "stdin", content={"value": "x"})),
        None,
        FORWARDED,
    ),
    (
        "comm_msg for an unknown comm",
        text(message("comm_msg", content={"comm_id": "nope", "data": {}})),
        None,
        FORWARDED,
    ),
    (
        "comm_close for an unknown comm",
        text(message("comm_close", content={"comm_id": "nope"})),
        None,
        FORWARDED,
    ),
    (
        "comm_open for an unknown target",
        text(message("comm_open", content={"comm_id": "c", "target_name": "nope", "data": {}})),
        None,
        FORWARDED,
    ),
    ("code a number", text(message("execute_request", content={"code": 42})), None, FORWARDED),
    ("an unknown msg_type", text(with_header(msg_type="x" * 10_000)), None, FORWARDED),
    ("a reply from the client", text(message("execute_reply", content={"status": "ok"})), None, FORWARDED),
    (
        "a large valid message",
        text(message("comm_msg", content={"comm_id": "nope", "data": {"x": "a" * 1_000_000}})),
        None,
        FORWARDED,
    ),
]

V1_CASES = [
    ("a text frame", "{}", None, REFUSED),
    ("empty binary", None, b"", REFUSED),
    ("seven bytes", None, b"\x01" * 7, REFUSED),
    ("huge count", None, v1_table(2**64 - 1, []), REFUSED),
    ("count past the frame", None, v1_table(6, [56]), REFUSED),
    ("offsets past the end", None, v1_table(6, [56, 60, 10**12, 10**12, 10**12, 10**12], b"shell"), REFUSED),
    ("offsets backwards", None, v1_table(6, [56, 61, 60, 62, 63, 65], b"shell{}{}{}{}"), REFUSED),
    ("first offset wrong", None, v1_table(6, [0, 5, 7, 9, 11, 13], b"shell{}{}{}{}"), REFUSED),
    ("channel not UTF-8", None, v1(b"\xff\xfe", HEADER), REFUSED),
    ("channel nope", None, v1("nope", HEADER), REFUSED),
    ("channel iopub", None, v1("iopub", HEADER), REFUSED),
    ("header not JSON", None, v1("shell", b"\xff"), REFUSED),
    ("header a list", None, v1("shell", b"[1]"), REFUSED),
    ("header deep", None, v1("shell", nested(50_000).encode()), REFUSED),
    ("content a list", None, v1("shell", HEADER, content=b"[1]"), REFUSED),
    ("content deep", None, v1("shell", HEADER, content=nested(50_000).encode()), REFUSED),
    ("msg_id a number", None, v1("shell", json.dumps(with_header(msg_id=1)["header"]).encode()), REFUSED),
    (
        "1e309 in the header",
        None,
        v1("shell", raw_json(with_header(date="N")["header"], {"N": "1e309"}).encode()),
        REFUSED,
    ),
    (
        "1e309 in the header, bad content",
        None,
        v1("shell", raw_json(with_header(date="N")["header"], {"N": "1e309"}).encode(), content=b"[]"),
        REFUSED,
    ),
    (
        "lone surrogate msg_id, bad content",
        None,
        v1("shell", raw_json(with_header(msg_id="S")["header"], {"S": '"\\udfff"'}).encode(), content=b"[]"),
        REFUSED,
    ),
    (
        "lone surrogate msg_id",
        None,
        v1("shell", raw_json(with_header(msg_id="S")["header"], {"S": '"\\udfff"'}).encode()),
        REFUSED,
    ),
    (
        "input_reply with no input pending",
        None,
        v1(
            "stdin",
            json.dumps(with_header(msg_type="input_reply")["header"]).encode(),
            content=b'{"value": "x"}',
        ),
        FORWARDED,
    ),
    (
        "comm_msg for an unknown comm",
        None,
        v1(
            "shell",
            json.dumps(with_header(msg_type="comm_msg")["header"]).encode(),
            content=b'{"comm_id": "nope", "data": {}}',
        ),
        FORWARDED,
    ),
    ("2**64 in content", None, v1("shell", HEADER, content=b'{"n": 18446744073709551616}'), FORWARDED),
]


class ErrorRecords(logging.Handler):
    """Collects every ERROR record (a traceback in the server's log)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def error_records():
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


async def probe(ws, number: int) -> tuple[bool, int | None]:
    """Ask the kernel for its info; return whether a refusal notice came first, and the close code if the
    server closed instead of answering (the connection is then gone)."""
    msg = ws.request("kernel_info_request")
    msg["header"]["msg_id"] = f"probe-{number}"
    refused = False
    try:
        await ws.send(msg)
        while True:
            received = await ws.receive(timeout=30)
            if notice(received) == "invalid_message":
                refused = True
            elif (
                received["msg_type"] == "kernel_info_reply"
                and received["parent_header"].get("msg_id") == f"probe-{number}"
            ):
                assert received["content"]["status"] == "ok"
                return refused, None
    except ConnectionClosed as closed:
        ws.connected = False
        return refused, closed.code


CODE = "import time\nfor i in range(60):\n    print(i, flush=True)\n    time.sleep(0.005)\n"
EXPECTED = "".join(f"{i}\n" for i in range(60))


async def bystander_cells(ws, stop: asyncio.Event) -> int:
    """Run cells until ``stop``; each must print all its lines, in order. Returns how many ran."""
    runs = 0
    while not stop.is_set() or runs == 0:
        result = await ws.execute(CODE, timeout=60)
        assert result.reply["content"]["status"] == "ok"
        assert result.stdout == EXPECTED, result.stdout
        runs += 1
    return runs


@pytest.mark.parametrize("protocol, cases", [(None, JSON_CASES), ("v1", V1_CASES)], ids=["json", "v1"])
async def test_fuzzed_frames_are_answered_and_spare_the_kernel_and_other_learners(
    kernels, user, other_user, error_records, protocol, cases
):
    client, other = await logged_in_client(user), await logged_in_client(other_user)
    kernel, other_kernel = await start_kernel(client), await start_kernel(other)
    async with kernel_socket(other, other_kernel["id"]) as bystander:
        await bystander.wait_ready(timeout=60)
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(bystander_cells(bystander, stop))
        try:
            outcomes = {}
            async with kernel_socket(client, kernel["id"], protocol=protocol) as ws:
                await ws.wait_ready(timeout=60)
                for number, (name, frame_text, frame_data, expected) in enumerate(cases):
                    await ws.send_raw(text=frame_text, data=frame_data)
                    refused, code = await probe(ws, number)
                    assert code is None, f"{name}: closed with {code}"
                    outcomes[name] = REFUSED if refused else FORWARDED
                    if expected != EITHER:
                        assert outcomes[name] == expected, name
            # Past the size limit: a documented close, on this connection only.
            for frame in (
                {"text": "x" * (app_settings.MAX_MESSAGE_SIZE + 1)},
                {"data": b"\x00" * (app_settings.MAX_MESSAGE_SIZE + 1)},
            ):
                async with kernel_socket(client, kernel["id"], protocol=protocol) as ws:
                    await ws.wait_ready(timeout=60)
                    await ws.send_raw(**frame)
                    assert await ws.receive_close() == 4413
            # The kernel still answers a new connection.
            async with kernel_socket(client, kernel["id"], protocol=protocol) as ws:
                assert (await ws.execute("6 * 7")).result == "42"
        finally:
            stop.set()
            runs = await asyncio.wait_for(running, 120)
    assert runs >= 1
    assert not error_records, [record.getMessage() for record in error_records]
