"""The documented deployment (``deploy/``): the compose file and the Kubernetes manifests hold together.

They are not started here (that needs images from a registry); what can be checked without them is: the
compose files pass the compose tool's own validation when one is installed, every web worker is behind the
proxy and has a health check, the secrets are required rather than defaulted, the manifests have what the
deployment guide promises (readiness on ``/healthz``, WebSocket timeouts on the ingress, the task worker), and
the settings module the image uses loads with each kernel backend and passes Django's checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from lms_kernels.testing.servers import run_django_command
from tests.conftest import IN_CI, ROOT

DEPLOY = ROOT / "deploy"
SECRETS = {"POSTGRES_PASSWORD": "x", "DJANGO_SECRET_KEY": "y" * 50, "LMS_GATEWAY_TOKEN": "z"}


def compose_tool() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_file_has_the_production_shape(compose):
    services = compose["services"]
    assert {"db", "redis", "migrate", "tasks", "gateway", "proxy"} <= set(services)
    web = sorted(name for name in services if name.startswith("web-"))
    assert len(web) >= 2, "several ASGI workers"
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile).group(1).split()
    assert upstreams == [f"{name}:8000" for name in web], "every web worker is behind the proxy"
    assert "stream_timeout" in caddyfile  # WebSockets stay open for long cells
    for name in web:
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"])
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["tasks"]["command"][:3] == ["python", "manage.py", "process_tasks"]
    environment = services["web-1"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "LMS_GATEWAY_TOKEN"):
        assert name in environment
    # Secrets have no default: the file refuses to run without them.
    assert ":?" in environment["DJANGO_SECRET_KEY"] and ":?" in environment["LMS_GATEWAY_TOKEN"]
    assert environment["DJANGO_DEBUG"] == "false"


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.docker.yaml"]])
def test_the_compose_tool_accepts_the_files(files):
    tool = compose_tool()
    if tool is None:
        message = (
            "neither `docker compose` nor `docker-compose` is installed (scripts/services.py up --install)"
        )
        if IN_CI:
            pytest.fail(message)  # in CI a missing component is a failure, not a skip
        pytest.skip(message)
    args = [part for name in files for part in ("-f", str(DEPLOY / name))]
    env = {**os.environ, **SECRETS}
    checked = subprocess.run([*tool, *args, "config"], capture_output=True, text=True, env=env, check=False)
    assert checked.returncode == 0, checked.stderr
    resolved = yaml.safe_load(checked.stdout)
    backend = resolved["services"]["web-2"]["environment"]["LMS_KERNEL_BACKEND"]
    assert backend == ("docker" if "compose.docker.yaml" in files else "gateway")
    missing = subprocess.run(
        [*tool, *args, "config"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )
    assert missing.returncode != 0 and "set " in missing.stderr + missing.stdout


def test_the_kubernetes_manifests_have_what_the_guide_promises():
    documents = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc:
                documents[(doc["kind"], doc["metadata"]["name"])] = doc
    web = documents[("Deployment", "lms-web")]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"configMapRef", "secretRef"} <= {key for source in web["envFrom"] for key in source}
    tasks = documents[("Deployment", "lms-tasks")]["spec"]["template"]["spec"]["containers"][0]
    assert tasks["command"][:3] == ["python", "manage.py", "process_tasks"]
    annotations = documents[("Ingress", "lms")]["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert documents[("Service", "lms-web")]["spec"]["selector"] == {"app": "lms-web"}
    assert ("Job", "lms-migrate") in documents and ("Secret", "lms-secrets") in documents
    config = documents[("ConfigMap", "lms-config")]["data"]
    assert config["LMS_KERNEL_BACKEND"] == "gateway" and config["DJANGO_SETTINGS_MODULE"] == "deploy_settings"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gateway", "docker"])
def test_the_images_settings_load_with_each_backend(backend, tmp_path):
    """``deploy/settings.py`` (``deploy_settings`` in the image) with the variables compose gives it."""
    shutil.copy(DEPLOY / "settings.py", tmp_path / "deploy_settings.py")
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "k" * 60,
        "DJANGO_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DATABASE_URL": None,
        "REDIS_URL": None,
        "LMS_KERNEL_BACKEND": backend,
        "LMS_GATEWAY_URL": "http://gateway:8888",
        "LMS_GATEWAY_TOKEN": "t",
        "LMS_KERNELS_RUNTIME_DIR": str(tmp_path / "kernels"),
        "LMS_KERNELS_JSON": '{"MAX_KERNELS_PER_USER": 2}',
    }
    out = run_django_command(
        "shell",
        "-c",
        "from lms_kernels.conf import app_settings as s; print(s.DEFAULT_BACKEND, s.MAX_KERNELS_PER_USER)",
        settings_module="deploy_settings",
        cwd=ROOT / "example_project",
        env=env,
    )
    assert out.strip().splitlines()[-1].split() == [backend, "2"]
    run_django_command("check", settings_module="deploy_settings", cwd=ROOT / "example_project", env=env)
