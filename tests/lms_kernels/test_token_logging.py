"""API tokens never reach the logs: uvicorn logs each WebSocket handshake with its URL, ``?token=`` included.

The example project's ``LOGGING`` puts :class:`lms_kernels.logging.RedactTokens` on uvicorn's logger; this
runs the project under a real uvicorn, the way operators do, and reads what the server printed.
"""

from __future__ import annotations

import logging
import re

import pytest

from lms_kernels.logging import REDACTED, RedactTokens, redact

from .test_server_processes import API, Site

pytestmark = pytest.mark.slow


def test_a_token_in_the_websocket_url_is_redacted_in_the_server_log(tmp_path):
    site = Site(tmp_path)
    try:
        site.prepare(
            {"DJANGO_SQLITE_PATH": str(tmp_path / "site.sqlite3"), "DATABASE_URL": None, "REDIS_URL": None}
        )
        secret = site.token
        (server,) = site.start_servers("web")
        status, kernel = site.api(server)("POST", "/kernels", {"name": "python3"})
        assert status == 201, kernel
        with site.socket(server, kernel["id"], token_in="query") as ws:
            assert ws.execute("print(6 * 7)").stdout == "42\n"
        assert site.api(server)("DELETE", f"/kernels/{kernel['id']}")[0] == 204
        server.stop()
        log = server.log_text()
    finally:
        site.close()
    assert secret not in log
    # The handshake is still logged, with the parameter's name and without its value.
    handshake = re.compile(
        rf'"WebSocket {re.escape(API)}/kernels/{kernel["id"]}/channels\?session_id=\w+&token=\[redacted\]" '
        r"\[accepted\]"
    )
    assert handshake.search(log), log[-3000:]


def test_redact_tokens_rewrites_message_and_arguments_and_keeps_the_record():
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/channels?session_id=s&token=SECRET"),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert (
        record.getMessage()
        == f'127.0.0.1:5000 - "WebSocket /channels?session_id=s&token={REDACTED}" [accepted]'
    )
    # Other credential parameters, any case; look-alike names and the rest of the URL are left alone.
    assert redact("/a?Access_Token=x&ticket=y#z") == f"/a?Access_Token={REDACTED}&ticket={REDACTED}#z"
    assert redact("/a?tokens=1&mytoken=2&n=3") == "/a?tokens=1&mytoken=2&n=3"
    # Mapping arguments, and numbers (for %d) untouched.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%(url)s %(n)d", None, None)
    record.args = {"url": "/b?token=SECRET", "n": 3}
    RedactTokens().filter(record)
    assert record.getMessage() == f"/b?token={REDACTED} 3"
