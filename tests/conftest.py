"""Suite-wide fixtures: real components, gated by marker.

A test marked ``postgres``, ``redis``, ``docker``, ``gateway``, ``browser`` or ``node`` needs that component.
When it is missing the test is skipped on a developer's machine and **fails** under ``CI=true``. Where each
component is comes from environment variables, falling back to ``.services/env.json`` written by
``scripts/services.py up``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import uuid
from collections import defaultdict
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEFAULT_KERNEL_IMAGE = "groundup-lms/test-kernel:py3"

_missing: dict[str, list[str]] = defaultdict(list)


@cache
def services_env() -> dict:
    path = ROOT / ".services" / "env.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def component_value(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or services_env().get(name) or default


# -- availability checks: each returns None when available, else the reason ----------------------------------


def _check_postgres() -> str | None:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return f"the suite runs on {engine.rsplit('.', 1)[-1]}; set LMS_TEST_DATABASE_URL to a PostgreSQL URL"
    return None


def _check_postgres_server() -> str | None:
    """A PostgreSQL server to create databases on, whatever database the suite itself runs on."""
    url = component_value("LMS_TEST_DATABASE_URL")
    if not url:
        return "LMS_TEST_DATABASE_URL is not set (scripts/services.py up starts a PostgreSQL server)"
    if urlparse(url).scheme not in {"postgres", "postgresql"}:
        return f"LMS_TEST_DATABASE_URL is not a PostgreSQL URL: {url}"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        return f"cannot connect to PostgreSQL at {url}: {exc}"
    return None


def _check_redis() -> str | None:
    url = component_value("LMS_TEST_REDIS_URL")
    if not url:
        return "LMS_TEST_REDIS_URL is not set (scripts/services.py up starts a Redis server)"
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(64).startswith(b"+PONG"):
                return f"{url} did not answer PING"
    except OSError as exc:
        return f"cannot reach Redis at {url}: {exc}"
    return None


def _check_docker() -> str | None:
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install 'groundup-lms[docker]')"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return f"no Docker engine answers: {exc}"
    image = component_value("LMS_TEST_KERNEL_IMAGE", DEFAULT_KERNEL_IMAGE)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"the test kernel image {image!r} is missing (scripts/services.py up builds it)"
    finally:
        client.close()
    return None


def _check_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    path = chromium_path()
    if not path:
        return "Chromium is not installed (apt-get install chromium)"
    return None


def _check_gateway() -> str | None:
    # Tests start it as ``sys.executable -m jupyter_server``: the venv's bin need not be on PATH.
    if importlib.util.find_spec("jupyter_server") is None:
        return "Jupyter Server is not installed (pip install 'groundup-lms[test]')"
    return None


def _check_node() -> str | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are not installed (tests run @jupyterlab/services from Node 18+)"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"cannot run {node} --version: {exc}"
    if major < 18:
        return f"Node.js {version} is too old (18+ needed)"
    return None


CHECKS = {
    "postgres": _check_postgres,
    "redis": _check_redis,
    "docker": _check_docker,
    "browser": _check_browser,
    "gateway": _check_gateway,
    "node": _check_node,
    # not a marker: the ``postgres_server_url`` fixture asks for it
    "postgres_server": _check_postgres_server,
}


@cache
def component_problem(name: str) -> str | None:
    return CHECKS[name]()


def chromium_path() -> str | None:
    candidates = [component_value("LMS_TEST_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_component(name: str, nodeid: str) -> None:
    """Skip the test when component ``name`` is missing (fail it under ``CI=true``), and report it."""
    problem = component_problem(name)
    if problem is None:
        return
    _missing[name].append(nodeid)
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true but missing: {problem}", pytrace=False)
    pytest.skip(f"{name} missing: {problem}")


def pytest_runtest_setup(item):
    for marker in item.iter_markers():
        if marker.name in CHECKS:
            require_component(marker.name, item.nodeid)


@cache
def _leftovers_module():
    """``scripts/leftovers.py``, loaded by path (``scripts/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("_groundup_leftovers", ROOT / "scripts" / "leftovers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_leftovers: list = []


def pytest_configure(config):
    # Every process this session starts (servers, workers, kernels, relays) inherits the marker, so the ones
    # still running at the end can be found, however they detached.
    os.environ[_leftovers_module().SESSION_MARKER] = uuid.uuid4().hex


@pytest.hookimpl(trylast=True)  # after pytest's own, which tears down what fixtures are still set up
def pytest_sessionfinish(session, exitstatus):
    """Processes this session started and left running: listed, killed, and a failure under ``CI=true``."""
    leftovers = _leftovers_module()
    session_id = os.environ.get(leftovers.SESSION_MARKER)
    if not session_id or not Path("/proc/self/environ").exists():
        return
    # Kernels do not inherit the marker (the local backend passes them a few variables only); the runtime
    # directories tests give them are in the session's temporary directory.
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = getattr(factory, "_basetemp", None)
    paths = (str(basetemp) + os.sep,) if basetemp else ()
    _leftovers[:] = leftovers.settle(session_id, leftovers.SESSION_MARKER, paths)
    if _leftovers:
        leftovers.kill(_leftovers)
        if IN_CI:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _leftovers:
        terminalreporter.section("processes left running")
        for leftover in _leftovers:
            terminalreporter.write_line(str(leftover))
        verdict = "killed; the run fails (CI=true)" if IN_CI else "killed"
        terminalreporter.write_line(
            f"{len(_leftovers)} process(es) outlived the tests that started them: {verdict}"
        )
    if not _missing:
        return
    terminalreporter.section("missing components")
    for name, nodeids in sorted(_missing.items()):
        verdict = "failed" if IN_CI else "skipped"
        terminalreporter.write_line(f"{name}: {component_problem(name)} -> {len(nodeids)} test(s) {verdict}")
    report = os.environ.get("LMS_TEST_MISSING_REPORT")
    if report:
        with open(report, "a") as fh:
            for name, nodeids in _missing.items():
                fh.write(
                    json.dumps({"component": name, "reason": component_problem(name), "tests": nodeids})
                    + "\n"
                )


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    return component_value("LMS_TEST_REDIS_URL")


@pytest.fixture
def postgres_server_url(request) -> str:
    """A reachable PostgreSQL server's URL, also while the suite runs on SQLite: for tests that create (and
    drop) their own databases on it, e.g. for server processes. Missing: skipped, or failed under CI."""
    require_component("postgres_server", request.node.nodeid)
    return component_value("LMS_TEST_DATABASE_URL")


@pytest.fixture
def kernel_image() -> str:
    return component_value("LMS_TEST_KERNEL_IMAGE", DEFAULT_KERNEL_IMAGE)


@pytest.fixture
def chromium_executable() -> str:
    return chromium_path()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests write screenshots and logs (kept by CI as artifacts)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def run_manage(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the example project's manage.py in a subprocess (for tests of commands that start servers)."""
    import sys

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT / "example_project",
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ensure_wagtail_site():
    """The default Wagtail site and its root page, as Wagtail's data migrations make them.

    Transactional tests start from tables that an earlier transactional test may have emptied (Django's flush
    recreates permissions and content types, not data migrations' rows). Tests that need a Wagtail site call
    this rather than ``serialized_rollback=True``, whose flush leaves the following transactional tests without
    permissions.
    """
    from wagtail.models import Locale, Page, Site

    Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node() or Page.add_root(title="Root", slug="root")
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        home = root.get_children().first() or root.add_child(title="Welcome", slug="home")
        site = Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True)
    return site
