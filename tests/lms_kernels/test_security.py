"""The WebSocket Origin check: browsers must come from an allowed host; token clients may send no Origin."""

import pytest
from asgiref.sync import sync_to_async

from lms_kernels.models import KernelApiToken
from lms_kernels.security import origin_allowed
from lms_kernels.testing import KernelWebsocket, websocket_application

from .conftest import PREFIX, logged_in_client, session_headers, start_kernel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_origin_rules(kernels, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    _row, token = await sync_to_async(KernelApiToken.objects.issue)(user)
    path = f"{PREFIX}/kernels/{kernel['id']}/channels"
    bearer = [(b"authorization", f"token {token}".encode())]

    def socket(query="", headers=(), origin=None):
        return KernelWebsocket(websocket_application(), path + query, headers=list(headers), origin=origin)

    # A program with a token and no Origin (JupyterLab's gateway client, jupyter_client scripts): let in.
    for ws in (socket(headers=bearer), socket(query=f"?token={token}")):
        async with ws:
            assert (await ws.execute("2+3")).result == "5"
    # No Origin and no token: refused before accept, like a foreign Origin, token or not.
    refused = [
        socket(headers=session_headers(client)),
        socket(headers=bearer, origin="http://evil.example"),
        socket(query=f"?token={token}", origin="http://evil.example"),
        socket(query="?token=", headers=session_headers(client)),
    ]
    for ws in refused:
        assert (await ws.connect())[0] is False
    # A browser from the site itself, with its session: let in.
    async with socket(headers=session_headers(client), origin="http://testserver") as ws:
        assert (await ws.execute("1")).result == "1"


# -- the Origin rule: Django's CSRF origin check (scheme, host and port) ------------------------------------

PROXY_SSL = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize(
    "origin, host, extra, overrides, accepted",
    [
        ("http://testserver", "testserver", [], {}, True),
        # The same host on another port, or with another scheme, is another site.
        ("http://testserver:9999", "testserver", [], {}, False),
        ("http://localhost:9999", "localhost", [], {}, False),
        ("https://testserver", "testserver", [], {}, False),
        ("http://evil.example", "testserver", [], {}, False),
        ("null", "testserver", [], {}, False),
        ("http://testserver", "testserver:8000", [], {}, False),
        ("http://testserver:8000", "testserver:8000", [], {}, True),
        # A Host outside ALLOWED_HOSTS is not the site's, whatever the Origin says.
        ("http://elsewhere.example", "elsewhere.example", [], {}, False),
        # CSRF_TRUSTED_ORIGINS, exact and with a wildcard, scheme and port included.
        (
            "https://app.example.org",
            "testserver",
            [],
            {"CSRF_TRUSTED_ORIGINS": ["https://app.example.org"]},
            True,
        ),
        (
            "http://app.example.org",
            "testserver",
            [],
            {"CSRF_TRUSTED_ORIGINS": ["https://app.example.org"]},
            False,
        ),
        (
            "https://a.example.org",
            "testserver",
            [],
            {"CSRF_TRUSTED_ORIGINS": ["https://*.example.org"]},
            True,
        ),
        # Behind a TLS-terminating proxy: X-Forwarded-Proto counts only with SECURE_PROXY_SSL_HEADER.
        (
            "https://testserver",
            "testserver",
            [(b"x-forwarded-proto", b"https")],
            {"SECURE_PROXY_SSL_HEADER": PROXY_SSL},
            True,
        ),
        (
            "http://testserver",
            "testserver",
            [(b"x-forwarded-proto", b"https")],
            {"SECURE_PROXY_SSL_HEADER": PROXY_SSL},
            False,
        ),
        ("https://testserver", "testserver", [(b"x-forwarded-proto", b"https")], {}, False),
    ],
)
async def test_browser_origin_must_match_scheme_host_and_port(
    user, settings, origin, host, extra, overrides, accepted
):
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    for name, value in overrides.items():
        setattr(settings, name, value)
    client = await logged_in_client(user)
    # A kernel that does not exist: past the Origin check the consumer accepts, then closes with 4404.
    path = f"{PREFIX}/kernels/00000000-0000-0000-0000-000000000000/channels"
    ws = KernelWebsocket(
        websocket_application(), path, headers=[*session_headers(client), *extra], origin=origin, host=host
    )
    connected, _subprotocol = await ws.connect()
    assert connected is accepted
    if connected:
        assert await ws.receive_close() == 4404
        await ws.disconnect()


@pytest.mark.parametrize(
    "scope_scheme, origin, accepted",
    [
        ("wss", "https://testserver", True),
        ("wss", "http://testserver", False),
        ("ws", "https://testserver", False),
    ],
)
async def test_a_secure_websocket_is_an_https_origin(settings, scope_scheme, origin, accepted):
    settings.ALLOWED_HOSTS = ["testserver"]
    scope = {
        "type": "websocket",
        "scheme": scope_scheme,
        "path": "/kernels/api/kernels/x/channels",
        "query_string": b"token=\xff",  # (not UTF-8: plays no part)
        "headers": [(b"host", b"testserver"), (b"origin", origin.encode())],
    }
    assert origin_allowed(scope) is accepted
