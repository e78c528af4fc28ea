"""The WebSocket wire formats of Jupyter's kernel channels, and the checks on what clients send.

Three framings, all carrying a message as parts (see :mod:`.messages`) plus a channel name:

``json`` (the default protocol, no subprotocol)
    A text frame: the message as one JSON object with a ``"channel"`` key. A message with buffers travels
    as a binary frame in Jupyter's legacy "buffers" framing: a big-endian uint32 count *n*, *n* uint32
    offsets, then the JSON (without ``"buffers"``) and the buffers.
``v1`` (subprotocol ``v1.kernel.websocket.jupyter.org``)
    A binary frame: a little-endian uint64 count *n*, *n* uint64 offsets, then the channel name and the
    parts, raw. The service passes the kernel's parts through without parsing their content.

Client frames are checked before anything reaches a kernel; a bad frame raises :class:`InvalidMessage`
carrying whatever header could be read, so the bridge can answer the request instead of leaving the client
waiting.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..exceptions import InvalidMessage

__all__ = [
    "CLIENT_CHANNELS",
    "V1_SUBPROTOCOL",
    "ClientMessage",
    "decode_client_frame",
    "encode_json_frame",
    "encode_message",
    "encode_v1_frame",
]

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
CLIENT_CHANNELS = frozenset({"shell", "control", "stdin"})
#: Most parts a client message may have (4 JSON parts + buffers); more is refused, not allocated.
MAX_PARTS = 4 + 256


class BadFrame(InvalidMessage):
    """An :class:`InvalidMessage` with what is known about the offending message."""

    def __init__(self, detail, *, header: dict | None = None, channel: str | None = None):
        super().__init__(detail)
        # The header is echoed as the parent of the answer: one that JSON cannot carry (a lone surrogate,
        # NaN, a number past float's range) would make the answer impossible to send, so it is left out.
        self.header = header if isinstance(header, dict) and _encodable(header) else None
        self.channel = channel


@dataclass(frozen=True, slots=True)
class ClientMessage:
    channel: str
    header: dict
    parts: list[bytes]


# -- decoding what clients send ------------------------------------------------------------------------------


def decode_client_frame(*, text: str | None, data: bytes | None, protocol: str | None) -> ClientMessage:
    """Decode and check one client frame; raise :class:`BadFrame` when it is not a valid message."""
    if protocol == V1_SUBPROTOCOL:
        if data is None:
            raise BadFrame(_("The v1 protocol sends binary frames; this was a text frame."))
        return _decode_v1(data)
    if text is not None:
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            raise BadFrame(_("The frame is not valid JSON.")) from None
        return _from_json_message(msg, buffers=[])
    return _decode_legacy_binary(data or b"")


def _decode_v1(data: bytes) -> ClientMessage:
    if len(data) < 8:
        raise BadFrame(_("The binary frame is too short for the v1 protocol."))
    count = int.from_bytes(data[:8], "little")
    if not 6 <= count <= MAX_PARTS + 2 or len(data) < 8 * (count + 1):
        raise BadFrame(_("The binary frame's offset table is not valid."))
    offsets = [int.from_bytes(data[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] != len(data) or offsets != sorted(offsets):
        raise BadFrame(_("The binary frame's offsets do not match its length."))
    try:
        channel = data[offsets[0] : offsets[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise BadFrame(_("The channel name is not UTF-8.")) from None
    parts = [data[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    header = _load_dict(parts[0], "header", None, channel)
    if not _encodable(header):  # the service echoes headers (as the parent of its answers and notices)
        raise BadFrame(_("The message contains values JSON cannot carry."), channel=channel)
    for index, name in ((1, "parent_header"), (2, "metadata"), (3, "content")):
        _load_dict(parts[index], name, header, channel)
    return _checked(channel, header, parts)


def _decode_legacy_binary(data: bytes) -> ClientMessage:
    if len(data) < 4:
        raise BadFrame(_("The binary frame is too short."))
    (count,) = struct.unpack("!I", data[:4])
    if not 1 <= count <= MAX_PARTS or len(data) < 4 * (count + 1):
        raise BadFrame(_("The binary frame's offset table is not valid."))
    offsets = list(struct.unpack(f"!{count}I", data[4 : 4 * (count + 1)]))
    if offsets[0] != 4 * (count + 1) or offsets != sorted(offsets) or offsets[-1] > len(data):
        raise BadFrame(_("The binary frame's offsets do not match its length."))
    bounds = [*offsets, len(data)]
    chunks = [data[bounds[i] : bounds[i + 1]] for i in range(count)]
    try:
        msg = json.loads(chunks[0])
    except (ValueError, RecursionError):
        raise BadFrame(_("The binary frame's message is not valid JSON.")) from None
    return _from_json_message(msg, buffers=chunks[1:])


def _from_json_message(msg, *, buffers: list[bytes]) -> ClientMessage:
    if not isinstance(msg, dict):
        raise BadFrame(_("The frame must be a JSON object (a Jupyter message)."))
    header = msg.get("header")
    channel = msg.get("channel", "shell")  # Jupyter Server's default when a client names none
    if not isinstance(channel, str):
        raise BadFrame(_("'channel' must be a string."), header=header)
    if not isinstance(header, dict):
        raise BadFrame(_("The message has no 'header' object."), channel=channel)
    for name in ("parent_header", "metadata", "content"):
        if not isinstance(msg.get(name, {}), dict):
            raise BadFrame(
                _("'%(field)s' must be an object.") % {"field": name}, header=header, channel=channel
            )
    checked = _checked(channel, header, [])
    try:
        parts = [
            _dumps(header),
            _dumps(msg.get("parent_header") or {}),
            _dumps(msg.get("metadata") or {}),
            _dumps(msg.get("content") or {}),
            *buffers,
        ]
    except (ValueError, RecursionError):  # (UnicodeEncodeError is a ValueError: a lone surrogate)
        raise BadFrame(
            _("The message contains values JSON cannot carry."), header=header, channel=channel
        ) from None
    return ClientMessage(checked.channel, header, parts)


def _load_dict(raw: bytes, name: str, header: dict | None, channel: str) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise BadFrame(
            _("'%(field)s' must be a JSON object.") % {"field": name}, header=header, channel=channel
        )
    return value


def _checked(channel: str, header: dict, parts: list[bytes]) -> ClientMessage:
    for field in ("msg_id", "msg_type"):
        value = header.get(field)
        if not isinstance(value, str) or not value:
            raise BadFrame(
                _("The header needs a non-empty '%(field)s'.") % {"field": field},
                header=header,
                channel=channel,
            )
    if channel not in CLIENT_CHANNELS:
        raise BadFrame(
            _("Unknown channel %(channel)r: clients send on shell, control or stdin.") % {"channel": channel},
            header=header,
            channel=channel,
        )
    return ClientMessage(channel, header, parts)


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _encodable(obj) -> bool:
    """Whether ``obj`` can be sent as JSON (no NaN or infinity, no lone surrogate, not too deep)."""
    try:
        _dumps(obj)
    except (ValueError, RecursionError):
        return False
    return True


# -- encoding what clients receive ---------------------------------------------------------------------------


def encode_json_frame(channel: str, parts: list[bytes], header: dict) -> str | bytes:
    """Jupyter's JSON frame, built around the kernel's raw JSON parts (the content is not re-parsed).

    The parts are joined as bytes and decoded once: a 20 MB output is copied twice, not five times.
    """
    prefix = (
        b'{"header":'
        + parts[0]
        + b',"msg_id":'
        + json.dumps(header.get("msg_id")).encode()
        + b',"msg_type":'
        + json.dumps(header.get("msg_type")).encode()
        + b',"parent_header":'
        + parts[1]
        + b',"metadata":'
        + parts[2]
        + b',"content":'
    )
    buffers = parts[4:]
    if not buffers:
        suffix = b',"channel":' + json.dumps(channel).encode() + b',"buffers":[]}'
        return b"".join((prefix, parts[3], suffix)).decode("utf-8")
    body = b"".join((prefix, parts[3], b',"channel":', json.dumps(channel).encode(), b"}"))
    # Validate like the text frame does: the JSON parts must be UTF-8.
    body.decode("utf-8")
    chunks = [body, *buffers]
    count = len(chunks)
    offsets = [4 * (count + 1)]
    for chunk in chunks[:-1]:
        offsets.append(offsets[-1] + len(chunk))
    return struct.pack(f"!{count + 1}I", count, *offsets) + b"".join(chunks)


def encode_v1_frame(channel: str, parts: list[bytes]) -> bytes:
    name = channel.encode("utf-8")
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[-1] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    table = b"".join(value.to_bytes(8, "little") for value in (len(offsets), *offsets))
    return table + name + b"".join(parts)


def encode_message(protocol: str | None, channel: str, parts: list[bytes], header: dict) -> str | bytes:
    """The frame for ``protocol`` (``None``: JSON); ``header`` is the parsed first part."""
    if protocol == V1_SUBPROTOCOL:
        return encode_v1_frame(channel, parts)
    return encode_json_frame(channel, parts, header)
