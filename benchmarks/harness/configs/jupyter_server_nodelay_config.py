# Groundup LMS benchmark harness: a Jupyter Server config used as the peer by
# benchmarks/kernels_vs_jupyter_server.py (written there as jupyter_server_config.py).
# Variant used for the "jupyter_server + TCP_NODELAY" baseline row only.
# Stock tornado leaves Nagle's algorithm on for websockets; with the client's
# delayed ACKs every small kernel reply then waits ~40 ms.  This turns it off
# for kernel websockets, to show the web layer's cost without that stall.
# Use:  JUPYTER_CONFIG_DIR=<dir containing this file as jupyter_server_config.py>
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

_orig_open = KernelWebsocketHandler.open


async def _open_nodelay(self, *args, **kwargs):
    self.set_nodelay(True)
    return await _orig_open(self, *args, **kwargs)


KernelWebsocketHandler.open = _open_nodelay

c = get_config()  # noqa: F821
c.ZMQChannelsWebsocketConnection.limit_rate = False
