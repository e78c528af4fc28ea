"""Helpers of the Docker backend that need no Docker SDK: options, labels, the kernel's host directory.

Kept apart from :mod:`lms_kernels.backends.docker` so they can be tested (and the options checked by
``manage.py check``) where the SDK is not installed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CONNECTION_FILE",
    "CONTAINER_DIR",
    "CONTAINER_PORTS",
    "LABELS",
    "PORT_KEYS",
    "check_docker_options",
    "docker_option_defaults",
    "parse_user",
    "prepare_kernel_dir",
    "remove_kernel_dir",
    "seal_kernel_dir",
]

#: Label name -> what it holds. A kernel's container carries the first five; a container started for a warm
#: pool carries ``environment``, ``backend_alias``, ``instance``, ``pool`` (the environment's slug) and
#: ``pool_id`` (its :class:`~lms_kernels.models.WarmKernel` id) instead: no kernel, no owner. Labels cannot
#: change, so once a learner claims it, only the database says whose it is.
LABELS = {
    "kernel_id": "org.groundup-lms.kernel-id",
    "environment": "org.groundup-lms.environment",
    "owner_id": "org.groundup-lms.owner-id",
    "backend_alias": "org.groundup-lms.backend-alias",
    "instance": "org.groundup-lms.instance",
    "pool": "org.groundup-lms.pool",
    "pool_id": "org.groundup-lms.pool-id",
}

PORT_KEYS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
#: The ports ipykernel listens on inside its container with the tcp transport (each container has its own
#: network namespace, so they never clash); the engine publishes them on random host ports.
CONTAINER_PORTS = dict(zip(PORT_KEYS, range(50001, 50006), strict=True))
#: Where the kernel's host directory (ipc transport) is mounted inside the container.
CONTAINER_DIR = "/run/lms-kernel"
CONNECTION_FILE = "connection.json"
#: ipc socket files are ``<dir>/k-<n>``: short, because a unix socket path has at most 107 bytes.
IPC_PREFIX = "k"
IPC_PATH_MAX = 107
#: The longest runtime_dir: "<runtime_dir>/<kernel id, 32 hex digits>/k-5" must fit in IPC_PATH_MAX bytes.
RUNTIME_DIR_MAX = IPC_PATH_MAX - len(f"/{'0' * 32}/{IPC_PREFIX}-5")

TRANSPORTS = ("ipc", "tcp")
_SIZE = re.compile(r"^[1-9][0-9]*[kmgKMG]?$")
_NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def docker_option_defaults() -> dict[str, Any]:
    return {
        "base_url": None,
        "timeout": 30,
        "transport": "ipc",
        "runtime_dir": None,
        "publish_ip": "127.0.0.1",
        "user": "65534:65534",
        "argv": None,
        "env": {},
        "work_dir": "/tmp",  # noqa: S108 - inside the container, a tmpfs of its own
        "tmpfs_size": "1g",
        "pids_limit": 256,
        "log_max_size": "1m",
        "internal_network": "lms-kernels-internal",
        "outbound_network": "lms-kernels-outbound",
        "instance": "default",
    }


def parse_user(value: str) -> tuple[int, int]:
    """``"uid:gid"`` or ``"uid"`` (gid = uid) -> the two numbers; ``ValueError`` for anything else."""
    uid, _sep, gid = str(value).partition(":")
    return int(uid), int(gid or uid)


def _is_str_list(value) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, str) for v in value)


def _is_str_dict(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def check_docker_options(options: Mapping[str, Any]) -> list[str]:
    """Problems with the Docker backend's ``OPTIONS`` (their names are checked by the base class)."""
    problems = []
    get = options.get
    if get("base_url") is not None and not isinstance(get("base_url"), str):
        problems.append("'base_url' must be a string such as 'unix:///var/run/docker.sock', or None")
    timeout = get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        problems.append("'timeout' must be a positive number of seconds")
    transport = get("transport", "ipc")
    if transport not in TRANSPORTS:
        problems.append(f"'transport' must be 'ipc' or 'tcp', not {transport!r}")
    runtime_dir = get("runtime_dir")
    if runtime_dir is not None:
        if not isinstance(runtime_dir, str) or not os.path.isabs(runtime_dir):
            problems.append("'runtime_dir' must be an absolute path, or None")
        elif len(runtime_dir.encode()) > RUNTIME_DIR_MAX:
            problems.append(f"'runtime_dir' is too long for unix sockets: at most {RUNTIME_DIR_MAX} bytes")
    publish_ip = get("publish_ip", "127.0.0.1")
    try:
        address = ipaddress.ip_address(publish_ip)
    except (TypeError, ValueError):
        problems.append(f"'publish_ip' must be an IP address, not {publish_ip!r}")
    else:
        if address.is_unspecified:
            problems.append(
                "'publish_ip' must be one address (e.g. the Docker host's private interface), not "
                f"{publish_ip!r}, which would publish kernel ports on every interface"
            )
    try:
        parse_user(get("user", "65534:65534"))
    except (TypeError, ValueError):
        problems.append("'user' must be numeric 'uid:gid', e.g. '65534:65534'")
    argv = get("argv")
    if argv is not None and not _is_str_list(argv):
        problems.append("'argv' must be a non-empty list of strings")
    elif argv is not None and not any("{connection_file}" in a for a in argv):
        problems.append("'argv' must contain '{connection_file}'")
    if not _is_str_dict(get("env", {})):
        problems.append("'env' must be a dict of strings")
    work_dir = get("work_dir", "/tmp")  # noqa: S108
    if not isinstance(work_dir, str) or not work_dir.startswith("/") or work_dir == "/":
        problems.append("'work_dir' must be an absolute path inside the container (not '/')")
    for name in ("tmpfs_size", "log_max_size"):
        value = get(name, "1m")
        if not (isinstance(value, str) and _SIZE.match(value)) and not (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        ):
            problems.append(f"'{name}' must be a size such as '512m' or a number of bytes")
    pids = get("pids_limit", 256)
    if pids is not None and (isinstance(pids, bool) or not isinstance(pids, int) or pids < 1):
        problems.append("'pids_limit' must be a positive integer, or None (no limit)")
    for name in ("internal_network", "outbound_network", "instance"):
        value = get(name, "x")
        if not isinstance(value, str) or not _NETWORK_NAME.match(value):
            problems.append(f"'{name}' must be a name of letters, digits, '_', '.' and '-'")
    return problems


# -- the kernel's host directory (ipc transport) ------------------------------------------------------------


def prepare_kernel_dir(path: Path, connection: Mapping[str, Any], uid: int, gid: int) -> None:
    """Make ``path`` the kernel's own directory, writable by the container user only, holding a fresh
    connection file (mode 0600, owned by that user) and no socket files of an earlier kernel."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    _give(path, uid, gid, 0o700)
    for entry in path.iterdir():
        if entry.name == CONNECTION_FILE or entry.name.startswith(f"{IPC_PREFIX}-"):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
    target = path / CONNECTION_FILE
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(dict(connection), indent=1).encode())
        if os.geteuid() == 0:
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def seal_kernel_dir(path: Path) -> None:
    """Once the kernel has bound its sockets: take write access to the directory away from the container
    user, so learners' code cannot fill the host's disk through it. (When the server is not root, the
    container runs as the server's own user, which could take it back: see the operators' Docker page.)"""
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
        os.chmod(path, 0o755)  # noqa: S103 - only the owner (root) writes; the kernel reads its file
    else:
        os.chmod(path, 0o500)


def remove_kernel_dir(path: Path) -> None:
    import shutil

    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _give(path: Path, uid: int, gid: int, mode: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
    elif os.geteuid() != uid:
        raise PermissionError(
            f"the web server (uid {os.geteuid()}) cannot give {path} to the kernel's user (uid {uid}): run it "
            "as root, or set the Docker backend's 'user' option to the server's own 'uid:gid'"
        )
    os.chmod(path, mode)
