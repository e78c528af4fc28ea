"""The real Docker engine and the test kernel image (``scripts/services.py up`` provides both)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.docker

LABELS = {"groundup-lms.test": "1"}


@pytest.fixture(scope="module")
def client():
    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def kernel_image() -> str:
    """``LMS_TEST_KERNEL_IMAGE``, else what ``scripts/services.py up`` recorded, else the default."""
    if os.environ.get("LMS_TEST_KERNEL_IMAGE"):
        return os.environ["LMS_TEST_KERNEL_IMAGE"]
    env_file = Path(__file__).resolve().parents[2] / ".services" / "env.json"
    try:
        recorded = json.loads(env_file.read_text()).get("LMS_TEST_KERNEL_IMAGE")
    except (OSError, ValueError):
        recorded = None
    return recorded or "groundup-lms/test-kernel:py3"


def test_kernel_image_runs_python_with_ipykernel(client, kernel_image):
    code = "import ipykernel, sys; print(ipykernel.__version__, sys.version_info[:2])"
    container = client.containers.run(kernel_image, ["python3", "-c", code], detach=True, labels=LABELS)
    try:
        result = container.wait(timeout=60)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        assert result["StatusCode"] == 0, output
        assert re.search(r"^\d+\.\d+(\.\d+)?\S* \(3, \d+\)$", output.strip()), output
    finally:
        container.remove(force=True)


def test_long_running_container_stops_and_is_removed(client, kernel_image):
    container = client.containers.run(
        kernel_image, ["python3", "-c", "import time; time.sleep(30)"], detach=True, labels=LABELS
    )
    try:
        container.reload()
        assert container.status == "running"
        container.stop(timeout=1)
        container.reload()
        assert container.status == "exited"
        container.remove()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container.id)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
