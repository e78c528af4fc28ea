"""The kernel iopub relay (:mod:`lms_kernels.relay`) on its own: real ZeroMQ sockets, an XPUB socket as the
kernel (as ipykernel's iopub is).

The end-to-end proof (a worker killed mid-execution) is ``test_failover.py``; these tests pin down the relay's
bookkeeping: acknowledgements, what a returning or a new session gets, where a replay ends, the buffer's bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
import zmq

from lms_kernels import relay as relay_module
from lms_kernels.relay import Relay, message_id

TIMEOUT_MS = 5000


class Harness:
    """A fake kernel, the relay running in a thread, and subscribers as the bridges' sockets."""

    def __init__(self, tmp_path, buffer_bytes=1024 * 1024):
        self.context = zmq.Context()
        self.kernel = self.context.socket(zmq.XPUB)
        self.kernel.setsockopt(zmq.XPUB_VERBOSE, 1)  # tell every subscription, not only new topics
        self.port = self.kernel.bind_to_random_port("tcp://127.0.0.1")
        self.relay = Relay(self.context, f"tcp://127.0.0.1:{self.port}", buffer_bytes=buffer_bytes)
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
        """``n`` messages shaped like Jupyter's (topic, delimiter, signature, header, parent, metadata, content)."""
        for _ in range(n):
            self.published += 1
            header = json.dumps({"msg_id": f"m{self.published}", "msg_type": "stream"}).encode()
            content = f"message {self.published}".encode()
            self.kernel.send_multipart([b"kernel.stream", b"<IDS|MSG>", b"", header, b"{}", b"{}", content])

    def subscriber(self, session: str) -> Subscriber:
        subscriber = Subscriber(self, session)
        # Subscribed once the kernel's XPUB has heard of it (ZeroMQ drops what is published before).
        assert self.kernel.poll(TIMEOUT_MS) and self.kernel.recv() == b"\x01"
        return subscriber

    def close(self) -> None:
        self.watch.unlink()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the relay did not stop when its watched file went away"
        self.relay.close()
        self.context.destroy(linger=0)


class Subscriber:
    def __init__(self, harness: Harness, session: str):
        self.session = session
        self.sub = harness.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(f"tcp://127.0.0.1:{harness.port}")
        self.side = harness.context.socket(zmq.DEALER)
        self.side.connect(f"tcp://127.0.0.1:{harness.relay.replay_port}")

    def receive(self, n: int) -> list[str]:
        got = []
        for _ in range(n):
            assert self.sub.poll(TIMEOUT_MS), f"received {len(got)} of {n} messages"
            got.append(self.sub.recv_multipart()[-1].decode())
        return got

    def replay(self, until: str) -> tuple[list[str], int]:
        self.side.send_multipart([b"replay", self.session.encode(), until.encode()])
        messages = []
        while True:
            assert self.side.poll(TIMEOUT_MS), "the relay did not answer"
            kind, *rest = self.side.recv_multipart()
            if kind == b"end":
                return messages, int(rest[0])
            messages.append(rest[-1].decode())

    def ack(self, msg_id: str) -> None:
        self.side.send_multipart([b"ack", self.session.encode(), msg_id.encode()])

    def tell(self, kind: bytes) -> None:
        self.side.send_multipart([kind, self.session.encode()])

    def known(self) -> bool:
        self.side.send_multipart([b"known", self.session.encode()])
        assert self.side.poll(TIMEOUT_MS)
        return self.side.recv_multipart()[1] == b"1"


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.close()


def messages(first: int, last: int) -> list[str]:
    return [f"message {i}" for i in range(first, last + 1)]


def test_a_returning_session_gets_what_it_missed_up_to_its_first_live_message(harness):
    first = harness.subscriber("learner")
    assert first.replay("m0") == ([], 0)  # a new session: answered at once, nothing to catch up on
    harness.publish(5)
    assert first.receive(5) == messages(1, 5)
    first.ack("m3")  # its worker handed three to the learner, then died
    time.sleep(0.2)
    first.sub.close(linger=0)
    harness.publish(4)  # nobody listens: messages 6 to 9

    second = harness.subscriber("learner")
    assert second.known()
    harness.publish(2)
    live = second.receive(2)
    assert live == messages(10, 11)
    # Asked up to its first live message, the relay answers with everything after the acknowledged one, up to
    # and including that message: the connection then forwards the live ones after it. Once each, in order.
    missed, dropped = second.replay("m10")
    assert (missed, dropped) == (messages(4, 10), 0)


def test_a_replay_waits_for_a_message_the_relay_has_not_seen_yet(harness):
    tab = harness.subscriber("tab")
    tab.replay("m0")
    harness.publish(1)
    tab.receive(1)
    tab.ack("m1")
    time.sleep(0.1)
    # The relay is behind the connection (a message it has not recorded yet): the answer waits for it.
    tab.side.send_multipart([b"replay", b"tab", b"m3"])
    time.sleep(0.2)
    assert not tab.side.poll(0)
    harness.publish(3)
    assert tab.side.poll(TIMEOUT_MS)
    kinds = []
    while True:
        kind, *rest = tab.side.recv_multipart()
        kinds.append(rest[-1].decode() if kind == b"msg" else "end")
        if kind == b"end":
            break
    assert kinds == [*messages(2, 3), "end"]


def test_a_new_session_takes_over_the_one_that_went_away(harness):
    old = harness.subscriber("old-tab")
    old.replay("m0")
    harness.publish(2)
    old.receive(2)
    old.ack("m2")
    time.sleep(0.1)
    old.tell(b"away")  # its worker keeps the bridge, the WebSocket closed (a reload)
    harness.publish(2)

    reloaded = harness.subscriber("new-tab")
    assert not reloaded.known()
    harness.publish(1)
    reloaded.receive(1)
    assert reloaded.replay("m5") == (messages(3, 5), 0)
    third = harness.subscriber("third-tab")  # taken over: nobody else gets it
    assert third.replay("m5") == ([], 0)


def test_a_session_that_came_back_is_not_taken_over(harness):
    tab = harness.subscriber("tab")
    tab.replay("m0")
    harness.publish(1)
    tab.receive(1)
    tab.ack("m1")
    tab.tell(b"away")
    tab.tell(b"back")
    time.sleep(0.1)
    assert harness.subscriber("stranger").replay("m1") == ([], 0)


def test_what_the_buffer_no_longer_holds_is_counted(tmp_path):
    harness = Harness(tmp_path, buffer_bytes=400)  # room for a few messages only
    try:
        first = harness.subscriber("learner")
        first.replay("m0")
        harness.publish(1)
        first.receive(1)
        first.ack("m1")
        time.sleep(0.1)
        harness.publish(20)
        second = harness.subscriber("learner")
        harness.publish(1)
        second.receive(1)
        missed, dropped = second.replay("m22")
        assert missed and missed[-1] == "message 22", "the newest messages are kept"
        assert dropped + len(missed) == 21
        assert missed == messages(23 - len(missed), 22)
    finally:
        harness.close()


def test_message_ids_are_read_from_the_wire_frames():
    header = json.dumps({"msg_id": "abc"}).encode()
    assert message_id([b"topic", b"<IDS|MSG>", b"sig", header, b"{}", b"{}", b"{}"]) == "abc"
    assert message_id([b"<IDS|MSG>x", b"sig", header]) is None
    assert message_id([b"<IDS|MSG>", b"sig", b"not json"]) is None


def test_the_daemon_reports_its_port_and_leaves_with_its_kernel(tmp_path):
    """``--daemon``: one JSON line with pid and port, the relay detached (not our child); it exits when the
    watched connection file goes away."""
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
        assert proc.ppid() != os.getpid()
        assert started["replay_port"]
        watch.unlink()
        proc.wait(timeout=10)
    finally:
        if proc.is_running():
            proc.kill()


def test_unique_sessions_do_not_mix(harness):
    """Two learners' tabs on one kernel: each session's acknowledgement is its own."""
    a, b = harness.subscriber(f"a-{uuid.uuid4().hex}"), harness.subscriber(f"b-{uuid.uuid4().hex}")
    for tab in (a, b):
        tab.replay("m0")
    harness.publish(4)
    for tab, last in ((a, "m1"), (b, "m4")):
        tab.receive(4)
        tab.ack(last)
    time.sleep(0.1)
    harness.publish(1)
    assert a.replay("m5")[0] == messages(2, 5)
    assert b.replay("m5")[0] == messages(5, 5)
