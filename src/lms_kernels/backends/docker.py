"""The ``docker`` backend: one hardened container per kernel, from the kernel environment's image.

Needs the Docker SDK for Python (``pip install 'groundup-lms[docker]'``) and a Docker engine. What any worker
needs to reach and control a kernel is stored on its row: the connection info (how this server reaches the
kernel's ZeroMQ sockets; the HMAC key) and ``{"container_id", "image", "image_id", "transport", ...}``.

**Transports.** ``ipc`` (the default, for a web tier on the Docker host): ZeroMQ over unix sockets in a
per-kernel directory under ``runtime_dir``, bind-mounted into the container; no port is opened anywhere, and
it works with the network policy ``none``. Once the kernel has bound its sockets the directory is sealed
(the container user can no longer write to it). ``tcp`` (for a Docker host that is not the web tier's
host): the kernel's ports are published on ``publish_ip`` only (a private interface), on random host ports
kept across restarts; it needs a network, so ``none`` and ``internal`` (the engine publishes no ports on an
internal network) are refused. The connection file with the HMAC key is written by the server: into the
kernel's directory (ipc, mode 0600, owned by the container user), or handed over in an environment
variable that the container's shell writes to its tmpfs and unsets before the kernel starts (tcp, where
the server may share no directory with the Docker host).

**Hardening**, always: a non-root user (``user``), all capabilities dropped, ``no-new-privileges``, a
read-only root file system with a size-limited tmpfs as the working and home directory, the environment's
memory (no swap beyond it) and CPU limits, a pids limit, the environment's network policy, an init process
(so SIGINT reaches the kernel), a bounded log, a hostname that is not the container id, and labels that
tie the container to its kernel (:data:`~lms_kernels.internal.containers.LABELS`).

**Restarts** make a new container that binds the same endpoints (the same socket paths, or the same host
ports), with the same key, so open connections carry on; the old container is removed first.

**Warm pools** (:mod:`lms_kernels.pools`): :meth:`DockerBackend.start_pooled` starts a container exactly as
for a kernel (the same spec, image id and hardening, a key and a directory of its own), named and labelled
after its pool row (``lms-pool-<id>``; labels ``pool`` and ``pool-id``, no kernel id, no owner). A learner
who claims it gets its connection info and state as they are; a later restart makes a normal kernel
container on the same endpoints. Reconciliation keeps a container that a kernel row or a pool row references.

Options: see :func:`lms_kernels.internal.containers.docker_option_defaults` and the operators' Docker page.
An environment's ``backend_options`` may set ``argv`` and ``env`` for its kernels, and ``pool_size`` (read by
:mod:`lms_kernels.pools`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import docker
    import docker.errors
    import requests.exceptions
    from docker.types import DeviceRequest
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the SDK
    raise ImportError(
        "The Docker kernel backend needs the Docker SDK for Python: pip install 'groundup-lms[docker]'."
    ) from exc

from django.utils.translation import gettext as _

from ..conf import app_settings
from ..connection.zmq_channels import control_request, kernel_request
from ..exceptions import BackendUnavailable, KernelStartFailed
from ..internal.containers import (
    CONNECTION_FILE,
    CONTAINER_DIR,
    CONTAINER_PORTS,
    IPC_PATH_MAX,
    IPC_PREFIX,
    LABELS,
    PORT_KEYS,
    check_docker_options,
    docker_option_defaults,
    parse_user,
    prepare_kernel_dir,
    remove_kernel_dir,
    seal_kernel_dir,
)
from .base import KernelBackend, StartedKernel

if TYPE_CHECKING:
    from ..models import Kernel, KernelEnvironment, WarmKernel

__all__ = ["DockerBackend", "ReconcileResult"]

logger = logging.getLogger(__name__)

DEFAULT_ARGV = ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
#: Environment ``backend_options`` keys this backend reads.
ENVIRONMENT_OPTIONS = {"argv", "env", "pool_size"}
#: tcp transport: the container's shell writes the connection file from this variable, then forgets it.
CONNECTION_VARIABLE = "LMS_KERNEL_CONNECTION"
_TCP_WRAPPER = (
    f'umask 077 && printf "%s" "${CONNECTION_VARIABLE}" > "$1" && unset {CONNECTION_VARIABLE} '
    '&& shift && exec "$@"'
)
_GPU_DRIVER_ERROR = "could not select device driver"


def _default_runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    return os.path.join(jupyter_runtime_dir(), "lms_kernels_docker")


def build_command_hint(environment) -> str:
    return f"manage.py lms_kernels_image build {environment.slug} <directory with a Dockerfile>"


def _port_taken(message: str) -> bool:
    return "port is already allocated" in message or "address already in use" in message


class _PortsTaken(KernelStartFailed):
    """The host ports a restarted tcp kernel asked for again are taken."""


@dataclass
class ReconcileResult:
    """What :meth:`DockerBackend.reconcile` found: containers removed for want of a kernel (their kernel
    ids; for containers started for a pool, their pool ids in ``removed_pooled``) and the known kernels
    without a running container."""

    alias: str
    removed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    removed_pooled: list[str] = field(default_factory=list)


class DockerBackend(KernelBackend):
    option_defaults = docker_option_defaults()
    supports_pools = True

    def __init__(self, alias, options=None):
        super().__init__(alias, options)
        self.uid, self.gid = parse_user(self.options["user"])
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._networks: set[str] = set()

    @classmethod
    def check_options(cls, options):
        return super().check_options(options) + check_docker_options(options)

    def check_environment(self, environment: KernelEnvironment) -> list[str]:
        """Problems that keep ``environment`` from running on this backend (``lms_kernels.E105``)."""
        problems = []
        if not environment.image:
            problems.append("it names no image")
        if self.options["transport"] == "tcp" and environment.network in ("none", "internal"):
            problems.append(
                f"its network policy {environment.network!r} cannot be used with the tcp transport, which "
                "publishes the kernel's ports on a network (the engine publishes none for 'none' or an "
                "internal network): use the ipc transport, or the policy 'outbound'"
            )
        extra = environment.backend_options or {}
        unknown = sorted(set(extra) - ENVIRONMENT_OPTIONS)
        if unknown:
            problems.append(f"its backend options {unknown} are unknown (known: argv, env, pool_size)")
        if "argv" in extra and not (
            isinstance(extra["argv"], list)
            and extra["argv"]
            and all(isinstance(a, str) for a in extra["argv"])
            and any("{connection_file}" in a for a in extra["argv"])
        ):
            problems.append("its backend option 'argv' must be a list of strings with '{connection_file}'")
        if "env" in extra and not isinstance(extra["env"], dict):
            problems.append("its backend option 'env' must be a dict")
        return problems

    # -- the engine ----------------------------------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        return Path(self.options["runtime_dir"] or _default_runtime_dir())

    def client(self) -> docker.DockerClient:
        """The engine client (created on first use); :class:`BackendUnavailable` if the engine does not answer."""
        with self._client_lock:
            if self._client is None:
                with self._engine():
                    base_url, timeout = self.options["base_url"], self.options["timeout"]
                    if base_url:
                        self._client = docker.DockerClient(base_url=base_url, timeout=timeout)
                    else:
                        self._client = docker.from_env(timeout=timeout)
            return self._client

    @contextlib.contextmanager
    def _engine(self):
        """Turn "the engine does not answer" into :class:`BackendUnavailable`, logged with the details."""
        try:
            yield
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            self._engine_down(exc)
        except docker.errors.DockerException as exc:
            if isinstance(exc, docker.errors.APIError):
                raise
            self._engine_down(exc)

    def _engine_down(self, exc: Exception):
        where = self.options["base_url"] or os.environ.get("DOCKER_HOST") or "the default socket"
        logger.error("Kernel backend %r: the Docker engine at %s does not answer: %s", self.alias, where, exc)
        raise BackendUnavailable(
            _(
                "Kernels cannot start right now: the Docker engine does not answer. Please tell the site's operators."
            ),
            code="docker_engine_unreachable",
        ) from exc

    def _api(self):
        return self.client().api

    async def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- images --------------------------------------------------------------------------------------------

    def resolve_image(self, environment: KernelEnvironment) -> str:
        """The id (``sha256:...``) of ``environment.image`` on the engine; a clear error when it is missing."""
        if not environment.image:
            raise BackendUnavailable(
                _("The kernel environment %(env)s names no image. An operator can build one with: %(hint)s")
                % {"env": environment.slug, "hint": build_command_hint(environment)},
                code="kernel_image_missing",
            )
        with self._engine():
            try:
                return self._api().inspect_image(environment.image)["Id"]
            except docker.errors.ImageNotFound:
                raise self._image_missing(environment, environment.image) from None

    def _image_missing(self, environment, image: str) -> BackendUnavailable:
        logger.error(
            "Kernel environment %r: image %s is missing on the Docker engine.", environment.slug, image
        )
        return BackendUnavailable(
            _(
                "The image %(image)s of the kernel environment %(env)s is missing on the Docker engine. An "
                "operator can build it with: %(hint)s"
            )
            % {"image": image, "env": environment.slug, "hint": build_command_hint(environment)},
            code="kernel_image_missing",
        )

    def image_id(self, reference: str) -> str | None:
        """The id of an image (name or id) on the engine, or ``None`` if it has none by that reference."""
        with self._engine():
            try:
                return self._api().inspect_image(reference)["Id"]
            except docker.errors.ImageNotFound:
                return None

    def missing_images(self, environments) -> list[tuple[Any, str]]:
        """``(environment, image)`` for each environment whose image (pinned digest first) the engine lacks."""
        missing = []
        for environment in environments:
            reference = environment.image_digest or environment.image
            if not reference or self.image_id(reference) is None:
                missing.append((environment, reference or "(none)"))
        return missing

    def build_image(self, directory: str, tag: str) -> tuple[str, list[str]]:
        """``docker build`` of ``directory`` (with its Dockerfile), tagged ``tag``: the image id and the log."""
        log: list[str] = []
        with self._engine():
            try:
                image, output = self.client().images.build(path=directory, tag=tag, rm=True, forcerm=True)
            except docker.errors.BuildError as exc:
                lines = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log]
                raise RuntimeError("".join(lines).strip() or str(exc)) from exc
        for chunk in output:
            if chunk.get("stream"):
                log.append(chunk["stream"].rstrip("\n"))
        return image.id, log

    def import_image(self, tarball: str, tag: str) -> str:
        """``docker import`` of a root file system tarball, tagged ``tag``: the image id."""
        from docker.utils import parse_repository_tag

        repository, version = parse_repository_tag(tag)
        with self._engine():
            self._api().import_image_from_file(tarball, repository=repository, tag=version or "latest")
            return self._api().inspect_image(tag)["Id"]

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        return await self._launch(kernel, environment, reuse=False)

    async def restart(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        """A new container with the same endpoints and key, so every open connection carries on."""
        await self.shutdown(kernel, restart=True)
        return await self._launch(kernel, environment, reuse=bool(kernel.connection_info))

    async def start_pooled(self, warm: WarmKernel, environment: KernelEnvironment) -> StartedKernel:
        """A kernel container for the pool: as :meth:`start` makes one, named and labelled after ``warm``."""
        return await self._launch(warm, environment, reuse=False, pooled=True)

    async def discard_pooled(self, warm: WarmKernel) -> None:
        """Remove a pooled container nobody claimed (no polite shutdown: nobody ran anything in it)."""
        state = warm.backend_state or {}
        if state.get("container_id"):
            await asyncio.to_thread(self._remove_container, state["container_id"])
        if state.get("kernel_dir"):
            await asyncio.to_thread(remove_kernel_dir, Path(state["kernel_dir"]))

    async def _launch(
        self,
        kernel: Kernel | WarmKernel,
        environment: KernelEnvironment,
        *,
        reuse: bool,
        pooled: bool = False,
    ) -> StartedKernel:
        problems = self.check_environment(environment)
        if problems:
            logger.error(
                "Kernel environment %r cannot run on %r: %s.", environment.slug, self.alias, problems
            )
            raise BackendUnavailable(
                _(
                    "The kernel environment %(env)s is misconfigured (%(problems)s); please tell the site's "
                    "operators."
                )
                % {"env": environment.slug, "problems": "; ".join(problems)},
                code="environment_misconfigured",
            )
        old_info, old_state = (kernel.connection_info or {}, kernel.backend_state or {})
        image_id = environment.image_digest or await asyncio.to_thread(self.resolve_image, environment)
        if environment.network != "none":
            await asyncio.to_thread(self._ensure_network, environment.network)
        transport = self.options["transport"]
        key = old_info.get("key") if reuse else None
        key = key or secrets.token_hex(32)
        base = {"key": key, "signature_scheme": "hmac-sha256", "kernel_name": environment.slug}
        if reuse and old_state.get("kernel_dir"):
            kernel_dir = Path(
                old_state["kernel_dir"]
            )  # the same socket paths (a kernel from the pool keeps its own)
        else:
            kernel_dir = self.runtime_dir / uuid.UUID(str(kernel.id)).hex
        host_ports = {}
        if transport == "ipc":
            ports = {name: number for number, name in enumerate(PORT_KEYS, start=1)}
            inside = {**base, "transport": "ipc", "ip": f"{CONTAINER_DIR}/{IPC_PREFIX}", **ports}
            info = {**inside, "ip": str(kernel_dir / IPC_PREFIX)}
            if len(f"{info['ip']}-5".encode()) > IPC_PATH_MAX:
                logger.error(
                    "Kernel backend %r: runtime_dir %s is too long for unix sockets.", self.alias, kernel_dir
                )
                raise BackendUnavailable(code="runtime_dir_too_long")
            try:
                await asyncio.to_thread(prepare_kernel_dir, kernel_dir, inside, self.uid, self.gid)
            except OSError as exc:
                logger.error("Kernel backend %r: cannot prepare %s: %s", self.alias, kernel_dir, exc)
                raise BackendUnavailable(code="kernel_dir_unavailable") from exc
        else:
            inside = {**base, "transport": "tcp", "ip": "0.0.0.0", **CONTAINER_PORTS}  # noqa: S104 - own netns
            info = None
            if reuse:
                host_ports = dict(old_state.get("host_ports") or {})
        # Explicit devices: the GPU allocator's (``kernel.gpu_devices``), else any the kernel's state names.
        gpu_ids = list(getattr(kernel, "gpu_devices", None) or old_state.get("gpu_device_ids") or []) or None
        spec = self._container_spec(
            kernel, environment, image_id, inside, kernel_dir, host_ports, gpu_ids, pooled=pooled
        )
        try:
            container_id = await asyncio.to_thread(self._create_and_start, spec, environment)
        except _PortsTaken:
            # Another process took one of the kernel's host ports meanwhile: new ones (connections reconnect).
            spec = self._container_spec(
                kernel, environment, image_id, inside, kernel_dir, {}, gpu_ids, pooled=pooled
            )
            container_id = await asyncio.to_thread(self._create_and_start, spec, environment)
        try:
            if transport == "tcp":
                host_ports = await asyncio.to_thread(self._published_ports, container_id)
                info = {**inside, "ip": self.options["publish_ip"], **host_ports}
            await self._wait_ready(container_id, info)
            if transport == "ipc":
                await asyncio.to_thread(seal_kernel_dir, kernel_dir)
        except BaseException:
            await asyncio.to_thread(self._remove_container, container_id)
            if transport == "ipc" and not reuse:
                await asyncio.to_thread(remove_kernel_dir, kernel_dir)
            raise
        state = {
            "container_id": container_id,
            "container_name": spec["name"],
            "image": environment.image,
            "image_id": image_id,
            "transport": transport,
        }
        if transport == "ipc":
            state["kernel_dir"] = str(kernel_dir)
        else:
            state["host_ports"] = host_ports
        if gpu_ids is not None:
            state["gpu_device_ids"] = gpu_ids
        return StartedKernel(connection_info=info, state=state)

    def _container_spec(
        self, kernel, environment, image_id, inside, kernel_dir, host_ports, gpu_ids, *, pooled=False
    ) -> dict:
        options, extra = self.options, environment.backend_options or {}
        work_dir, transport = options["work_dir"], options["transport"]
        env = {"HOME": work_dir, "IPYTHONDIR": f"{work_dir}/.ipython", **options["env"]}
        env.update({str(k): str(v) for k, v in (extra.get("env") or {}).items()})
        if transport == "ipc":
            connection_file = f"{CONTAINER_DIR}/{CONNECTION_FILE}"
        else:
            connection_file = f"{work_dir}/.lms-kernel-{CONNECTION_FILE}"
        argv = extra.get("argv") or options["argv"] or DEFAULT_ARGV
        command = [part.replace("{connection_file}", connection_file) for part in argv]
        if transport == "tcp":
            env[CONNECTION_VARIABLE] = json.dumps(inside)
            command = ["/bin/sh", "-c", _TCP_WRAPPER, "lms-kernel", connection_file, *command]
        tmpfs_size = options["tmpfs_size"]
        labels = {
            LABELS["environment"]: environment.slug,
            LABELS["backend_alias"]: self.alias,
            LABELS["instance"]: options["instance"],
        }
        if pooled:  # nobody's yet: no kernel id, no owner (the database says whose it becomes)
            labels.update({LABELS["pool"]: environment.slug, LABELS["pool_id"]: str(kernel.id)})
        else:
            labels.update(
                {
                    LABELS["kernel_id"]: str(kernel.id),
                    LABELS["owner_id"]: str(getattr(kernel, "owner_id", "") or ""),
                }
            )
        spec = {
            "image": image_id,
            "command": command,
            "name": f"lms-pool-{kernel.id}" if pooled else f"lms-kernel-{kernel.id}",
            "hostname": "lms-kernel",
            "user": f"{self.uid}:{self.gid}",
            "environment": env,
            "working_dir": work_dir,
            "labels": labels,
            "init": True,
            "auto_remove": False,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "tmpfs": {work_dir: f"rw,exec,nosuid,nodev,size={tmpfs_size},mode=1777"},
            "pids_limit": options["pids_limit"],
            "log_config": {
                "type": "json-file",
                "config": {"max-size": str(options["log_max_size"]), "max-file": "1"},
            },
        }
        if environment.memory_limit:
            spec["mem_limit"] = spec["memswap_limit"] = int(environment.memory_limit)
        if environment.cpu_limit:
            spec["nano_cpus"] = int(Decimal(environment.cpu_limit) * 10**9)
        if environment.network == "none":
            spec["network_mode"] = "none"
        else:
            spec["network"] = self._network_name(environment.network)
        if transport == "ipc":
            spec["volumes"] = {str(kernel_dir): {"bind": CONTAINER_DIR, "mode": "rw"}}
        else:
            publish_ip = options["publish_ip"]
            spec["ports"] = {
                f"{port}/tcp": (publish_ip, host_ports.get(name)) for name, port in CONTAINER_PORTS.items()
            }
        if gpu_ids:  # explicit devices, chosen by the GPU allocator
            spec["device_requests"] = [
                DeviceRequest(device_ids=[str(i) for i in gpu_ids], capabilities=[["gpu"]])
            ]
        elif environment.gpus:
            spec["device_requests"] = [DeviceRequest(count=environment.gpus, capabilities=[["gpu"]])]
        return spec

    def _create_and_start(self, spec: dict, environment) -> str:
        """Create and start the container; on any failure nothing is left behind."""
        with self._engine():
            containers = self.client().containers
            try:
                container = containers.create(**spec)
            except docker.errors.ImageNotFound:
                raise self._image_missing(environment, spec["image"]) from None
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    logger.error("Kernel container %s could not be created: %s", spec["name"], exc)
                    raise KernelStartFailed() from exc
                # A container of this kernel left over from an earlier attempt: replace it.
                self._remove_container(spec["name"])
                container = containers.create(**spec)
            try:
                self._api().start(container.id)
            except docker.errors.APIError as exc:
                self._remove_container(container.id)
                if _GPU_DRIVER_ERROR in str(exc):
                    logger.error("Kernel container %s needs a GPU runtime: %s", spec["name"], exc)
                    raise BackendUnavailable(
                        _(
                            "This kernel environment needs a GPU, but this host has no GPU runtime (NVIDIA "
                            "container toolkit). Please tell the site's operators."
                        ),
                        code="no_gpu_runtime",
                    ) from exc
                if _port_taken(str(exc)) and any(p[1] for p in spec.get("ports", {}).values()):
                    raise _PortsTaken() from exc
                logger.error("Kernel container %s could not be started: %s", spec["name"], exc)
                raise KernelStartFailed() from exc
            except BaseException:
                self._remove_container(container.id)
                raise
            return container.id

    def _published_ports(self, container_id: str) -> dict[str, int]:
        with self._engine():
            published = self._api().inspect_container(container_id)["NetworkSettings"]["Ports"] or {}
        ports = {}
        for name, port in CONTAINER_PORTS.items():
            bindings = published.get(f"{port}/tcp") or []
            if not bindings:
                raise KernelStartFailed()
            ports[name] = int(bindings[0]["HostPort"])
        return ports

    async def _wait_ready(self, container_id: str, info: dict) -> None:
        """Until the kernel answers ``kernel_info_request`` on control (so it is past writing its connection
        file and the directory can be sealed); :class:`KernelStartFailed` if its container stops first."""
        deadline = time.monotonic() + app_settings.KERNEL_STARTUP_TIMEOUT
        control = Path(f"{info['ip']}-{info['control_port']}") if info["transport"] == "ipc" else None
        wait = 0.2
        while True:
            if control is None or control.exists():
                if await kernel_request(info, "control", "kernel_info_request", timeout=wait) is not None:
                    return
                wait = min(wait * 2, 1.0)
            else:
                await asyncio.sleep(0.05)
            state = await asyncio.to_thread(self._inspect, container_id)
            if state is None or not state["State"]["Running"]:
                logs = await asyncio.to_thread(self._logs, container_id)
                code = state["State"]["ExitCode"] if state else None
                logger.error(
                    "Kernel container %s stopped while starting (status %s):\n%s", container_id, code, logs
                )
                raise KernelStartFailed(_("The kernel stopped while it was starting."))
            if time.monotonic() >= deadline:
                logger.error("Kernel container %s did not answer in time.", container_id)
                raise KernelStartFailed(
                    _("The kernel did not answer within %(seconds)d seconds.")
                    % {"seconds": app_settings.KERNEL_STARTUP_TIMEOUT}
                )

    async def shutdown(self, kernel: Kernel, *, restart: bool = False) -> None:
        state = kernel.backend_state or {}
        container_id = state.get("container_id")
        if container_id:
            info = await asyncio.to_thread(self._inspect, container_id)
            if info is not None and info["State"]["Running"] and kernel.connection_info:
                # Politely: the kernel runs its shutdown hooks and exits by itself (if it answers at all).
                content = {"restart": restart}
                if await control_request(kernel.connection_info, "shutdown_request", content, timeout=1.0):
                    await self._wait_stopped(container_id, app_settings.SHUTDOWN_TIMEOUT)
            await asyncio.to_thread(self._remove_container, container_id)
        if not restart and state.get("kernel_dir"):
            await asyncio.to_thread(remove_kernel_dir, Path(state["kernel_dir"]))

    async def _wait_stopped(self, container_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = await asyncio.to_thread(self._inspect, container_id)
            if info is None or not info["State"]["Running"]:
                return
            await asyncio.sleep(0.1)

    async def is_alive(self, kernel: Kernel) -> bool:
        container_id = (kernel.backend_state or {}).get("container_id")
        if not container_id:
            return False
        info = await asyncio.to_thread(self._inspect, container_id)
        return bool(info and info["State"]["Running"])

    async def exit_reason(self, kernel: Kernel) -> str | None:
        container_id = (kernel.backend_state or {}).get("container_id")
        if not container_id:
            return None
        info = await asyncio.to_thread(self._inspect, container_id)
        if info is None:
            return _("its container was removed")
        state = info["State"]
        if state["Running"]:
            return None
        if state.get("OOMKilled"):
            limit = info["HostConfig"].get("Memory") or 0
            if limit:
                return _("it ran out of memory: its limit is %(limit)d MB") % {"limit": limit // 2**20}
            return _("it ran out of memory")
        code = state.get("ExitCode")
        if code == 137:
            return _("its process was killed (SIGKILL)")
        return _("its process exited with status %(code)d") % {"code": code}

    async def interrupt(self, kernel: Kernel) -> None:
        """SIGINT to the kernel's process (the container's init passes it on)."""
        container_id = (kernel.backend_state or {}).get("container_id")
        if container_id:
            await asyncio.to_thread(self._kill, container_id, "SIGINT")

    # -- reconciliation ------------------------------------------------------------------------------------

    async def reconcile(self, known) -> ReconcileResult:
        """Remove this backend's containers that are neither a kernel's nor a pool's; report kernels without a
        running container.

        ``known``: an async callable returning ``(kernels, pooled)``: this backend's kernel rows as
        ``{kernel id: the container id its state records, or ""}`` and the ids of its pool rows. It is
        called *after* the containers are listed, and rows are created before their containers, so a
        container started meanwhile is never taken for an orphan. A container is in use when its kernel-id
        label is a known kernel or a kernel row records its id (a kernel claimed from a pool: its labels
        still say pool), pooled when its pool-id label is a known pool row, and an orphan otherwise.
        (``known`` must read the pool rows before the kernel rows: a claim moves a container from the
        first to the second in one transaction, so it is seen in one or the other.)
        """
        containers = await asyncio.to_thread(self._our_containers)
        kernels, pooled = await known()
        kernels = {str(k): v or "" for k, v in kernels.items()}
        pooled = {str(p) for p in pooled}
        in_use = {container_id for container_id in kernels.values() if container_id}
        result = ReconcileResult(self.alias)
        running_kernels = set()
        for entry in containers:
            kernel_id, pool_id, container_id = entry["kernel_id"], entry["pool_id"], entry["id"]
            if container_id in in_use or (kernel_id and kernel_id in kernels):
                if entry["running"] and kernel_id:
                    running_kernels.add(kernel_id)
                continue
            if pool_id and pool_id in pooled:
                continue
            if kernel_id:
                logger.warning(
                    "Removing container %s of kernel %s, which does not exist.", container_id, kernel_id
                )
                result.removed.append(kernel_id)
            else:
                logger.warning(
                    "Removing container %s of pool entry %s, which does not exist.", container_id, pool_id
                )
                result.removed_pooled.append(pool_id or container_id)
            await asyncio.to_thread(self._remove_container, container_id)
            if entry["kernel_dir"]:
                await asyncio.to_thread(remove_kernel_dir, entry["kernel_dir"])
        running_ids = {entry["id"] for entry in containers if entry["running"]}
        running_kernels |= {k for k, container_id in kernels.items() if container_id in running_ids}
        result.missing = sorted(set(kernels) - running_kernels)
        return result

    def _our_containers(self) -> list[dict]:
        """This backend's containers: ids, labels, whether running, and their directory under ``runtime_dir``."""
        labels = [
            f"{LABELS['backend_alias']}={self.alias}",
            f"{LABELS['instance']}={self.options['instance']}",
        ]
        with self._engine():
            listed = self._api().containers(all=True, filters={"label": labels})
        found = []
        for entry in listed:
            kernel_dir = None
            for mount in entry.get("Mounts") or []:
                source = Path(mount.get("Source") or "/")
                if mount.get("Destination") == CONTAINER_DIR and source.parent == self.runtime_dir:
                    kernel_dir = source
            found.append(
                {
                    "id": entry["Id"],
                    "kernel_id": entry["Labels"].get(LABELS["kernel_id"], ""),
                    "pool_id": entry["Labels"].get(LABELS["pool_id"], ""),
                    "running": entry.get("State") == "running",
                    "kernel_dir": kernel_dir,
                }
            )
        return found

    # -- small engine calls (run in a thread) --------------------------------------------------------------

    def _inspect(self, container_id: str) -> dict | None:
        with self._engine():
            try:
                return self._api().inspect_container(container_id)
            except docker.errors.NotFound:
                return None

    def _logs(self, container_id: str) -> str:
        with contextlib.suppress(docker.errors.APIError), self._engine():
            return self._api().logs(container_id, tail=40).decode(errors="replace")
        return ""

    def _kill(self, container_id: str, signal: str) -> None:
        with self._engine():
            try:
                self._api().kill(container_id, signal=signal)
            except docker.errors.APIError as exc:  # not running (409), or gone (404)
                logger.info("Could not send %s to container %s: %s", signal, container_id, exc)

    def _remove_container(self, container_id: str) -> None:
        with self._engine():
            try:
                self._api().remove_container(container_id, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: its removal is already in progress
                    raise

    def _network_name(self, policy: str) -> str:
        return self.options["internal_network" if policy == "internal" else "outbound_network"]

    def _ensure_network(self, policy: str) -> None:
        """The user-defined bridge network of ``policy``, created if missing (an existing one is used as is).

        ``internal``: no route out (``internal=True``). ``outbound``: a normal bridge on which kernels cannot
        reach each other (inter-container communication off).
        """
        name = self._network_name(policy)
        if name in self._networks:
            return
        with self._engine():
            try:
                self._api().inspect_network(name)
            except docker.errors.NotFound:
                options = {} if policy == "internal" else {"com.docker.network.bridge.enable_icc": "false"}
                try:
                    self.client().networks.create(
                        name,
                        driver="bridge",
                        internal=policy == "internal",
                        check_duplicate=True,
                        options=options,
                        labels={
                            LABELS["backend_alias"]: self.alias,
                            LABELS["instance"]: self.options["instance"],
                        },
                    )
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # created by another worker meanwhile
                        raise
        self._networks.add(name)
