"""The WebSocket wire formats: encoding what clients receive, checking and decoding what they send."""

import json
import struct

import pytest
from jupyter_client.session import Session

from lms_kernels.connection.messages import Signer, new_message, pack_message
from lms_kernels.connection.protocol import (
    V1_SUBPROTOCOL,
    BadFrame,
    decode_client_frame,
    encode_json_frame,
    encode_v1_frame,
)
from lms_kernels.testing.client import _decode_v1


def execute_request(**header_changes):
    msg = new_message("execute_request", {"code": "1+1"}, session="s")
    msg["header"].update(header_changes)
    msg["channel"] = "shell"
    return msg


def legacy_binary(msg: dict, buffers: list[bytes]) -> bytes:
    chunks = [json.dumps(msg).encode(), *buffers]
    offsets = [4 * (len(chunks) + 1)]
    for chunk in chunks[:-1]:
        offsets.append(offsets[-1] + len(chunk))
    return struct.pack(f"!{len(chunks) + 1}I", len(chunks), *offsets) + b"".join(chunks)


# -- messages and signatures ---------------------------------------------------------------------------------


def test_signatures_match_jupyter_client():
    key = b"0123456789abcdef"
    msg = new_message("kernel_info_request", session="abc")
    parts = pack_message(msg)
    assert Signer(key).sign(parts) == Session(key=key).sign(parts[:4])
    assert Signer(key).verify(Signer(key).sign(parts), parts)
    assert not Signer(key).verify(b"0" * 64, parts)
    assert Signer(b"").sign(parts) == b"" and Signer(b"").verify(b"", parts)


def test_unsupported_signature_scheme_is_refused():
    with pytest.raises(ValueError):
        Signer(b"k", "rsa-sha256")
    with pytest.raises(ValueError):
        Signer(b"k", "hmac-nosuchhash")


# -- kernel -> client ----------------------------------------------------------------------------------------


def test_json_frame_is_jupyters_message_with_channel():
    msg = new_message(
        "stream", {"name": "stdout", "text": "안녕\n"}, session="s", parent_header={"msg_id": "p"}
    )
    frame = encode_json_frame("iopub", pack_message(msg), msg["header"])
    decoded = json.loads(frame)
    assert decoded == {**msg, "channel": "iopub"}


def test_json_frame_with_buffers_uses_the_legacy_binary_framing():
    msg = new_message("comm_msg", {"data": {}}, session="s")
    msg["buffers"] = [b"\x00\x01", b"xyz"]
    frame = encode_json_frame("iopub", pack_message(msg), msg["header"])
    assert isinstance(frame, bytes)
    (count,) = struct.unpack("!I", frame[:4])
    offsets = struct.unpack(f"!{count}I", frame[4 : 4 * (count + 1)])
    body = json.loads(frame[offsets[0] : offsets[1]])
    assert body["msg_type"] == "comm_msg" and body["channel"] == "iopub" and "buffers" not in body
    assert frame[offsets[1] : offsets[2]] == b"\x00\x01" and frame[offsets[2] :] == b"xyz"


def test_v1_frame_layout():
    parts = [b'{"msg_id":"a","msg_type":"status"}', b"{}", b"{}", b'{"execution_state":"idle"}']
    frame = encode_v1_frame("iopub", parts)
    count = int.from_bytes(frame[:8], "little")
    assert count == len(parts) + 2
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    assert offsets[0] == 8 * (count + 1) and offsets[-1] == len(frame)
    assert frame[offsets[0] : offsets[1]] == b"iopub"
    assert _decode_v1(frame)["content"] == {"execution_state": "idle"}


# -- client -> kernel ----------------------------------------------------------------------------------------


def test_json_text_frame_decodes_to_parts():
    msg = execute_request()
    decoded = decode_client_frame(text=json.dumps(msg), data=None, protocol=None)
    assert decoded.channel == "shell" and decoded.header == msg["header"]
    assert json.loads(decoded.parts[3]) == {"code": "1+1"}
    assert len(decoded.parts) == 4


def test_missing_channel_means_shell_as_in_jupyter_server():
    msg = execute_request()
    del msg["channel"]
    assert decode_client_frame(text=json.dumps(msg), data=None, protocol=None).channel == "shell"


def test_legacy_binary_frame_keeps_buffers():
    msg = execute_request()
    decoded = decode_client_frame(text=None, data=legacy_binary(msg, [b"buf1", b"b2"]), protocol=None)
    assert decoded.parts[4:] == [b"buf1", b"b2"]


def test_v1_round_trip():
    msg = execute_request()
    frame = encode_v1_frame("control", [*pack_message(msg), b"raw"])
    decoded = decode_client_frame(text=None, data=frame, protocol=V1_SUBPROTOCOL)
    assert decoded.channel == "control" and decoded.header["msg_id"] == msg["header"]["msg_id"]
    assert decoded.parts[4:] == [b"raw"]


GOOD = execute_request()


def _json(**changes):
    msg = {**GOOD, **changes}
    return {"text": json.dumps(msg), "data": None, "protocol": None}


BAD_FRAMES = {
    "not json": {"text": "{nope", "data": None, "protocol": None},
    "json array": {"text": "[1, 2]", "data": None, "protocol": None},
    "json string": {"text": '"hello"', "data": None, "protocol": None},
    "deeply nested": {"text": "[" * 100000 + "]" * 100000, "data": None, "protocol": None},
    "no header": _json(header=None),
    "header not an object": _json(header="execute_request"),
    "header without msg_id": _json(header={"msg_type": "execute_request"}),
    "header without msg_type": _json(header={"msg_id": "x"}),
    "empty msg_type": _json(header={"msg_id": "x", "msg_type": ""}),
    "content not an object": _json(content=[1]),
    "metadata not an object": _json(metadata="m"),
    "unknown channel": _json(channel="nope"),
    "iopub from a client": _json(channel="iopub"),
    "channel not a string": _json(channel=3),
    "NaN in content": {
        "text": json.dumps({**GOOD, "content": {"x": float("nan")}}),
        "data": None,
        "protocol": None,
    },
    "empty binary": {"text": None, "data": b"", "protocol": None},
    "binary too short": {"text": None, "data": b"\x00\x00", "protocol": None},
    "binary huge count": {"text": None, "data": struct.pack("!I", 2**31) + b"\x00" * 8, "protocol": None},
    "binary offsets past end": {"text": None, "data": struct.pack("!II", 1, 99), "protocol": None},
    "binary json invalid": {"text": None, "data": struct.pack("!II", 1, 8) + b"{x", "protocol": None},
    "v1 text frame": {"text": json.dumps(GOOD), "data": None, "protocol": V1_SUBPROTOCOL},
    "v1 too short": {"text": None, "data": b"\x01", "protocol": V1_SUBPROTOCOL},
    "v1 huge count": {"text": None, "data": (10**12).to_bytes(8, "little"), "protocol": V1_SUBPROTOCOL},
    "v1 too few parts": {
        "text": None,
        "data": encode_v1_frame("shell", [b"{}", b"{}"]),
        "protocol": V1_SUBPROTOCOL,
    },
    "v1 truncated": {
        "text": None,
        "data": encode_v1_frame("shell", pack_message(GOOD))[:-3],
        "protocol": V1_SUBPROTOCOL,
    },
    "v1 header not json": {
        "text": None,
        "data": encode_v1_frame("shell", [b"{x", b"{}", b"{}", b"{}"]),
        "protocol": V1_SUBPROTOCOL,
    },
    "v1 content not json": {
        "text": None,
        "data": encode_v1_frame("shell", [*pack_message(GOOD)[:3], b"\xff"]),
        "protocol": V1_SUBPROTOCOL,
    },
    "v1 channel not utf-8": {
        "text": None,
        "data": encode_v1_frame("shell", pack_message(GOOD)).replace(b"shell", b"\xffhell", 1),
        "protocol": V1_SUBPROTOCOL,
    },
    "v1 unknown channel": {
        "text": None,
        "data": encode_v1_frame("iopub", pack_message(GOOD)),
        "protocol": V1_SUBPROTOCOL,
    },
}


@pytest.mark.parametrize("frame", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frames_raise_a_message_not_a_crash(frame):
    with pytest.raises(BadFrame) as info:
        decode_client_frame(**frame)
    assert info.value.detail and info.value.status_code == 400


def test_bad_frame_keeps_the_header_so_the_request_can_be_answered():
    with pytest.raises(BadFrame) as info:
        decode_client_frame(**_json(channel="nope"))
    assert info.value.header["msg_id"] == GOOD["header"]["msg_id"] and info.value.channel == "nope"
