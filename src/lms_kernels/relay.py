"""A kernel's iopub relay: keeps the output a kernel publishes while no web worker listens, for the next one.

ZeroMQ's PUB socket drops what is published while nobody subscribes. A learner's WebSocket is served by one
ASGI worker, whose bridge holds the kernel's iopub subscription; if that worker dies (a crash, an OOM kill, a
``SIGKILL`` during a deploy), nothing listens until the learner's client reconnects through another worker,
and what the kernel printed meanwhile would be lost. The ``local`` backend therefore starts this relay with
each kernel, as a process of its own that outlives the worker which started it:

* the kernel publishes on a private port; the relay subscribes to it and republishes every message on the
  kernel's public iopub port (an XPUB socket), with one frame in front of the message's identities,
  ``lms-seq:<n>``, numbering the messages (Jupyter clients ignore identity frames; the signature covers only
  the frames after ``<IDS|MSG>``);
* it keeps the last ``--buffer`` bytes of messages;
* each bridge *acknowledges* the numbers it has handled for its WebSocket's ``session_id`` on the relay's
  replay socket (a ROUTER), and subscribes, besides everything, to a topic that names it,
  ``\\x00lms-hello:<token>:<session>`` (no message matches it): ZeroMQ tells the relay when that subscription
  arrives and, with ``XPUB_VERBOSER``, when it goes away, including when the subscriber's process dies;
* a new bridge asks for ``replay`` with its session and token; once its subscription has arrived (so every
  later message reaches it live), the relay answers with the kept messages after that session's last
  acknowledgement (or, for a session it does not know, such as a reloaded page's, after the acknowledgement
  of the session that left most recently, within ``--keep-seconds``), then ``end`` with the number of
  messages no longer kept and the last number the answer covers. ZeroMQ may deliver a few of those live
  too (the subscription takes effect inside ZeroMQ a moment before the relay reads of it): the subscriber
  drops live messages numbered up to that last one. A session *leaves* when its subscription goes away, or when its bridge says
  ``away`` (the worker keeps the bridge after the WebSocket closed); ``back`` undoes that. ``known`` says
  whether a session has been served (a worker adopts another session's kept bridge only for one that has
  not: a new page load, not a client that was connected elsewhere meanwhile).

So a client that reconnects through another worker gets, in order and once, what its kernel published since
the last message its old worker handled. What a worker had handled but not yet written to its socket when it
died is lost with it (microseconds); the acknowledgement follows each message's hand-over to the socket.

The relay is pure pyzmq and the standard library (it may run where the kernel runs, not where Django does).
It exits on ``SIGTERM``, when the file named by ``LMS_KERNEL_RELAY_WATCH`` (the kernel's connection file) is
removed, or when the kernel process it watches (``--watch-pid``, changed with a ``watch`` request when the
kernel restarts) has been gone for ``--orphan-seconds``.

Run as ``python relay.py --kernel tcp://127.0.0.1:PORT [--daemon]``: with ``--daemon`` it detaches (its own
session, stdio to ``/dev/null``) and the starting process prints one JSON line with the relay's ``pid``,
``iopub_port`` and ``replay_port`` once both sockets are bound, then exits.
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

__all__ = ["HELLO_PREFIX", "SEQ_PREFIX", "Relay", "hello_topic"]

SEQ_PREFIX = b"lms-seq:"
HELLO_PREFIX = b"\x00lms-hello:"
#: Departed sessions remembered for a new session to take over (the most recent first).
MAX_DEPARTED = 100


def hello_topic(token: str, session: str) -> bytes:
    return HELLO_PREFIX + token.encode() + b":" + session.encode("utf-8", "replace")


class Relay:
    def __init__(
        self,
        context: zmq.Context,
        kernel_url: str,
        *,
        ip: str = "127.0.0.1",
        iopub_port: int = 0,
        replay_port: int = 0,
        buffer_bytes: int = 4 * 1024 * 1024,
        keep_seconds: float = 3600.0,
    ):
        self.kernel = context.socket(zmq.SUB)
        self.kernel.setsockopt(zmq.LINGER, 0)
        self.kernel.setsockopt(zmq.RCVHWM, 0)
        self.kernel.setsockopt(zmq.SUBSCRIBE, b"")
        self.kernel.connect(kernel_url)
        self.public = context.socket(zmq.XPUB)
        self.public.setsockopt(zmq.LINGER, 0)
        self.public.setsockopt(zmq.SNDHWM, 0)  # like the bridges' SUB sockets: never drop for a slow reader
        self.public.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.replay = context.socket(zmq.ROUTER)
        self.replay.setsockopt(zmq.LINGER, 0)
        self.iopub_port = _bind(self.public, ip, iopub_port)
        self.replay_port = _bind(self.replay, ip, replay_port)
        self.limit = buffer_bytes
        self.keep_seconds = keep_seconds
        self.seq = 0
        self.kept: collections.deque[tuple[int, list[bytes]]] = collections.deque()
        self.size = 0
        self.acked: dict[str, int] = {}
        self.hellos: dict[str, tuple[str, int]] = {}  # token -> (session, seq when it subscribed)
        self.departed: collections.OrderedDict[str, float] = collections.OrderedDict()  # session -> when
        self.waiting: dict[str, tuple[bytes, str]] = {}  # token -> (requester, session)
        self.watch_pid: int | None = None

    # -- messages --------------------------------------------------------------------------------------

    def relay_one(self) -> None:
        frames = self.kernel.recv_multipart()
        self.seq += 1
        self.public.send_multipart([SEQ_PREFIX + str(self.seq).encode(), *frames])
        if self.limit:
            size = sum(len(f) for f in frames)
            self.kept.append((self.seq, frames))
            self.size += size
            while self.size > self.limit and self.kept:
                _seq, old = self.kept.popleft()
                self.size -= sum(len(f) for f in old)

    def subscription(self) -> None:
        frame = self.public.recv()
        subscribed, topic = frame[:1] == b"\x01", frame[1:]
        if not topic.startswith(HELLO_PREFIX):
            return
        token, _sep, session_bytes = topic[len(HELLO_PREFIX) :].partition(b":")
        token, session = token.decode(), session_bytes.decode("utf-8", "replace")
        if subscribed:
            self.hellos[token] = (session, self.seq)
            self.departed.pop(session, None)
            if token in self.waiting:
                requester, asked_session = self.waiting.pop(token)
                self.answer(requester, asked_session, token)
        elif self.hellos.pop(token, None) is not None and not any(
            s == session for s, _q in self.hellos.values()
        ):
            self.departed[session] = time.monotonic()
            self.departed.move_to_end(session)
            while len(self.departed) > MAX_DEPARTED:
                old, _when = self.departed.popitem(last=False)
                self.acked.pop(old, None)

    def request(self) -> None:
        requester, kind, *args = self.replay.recv_multipart()
        if kind == b"ack" and len(args) == 2:
            session, seq = args[0].decode("utf-8", "replace"), int(args[1])
            if seq > self.acked.get(session, -1):
                self.acked[session] = seq
        elif kind == b"replay" and len(args) == 2:
            session, token = args[0].decode("utf-8", "replace"), args[1].decode()
            if token in self.hellos:
                self.answer(requester, session, token)
            else:
                self.waiting[token] = (requester, session)
        elif kind == b"away" and len(args) == 1:
            # A bridge kept by its worker after its WebSocket closed: the client may come back elsewhere.
            session = args[0].decode("utf-8", "replace")
            if session in self.acked:
                self.departed[session] = time.monotonic()
                self.departed.move_to_end(session)
        elif kind == b"known" and len(args) == 1:
            known = args[0].decode("utf-8", "replace") in self.acked
            self.replay.send_multipart([requester, b"known", b"1" if known else b"0"])
        elif kind == b"back" and len(args) == 1:
            self.departed.pop(args[0].decode("utf-8", "replace"), None)
        elif kind == b"watch" and len(args) == 1:
            self.watch_pid = int(args[0]) or None

    def answer(self, requester: bytes, session: str, token: str) -> None:
        """Send what ``session`` missed up to its subscription, then ``end`` with the count not kept."""
        _session, upto = self.hellos[token]
        after = self.acked.get(session)
        now = time.monotonic()
        if (
            after is not None
            and session in self.departed
            and now - self.departed[session] > self.keep_seconds
        ):
            after = None
        if after is None:
            for other, when in reversed(self.departed.items()):
                if now - when <= self.keep_seconds and other in self.acked:
                    after = self.acked.pop(other)
                    del self.departed[other]
                    break
        dropped = 0
        if after is not None and after < upto:
            oldest = self.kept[0][0] if self.kept else upto + 1
            dropped = max(0, min(upto, oldest - 1) - after)
            for seq, frames in self.kept:
                if after < seq <= upto:
                    self.replay.send_multipart([requester, b"msg", str(seq).encode(), *frames])
        self.acked[session] = max(self.acked.get(session, -1), after if after is not None else upto)
        self.replay.send_multipart([requester, b"end", str(dropped).encode(), str(upto).encode()])

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

    def run(self, *, watch_file: str | None, orphan_seconds: float) -> None:
        poller = zmq.Poller()
        for sock in (self.kernel, self.public, self.replay):
            poller.register(sock, zmq.POLLIN)
        dead_since = None
        next_check = time.monotonic() + 1.0
        while True:
            for sock, _event in poller.poll(1000):
                if sock is self.kernel:
                    # Drain what is there before looking at the other sockets: output first.
                    for _i in range(1000):
                        self.relay_one()
                        if not self.kernel.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                            break
                elif sock is self.public:
                    self.subscription()
                else:
                    self.request()
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 1.0
                if watch_file and not os.path.exists(watch_file):
                    return
                dead_since = self.orphaned(dead_since)
                if dead_since is not None and now - dead_since > orphan_seconds:
                    return

    def close(self) -> None:
        for sock in (self.kernel, self.public, self.replay):
            sock.close(linger=0)


def _bind(sock: zmq.Socket, ip: str, port: int) -> int:
    if port:
        sock.bind(f"tcp://{ip}:{port}")
        return port
    return sock.bind_to_random_port(f"tcp://{ip}")


def _parse(argv):
    p = argparse.ArgumentParser(description="A Jupyter kernel's iopub relay with a replay buffer.")
    p.add_argument("--kernel", required=True, help="the kernel's own iopub address, tcp://IP:PORT")
    p.add_argument("--ip", default="127.0.0.1", help="where the relay listens")
    p.add_argument("--iopub-port", type=int, default=0, help="the public iopub port (0: any free one)")
    p.add_argument("--replay-port", type=int, default=0, help="the replay port (0: any free one)")
    p.add_argument("--buffer", type=int, default=4 * 1024 * 1024, help="bytes of messages kept")
    p.add_argument("--keep-seconds", type=float, default=3600.0, help="how long a departed session is kept")
    p.add_argument("--watch-pid", type=int, default=0, help="the kernel process (0: none)")
    p.add_argument("--orphan-seconds", type=float, default=30.0, help="exit this long after the kernel died")
    p.add_argument("--daemon", action="store_true", help="detach; print the ports as one JSON line")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    ready_w = None
    if args.daemon:
        ready_r, ready_w = os.pipe()
        if os.fork():  # the starting process: wait for the ports, print them, leave
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
        iopub_port=args.iopub_port,
        replay_port=args.replay_port,
        buffer_bytes=args.buffer,
        keep_seconds=args.keep_seconds,
    )
    relay.watch_pid = args.watch_pid or None
    ready = {"pid": os.getpid(), "iopub_port": relay.iopub_port, "replay_port": relay.replay_port}
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
