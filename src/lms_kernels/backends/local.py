"""The ``local`` backend: ipykernel subprocesses on the web server's own host.

**For development and single-user demos only.** Learner code runs with the web server's privileges (it can
read the database file and the secret key); use the Docker backend or a gateway for untrusted learners
(``lms_kernels.W101`` warns when this backend serves kernels with ``DEBUG`` off).

Kernels are launched with jupyter_client's ``launch_kernel(..., independent=True)``: in their own session
(process group) and without ``JPY_PARENT_PID``, so a kernel outlives the ASGI worker that started it. What
any worker needs to reach and control it is stored on the kernel row: the connection info (ports, key) and
``{"pid", "create_time", "host", ...}``. The pid is only trusted together with its creation time, so a
recycled pid never gets a signal meant for a dead kernel.

Options (``LMS_KERNELS["BACKENDS"][alias]["OPTIONS"]``):

``argv``
    The kernel command; ``{connection_file}`` is replaced. Default:
    ``[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]``.
``env``
    Extra environment variables for kernels.
``inherit_env``
    Names of the server's environment variables kernels inherit (default: ``PATH``, ``HOME``, locale,
    ``TMPDIR``, ``TZ``...). Nothing else is passed, so ``DJANGO_SECRET_KEY`` or ``DATABASE_URL`` do not
    leak into kernels by accident.
``ip``
    The address kernels listen on (default ``127.0.0.1``).
``runtime_dir``
    Where connection files, logs and working directories go (default: Jupyter's runtime directory,
    ``lms_kernels`` inside it).
``cwd``
    The kernels' working directory; by default each kernel gets its own, removed when it shuts down.
``relay``
    Start an iopub relay (:mod:`lms_kernels.relay`) with each kernel (default ``True``): a small process of
    its own that records the kernel's iopub messages (the last ``REPLAY_BUFFER_SIZE`` bytes of them, off the
    messages' path), so that output printed while no worker listens (the learner's worker died) reaches the
    learner when their client reconnects through another worker. It lives as long as the kernel (restarts
    included) and costs one small Python process per kernel.

GPUs: on a backend with a GPU inventory (``CAPACITY["GPUS"]``), a kernel's ``CUDA_VISIBLE_DEVICES`` is the
devices the service allocated to it (``kernel.gpu_devices``), empty for a kernel without GPUs, so CUDA
programs see exactly their share. Nothing stops code from changing it: it is a courtesy on a trusted host,
not isolation (use the Docker backend for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from ..conf import app_settings
from ..connection.zmq_channels import control_request
from ..exceptions import BackendUnavailable, KernelStartFailed
from .base import KernelBackend, StartedKernel

if TYPE_CHECKING:
    from ..models import Kernel, KernelEnvironment

__all__ = ["LocalBackend"]

DEFAULT_INHERITED_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "SYSTEMROOT",
    "VIRTUAL_ENV",
)


def _default_runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    return os.path.join(jupyter_runtime_dir(), "lms_kernels")


class LocalBackend(KernelBackend):
    option_defaults = {
        "argv": None,
        "env": {},
        "inherit_env": list(DEFAULT_INHERITED_ENV),
        "ip": "127.0.0.1",
        "runtime_dir": None,
        "cwd": None,
        "relay": True,
    }

    @classmethod
    def check_options(cls, options):
        problems = super().check_options(options)
        argv = options.get("argv")
        if argv is not None and (
            not isinstance(argv, list | tuple) or not argv or not all(isinstance(a, str) for a in argv)
        ):
            problems.append("'argv' must be a non-empty list of strings")
        elif argv is not None and not any("{connection_file}" in a for a in argv):
            problems.append("'argv' must contain '{connection_file}'")
        env = options.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            problems.append("'env' must be a dict of strings")
        inherit = options.get("inherit_env", [])
        if not isinstance(inherit, list | tuple) or not all(isinstance(name, str) for name in inherit):
            problems.append("'inherit_env' must be a list of variable names")
        if not isinstance(options.get("relay", True), bool):
            problems.append("'relay' must be true or false")
        return problems

    # -- paths ---------------------------------------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        return Path(self.options["runtime_dir"] or _default_runtime_dir())

    def _files(self, kernel: Kernel) -> dict[str, Path]:
        base = self.runtime_dir
        return {
            "connection_file": base / f"kernel-{kernel.id}.json",
            "log_file": base / f"kernel-{kernel.id}.log",
            "workdir": Path(self.options["cwd"]) if self.options["cwd"] else base / f"kernel-{kernel.id}",
        }

    def _argv(self, connection_file: Path) -> list[str]:
        argv = self.options["argv"] or [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return [part.replace("{connection_file}", str(connection_file)) for part in argv]

    def _env(self, kernel: Kernel, environment: KernelEnvironment) -> dict[str, str]:
        from ..capacity import capacity_of

        env = {name: os.environ[name] for name in self.options["inherit_env"] if name in os.environ}
        env.update(self.options["env"])
        extra = (environment.backend_options or {}).get("env", {})
        if isinstance(extra, dict):
            env.update({str(k): str(v) for k, v in extra.items()})
        if capacity_of(self.alias).gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(kernel.gpu_devices or [])
        return env

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        try:
            return await asyncio.to_thread(self._launch, kernel, environment, None)
        except OSError as exc:
            raise KernelStartFailed() from exc

    async def restart(self, kernel: Kernel, environment: KernelEnvironment) -> StartedKernel:
        """Replace the process but keep the ports and key, so every open connection carries on."""
        await self.shutdown(kernel, restart=True)
        try:
            return await asyncio.to_thread(self._launch, kernel, environment, kernel.connection_info)
        except OSError as exc:
            raise KernelStartFailed() from exc

    def _launch(self, kernel: Kernel, environment: KernelEnvironment, reuse: dict | None) -> StartedKernel:
        from jupyter_client.connect import write_connection_file
        from jupyter_client.launcher import launch_kernel

        files = self._files(kernel)
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        relay = (kernel.backend_state or {}).get("relay") if reuse else None
        if reuse:
            ports = {
                key: reuse[key]
                for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
            }
            key, ip = reuse["key"].encode(), reuse.get("ip", self.options["ip"])
        else:
            ports, key, ip = {}, secrets.token_hex(32).encode(), self.options["ip"]
        _fname, info = write_connection_file(
            str(files["connection_file"]),
            ip=ip,
            key=key,
            transport="tcp",
            signature_scheme="hmac-sha256",
            kernel_name=environment.slug,
            **ports,
        )
        workdir = files["workdir"]
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(files["log_file"], "ab") as log:
            proc = launch_kernel(
                self._argv(files["connection_file"]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(kernel, environment),
                independent=True,
                cwd=str(workdir),
            )
        # Reap the child when it exits (in whichever worker kills it), so it never lingers as a zombie, and
        # remember how it ended for exit_reason().
        threading.Thread(
            target=_reap, args=(proc,), name=f"lms-kernel-reaper-{proc.pid}", daemon=True
        ).start()
        info = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}
        relay_state = None
        if self.options["relay"]:
            try:
                info, relay_state = self._ensure_relay(info, relay, reuse, proc.pid, files["connection_file"])
            except Exception:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                raise
        return StartedKernel(
            connection_info=info,
            state={
                **({"relay": relay_state} if relay_state else {}),
                "pid": proc.pid,
                "create_time": _create_time(proc.pid),
                "host": socket.gethostname(),
                "connection_file": str(files["connection_file"]),
                "log_file": str(files["log_file"]),
                "workdir": str(workdir),
                "owns_workdir": not self.options["cwd"],
            },
        )

    # -- the iopub relay --------------------------------------------------------------------------------

    def _ensure_relay(
        self, info: dict, relay: dict | None, reuse: dict | None, pid: int, connection_file: Path
    ) -> tuple[dict, dict]:
        """The kernel's relay (a running one told to watch the new process, or a new one): returns the
        connection info with the relay's replay port, and the relay's state."""
        if relay and reuse and self._process({**relay, "host": socket.gethostname()}) is not None:
            _tell_relay(info["ip"], reuse["lms_replay_port"], [b"watch", str(pid).encode()])
            return {**info, "lms_replay_port": reuse["lms_replay_port"]}, relay
        from .. import relay as relay_module

        command = [
            sys.executable,
            "-I",  # not the package's directory on sys.path: its modules would shadow the standard library's
            relay_module.__file__,
            "--kernel",
            f"tcp://{info['ip']}:{info['iopub_port']}",
            "--ip",
            info["ip"],
            "--replay-port",
            str((reuse or {}).get("lms_replay_port") or 0),
            "--buffer",
            str(app_settings.REPLAY_BUFFER_SIZE),
            "--keep-seconds",
            str(app_settings.REPLAY_TIMEOUT),
            "--watch-pid",
            str(pid),
            "--daemon",
        ]
        completed = subprocess.run(  # noqa: S603 - our own interpreter and file
            command,
            env={"LMS_KERNEL_RELAY_WATCH": str(connection_file)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        try:
            started = json.loads(completed.stdout.strip().splitlines()[-1])
            if not all(isinstance(started.get(k), int) for k in ("pid", "replay_port")):
                raise ValueError(started)
        except (ValueError, IndexError, AttributeError) as exc:
            raise OSError(f"the kernel's iopub relay did not start: {completed.stderr[-2000:]}") from exc
        state = {"pid": started["pid"], "create_time": _create_time(started["pid"])}
        return {**info, "lms_replay_port": started["replay_port"]}, state

    def _stop_relay(self, state: dict) -> None:
        relay = state.get("relay")
        if relay and self._process({**relay, "host": state.get("host")}) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(relay["pid"], signal.SIGTERM)

    async def shutdown(self, kernel: Kernel, *, restart: bool = False) -> None:
        state = kernel.backend_state or {}
        if self._process(state) is not None and kernel.connection_info:
            # Politely: the kernel runs its shutdown hooks and exits by itself.
            await control_request(
                kernel.connection_info, "shutdown_request", {"restart": restart}, timeout=1.0
            )
            await self._wait_gone(state, app_settings.SHUTDOWN_TIMEOUT)
        if self._process(state) is not None:
            self._signal(state, signal.SIGKILL)
            await self._wait_gone(state, 5.0)
        if not restart:
            self._stop_relay(state)
            await asyncio.to_thread(self._remove_files, state)

    async def is_alive(self, kernel: Kernel) -> bool:
        state = kernel.backend_state or {}
        if state.get("host") not in (None, socket.gethostname()):
            # It may well be alive, on its own host; this worker cannot tell, nor reach it.
            raise BackendUnavailable(_("This kernel runs on another host than this server."))
        return self._process(state) is not None

    async def exit_reason(self, kernel: Kernel) -> str | None:
        """Known in the process that launched the kernel (its parent), from the exit status."""
        pid = (kernel.backend_state or {}).get("pid")
        # The reaper may not have collected the status yet: give it a moment.
        for _attempt in range(20):
            if pid in _exit_status:
                break
            await asyncio.sleep(0.05)
        code = _exit_status.pop(pid, None)
        if code is None:
            return None
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return _("it was killed with %(signal)s, most likely for using too much memory") % {
                    "signal": name
                }
            return _("it was stopped by %(signal)s") % {"signal": name}
        return _("its process exited with status %(code)d") % {"code": code}

    async def interrupt(self, kernel: Kernel) -> None:
        """SIGINT to the kernel's process group: ipykernel turns it into ``KeyboardInterrupt``."""
        self._signal(kernel.backend_state or {}, signal.SIGINT)

    def get_connection_info(self, kernel: Kernel) -> dict[str, Any]:
        host = (kernel.backend_state or {}).get("host")
        if host and host != socket.gethostname():
            raise BackendUnavailable(_("This kernel runs on another host than this server."))
        return super().get_connection_info(kernel)

    # -- processes -----------------------------------------------------------------------------------------

    def _process(self, state: dict):
        """The kernel's live process, or ``None`` (gone, a zombie, or its pid now belongs to another)."""
        import psutil

        pid = state.get("pid")
        if not pid or state.get("host") not in (None, socket.gethostname()):
            return None
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - float(state.get("create_time") or 0)) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return proc

    def _signal(self, state: dict, signum: int) -> None:
        if self._process(state) is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # The kernel leads its own process group (launch_kernel starts a new session), so this also
            # reaches processes the learner's code started.
            os.killpg(state["pid"], signum)

    async def _wait_gone(self, state: dict, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._process(state) is not None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    @staticmethod
    def _remove_files(state: dict) -> None:
        for key in ("connection_file", "log_file"):
            if state.get(key):
                with contextlib.suppress(OSError):
                    os.unlink(state[key])
        if state.get("owns_workdir") and state.get("workdir"):
            shutil.rmtree(state["workdir"], ignore_errors=True)


#: pid -> exit status of the kernels this process launched (negative: the signal), until exit_reason() reads it.
_exit_status: dict[int, int] = {}


def _reap(proc: subprocess.Popen) -> None:
    code = proc.wait()
    if len(_exit_status) > 1000:  # statuses nobody asked for (kernels shut down on purpose)
        _exit_status.clear()
    _exit_status[proc.pid] = code


def _tell_relay(ip: str, port: int, frames: list[bytes]) -> None:
    """One request to a kernel's relay, not waiting for an answer (there is none)."""
    import zmq

    sock = zmq.Context.instance().socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 1000)
        sock.connect(f"tcp://{ip}:{port}")
        sock.send_multipart(frames)
    finally:
        sock.close()


def _create_time(pid: int) -> float:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0
