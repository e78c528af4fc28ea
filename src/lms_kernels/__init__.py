"""Kernel environments and sessions behind a Jupyter-Server-compatible REST and WebSocket API."""
