"""The kernel iopub relay (:mod:`lms_kernels.relay`) on its own: real ZeroMQ sockets, a PUB socket as the kernel.

The end-to-end proof (a worker killed mid-execution) is ``test_failover.py``; these tests pin down the relay's
bookkeeping: numbering, acknowledgements, what a returning or a new session gets, the buffer's bound.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest
import zmq

from lms_kernels import relay as relay_module
from lms_kernels.relay import SEQ_PREFIX, Relay, hello_topic

TIMEOUT_MS = 5000


class Harness:
    """A fake kernel (PUB), the relay running in a thread, and subscribers as the bridges' sockets."""

    def __init__(self, tmp_path, buffer_bytes=1024 * 1024):
        self.context = zmq.Context()
        # XPUB, as ipykernel's iopub socket: it says when the relay's subscription has arrived, before which
        # a PUB socket drops what is published.
        self.kernel = self.context.socket(zmq.XPUB)
        port = self.kernel.bind_to_random_port("tcp://127.0.0.1")
        self.relay = Relay(self.context, f"tcp://127.0.0.1:{port}", buffer_bytes=buffer_bytes)
        assert self.kernel.poll(TIMEOUT_MS), "the relay did not subscribe to the kernel"
        assert self.kernel.recv() == b"\x01"
        self.watch = tmp_path / "kernel.json"
        self.watch.write_text("{}")
        self.thread = threading.Thread(
            target=self.relay.run, kwargs={"watch_file": str(self.watch), "orphan_seconds": 30}, daemon=True
        )
        self.thread.start()
        self.published = 0

    def publish(self, n: int) -> None:
        """``n`` messages shaped like Jupyter's (identities, delimiter, signature, four parts)."""
        for _ in range(n):
            self.published += 1
            text = f"message {self.published}".encode()
            self.kernel.send_multipart([b"kernel.stream", b"<IDS|MSG>", b"", b"{}", b"{}", b"{}", text])

    def subscriber(self, session: str) -> Subscriber:
        return Subscriber(self, session)

    def close(self) -> None:
        self.watch.unlink()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the relay did not stop when its watched file went away"
        self.relay.close()
        self.kernel.close(linger=0)
        self.context.destroy(linger=0)


class Subscriber:
    def __init__(self, harness: Harness, session: str):
        self.session = session
        self.token = uuid.uuid4().hex
        self.upto = 0
        self.sub = harness.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.SUBSCRIBE, hello_topic(self.token, session))
        self.sub.connect(f"tcp://127.0.0.1:{harness.relay.iopub_port}")
        self.side = harness.context.socket(zmq.DEALER)
        self.side.setsockopt(zmq.LINGER, 0)
        self.side.connect(f"tcp://127.0.0.1:{harness.relay.replay_port}")

    def replay(self) -> tuple[list[tuple[int, bytes]], int]:
        self.side.send_multipart([b"replay", self.session.encode(), self.token.encode()])
        messages = []
        while True:
            assert self.side.poll(TIMEOUT_MS), "the relay did not answer"
            kind, *rest = self.side.recv_multipart()
            if kind == b"end":
                self.upto = int(rest[1])
                return messages, int(rest[0])
            messages.append((int(rest[0]), rest[-1]))

    def receive(self, n: int) -> list[tuple[int, bytes]]:
        """The next ``n`` live messages, less those the replay covered (as the bridges' channels do)."""
        got = []
        while len(got) < n:
            assert self.sub.poll(TIMEOUT_MS), f"received {len(got)} of {n} messages"
            frames = self.sub.recv_multipart()
            assert frames[0].startswith(SEQ_PREFIX)
            assert frames[1:3] == [b"kernel.stream", b"<IDS|MSG>"]  # the kernel's frames, untouched
            seq = int(frames[0][len(SEQ_PREFIX) :])
            if seq > self.upto:
                got.append((seq, frames[-1]))
        return got

    def ack(self, seq: int) -> None:
        self.side.send_multipart([b"ack", self.session.encode(), str(seq).encode()])

    def tell(self, kind: bytes) -> None:
        self.side.send_multipart([kind, self.session.encode()])

    def close(self) -> None:
        self.sub.close(linger=0)
        self.side.close(linger=0)


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.close()


def texts(messages) -> list[bytes]:
    return [text for _seq, text in messages]


def test_a_returning_session_gets_what_it_missed_once_and_in_order(harness):
    first = harness.subscriber("learner")
    assert first.replay() == ([], 0)  # a new session: nothing to catch up on
    harness.publish(5)
    got = first.receive(5)
    assert [seq for seq, _text in got] == [1, 2, 3, 4, 5]
    first.ack(3)  # its worker handed three to the learner, then died
    time.sleep(0.1)
    first.close()
    harness.publish(4)  # nobody listens

    second = harness.subscriber("learner")
    missed, dropped = second.replay()
    assert dropped == 0
    assert texts(missed) == [f"message {i}".encode() for i in range(4, 10)]
    assert [seq for seq, _text in missed] == list(range(4, 10))
    harness.publish(1)
    assert texts(second.receive(1)) == [b"message 10"]  # live after the replay, none twice
    second.close()


def test_a_new_session_takes_over_the_one_that_left_most_recently(harness):
    old = harness.subscriber("old-tab")
    assert old.replay() == ([], 0)
    harness.publish(2)
    old.receive(2)
    old.ack(2)
    time.sleep(0.1)
    old.tell(b"away")  # its worker keeps the bridge, the WebSocket closed (a reload)
    harness.publish(2)
    old.receive(2)  # the kept bridge still hears them; it does not acknowledge them

    reloaded = harness.subscriber("new-tab")
    missed, _dropped = reloaded.replay()
    assert texts(missed) == [b"message 3", b"message 4"]
    # Taken over: a third session gets nothing more.
    other = harness.subscriber("third-tab")
    assert other.replay() == ([], 0)
    for s in (old, reloaded, other):
        s.close()


def test_a_session_that_came_back_is_not_taken_over(harness):
    tab = harness.subscriber("tab")
    tab.replay()
    harness.publish(1)
    tab.receive(1)
    tab.ack(1)
    tab.tell(b"away")
    tab.tell(b"back")
    time.sleep(0.1)
    stranger = harness.subscriber("stranger")
    assert stranger.replay() == ([], 0)
    tab.close()
    stranger.close()


def test_what_the_buffer_no_longer_holds_is_counted(tmp_path):
    harness = Harness(tmp_path, buffer_bytes=200)  # room for a few messages only
    try:
        first = harness.subscriber("learner")
        first.replay()
        harness.publish(1)
        first.receive(1)
        first.ack(1)
        time.sleep(0.1)
        first.close()
        harness.publish(20)
        second = harness.subscriber("learner")
        missed, dropped = second.replay()
        assert missed, "the newest messages are kept"
        assert dropped + len(missed) == 20
        assert texts(missed)[-1] == b"message 21"
        assert [seq for seq, _text in missed] == list(range(22 - len(missed), 22))
        second.close()
    finally:
        harness.close()


def test_the_daemon_reports_its_ports_and_leaves_with_its_kernel(tmp_path):
    """``--daemon``: one JSON line with pid and ports, the relay detached; it exits when the watched
    connection file goes away."""
    import json
    import os

    import psutil

    watch = tmp_path / "kernel.json"
    watch.write_text("{}")
    completed = subprocess.run(
        [sys.executable, "-I", relay_module.__file__, "--kernel", "tcp://127.0.0.1:1", "--daemon"],
        env={"LMS_KERNEL_RELAY_WATCH": str(watch)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    started = json.loads(completed.stdout)
    proc = psutil.Process(started["pid"])
    try:
        assert proc.ppid() != os.getpid()  # detached: not our child
        assert started["iopub_port"] and started["replay_port"]
        watch.unlink()
        proc.wait(timeout=10)
    finally:
        if proc.is_running():
            proc.kill()
