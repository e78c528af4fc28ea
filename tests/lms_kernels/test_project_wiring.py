"""The example project serves the kernel API: REST under /kernels/api and the WebSocket through its ASGI app."""

import pytest
from django.apps import apps

from lms_kernels.testing import KernelWebsocket

from .conftest import PREFIX, logged_in_client, session_headers, start_kernel

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(not apps.is_installed("groundup_site"), reason="the example project is not installed"),
]


async def test_project_asgi_application_routes_the_kernel_websocket(kernels, user):
    from groundup_site.asgi import application

    client = await logged_in_client(user)
    kernel = await start_kernel(client)
    path = f"{PREFIX}/kernels/{kernel['id']}/channels?session_id=abc"
    async with KernelWebsocket(application, path, headers=session_headers(client)) as ws:
        assert (await ws.execute("'routed'")).result == "'routed'"
