"""The path between a WebSocket and a kernel.

* :mod:`.protocol`: the WebSocket wire formats (Jupyter's JSON frames, its legacy binary "buffers" framing,
  and the ``v1.kernel.websocket.jupyter.org`` subprotocol) and the validation of client frames;
* :mod:`.messages`: building, packing and signing Jupyter messages;
* :mod:`.zmq_channels`: a kernel's ZeroMQ sockets (shell, control, stdin, iopub) for one connection;
* :mod:`.bridge`: the connection object a WebSocket consumer hands its frames to.
"""
