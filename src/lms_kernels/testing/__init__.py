"""Test helpers for projects that use lms_kernels, and for their own backends and adapters.

* :func:`websocket_application`: the app's WebSocket routes in the stack a project uses (Origin check,
  session auth), for ``channels.testing.WebsocketCommunicator``;
* :class:`KernelWebsocket`: a Jupyter client over a communicator (JSON or v1 protocol) that can
  ``execute()`` code and collect its outputs;
* :func:`notice`: which service notice (output cap, culling warning, a dead kernel...) a message is;
* :func:`shutdown_all_kernels`: stop every kernel in the database (use it in fixture teardown, so no kernel
  process outlives a test); :func:`drain_all_pools`: the same for the kernels of warm pools.
"""

from .client import ConnectionClosed, ExecutionResult, KernelWebsocket, notice, websocket_application
from .kernels import drain_all_pools, shutdown_all_kernels

__all__ = [
    "ConnectionClosed",
    "ExecutionResult",
    "KernelWebsocket",
    "drain_all_pools",
    "notice",
    "shutdown_all_kernels",
    "websocket_application",
]
