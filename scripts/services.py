#!/usr/bin/env python3
"""Bring up the real components the groundup-lms test suite needs (Debian 12, stdlib only).

Usage::

    python3 scripts/services.py up [--install] [--only pg,redis,docker,chromium,node]
    python3 scripts/services.py down
    python3 scripts/services.py env

``up`` starts (or reuses) each component:

* ``postgres`` -- a private cluster, run as the ``postgres`` system user when we are root, listening on
  127.0.0.1:54329 (``LMS_SERVICES_PG_PORT``), with fsync and friends turned off. Its data directory is
  ``<temp dir>/groundup-lms-pg-<hash of the checkout's path>/`` (``/var/tmp`` or ``$TMPDIR``, mode 0700, owned
  by the user the server runs as), not inside the checkout: the ``postgres`` user cannot reach a clone in a
  ``mktemp -d`` directory or in root's home. ``.services/pg.json`` points at it; ``down`` stops the server and
  removes that directory.
* ``redis`` -- ``redis-server`` on 127.0.0.1:63799 (``LMS_SERVICES_REDIS_PORT``), no persistence.
* ``docker`` -- the engine at ``/var/run/docker.sock`` (``dockerd`` is started if nothing answers)
  plus the test kernel image ``groundup-lms/test-kernel:py3`` (``LMS_TEST_KERNEL_IMAGE``), built
  offline with ``debootstrap`` + ``docker import`` when the engine does not have it.
* ``chromium`` -- only checked: ``/usr/bin/chromium`` (``LMS_TEST_CHROMIUM``) must run ``--version``.
* ``node`` -- only checked: ``node`` and ``npm`` on ``PATH`` (``LMS_TEST_NODE``); they build the Jupyter block's
  bundle and run the JavaScript Jupyter clients (Debian's ``nodejs`` and ``npm`` when installing).

With ``--install`` (as root) the missing Debian packages are installed first, in one ``apt-get``
call. Components left out by ``--only`` are not started, only re-checked.

Everything else lives under ``<repo>/.services/``. The outcome is written to ``.services/env.json``::

    {"LMS_TEST_DATABASE_URL": "postgres://postgres@127.0.0.1:54329/postgres",
     "LMS_TEST_REDIS_URL": "redis://127.0.0.1:63799/0",
     "DOCKER_HOST": "unix:///var/run/docker.sock",
     "LMS_TEST_KERNEL_IMAGE": "groundup-lms/test-kernel:py3",
     "LMS_TEST_CHROMIUM": "/usr/bin/chromium",
     "missing": {"<component>": "<one-line reason>"}}

A key is present only for what is up; ``missing`` names the components (postgres, redis, docker,
chromium) that are not, with a reason. ``docker`` counts as missing when the engine is up but the
kernel image is not (``DOCKER_HOST`` is then still set). ``up`` prints a summary to stderr and the
JSON as the last stdout line; ``env`` re-checks liveness and prints the JSON; ``down`` stops what
``up`` started (never a server it merely reused) and can be called any number of times.
The exit status is 0 unless the arguments are wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".services"
ENV_FILE = STATE / "env.json"

COMPONENTS = ("postgres", "redis", "docker", "chromium", "node")
ALIASES = {"pg": "postgres", "postgresql": "postgres", "chrome": "chromium", "nodejs": "node"}

DOCKER_SOCK = "/var/run/docker.sock"
DEFAULT_KERNEL_IMAGE = "groundup-lms/test-kernel:py3"
KERNEL_PACKAGES = "python3-ipykernel,python3-cffi-backend,libboost-regex1.74.0"
KERNEL_SUITE = "bookworm"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
CJK_FONTS = "/usr/share/fonts/opentype/noto"


class Unavailable(Exception):
    """A component could not be brought up; the message is the one-line reason."""


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing stdout+stderr together as text; a timeout becomes Unavailable."""
    try:
        return subprocess.run(
            [str(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"{Path(str(cmd[0])).name} timed out after {timeout:.0f}s") from exc
    except OSError as exc:
        raise Unavailable(f"cannot run {cmd[0]}: {exc}") from exc


def last_line(text: str | bytes | None, default: str = "no output") -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else default


def tail_file(path: Path, default: str = "no log") -> str:
    try:
        return last_line(path.read_bytes()[-4000:], default)
    except OSError:
        return default


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def which(name: str) -> str | None:
    """shutil.which that also looks in the sbin directories (not on a normal user's PATH)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(name, path=path)


def is_root() -> bool:
    return os.geteuid() == 0


def pid_alive(pid: int, comm: str | None = None) -> bool:
    """True if ``pid`` exists (and, when ``comm`` is given, its command name contains it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if comm is None:
        return True
    try:
        return comm in Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop_pid(pid: int, comm: str, timeout: float) -> None:
    """SIGTERM a process of ours, then SIGKILL it if it is still there after ``timeout``."""
    if not pid_alive(pid, comm):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not pid_alive(pid, comm), timeout):
        log(f"{comm} (pid {pid}) ignored SIGTERM for {timeout:.0f}s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid, comm), 10)


# --------------------------------------------------------------------------- PostgreSQL


def pg_port() -> int:
    return int(os.environ.get("LMS_SERVICES_PG_PORT", "54329"))


def pg_env(port: int) -> dict[str, str]:
    return {"LMS_TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/postgres"}


def pg_answers(port: int, timeout: float = 2.0) -> bool:
    """Send a PostgreSQL SSLRequest; a server answers with a single 'S' or 'N'."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False


def pg_bindir() -> Path | None:
    """The highest /usr/lib/postgresql/<ver>/bin that has pg_ctl and initdb."""

    def version(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.parent.name.split("."))
        except ValueError:
            return (-1,)

    candidates = [
        p
        for p in Path("/usr/lib/postgresql").glob("*/bin")
        if (p / "pg_ctl").exists() and (p / "initdb").exists()
    ]
    return max(candidates, key=version, default=None)


def pg_home() -> Path:
    """Where the cluster lives: a directory every user can traverse to, named after this checkout.

    Not inside the checkout: the server runs as the ``postgres`` user, which cannot traverse a ``mktemp -d``
    directory (mode 0700) or root's home. ``/var/tmp`` is world-traversable (sticky, 1777) on every Debian;
    ``LMS_SERVICES_PG_HOME`` overrides the whole path.
    """
    explicit = os.environ.get("LMS_SERVICES_PG_HOME")
    if explicit:
        return Path(explicit)
    base = Path("/var/tmp") if os.path.isdir("/var/tmp") else Path(tempfile.gettempdir())
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    return base / f"groundup-lms-pg-{digest}"


PG_POINTER = STATE / "pg.json"


def pg_user() -> pwd.struct_passwd | None:
    """The user the server runs as: ``postgres`` when we are root (created if missing), else ourselves."""
    if not is_root():
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        log("creating the postgres system user")
        result = run(["useradd", "--system", "--user-group", "--no-create-home", "postgres"], timeout=30)
        if result.returncode != 0:
            raise Unavailable(f"useradd postgres failed: {last_line(result.stdout)}") from None
        return pwd.getpwnam("postgres")


def pg_prepare_home(pgdir: Path) -> None:
    """Make ``pgdir`` (mode 0700) and hand it to the server's user; refuse a directory someone else owns."""
    pw = pg_user()
    try:
        pgdir.mkdir(mode=0o700)
    except FileExistsError:
        st = pgdir.lstat()
        owners = {os.geteuid()} | ({pw.pw_uid} if pw else set())
        if not pgdir.is_dir() or pgdir.is_symlink() or st.st_uid not in owners:
            raise Unavailable(f"{pgdir} exists and is not ours (owner uid {st.st_uid}); remove it") from None
    os.chmod(pgdir, 0o700)
    if pw is not None:
        for root, dirs, files in os.walk(pgdir):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, pw.pw_uid, pw.pw_gid)


def pg_user_prefix(pgdir: Path) -> list[str]:
    """Command prefix to run as the postgres user (postgres refuses to run as root)."""
    if pg_user() is None:
        return []
    runuser = which("runuser")
    prefix = [runuser, "-u", "postgres", "--"] if runuser else None
    probe = ["test", "-w", str(pgdir)]
    result = run(
        prefix + probe if prefix else ["su", "-s", "/bin/sh", "postgres", "-c", shlex.join(probe)],
        timeout=30,
    )
    if result.returncode != 0:
        raise Unavailable(f"the postgres user cannot write {pgdir} (a parent directory is not searchable?)")
    return prefix or ["su", "-s", "/bin/sh", "postgres", "-c"]


def as_pg(prefix: list[str], cmd: list[str]) -> list[str]:
    if prefix and prefix[0] == "su":
        return [*prefix, shlex.join(str(c) for c in cmd)]
    return [*prefix, *(str(c) for c in cmd)]


def pg_initdb(prefix: list[str], bindir: Path, data: Path) -> None:
    if (data / "PG_VERSION").exists():
        have = (data / "PG_VERSION").read_text().strip()
        want = bindir.parent.name.split(".")[0]
        if have == want:
            return
        log(f"postgres: data dir is for PostgreSQL {have}, binaries are {want}; re-creating it")
    shutil.rmtree(data, ignore_errors=True)
    base = [bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--encoding", "UTF8"]
    result = run(as_pg(prefix, [*base, "--locale", "C.UTF-8"]), timeout=180, cwd=data.parent)
    if result.returncode != 0:
        log(f"postgres: initdb with C.UTF-8 failed ({last_line(result.stdout)}); retrying with --locale C")
        shutil.rmtree(data, ignore_errors=True)
        result = run(as_pg(prefix, [*base, "--locale", "C"]), timeout=180, cwd=data.parent)
        if result.returncode != 0:
            raise Unavailable(f"initdb failed: {last_line(result.stdout)}")


def start_postgres() -> tuple[dict[str, str], str | None]:
    port = pg_port()
    if pg_answers(port):
        log(f"postgres: something already answers on 127.0.0.1:{port}; reusing it")
        return pg_env(port), None
    bindir = pg_bindir()
    if bindir is None:
        raise Unavailable("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (package postgresql)")
    pgdir = pg_home()
    data = pgdir / "data"
    STATE.mkdir(parents=True, exist_ok=True)
    pg_prepare_home(pgdir)
    PG_POINTER.write_text(json.dumps({"home": str(pgdir), "port": port}) + "\n")
    prefix = pg_user_prefix(pgdir)
    pg_initdb(prefix, bindir, data)
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {shlex.quote(str(pgdir))}",
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        ]
    )
    logfile = pgdir / "log"
    cmd = [bindir / "pg_ctl", "-D", data, "-l", logfile, "-w", "-t", "60", "-o", options, "start"]
    result = run(as_pg(prefix, cmd), timeout=90, cwd=pgdir)
    if result.returncode != 0:
        raise Unavailable(f"pg_ctl start failed: {tail_file(logfile, last_line(result.stdout))}")
    if not wait_for(lambda: pg_answers(port), 10):
        raise Unavailable(f"postgres started but 127.0.0.1:{port} does not answer")
    log(f"postgres: PostgreSQL {bindir.parent.name} started on 127.0.0.1:{port}, data in {data}")
    return pg_env(port), None


def check_postgres() -> tuple[dict[str, str], str | None]:
    port = pg_port()
    if pg_answers(port):
        return pg_env(port), None
    raise Unavailable(f"nothing answers on 127.0.0.1:{port} (run scripts/services.py up)")


def pg_stop_cluster(pgdir: Path) -> None:
    data = pgdir / "data"
    bindir = pg_bindir()
    if not (data / "postmaster.pid").exists() or bindir is None:
        return
    prefix = pg_user_prefix(pgdir)
    result = run(
        as_pg(prefix, [bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"]),
        timeout=90,
        cwd=pgdir,
    )
    log(f"postgres: {last_line(result.stdout)}")


def stop_postgres() -> None:
    """Stop the cluster ``up`` made and remove its directory (and a cluster an older ``up`` kept in .services)."""
    try:
        pgdir = Path(json.loads(PG_POINTER.read_text())["home"])
    except (OSError, ValueError, KeyError, TypeError):
        pgdir = None
    if pgdir is not None:
        pg_stop_cluster(pgdir)
        if (pgdir / "data" / "postmaster.pid").exists():
            log(f"postgres: still running; keeping {pgdir}")
            return
        shutil.rmtree(pgdir, ignore_errors=True)
        PG_POINTER.unlink(missing_ok=True)
        log(f"postgres: removed {pgdir}")
    legacy = STATE / "pg"
    if (legacy / "data").is_dir():
        pg_stop_cluster(legacy)


# --------------------------------------------------------------------------- Redis


def redis_port() -> int:
    return int(os.environ.get("LMS_SERVICES_REDIS_PORT", "63799"))


def redis_env(port: int) -> dict[str, str]:
    return {"LMS_TEST_REDIS_URL": f"redis://127.0.0.1:{port}/0"}


def redis_command(port: int, command: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one inline RESP command and return the first chunk of the reply (None if unreachable)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(256)
    except OSError:
        return None


def redis_ping(port: int) -> bool:
    return (redis_command(port, b"PING") or b"").startswith(b"+PONG")


def start_redis() -> tuple[dict[str, str], str | None]:
    port = redis_port()
    if redis_ping(port):
        log(f"redis: already answers PING on 127.0.0.1:{port}; reusing it")
        return redis_env(port), None
    server = which("redis-server")
    if server is None:
        raise Unavailable("redis-server not found (package redis-server)")
    rdir = STATE / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    logfile = rdir / "redis.log"
    cmd = [
        server,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--daemonize", "yes",
        "--save", "",
        "--appendonly", "no",
        "--dir", rdir,
        "--pidfile", rdir / "redis.pid",
        "--logfile", logfile,
    ]  # fmt: skip
    result = run(cmd, timeout=30)
    if result.returncode != 0:
        raise Unavailable(f"redis-server failed: {last_line(result.stdout)}")
    if not wait_for(lambda: redis_ping(port), 15):
        raise Unavailable(f"redis-server does not answer PING: {tail_file(logfile)}")
    (rdir / "port").write_text(f"{port}\n")
    log(f"redis: started on 127.0.0.1:{port}")
    return redis_env(port), None


def check_redis() -> tuple[dict[str, str], str | None]:
    port = redis_port()
    if redis_ping(port):
        return redis_env(port), None
    raise Unavailable(f"nothing answers PING on 127.0.0.1:{port} (run scripts/services.py up)")


def stop_redis() -> None:
    rdir = STATE / "redis"
    pid = read_pid(rdir / "redis.pid")
    if pid is None or not pid_alive(pid, "redis"):
        return
    port = read_pid(rdir / "port") or redis_port()
    redis_command(port, b"SHUTDOWN NOSAVE")
    if not wait_for(lambda: not pid_alive(pid, "redis"), 10):
        stop_pid(pid, "redis", 10)
    log(f"redis: stopped (pid {pid})")


# --------------------------------------------------------------------------- Docker


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket, enough to talk to the Docker Engine API."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def docker_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(DOCKER_SOCK, timeout)
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def docker_ping() -> str | None:
    """None if the engine answers ``GET /_ping`` with OK, otherwise why not."""
    try:
        status, body = docker_get("/_ping", timeout=3)
    except (OSError, http.client.HTTPException) as exc:
        return f"no Docker engine answers at {DOCKER_SOCK} ({exc.__class__.__name__}: {exc})"
    if status == 200 and body.strip() == b"OK":
        return None
    return f"{DOCKER_SOCK}: /_ping returned {status} {body[:80]!r}"


def kernel_image() -> str:
    return os.environ.get("LMS_TEST_KERNEL_IMAGE", DEFAULT_KERNEL_IMAGE)


def image_exists(name: str) -> bool:
    try:
        status, _ = docker_get(f"/images/{urllib.parse.quote(name, safe='/:@')}/json")
    except (OSError, http.client.HTTPException):
        return False
    return status == 200


def launch_dockerd(extra: list[str]) -> None:
    """Start dockerd in the background and wait up to 60 s for /_ping; raise Unavailable if not."""
    dockerd = which("dockerd")
    if dockerd is None:
        raise Unavailable("dockerd not found (package docker.io)")
    if not is_root():
        raise Unavailable(f"nothing answers on {DOCKER_SOCK} and starting dockerd needs root")
    ddir = STATE / "docker"
    ddir.mkdir(parents=True, exist_ok=True)
    logpath = ddir / "dockerd.log"
    cmd = [dockerd, "--pidfile", str(ddir / "dockerd.pid"), *extra]
    with logpath.open("ab") as logfile:
        logfile.write(f"\n===== {time.strftime('%F %T')} {shlex.join(cmd)}\n".encode())
        logfile.flush()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
    (ddir / "started-by-services.json").write_text(json.dumps({"pid": proc.pid, "args": cmd}) + "\n")
    if wait_for(lambda: proc.poll() is not None or docker_ping() is None, 60, 0.5) and proc.poll() is None:
        return
    if proc.poll() is None:
        stop_pid(proc.pid, "dockerd", 20)
        proc.wait(timeout=10)
        reason = "did not answer /_ping within 60 s"
    else:
        reason = f"exited with status {proc.returncode}"
    (ddir / "started-by-services.json").unlink(missing_ok=True)
    raise Unavailable(f"dockerd {reason}: {tail_file(logpath)}")


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            target = line.split()[1].encode().decode("unicode_escape")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return sorted(found, key=len, reverse=True)


def remove_rootfs(rootfs: Path) -> None:
    """Remove a debootstrap target, unmounting anything a failed run left mounted inside it first."""
    if not rootfs.exists():
        return
    for target in mounts_under(rootfs):
        run(["umount", "-l", target], timeout=30)
    if mounts_under(rootfs):
        raise Unavailable(f"{rootfs} still has mounts inside it; not removing it")
    shutil.rmtree(rootfs)


def apt_mirror() -> str | None:
    """The first Debian (non-security) mirror in /etc/apt/sources.list(.d)."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in files:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if path.suffix == ".list" and words[:1] == ["deb"]:
                urls = [w for w in words[1:] if "://" in w][:1]
            elif path.suffix == ".sources" and words[:1] == ["URIs:"]:
                urls = words[1:]
            else:
                continue
            for url in urls:
                if "/debian" in url and "security" not in url:
                    return url
    return None


def build_kernel_image(name: str) -> None:
    """debootstrap a minimal Debian with ipykernel and `docker import` it as ``name``."""
    debootstrap = which("debootstrap")
    docker_cli = which("docker")
    if debootstrap is None:
        raise Unavailable(f"image {name} is missing and debootstrap is not installed")
    if docker_cli is None:
        raise Unavailable(f"image {name} is missing and the docker CLI is not installed")
    if not is_root():
        raise Unavailable(f"image {name} is missing and building it with debootstrap needs root")
    rootfs = STATE / "kernel-rootfs"
    ddir = STATE / "docker"
    ddir.mkdir(parents=True, exist_ok=True)
    cmd = [debootstrap, "--variant=minbase", f"--include={KERNEL_PACKAGES}", KERNEL_SUITE, str(rootfs)]
    attempts: list[list[str]] = [[]]  # debootstrap's default mirror first, then the one apt uses
    mirror = apt_mirror()
    if mirror and mirror.rstrip("/") != "http://deb.debian.org/debian":
        attempts.append([mirror])
    try:
        for attempt in attempts:
            remove_rootfs(rootfs)
            label = attempt[0] if attempt else "debootstrap's default mirror"
            log(f"docker: building {name}: debootstrap {KERNEL_SUITE} from {label} ...")
            result = run([*cmd, *attempt], timeout=1200)
            (ddir / "debootstrap.log").write_text(result.stdout)
            if result.returncode == 0:
                break
            log(f"docker: debootstrap failed: {last_line(result.stdout)}")
        else:
            raise Unavailable(f"debootstrap failed: {last_line(result.stdout)} (see {ddir}/debootstrap.log)")
        for junk in [*rootfs.glob("var/cache/apt/archives/*.deb"), *rootfs.glob("var/lib/apt/lists/*_*")]:
            junk.unlink()
        log(f"docker: importing the root filesystem as {name} ...")
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            imported = subprocess.run(
                [docker_cli, "import", "--change", 'CMD ["python3"]', "-", name],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, "DOCKER_HOST": f"unix://{DOCKER_SOCK}"},
                check=False,
            )
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait(timeout=60)
        if imported.returncode != 0 or tar.returncode != 0:
            raise Unavailable(f"docker import failed: {last_line(imported.stderr or imported.stdout)}")
    finally:
        remove_rootfs(rootfs)


def docker_env() -> dict[str, str]:
    return {"DOCKER_HOST": f"unix://{DOCKER_SOCK}"}


def start_docker() -> tuple[dict[str, str], str | None]:
    if docker_ping() is None:
        log(f"docker: engine at {DOCKER_SOCK} answers; reusing it")
    else:
        try:
            launch_dockerd([])
            log("docker: started dockerd")
        except Unavailable as first:
            log(f"docker: {first}; retrying with --iptables=false --bridge=none")
            launch_dockerd(["--iptables=false", "--bridge=none"])
            log("docker: started dockerd with --iptables=false --bridge=none (containers get no network)")
    env = docker_env()
    name = kernel_image()
    if image_exists(name):
        log(f"docker: image {name} present")
    else:
        started = time.monotonic()
        try:
            build_kernel_image(name)
        except Unavailable as exc:
            return env, f"engine is up but test kernel image {name} is missing: {exc}"
        if not image_exists(name):
            return env, f"engine is up but test kernel image {name} is still missing after the build"
        log(f"docker: built {name} in {time.monotonic() - started:.0f}s")
    return {**env, "LMS_TEST_KERNEL_IMAGE": name}, None


def check_docker() -> tuple[dict[str, str], str | None]:
    why = docker_ping()
    if why is not None:
        raise Unavailable(why)
    name = kernel_image()
    if not image_exists(name):
        return docker_env(), f"engine is up but test kernel image {name} is missing"
    return {**docker_env(), "LMS_TEST_KERNEL_IMAGE": name}, None


def stop_docker() -> None:
    marker = STATE / "docker" / "started-by-services.json"
    try:
        pid = int(json.loads(marker.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if pid_alive(pid, "dockerd"):
        stop_pid(pid, "dockerd", 45)
        log(f"docker: stopped dockerd (pid {pid})")
    marker.unlink(missing_ok=True)


# --------------------------------------------------------------------------- Chromium


def chromium_path() -> str:
    return os.environ.get("LMS_TEST_CHROMIUM") or "/usr/bin/chromium"


def start_chromium() -> tuple[dict[str, str], str | None]:
    path = chromium_path()
    if not os.path.exists(path):
        raise Unavailable(f"{path} not found (package chromium)")
    result = run([path, "--version"], timeout=30)
    if result.returncode != 0:
        raise Unavailable(f"{path} --version failed: {last_line(result.stdout)}")
    return {"LMS_TEST_CHROMIUM": path}, None


check_chromium = start_chromium


# --------------------------------------------------------------------------- Node.js


def start_node() -> tuple[dict[str, str], str | None]:
    node, npm = which("node"), which("npm")
    if node is None or npm is None:
        raise Unavailable("node or npm not found (packages nodejs npm)")
    result = run([node, "--version"], timeout=30)
    if result.returncode != 0:
        raise Unavailable(f"{node} --version failed: {last_line(result.stdout)}")
    return {"LMS_TEST_NODE": node}, None


check_node = start_node


# --------------------------------------------------------------------------- packages


def packages_needed(selected: list[str]) -> list[str]:
    """The Debian packages to install for the selected components that are not available yet."""
    pkgs = []
    if which("xgettext") is None or which("msgmerge") is None:
        pkgs.append("gettext")  # the translation tests compare the catalogues with the source strings
    if "postgres" in selected and pg_bindir() is None and not pg_answers(pg_port()):
        pkgs.append("postgresql")
    if "redis" in selected and which("redis-server") is None and not redis_ping(redis_port()):
        pkgs.append("redis-server")
    if "docker" in selected:
        engine_up = docker_ping() is None
        if (which("dockerd") is None and not engine_up) or which("docker") is None:
            pkgs.append("docker.io")
        if which("debootstrap") is None and not (engine_up and image_exists(kernel_image())):
            pkgs.append("debootstrap")
            if not os.path.exists(DEBIAN_KEYRING):
                pkgs.append("debian-archive-keyring")
    if "docker" in selected and which("docker-compose") is None:
        compose_plugin = run(["docker", "compose", "version"], timeout=20) if which("docker") else None
        if compose_plugin is None or compose_plugin.returncode != 0:
            pkgs.append("docker-compose")  # the deployment tests validate deploy/compose*.yaml with it
    if "chromium" in selected and not os.path.exists(chromium_path()):
        pkgs.append("chromium")
    if "chromium" in selected and not os.path.isdir(CJK_FONTS):
        pkgs.append("fonts-noto-cjk")  # Hangul in pages and screenshots
    if "node" in selected and (which("node") is None or which("npm") is None):
        pkgs += ["nodejs", "npm"]
    return pkgs


def apt_install(pkgs: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    STATE.mkdir(parents=True, exist_ok=True)
    apt_log = STATE / "apt.log"

    def apt(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        result = run(["apt-get", *args], timeout=timeout, env=env)
        with apt_log.open("a") as f:
            f.write(f"\n===== apt-get {' '.join(args)} -> {result.returncode}\n{result.stdout}")
        return result

    if not list(Path("/var/lib/apt/lists").glob("*_Packages*")):
        log("apt: no package lists; running apt-get update")
        apt("update", "-q", timeout=600)
    install = ("install", "-y", "-q", "--no-install-recommends", *pkgs)
    log(f"apt: installing {' '.join(pkgs)} ...")
    result = apt(*install, timeout=1800)
    if result.returncode != 0 and "Unable to locate package" in result.stdout:
        log("apt: a package was not found; running apt-get update and retrying")
        apt("update", "-q", timeout=600)
        result = apt(*install, timeout=1800)
    if result.returncode != 0:
        log(f"apt: install failed (see {apt_log}): {last_line(result.stdout)}")


# --------------------------------------------------------------------------- commands

STARTERS = {
    "postgres": start_postgres,
    "redis": start_redis,
    "docker": start_docker,
    "chromium": start_chromium,
    "node": start_node,
}
CHECKERS = {
    "postgres": check_postgres,
    "redis": check_redis,
    "docker": check_docker,
    "chromium": check_chromium,
    "node": check_node,
}


def collect(actions: dict[str, Callable[[], tuple[dict[str, str], str | None]]]) -> dict:
    """Run one action per component, never letting one failure stop the others."""
    env: dict = {}
    missing: dict[str, str] = {}
    for name in COMPONENTS:
        started = time.monotonic()
        try:
            values, reason = actions[name]()
        except Unavailable as exc:
            values, reason = {}, str(exc)
        except Exception as exc:
            values, reason = {}, f"unexpected {exc.__class__.__name__}: {exc}"
        env.update(values)
        state = "up" if reason is None else f"MISSING: {reason}"
        log(f"{name:<9} {time.monotonic() - started:5.1f}s  {state}")
        if reason is not None:
            missing[name] = " ".join(reason.split())
    env["missing"] = missing
    return env


def write_env(env: dict) -> None:
    try:
        STATE.mkdir(parents=True, exist_ok=True)
        tmp = ENV_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(env, indent=2, sort_keys=True) + "\n")
        tmp.replace(ENV_FILE)
    except OSError as exc:
        log(f"cannot write {ENV_FILE}: {exc}")
    print(json.dumps(env, sort_keys=True), flush=True)


def cmd_up(selected: list[str], install: bool) -> None:
    started = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    if install:
        pkgs = packages_needed(selected)
        if pkgs and not is_root():
            log(f"--install: not root, cannot install {' '.join(pkgs)}")
        elif pkgs:
            apt_install(pkgs)
    actions = {name: STARTERS[name] if name in selected else CHECKERS[name] for name in COMPONENTS}
    env = collect(actions)
    log(f"done in {time.monotonic() - started:.1f}s; wrote {ENV_FILE}")
    write_env(env)


def cmd_down() -> None:
    for name, stop in (("postgres", stop_postgres), ("redis", stop_redis), ("docker", stop_docker)):
        try:
            stop()
        except Exception as exc:
            log(f"{name}: stop failed: {exc}")
    write_env(collect(CHECKERS))


def parse_only(value: str) -> list[str]:
    names = []
    for raw in value.split(","):
        name = ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in COMPONENTS:
            choices = "pg, redis, docker, chromium"
            raise argparse.ArgumentTypeError(f"unknown component {raw!r} (choose from {choices})")
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start (or reuse) the components and write .services/env.json")
    up.add_argument("--install", action="store_true", help="apt-get install missing packages (root only)")
    up.add_argument("--only", type=parse_only, default=list(COMPONENTS), help="e.g. pg,redis,docker,chromium")
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("env", help="re-check liveness and print the JSON")
    args = parser.parse_args(argv)
    if args.command == "up":
        cmd_up(args.only, args.install)
    elif args.command == "down":
        cmd_down()
    else:
        write_env(collect(CHECKERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
