"""A real local ipykernel, driven through jupyter_client, executes ``1+1``."""

import pytest
from jupyter_client.manager import start_new_async_kernel

pytestmark = pytest.mark.asyncio


async def test_local_ipykernel_executes():
    manager, client = await start_new_async_kernel(kernel_name="python3", startup_timeout=60)
    try:
        outputs = []
        reply = await client.execute_interactive("1+1", timeout=30, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok"
        results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
        assert results == ["2"]
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    assert not await manager.is_alive()
