"""A kernel's iopub recorder: keeps what a kernel publishes, for a client whose web worker died meanwhile.

ZeroMQ's PUB socket drops what is published while nobody subscribes. A learner's WebSocket is served by one
ASGI worker, whose bridge holds the kernel's iopub subscription; if that worker dies (a crash, an OOM kill, a
``SIGKILL`` during a deploy), nothing listens until the learner's client reconnects through another worker,
and what the kernel printed meanwhile would be lost. The ``local`` backend therefore starts this relay with
each kernel, as a process of its own that outlives the worker which started it:

* it subscribes to the kernel's iopub like any client (it is not in the path of the messages: bridges keep
  their own subscriptions, so it adds no latency), numbers every message and keeps the last ``--buffer``
  bytes of them, indexed by ``msg_id``;
* each bridge *acknowledges*, on the relay's replay socket (a ROUTER), the ``msg_id`` of the last iopub
  message it has handed to its WebSocket, under the WebSocket's ``session_id``;
* a bridge that connects for a session the relay knows asks for ``replay`` up to the first message its own
  subscription delivered (``until``): the relay answers, once it has seen that message, with the kept
  messages after the session's last acknowledgement up to and including ``until``, then ``end`` with the
  number of messages no longer kept. The bridge forwards those, then carries on live after ``until``. So the
  client gets, in order and once, what the kernel published since the last message its old worker handed
  over. For a session the relay does not know, it answers at once: with what the session that most recently
  said ``away`` (a worker keeps a bridge after its WebSocket closed, the learner reloaded the page) missed,
  within ``--keep-seconds``, or nothing; ``back`` withdraws an ``away``. ``known`` says whether a session has
  been served.

What a worker had read from the kernel but not yet written to its socket when it died is lost with it
(microseconds); the acknowledgement follows each message's hand-over to the socket, sent once per burst.

The relay is pure pyzmq and the standard library (it may run where the kernel runs, not where Django does).
It exits on ``SIGTERM``, when the file named by ``LMS_KERNEL_RELAY_WATCH`` (the kernel's connection file) is
removed, or when the kernel process it watches (``--watch-pid``, changed with a ``watch`` request when the
kernel restarts) has been gone for ``--orphan-seconds``.

Run as ``python relay.py --kernel tcp://127.0.0.1:PORT [--daemon]``: with ``--daemon`` it detaches (its own
session, stdio to ``/dev/null``) and the starting process prints one JSON line with the relay's ``pid`` and
``replay_port`` once its socket is bound, then exits.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import signal
import sys
import time

import zmq

__all__ = ["Relay", "message_id"]

DELIMITER = b"<IDS|MSG>"
#: Departed sessions remembered for a new session to take over (the most recent first).
MAX_DEPARTED = 100
#: Acknowledgements of messages the relay has not seen yet, kept until it does.
MAX_PENDING_ACKS = 1000
#: Seconds a replay request waits for its ``until`` message.
WAIT_SECONDS = 10.0


def message_id(frames) -> str | None:
    """The ``msg_id`` of a Jupyter message's header, from its wire frames."""
    index = next(
        (
            i
            for i, frame in enumerate(frames)
            if len(frame) == len(DELIMITER)
            and (frame.bytes if isinstance(frame, zmq.Frame) else bytes(frame)) == DELIMITER
        ),
        None,
    )
    if index is None:
        return None
    try:
        header = frames[index + 2]
        return json.loads(header.bytes if isinstance(header, zmq.Frame) else header)["msg_id"]
    except (ValueError, IndexError, KeyError, TypeError):
        return None


class Relay:
    def __init__(
        self,
        context: zmq.Context,
        kernel_url: str,
        *,
        ip: str = "127.0.0.1",
        replay_port: int = 0,
        buffer_bytes: int = 4 * 1024 * 1024,
        keep_seconds: float = 3600.0,
    ):
        self.kernel = context.socket(zmq.SUB)
        self.kernel.setsockopt(zmq.LINGER, 0)
        self.kernel.setsockopt(zmq.RCVHWM, 0)
        self.kernel.setsockopt(zmq.SUBSCRIBE, b"")
        self.kernel.connect(kernel_url)
        self.replay = context.socket(zmq.ROUTER)
        self.replay.setsockopt(zmq.LINGER, 0)
        self.replay_port = _bind(self.replay, ip, replay_port)
        self.limit = buffer_bytes
        self.keep_seconds = keep_seconds
        self.seq = 0
        self.kept: collections.deque[tuple[int, str | None, list[zmq.Frame]]] = collections.deque()
        self.size = 0
        self.ids: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.pending_acks: dict[str, list[str]] = {}  # msg_id not seen yet -> sessions
        self.departed: collections.OrderedDict[str, float] = collections.OrderedDict()  # session -> when
        self.waiting: dict[str, list[tuple[bytes, str, float]]] = {}  # until msg_id -> requests
        self.watch_pid: int | None = None

    # -- messages --------------------------------------------------------------------------------------

    def record_one(self) -> None:
        # Frames, not bytes: ZeroMQ's buffers are kept and sent again in a replay, never copied.
        frames = self.kernel.recv_multipart(copy=False)
        self.seq += 1
        msg_id = message_id(frames)
        if self.limit:
            self.kept.append((self.seq, msg_id, frames))
            self.size += sum(len(f) for f in frames)
            if msg_id is not None:
                self.ids[msg_id] = self.seq
            while self.size > self.limit and self.kept:
                _seq, old_id, old = self.kept.popleft()
                self.size -= sum(len(f) for f in old)
                self.ids.pop(old_id, None)
        if msg_id is not None:
            for session in self.pending_acks.pop(msg_id, ()):
                self._acked(session, self.seq)
            for requester, session, _deadline in self.waiting.pop(msg_id, ()):
                self.answer(requester, session, self.seq)

    def _acked(self, session: str, seq: int) -> None:
        if seq > self.acked.get(session, -1):
            self.acked[session] = seq

    def request(self) -> None:
        requester, kind, *args = self.replay.recv_multipart()
        text = [a.decode("utf-8", "replace") for a in args]
        if kind == b"ack" and len(text) == 2:
            session, msg_id = text
            seq = self.ids.get(msg_id)
            if seq is not None:
                self._acked(session, seq)
            elif len(self.pending_acks) < MAX_PENDING_ACKS:
                self.pending_acks.setdefault(msg_id, []).append(session)
        elif kind == b"replay" and len(text) == 2:
            session, until = text
            if session not in self.acked and not self._departed_session():
                self.acked[session] = self.seq  # nothing to catch up on: from now on
                self.replay.send_multipart([requester, b"end", b"0"])
            elif until in self.ids:
                self.answer(requester, session, self.ids[until])
            else:
                deadline = time.monotonic() + WAIT_SECONDS
                self.waiting.setdefault(until, []).append((requester, session, deadline))
        elif kind == b"known" and len(text) == 1:
            self.replay.send_multipart([requester, b"known", b"1" if text[0] in self.acked else b"0"])
        elif kind == b"away" and len(text) == 1:
            if text[0] in self.acked:
                self.departed[text[0]] = time.monotonic()
                self.departed.move_to_end(text[0])
                while len(self.departed) > MAX_DEPARTED:
                    old, _when = self.departed.popitem(last=False)
                    self.acked.pop(old, None)
        elif kind == b"back" and len(text) == 1:
            self.departed.pop(text[0], None)
        elif kind == b"watch" and len(text) == 1:
            self.watch_pid = int(text[0]) or None

    def _departed_session(self) -> str | None:
        now = time.monotonic()
        for session, when in reversed(self.departed.items()):
            if now - when <= self.keep_seconds and session in self.acked:
                return session
        return None

    def answer(self, requester: bytes, session: str, upto: int) -> None:
        """Send what ``session`` missed up to message ``upto``, then ``end`` with the count not kept."""
        after = self.acked.get(session)
        if after is None:
            other = self._departed_session()
            if other is not None:
                after = self.acked.pop(other)
                del self.departed[other]
        dropped = 0
        if after is not None and after < upto:
            oldest = self.kept[0][0] if self.kept else upto + 1
            dropped = max(0, min(upto, oldest - 1) - after)
            for seq, _msg_id, frames in self.kept:
                if after < seq <= upto:
                    self.replay.send_multipart([requester, b"msg", str(seq).encode(), *frames], copy=False)
        self._acked(session, after if after is not None else upto)
        self.replay.send_multipart([requester, b"end", str(dropped).encode()])

    # -- life ------------------------------------------------------------------------------------------

    def orphaned(self, dead_since: float | None) -> float | None:
        """When the watched kernel process was first seen gone (``None``: it lives, or none is watched)."""
        if self.watch_pid is None:
            return None
        try:
            os.kill(self.watch_pid, 0)
        except ProcessLookupError:
            return dead_since or time.monotonic()
        except PermissionError:
            pass
        return None

    def expire_waiting(self, now: float) -> None:
        for until, requests in list(self.waiting.items()):
            kept = [r for r in requests if r[2] > now]
            if kept:
                self.waiting[until] = kept
            else:
                del self.waiting[until]

    def run(self, *, watch_file: str | None, orphan_seconds: float) -> None:
        poller = zmq.Poller()
        for sock in (self.kernel, self.replay):
            poller.register(sock, zmq.POLLIN)
        dead_since = None
        next_check = time.monotonic() + 1.0
        while True:
            for sock, _event in poller.poll(1000):
                if sock is self.kernel:
                    for _i in range(1000):  # drain what is there before answering requests
                        self.record_one()
                        if not self.kernel.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                            break
                else:
                    self.request()
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 1.0
                self.expire_waiting(now)
                if watch_file and not os.path.exists(watch_file):
                    return
                dead_since = self.orphaned(dead_since)
                if dead_since is not None and now - dead_since > orphan_seconds:
                    return

    def close(self) -> None:
        for sock in (self.kernel, self.replay):
            sock.close(linger=0)


def _bind(sock: zmq.Socket, ip: str, port: int) -> int:
    if port:
        sock.bind(f"tcp://{ip}:{port}")
        return port
    return sock.bind_to_random_port(f"tcp://{ip}")


def _parse(argv):
    p = argparse.ArgumentParser(description="A Jupyter kernel's iopub recorder with a replay socket.")
    p.add_argument("--kernel", required=True, help="the kernel's iopub address, tcp://IP:PORT")
    p.add_argument("--ip", default="127.0.0.1", help="where the replay socket listens")
    p.add_argument("--replay-port", type=int, default=0, help="the replay port (0: any free one)")
    p.add_argument("--buffer", type=int, default=4 * 1024 * 1024, help="bytes of messages kept")
    p.add_argument("--keep-seconds", type=float, default=3600.0, help="how long a departed session is kept")
    p.add_argument("--watch-pid", type=int, default=0, help="the kernel process (0: none)")
    p.add_argument("--orphan-seconds", type=float, default=30.0, help="exit this long after the kernel died")
    p.add_argument("--daemon", action="store_true", help="detach; print the pid and port as one JSON line")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    ready_w = None
    if args.daemon:
        ready_r, ready_w = os.pipe()
        if os.fork():  # the starting process: wait for the port, print it, leave
            os.close(ready_w)
            with os.fdopen(ready_r) as ready:
                line = ready.readline()
            if not line:
                print(json.dumps({"error": "the relay did not start"}), flush=True)
                return 1
            print(line.strip(), flush=True)
            return 0
        os.close(ready_r)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt of the kernel's group is not for us
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(0))
    context = zmq.Context()
    relay = Relay(
        context,
        args.kernel,
        ip=args.ip,
        replay_port=args.replay_port,
        buffer_bytes=args.buffer,
        keep_seconds=args.keep_seconds,
    )
    relay.watch_pid = args.watch_pid or None
    ready = {"pid": os.getpid(), "replay_port": relay.replay_port}
    if ready_w is not None:
        os.write(ready_w, (json.dumps(ready) + "\n").encode())
        os.close(ready_w)
    else:
        print(json.dumps(ready), flush=True)
    try:
        relay.run(watch_file=os.environ.get("LMS_KERNEL_RELAY_WATCH"), orphan_seconds=args.orphan_seconds)
    finally:
        relay.close()
        with contextlib.suppress(Exception):
            context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
