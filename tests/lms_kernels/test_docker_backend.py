"""The docker backend against a real Docker engine and the test kernel image.

The same flows as with local kernels (REST + WebSocket: execute, stdin, interrupt, restart, shutdown, death and
recovery), plus what only containers have: hardening checked on the real container, the transports, network
policies, reconciliation, images, and clear errors when the engine, the image or a GPU runtime is missing.
Every container a test starts carries this session's ``instance`` label and is removed by the end of the
test; a test that leaves one behind fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from lms_kernels import tasks
from lms_kernels.backends import get_backend
from lms_kernels.checks import environments_check, images_check
from lms_kernels.connection import replay
from lms_kernels.internal import validators
from lms_kernels.internal.containers import LABELS
from lms_kernels.models import Kernel, KernelEnvironment
from lms_kernels.testing import notice

from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

INSTANCE = f"test-{uuid.uuid4().hex[:10]}"
INTERNAL_NETWORK = f"lms-test-{INSTANCE}-internal"
OUTBOUND_NETWORK = f"lms-test-{INSTANCE}-outbound"
DOCKER = "lms_kernels.backends.docker.DockerBackend"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def engine():
    import docker

    client = docker.from_env()
    yield client
    for name in (INTERNAL_NETWORK, OUTBOUND_NETWORK):
        for network in client.networks.list(names=[name]):
            if network.name == name:
                network.remove()
    client.close()


def our_containers(engine) -> list:
    return engine.containers.list(all=True, filters={"label": f"{LABELS['instance']}={INSTANCE}"})


@pytest.fixture(autouse=True)
def no_leaked_containers(engine):
    """Set up before ``kernels`` (autouse), so torn down after it has shut every kernel down."""
    yield
    leaked = our_containers(engine)
    for container in leaked:
        container.remove(force=True)
    assert not leaked, f"containers left behind: {[c.name for c in leaked]}"


@pytest.fixture(autouse=True)
def docker_settings(kernel_settings, settings, tmp_path_factory):
    runtime = tmp_path_factory.mktemp("dk")
    options = {
        "runtime_dir": str(runtime),
        "instance": INSTANCE,
        "internal_network": INTERNAL_NETWORK,
        "outbound_network": OUTBOUND_NETWORK,
    }
    settings.LMS_KERNELS = {
        **kernel_settings,
        "BACKENDS": {
            **kernel_settings["BACKENDS"],
            "docker": {"BACKEND": DOCKER, "OPTIONS": options},
            "docker_tcp": {"BACKEND": DOCKER, "OPTIONS": {**options, "transport": "tcp"}},
        },
    }
    return runtime


def make_environment(kernel_image, slug="py-docker", **fields) -> KernelEnvironment:
    defaults = {
        "display_name": "Python in Docker",
        "backend": "docker",
        "image": kernel_image,
        "memory_limit": 512 * MB,
        "cpu_limit": "1.5",
    }
    return KernelEnvironment.objects.create(slug=slug, **{**defaults, **fields})


@pytest.fixture
def container_env(kernels, kernel_image):
    return make_environment(kernel_image)


async def row(kernel_id) -> Kernel:
    return await Kernel.objects.select_related("environment").aget(pk=kernel_id)


# -- the learner's flows ------------------------------------------------------------------------------------


async def test_execute_print_and_input_in_a_hardened_container(container_env, user, engine, docker_settings):
    client = await logged_in_client(user)
    started = time.monotonic()
    kernel = await start_kernel(client, "py-docker")
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        cold_start = time.monotonic() - started
        print(f"\ncold start of a container kernel (POST -> first kernel_info_reply): {cold_start:.2f} s")
        assert (await ws.execute("1+1")).result == "2"
        assert (await ws.execute("print('hello')")).stdout == "hello\n"
        answered = await ws.execute("name = input('Who? '); print('hi', name)", stdin_reply=lambda p: "Ada")
        assert answered.stdout == "hi Ada\n"
        inside = await ws.execute(
            "import os, socket, json\n"
            "def can_write(path):\n"
            "    try:\n"
            "        open(path, 'w').close(); return True\n"
            "    except OSError:\n"
            "        return False\n"
            "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'host': socket.gethostname(),\n"
            "    'cwd': os.getcwd(), 'home': os.environ['HOME'], 'root': can_write('/etc/x'),\n"
            "    'tmp': can_write('/tmp/x'), 'kernel_dir': can_write('/run/lms-kernel/x'),\n"
            "    'interfaces': sorted(name for _i, name in socket.if_nameindex()),\n"
            "    'env': sorted(os.environ)}))"
        )
        facts = json.loads(inside.stdout)
    assert facts["uid"] == 65534 and facts["gid"] == 65534
    assert facts["host"] == "lms-kernel" and facts["cwd"] == "/tmp" and facts["home"] == "/tmp"
    assert facts["root"] is False and facts["tmp"] is True
    assert facts["kernel_dir"] is False  # sealed once the kernel bound its sockets
    assert facts["interfaces"] == ["lo"]  # network policy "none"
    assert "LMS_KERNEL_CONNECTION" not in facts["env"]

    stored = await row(kernel["id"])
    container = engine.containers.get(stored.backend_state["container_id"])
    host, config = container.attrs["HostConfig"], container.attrs["Config"]
    assert config["User"] == "65534:65534"
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True and host["Init"] is True and host["AutoRemove"] is False
    assert host["Tmpfs"]["/tmp"].startswith("rw,exec,nosuid,nodev,size=1g")
    assert host["Memory"] == 512 * MB and host["MemorySwap"] == 512 * MB
    assert host["NanoCpus"] == 1_500_000_000 and host["PidsLimit"] == 256
    assert host["NetworkMode"] == "none" and not host["PortBindings"]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "1", "max-size": "1m"}}
    assert config["Labels"][LABELS["kernel_id"]] == kernel["id"]
    assert config["Labels"][LABELS["environment"]] == "py-docker"
    assert config["Labels"][LABELS["owner_id"]] == str(user.pk)
    assert config["Labels"][LABELS["backend_alias"]] == "docker"
    assert "HOME=/tmp" in config["Env"] and not any("KEY" in e or "CONNECTION" in e for e in config["Env"])
    # The image is pinned by id on first start; the secret stays server-side.
    environment = await KernelEnvironment.objects.aget(pk=container_env.pk)
    assert environment.image_digest == container.attrs["Image"] == stored.backend_state["image_id"]
    assert stored.connection_info["transport"] == "ipc"
    assert stored.connection_info["ip"].startswith(str(docker_settings))
    model = (await client.get(f"{PREFIX}/kernels/{kernel['id']}")).content.decode()
    assert stored.connection_info["key"] not in model and container.id[:12] not in model
    kernel_dir = Path(stored.backend_state["kernel_dir"])
    assert (kernel_dir / "connection.json").stat().st_mode & 0o777 == 0o600
    assert (kernel_dir / "connection.json").stat().st_uid == 65534


async def test_interrupt_stops_a_long_execution(container_env, user):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        # (stop_on_error off: the kernel would abort a request that arrives just after the interrupt)
        msg = ws.execute_request("import time; time.sleep(30)", stop_on_error=False)
        await ws.send(msg)
        await ws.receive_until(lambda m: m["msg_type"] == "execute_input")
        started = time.monotonic()
        assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/interrupt")).status_code == 204
        result = await ws.collect(msg["header"]["msg_id"], timeout=10)
        assert time.monotonic() - started < 5
        assert result.reply["content"]["ename"] == "KeyboardInterrupt"
        assert (await ws.execute("'still here'")).result == "'still here'"


async def test_restart_replaces_the_container_and_connections_carry_on(container_env, user, engine):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    before = await row(kernel["id"])
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.execute("x = 41")
        response = await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")
        assert response.status_code == 200
        await ws.receive_until(
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "restarting"
        )
        result = await ws.execute("x + 1", timeout=60)
        assert result.reply["content"]["ename"] == "NameError"
    after = await row(kernel["id"])
    assert after.connection_info == before.connection_info  # same sockets, same key
    assert after.backend_state["container_id"] != before.backend_state["container_id"]
    assert not engine.containers.list(all=True, filters={"id": before.backend_state["container_id"]})


async def test_shutdown_removes_the_container_and_its_directory(kernels, kernel_image, user, engine):
    """Also: the internal network policy attaches the container to an internal bridge network."""
    await sync_to_async(make_environment)(kernel_image, network="internal")
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    stored = await row(kernel["id"])
    container = engine.containers.get(stored.backend_state["container_id"])
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [INTERNAL_NETWORK]
    assert engine.networks.get(INTERNAL_NETWORK).attrs["Internal"] is True
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
        assert await ws.receive_close() == 4410
    assert not our_containers(engine)
    assert not Path(stored.backend_state["kernel_dir"]).exists()
    assert not await Kernel.objects.filter(pk=kernel["id"]).aexists()


async def test_a_kernel_out_of_memory_is_reported_and_restarted(kernels, kernel_image, user):
    await sync_to_async(make_environment)(kernel_image, memory_limit=128 * MB)
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("big = bytearray(b'x' * (400 * 1024 * 1024))"))
        message, _before = await ws.receive_until(lambda m: notice(m) == "died", timeout=60)
        text = message["content"]["text"]
        assert "out of memory" in text and "128 MB" in text and "restarted" in text
        assert (await ws.execute("'back'", timeout=60)).result == "'back'"
    assert (await row(kernel["id"])).generation == 2


# -- transports and network policies ------------------------------------------------------------------------


async def test_tcp_transport_publishes_on_one_address_and_keeps_ports_on_restart(
    kernels, kernel_image, user, engine
):
    await sync_to_async(make_environment)(kernel_image, backend="docker_tcp", network="outbound")
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    before = await row(kernel["id"])
    container = engine.containers.get(before.backend_state["container_id"])
    bindings = container.attrs["HostConfig"]["PortBindings"]
    assert len(bindings) == 5 and all(b[0]["HostIp"] == "127.0.0.1" for b in bindings.values())
    assert before.connection_info["ip"] == "127.0.0.1" and before.connection_info["transport"] == "tcp"
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [OUTBOUND_NETWORK]
    network = engine.networks.get(OUTBOUND_NETWORK).attrs
    assert (
        network["Internal"] is False and network["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    )
    async with kernel_socket(client, kernel["id"]) as ws:
        result = await ws.execute("import os; print(sorted(k for k in os.environ if 'CONNECTION' in k))")
        assert result.stdout == "[]\n"  # the key went to the kernel's file, not its environment
        assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")).status_code == 200
        assert (await ws.execute("1+1", timeout=60)).result == "2"
    after = await row(kernel["id"])
    assert after.connection_info == before.connection_info  # the same host ports
    # A host port taken meanwhile: the new container gets new ones. (Without the bridge kept for replay,
    # which would take the stopped container for a dead kernel.)
    for bridge in replay.detached_bridges():
        await bridge.close()
    backend = get_backend("docker_tcp")
    await backend.shutdown(after, restart=True)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past our own closed connections
        taken.bind(("127.0.0.1", after.connection_info["shell_port"]))
        taken.listen()
        started = await backend.restart(after, after.environment)
    after.connection_info, after.backend_state = started.connection_info, started.state
    await after.asave(update_fields=["connection_info", "backend_state"])  # so that it is shut down
    assert started.connection_info["shell_port"] != before.connection_info["shell_port"]


async def test_tcp_transport_refuses_the_network_policy_none(kernels, kernel_image, user, engine):
    environment = await sync_to_async(make_environment)(kernel_image, backend="docker_tcp", network="none")
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "py-docker"}, content_type="application/json")
    assert response.status_code == 503
    assert "tcp transport" in response.json()["message"]
    assert not await Kernel.objects.aexists() and not our_containers(engine)
    errors = await sync_to_async(environments_check)(databases=["default"])
    assert [(e.id, e.obj) for e in errors] == [("lms_kernels.E105", environment)]


# -- errors -------------------------------------------------------------------------------------------------


async def test_an_unreachable_engine_is_a_503_naming_the_problem(kernels, kernel_image, user, settings):
    closed = settings.LMS_KERNELS["BACKENDS"]["docker"]["OPTIONS"]["runtime_dir"] + "/closed.sock"
    down = {"BACKEND": DOCKER, "OPTIONS": {"base_url": f"unix://{closed}", "instance": INSTANCE}}
    settings.LMS_KERNELS = {
        **settings.LMS_KERNELS,
        "BACKENDS": {"docker_down": down},
        "DEFAULT_BACKEND": "docker_down",
    }
    await sync_to_async(make_environment)(kernel_image, backend="docker_down")
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "py-docker"}, content_type="application/json")
    assert response.status_code == 503
    body = response.json()
    assert (
        body["reason"] == "docker_engine_unreachable" and "Docker engine does not answer" in body["message"]
    )
    assert "closed.sock" not in body["message"]  # where the engine is stays server-side
    assert not await Kernel.objects.aexists()
    warnings = await sync_to_async(images_check)()
    assert [w.id for w in warnings] == ["lms_kernels.W105"]


async def test_a_missing_image_says_how_to_build_it(kernels, user, engine):
    missing = f"groundup-lms/missing-{INSTANCE}:none"
    environment = await sync_to_async(make_environment)(missing)
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "py-docker"}, content_type="application/json")
    assert response.status_code == 503
    message = response.json()["message"]
    assert missing in message and "manage.py lms_kernels_image build py-docker" in message
    assert not our_containers(engine)
    warnings = await sync_to_async(images_check)()
    assert [(w.id, w.obj) for w in warnings] == [("lms_kernels.W104", environment)]
    assert missing in warnings[0].msg


async def test_a_gpu_environment_on_a_host_without_gpu_runtime(
    kernels, kernel_image, user, engine, monkeypatch, settings
):
    """The container is created with the device request; the engine refuses to start it; it is removed."""
    if "CAPACITY" in validators._BACKEND_KEYS:  # with the GPU allocator: the device it hands out
        backends = settings.LMS_KERNELS["BACKENDS"]
        docker = {**backends["docker"], "CAPACITY": {"GPUS": ["0"]}}
        settings.LMS_KERNELS = {**settings.LMS_KERNELS, "BACKENDS": {**backends, "docker": docker}}
    await sync_to_async(make_environment)(kernel_image, gpus=1)
    backend = get_backend("docker")
    seen = []
    remove = backend._remove_container

    def inspect_then_remove(container_id):
        seen.append(engine.api.inspect_container(container_id)["HostConfig"]["DeviceRequests"])
        remove(container_id)

    monkeypatch.setattr(backend, "_remove_container", inspect_then_remove)
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "py-docker"}, content_type="application/json")
    assert response.status_code == 503
    body = response.json()
    assert body["reason"] == "no_gpu_runtime"
    assert "no GPU runtime (NVIDIA container toolkit)" in body["message"]
    [request] = seen[0]
    assert request["Capabilities"] == [["gpu"]]
    assert (request["Count"], request["DeviceIDs"]) in [(1, []), (0, ["0"])]  # by count, or the allocator's
    assert not our_containers(engine) and not await Kernel.objects.aexists()


# -- reconciliation -----------------------------------------------------------------------------------------


def orphan(engine, kernel_image, kernel_id=None):
    """A container labelled as one of ours, for a kernel that has no row."""
    labels = {
        LABELS["kernel_id"]: str(kernel_id or uuid.uuid4()),
        LABELS["environment"]: "py-docker",
        LABELS["owner_id"]: "0",
        LABELS["backend_alias"]: "docker",
        LABELS["instance"]: INSTANCE,
    }
    return engine.containers.create(kernel_image, ["sleep", "60"], labels=labels, network_mode="none")


async def test_reconcile_removes_orphans_and_recovers_lost_kernels(container_env, user, engine, kernel_image):
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "py-docker")
    lost = await row(kernel["id"])
    engine.api.remove_container(lost.backend_state["container_id"], force=True)  # gone behind our back
    stray = orphan(engine, kernel_image)
    other_instance = engine.containers.create(
        kernel_image, ["true"], labels={LABELS["backend_alias"]: "docker", LABELS["instance"]: "someone-else"}
    )
    try:
        out = io.StringIO()
        await sync_to_async(call_command)("lms_kernels_reconcile", stdout=out)
        assert (
            f"removed the container of unknown kernel {stray.labels[LABELS['kernel_id']]}" in out.getvalue()
        )
        assert f"recovered kernel {kernel['id']}" in out.getvalue()
        assert engine.containers.get(
            other_instance.id
        )  # another deployment's container is not ours to remove
    finally:
        other_instance.remove(force=True)
    recovered = await row(kernel["id"])
    assert recovered.generation == 2 and recovered.status == "running"
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("1+1", timeout=60)).result == "2"
    assert [c.id for c in our_containers(engine)] == [recovered.backend_state["container_id"]]
    # The repeating culling task reconciles too.
    stray = orphan(engine, kernel_image)
    await sync_to_async(tasks.cull_kernels_task.now)()
    assert stray.id not in [c.id for c in our_containers(engine)]


# -- images -------------------------------------------------------------------------------------------------


async def test_image_command_builds_imports_pins_and_reports(kernels, kernel_image, engine, tmp_path):
    import docker.errors as docker_errors

    await sync_to_async(make_environment)(kernel_image, slug="built", image="")
    await sync_to_async(make_environment)(kernel_image, slug="imported", image="")
    built_tag = f"groundup-lms/env-built-{INSTANCE}:latest"
    imported_tag = f"groundup-lms/env-imp-{INSTANCE}:v1"
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "Dockerfile").write_text(
        f"FROM {kernel_image}\nLABEL org.groundup-lms.lesson=built\n"
    )
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        data = b"a lesson's file\n"
        info = tarfile.TarInfo("etc/lesson.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    made = []  # ids of the images this test made: only these are removed (never the shared test image)
    try:
        out = io.StringIO()
        await sync_to_async(call_command)(
            "lms_kernels_image", "build", "built", str(tmp_path / "lesson"), "--tag", built_tag, stdout=out
        )
        built = await KernelEnvironment.objects.aget(slug="built")
        image = engine.images.get(built_tag)
        made.append(image.id)
        assert built.image == built_tag and built.image_digest == image.id
        assert image.labels["org.groundup-lms.lesson"] == "built"
        await sync_to_async(call_command)(
            "lms_kernels_image", "import", "imported", str(rootfs), "--tag", imported_tag, stdout=out
        )
        imported = await KernelEnvironment.objects.aget(slug="imported")
        made.append(engine.images.get(imported_tag).id)
        assert imported.image == imported_tag and imported.image_digest == made[-1]
        status = io.StringIO()
        await sync_to_async(call_command)("lms_kernels_image", "status", stdout=status)
        lines = status.getvalue().splitlines()
        assert any(line.startswith("built ") and built_tag in line and line.endswith("ok") for line in lines)
        assert any(line.startswith("imported ") and imported_tag in line for line in lines)
        # The name moves to another image (a rebuild by hand): "tag moved" until it is pinned again.
        engine.images.get(built_tag).tag(imported_tag)
        status = io.StringIO()
        await sync_to_async(call_command)("lms_kernels_image", "status", stdout=status)
        assert any(
            line.startswith("imported ") and "tag moved" in line for line in status.getvalue().splitlines()
        )
        await sync_to_async(call_command)("lms_kernels_image", "pin", "imported", stdout=out)
        assert (await KernelEnvironment.objects.aget(slug="imported")).image_digest == made[0]
    finally:
        for reference in (built_tag, imported_tag, *made):
            with contextlib.suppress(docker_errors.ImageNotFound, docker_errors.APIError):
                engine.api.remove_image(reference)  # a name is untagged; an id only goes once it has no name
