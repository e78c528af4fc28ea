"""The docker backend's own logic, without an engine: options, environment checks, the container it would
ask for, the app without the Docker SDK, and the admin's image fields."""

from __future__ import annotations

import types
import uuid
from pathlib import Path

import pytest

from lms_kernels.internal.containers import RUNTIME_DIR_MAX, check_docker_options
from lms_kernels.models import Kernel, KernelEnvironment

from .conftest import load_backend_without

ROOT = Path(__file__).resolve().parents[2]
DOCKER = "lms_kernels.backends.docker.DockerBackend"


def docker_backend(**options):
    pytest.importorskip("docker")
    from lms_kernels.backends.docker import DockerBackend

    return DockerBackend("docker", options)


def environment(**fields):
    defaults = {
        "slug": "lesson",
        "image": "groundup-lms/env-lesson:latest",
        "network": "none",
        "backend_options": {},
        "memory_limit": None,
        "cpu_limit": None,
        "gpus": 0,
    }
    return types.SimpleNamespace(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"colour": "blue"}, "unknown options ['colour']"),
        ({"transport": "udp"}, "'transport' must be 'ipc' or 'tcp'"),
        ({"timeout": "soon"}, "'timeout' must be a positive number"),
        ({"runtime_dir": "relative/dir"}, "'runtime_dir' must be an absolute path"),
        ({"runtime_dir": "/" + "x" * RUNTIME_DIR_MAX}, "too long for unix sockets"),
        ({"publish_ip": "0.0.0.0"}, "would publish kernel ports on every interface"),
        ({"publish_ip": "example.org"}, "'publish_ip' must be an IP address"),
        ({"user": "nobody"}, "'user' must be numeric"),
        ({"argv": ["python3", "-m", "ipykernel"]}, "'argv' must contain '{connection_file}'"),
        ({"argv": "python3"}, "'argv' must be a non-empty list of strings"),
        ({"env": {"A": 1}}, "'env' must be a dict of strings"),
        ({"work_dir": "/"}, "'work_dir' must be an absolute path"),
        ({"tmpfs_size": "lots"}, "'tmpfs_size' must be a size"),
        ({"pids_limit": 0}, "'pids_limit' must be a positive integer"),
        ({"pids_limit": True}, "'pids_limit' must be a positive integer"),
        ({"instance": "a b"}, "'instance' must be a name"),
    ],
)
def test_options_are_checked(options, problem):
    pytest.importorskip("docker")
    from lms_kernels.backends.docker import DockerBackend

    problems = DockerBackend.check_options(options)
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_defaults_and_typical_options_pass():
    assert check_docker_options({}) == []
    assert (
        check_docker_options(
            {
                "transport": "tcp",
                "publish_ip": "10.0.0.5",
                "base_url": "tcp://10.0.0.5:2376",
                "user": "1000:1000",
                "tmpfs_size": 512 * 1024 * 1024,
                "pids_limit": None,
                "argv": ["/opt/conda/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            }
        )
        == []
    )


def test_options_are_reported_by_the_system_check(settings):
    pytest.importorskip("docker")
    from lms_kernels.checks import backends_check

    settings.LMS_KERNELS = {
        "BACKENDS": {
            "local": {"BACKEND": "lms_kernels.backends.local.LocalBackend"},
            "docker": {"BACKEND": DOCKER, "OPTIONS": {"transport": "carrier-pigeon"}},
        }
    }
    errors = backends_check()
    assert [e.id for e in errors] == ["lms_kernels.E103"]
    assert "LMS_KERNELS['BACKENDS']['docker']['OPTIONS']: 'transport'" in errors[0].msg


@pytest.mark.parametrize(
    ("transport", "fields", "problem"),
    [
        ("ipc", {"image": ""}, "names no image"),
        ("tcp", {"network": "none"}, "'none' cannot be used with the tcp transport"),
        ("tcp", {"network": "internal"}, "'internal' cannot be used with the tcp transport"),
        ("ipc", {"backend_options": {"volumes": {}}}, "backend options ['volumes'] are unknown"),
        ("ipc", {"backend_options": {"argv": ["python3"]}}, "'argv' must be a list of strings with"),
    ],
)
def test_environments_that_cannot_run(transport, fields, problem):
    problems = docker_backend(transport=transport).check_environment(environment(**fields))
    assert len(problems) == 1 and problem in problems[0]


def test_environments_that_can_run():
    assert docker_backend().check_environment(environment(network="internal")) == []
    assert docker_backend(transport="tcp").check_environment(environment(network="outbound")) == []


def spec_of(backend, env, kernel=None, **kwargs):
    kernel = kernel or types.SimpleNamespace(id=uuid.uuid4(), owner_id=7, backend_state={}, gpu_devices=[])
    inside = {"transport": backend.options["transport"], "key": "k"}
    return backend._container_spec(
        kernel, env, "sha256:abc", inside, Path("/srv/k"), kwargs.get("host_ports", {}), kwargs.get("gpu_ids")
    )


def test_the_container_asked_for():
    pytest.importorskip("docker")
    from docker.types import DeviceRequest

    backend = docker_backend(env={"MPLBACKEND": "Agg"})
    env = environment(
        memory_limit=2 * 1024**3, cpu_limit="0.5", gpus=1, backend_options={"env": {"LESSON": "7"}}
    )
    spec = spec_of(backend, env)
    assert spec["image"] == "sha256:abc" and spec["user"] == "65534:65534"
    assert spec["command"] == ["python3", "-m", "ipykernel_launcher", "-f", "/run/lms-kernel/connection.json"]
    assert spec["environment"] == {
        "HOME": "/tmp",
        "IPYTHONDIR": "/tmp/.ipython",
        "MPLBACKEND": "Agg",
        "LESSON": "7",
    }
    assert spec["mem_limit"] == spec["memswap_limit"] == 2 * 1024**3 and spec["nano_cpus"] == 500_000_000
    assert spec["network_mode"] == "none" and "ports" not in spec
    assert spec["volumes"] == {"/srv/k": {"bind": "/run/lms-kernel", "mode": "rw"}}
    assert spec["device_requests"] == [DeviceRequest(count=1, capabilities=[["gpu"]])]
    # Devices chosen by the GPU allocator are passed by id.
    explicit = spec_of(backend, env, gpu_ids=["1", "3"])["device_requests"]
    assert explicit == [DeviceRequest(device_ids=["1", "3"], capabilities=[["gpu"]])]
    assert "device_requests" not in spec_of(backend, environment())


def test_the_tcp_container_gets_its_connection_file_from_a_variable_it_forgets():
    backend = docker_backend(transport="tcp", publish_ip="10.0.0.5")
    spec = spec_of(backend, environment(network="outbound"), host_ports={"shell_port": 40001})
    assert spec["command"][:2] == ["/bin/sh", "-c"] and "unset LMS_KERNEL_CONNECTION" in spec["command"][2]
    assert spec["command"][-5:] == [
        "python3",
        "-m",
        "ipykernel_launcher",
        "-f",
        "/tmp/.lms-kernel-connection.json",
    ]
    assert spec["environment"]["LMS_KERNEL_CONNECTION"] == '{"transport": "tcp", "key": "k"}'
    assert spec["ports"]["50001/tcp"] == ("10.0.0.5", 40001)  # the same host port again
    assert spec["ports"]["50002/tcp"] == ("10.0.0.5", None)
    assert spec["network"] == "lms-kernels-outbound" and "volumes" not in spec


def test_the_app_works_without_the_docker_sdk():
    """Only the docker backend needs the SDK; without it, it says which extra to install."""
    printed = load_backend_without(("docker",), "docker", "lms_kernels.backends.docker.DockerBackend")
    assert "InvalidBackendError" in printed
    assert "pip install 'groundup-lms[docker]'" in printed


@pytest.mark.django_db
def test_the_admin_shows_images_and_digests(admin_client, admin_user):
    env = KernelEnvironment.objects.create(
        slug="lesson",
        display_name="Lesson",
        backend="docker",
        image="groundup-lms/env-lesson:latest",
        image_digest="sha256:" + "a" * 64,
    )
    page = admin_client.get(f"/admin/lms_kernels/kernelenvironment/{env.pk}/change/").content.decode()
    assert "sha256:" + "a" * 64 in page and 'name="image_digest"' not in page  # shown, read-only
    # A new image name is pinned again on its next start.
    data = {
        "slug": "lesson",
        "display_name": "Lesson",
        "language": "python",
        "backend": "docker",
        "image": "groundup-lms/env-lesson:v2",
        "network": "none",
        "backend_options": "{}",
        "gpus": 0,
        "is_active": "on",
        "position": 0,
    }
    response = admin_client.post(f"/admin/lms_kernels/kernelenvironment/{env.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    env.refresh_from_db()
    assert env.image == "groundup-lms/env-lesson:v2" and env.image_digest == ""
    kernel = Kernel.objects.create(
        owner=admin_user,
        environment=env,
        name="lesson",
        backend="docker",
        status="running",
        backend_state={
            "container_id": "c0ffee",
            "image": "groundup-lms/env-lesson:latest",
            "image_id": "sha256:bbb",
        },
    )
    page = admin_client.get(f"/admin/lms_kernels/kernel/{kernel.pk}/change/").content.decode()
    assert "groundup-lms/env-lesson:latest (sha256:bbb)" in page and "container_id=c0ffee" in page


def test_check_ids_are_documented():
    documented = (ROOT / "docs" / "operators" / "checks.md").read_text()
    for check_id in ("lms_kernels.E105", "lms_kernels.W104", "lms_kernels.W105"):
        assert f"`{check_id}` (" in documented and f"| `{check_id}` |" in documented
