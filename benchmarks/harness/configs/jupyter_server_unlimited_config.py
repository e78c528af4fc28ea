# Groundup LMS benchmark harness: a Jupyter Server config used as the peer by
# benchmarks/kernels_vs_jupyter_server.py (written there as jupyter_server_config.py).
# Stock jupyter_server with the IOPub rate limit disabled (needed for the
# 20 MB "stream" scenario: the default 1 MB/s limit drops the output).
c = get_config()  # noqa: F821
c.ZMQChannelsWebsocketConnection.limit_rate = False
