"""Keep credentials in URLs out of logs.

Jupyter clients that cannot set headers pass their API token in the WebSocket's URL (``?token=...``), and
servers log URLs: uvicorn logs every WebSocket handshake at ``INFO`` on the ``uvicorn.error`` logger, query
string included, whether or not its access log is on (``... - "WebSocket /kernels/api/kernels/<id>/channels
?token=..." [accepted]``). :class:`RedactTokens` is a :class:`logging.Filter` that replaces the values of
such query parameters (``token``, ``access_token``, ``ticket``...) with ``[redacted]`` in a record's message
and arguments, and lets the record through::

    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_tokens": {"()": "lms_kernels.logging.RedactTokens"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            # uvicorn's own handlers print its records; a filter on the logger that makes them applies.
            "uvicorn.error": {"level": "INFO", "filters": ["redact_tokens"]},
        },
    }

A filter on a *handler* sees every record the handler prints; a filter on a *logger* sees only the records
made by that logger itself (not those of its children), which is why ``uvicorn.error`` is named.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["REDACTED", "SECRET_PARAMETERS", "RedactTokens", "redact"]

REDACTED = "[redacted]"
#: Query parameters whose values are credentials (matched without regard to case).
SECRET_PARAMETERS = ("token", "access_token", "auth_token", "api_key", "apikey", "ticket", "password")

_PATTERN = re.compile(
    r"(?i)([?&;](?:" + "|".join(re.escape(name) for name in SECRET_PARAMETERS) + r")=)[^&;#\s\"'<>]*"
)


def redact(text: str) -> str:
    """``text`` with the values of credential query parameters replaced by ``[redacted]``."""
    if "=" not in text:
        return text
    return _PATTERN.sub(lambda match: match.group(1) + REDACTED, text)


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("latin-1")).encode("latin-1")
    if value is None or isinstance(value, int | float):
        return value  # (kept for %d and %f)
    text = str(value)  # e.g. a URL object or an exception that quotes a URL
    redacted = redact(text)
    return value if redacted == text else redacted


class RedactTokens(logging.Filter):
    """Redacts credential query parameters in a record's message and arguments; never drops a record.

    The arguments are redacted one by one (not the formatted message), so formatters that read them, such
    as uvicorn's access log formatter, keep working.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redacted(arg) for arg in args)
        elif isinstance(args, Mapping):
            record.args = {key: _redacted(value) for key, value in args.items()}
        return True
