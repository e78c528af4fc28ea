"""The WebSocket Origin check: browsers must come from an allowed host; token clients may send no Origin."""

import pytest
from asgiref.sync import sync_to_async

from lms_kernels.models import KernelApiToken
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
