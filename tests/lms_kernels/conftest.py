"""Fixtures for lms_kernels: users, logged-in clients, real kernels that are always shut down."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import psutil
import pytest
import pytest_asyncio
from django.test import AsyncClient

from lms_kernels.models import KernelEnvironment
from lms_kernels.testing import KernelWebsocket, shutdown_all_kernels, websocket_application

PREFIX = "/kernels/api"


def _kernel_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if any("ipykernel" in part for part in proc.cmdline()) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_leaked_kernel_processes():
    """Fail the session if any kernel process a test started is still running at its end."""
    yield
    leaked = _kernel_processes()
    for proc in leaked:
        proc.kill()
    assert not leaked, f"kernel processes left running: {[p.pid for p in leaked]}"


@pytest.fixture(autouse=True)
def kernel_settings(settings, tmp_path_factory):
    """Kernels write their files into a temporary directory; activity is saved at once."""
    runtime = tmp_path_factory.mktemp("kernels")
    settings.LMS_KERNELS = {
        "BACKENDS": {
            "local": {
                "BACKEND": "lms_kernels.backends.local.LocalBackend",
                "OPTIONS": {"runtime_dir": str(runtime)},
            }
        },
        "ACTIVITY_SAVE_INTERVAL": 0,
        "KERNEL_STARTUP_TIMEOUT": 30,
        "WATCH_INTERVAL": 0.3,
    }
    return settings.LMS_KERNELS


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("learner", password="pw")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("other", password="pw")


@pytest.fixture
def python3(db):
    """The ``python3`` environment the data migration creates (a transactional test's flush removes it)."""
    environment, _created = KernelEnvironment.objects.get_or_create(
        slug="python3", defaults={"display_name": "Python 3", "language": "python"}
    )
    return environment


@pytest_asyncio.fixture
async def kernels(transactional_db, python3):
    """Use in every test that starts kernels: shuts them all down afterwards (before the database is reset)."""
    yield
    await shutdown_all_kernels()


async def logged_in_client(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


def session_headers(client: AsyncClient) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def start_kernel(client: AsyncClient, name: str = "python3", **kwargs) -> dict:
    response = await client.post(
        f"{PREFIX}/kernels", {"name": name}, content_type="application/json", **kwargs
    )
    assert response.status_code == 201, response.content
    return response.json()


def kernel_socket(client: AsyncClient | None, kernel_id: str, *, protocol=None, query="", headers=None):
    path = f"{PREFIX}/kernels/{kernel_id}/channels?session_id=test{query}"
    all_headers = [*(session_headers(client) if client else []), *(headers or [])]
    return KernelWebsocket(websocket_application(), path, headers=all_headers, protocol=protocol)


def load_backend_without(modules: tuple[str, ...], alias: str, backend: str) -> str:
    """In a fresh interpreter where ``modules`` cannot be imported (as if an extra were not installed): set
    up Django (the kernels-only settings), import the app's modules, and load the backend ``backend`` as
    ``alias``. Returns what the loading printed (the exception's class and message, if it raised)."""
    from tests.conftest import ROOT

    script = textwrap.dedent(
        f"""
        import sys
        for name in {modules!r}:
            sys.modules[name] = None  # as if not installed
        import django
        django.setup()
        import lms_kernels.admin, lms_kernels.checks, lms_kernels.consumers, lms_kernels.reconcile
        import lms_kernels.services
        from django.test import override_settings
        from lms_kernels.backends import load_backend_class
        backends = {{{alias!r}: {{"BACKEND": {backend!r}}}}}
        with override_settings(LMS_KERNELS={{"BACKENDS": backends, "DEFAULT_BACKEND": {alias!r}}}):
            try:
                load_backend_class({alias!r})
            except Exception as exc:
                print(type(exc).__name__, exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.projects.kernels_only.settings",
            "PYTHONPATH": str(ROOT),
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
