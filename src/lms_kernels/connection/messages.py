"""Jupyter messages as the service builds and signs them.

A message travels as *parts*: ``[header, parent_header, metadata, content, *buffers]``, each a bytes
object; the first four are JSON. Kernels sign the four JSON parts with HMAC (the connection's ``key`` and
``signature_scheme``). Keeping messages as parts lets the service pass a kernel's output to clients without
parsing its content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DELIMITER",
    "PROTOCOL_VERSION",
    "Signer",
    "new_message",
    "pack_message",
]

DELIMITER = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.3"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


def new_message(
    msg_type: str,
    content: dict | None = None,
    *,
    session: str,
    parent_header: dict | None = None,
    username: str = "lms_kernels",
) -> dict:
    """A complete Jupyter message dict (as clients expect it), with a fresh ``msg_id``."""
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": username,
        "session": session,
        "date": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "version": PROTOCOL_VERSION,
    }
    return {
        "header": header,
        "msg_id": msg_id,
        "msg_type": msg_type,
        "parent_header": parent_header or {},
        "metadata": {},
        "content": content or {},
        "buffers": [],
    }


def pack_message(msg: dict) -> list[bytes]:
    """Parts of a message dict: the four JSON parts, then its buffers."""
    return [
        _dumps(msg["header"]),
        _dumps(msg.get("parent_header") or {}),
        _dumps(msg.get("metadata") or {}),
        _dumps(msg.get("content") or {}),
        *(bytes(buf) for buf in msg.get("buffers") or ()),
    ]


class Signer:
    """HMAC signatures of message parts, as jupyter_client's ``Session.sign`` computes them."""

    def __init__(self, key: str | bytes, signature_scheme: str = "hmac-sha256"):
        if isinstance(key, str):
            key = key.encode("ascii")
        self.key = key
        scheme, _, digest = signature_scheme.partition("-")
        if scheme != "hmac" or not digest:
            raise ValueError(f"Unsupported signature scheme {signature_scheme!r}.")
        try:
            hashlib.new(digest)
        except ValueError as exc:
            raise ValueError(f"Unsupported signature scheme {signature_scheme!r}.") from exc
        self._auth = hmac.new(key, digestmod=digest) if key else None

    def sign(self, parts: list[bytes]) -> bytes:
        if self._auth is None:
            return b""
        mac = self._auth.copy()
        for part in parts[:4]:
            mac.update(part)
        return mac.hexdigest().encode("ascii")

    def verify(self, signature: bytes, parts: list[bytes]) -> bool:
        if self._auth is None:
            return True
        return hmac.compare_digest(signature, self.sign(parts))

    def wire_frames(self, parts: list[bytes]) -> list[bytes]:
        """What a DEALER sends: the delimiter, the signature, then the parts."""
        return [DELIMITER, self.sign(parts), *parts]
