"""Warm pools of the docker backend against a real Docker engine and the test kernel image.

The pool fills to its size with hardened containers of nobody's; a start is served from it (no container is
created during the request) and it refills; concurrent starts never share a pooled container (through the
service, and on PostgreSQL with workers racing on the database); a rebuilt image drains stale pooled
containers; reconciliation keeps pooled and claimed containers and removes orphans; ``drain`` removes all.
Every container a test starts carries this module's ``instance`` label and is removed by the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.management import call_command

from lms_kernels import pools, services, tasks
from lms_kernels.backends import KernelBackend
from lms_kernels.checks import pools_check
from lms_kernels.internal.containers import LABELS
from lms_kernels.models import Kernel, KernelEnvironment, WarmKernel
from lms_kernels.testing import drain_all_pools

from .capacity_helpers import amake_users, in_thread, make_users
from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

INSTANCE = f"test-pool-{uuid.uuid4().hex[:8]}"
DOCKER = "lms_kernels.backends.docker.DockerBackend"
MB = 1024 * 1024
SLUG = "py-pool"

# -- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    import docker

    client = docker.from_env()
    yield client
    client.close()


def our_containers(engine, **labels) -> list:
    wanted = [f"{LABELS['instance']}={INSTANCE}", *(f"{LABELS[k]}={v}" for k, v in labels.items())]
    return engine.containers.list(all=True, filters={"label": wanted})


def pooled_containers(engine) -> list:
    return [c for c in our_containers(engine) if LABELS["pool"] in c.labels]


@pytest.fixture
def docker_settings(kernel_settings, settings, tmp_path_factory):
    runtime = tmp_path_factory.mktemp("dp")
    options = {"runtime_dir": str(runtime), "instance": INSTANCE}
    settings.LMS_KERNELS = {
        **kernel_settings,
        "BACKENDS": {**kernel_settings["BACKENDS"], "docker": {"BACKEND": DOCKER, "OPTIONS": options}},
    }
    return runtime


@pytest.fixture
def no_leaked_containers(engine):
    yield
    leaked = our_containers(engine)
    for container in leaked:
        container.remove(force=True)
    assert not leaked, f"containers left behind: {[c.name for c in leaked]}"


@pytest_asyncio.fixture
async def pooled(no_leaked_containers, docker_settings, kernels):
    """Torn down before ``kernels`` (which shuts every kernel down) and the leak check: pools drained."""
    yield docker_settings
    await drain_all_pools()


def make_environment(kernel_image, slug=SLUG, pool_size=2, **fields) -> KernelEnvironment:
    defaults = {
        "display_name": "Python in Docker, pooled",
        "backend": "docker",
        "image": kernel_image,
        "memory_limit": 512 * MB,
        "cpu_limit": "1.5",
        "backend_options": {"pool_size": pool_size},
    }
    return KernelEnvironment.objects.create(slug=slug, **{**defaults, **fields})


@pytest.fixture
def pool_env(pooled, kernel_image):
    return make_environment(kernel_image)


async def row(kernel_id) -> Kernel:
    return await Kernel.objects.select_related("environment").aget(pk=kernel_id)


async def warm_rows(**filters) -> list[WarmKernel]:
    return [warm async for warm in WarmKernel.objects.filter(**filters).order_by("created")]


def created_at(container) -> datetime:
    return datetime.fromisoformat(container.attrs["Created"][:26].rstrip("Z") + "+00:00")


# -- filling ------------------------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_pool_fills_to_its_size_with_containers_of_nobody(pool_env, engine, docker_settings):
    out = io.StringIO()
    await sync_to_async(call_command)("lms_kernels_pool", "fill", stdout=out)
    assert f"{SLUG} (docker): size 2, 2 started" in out.getvalue()
    rows = await warm_rows()
    assert len(rows) == 2 and all(warm.ready for warm in rows)
    environment = await KernelEnvironment.objects.aget(pk=pool_env.pk)
    assert environment.image_digest and {warm.image_id for warm in rows} == {environment.image_digest}
    containers = {c.id: c for c in pooled_containers(engine)}
    assert set(containers) == {warm.backend_state["container_id"] for warm in rows}
    for warm in rows:
        container = containers[warm.backend_state["container_id"]]
        assert container.status == "running" and container.name == f"lms-pool-{warm.id}"
        assert container.attrs["Image"] == environment.image_digest
        labels = container.labels
        assert labels[LABELS["pool"]] == SLUG and labels[LABELS["pool_id"]] == str(warm.id)
        assert labels[LABELS["environment"]] == SLUG and labels[LABELS["backend_alias"]] == "docker"
        assert LABELS["kernel_id"] not in labels and LABELS["owner_id"] not in labels  # nobody's
        # Its own directory (sealed) and key.
        kernel_dir = Path(warm.backend_state["kernel_dir"])
        assert kernel_dir.parent == docker_settings and kernel_dir.name == warm.id.hex
        assert kernel_dir.stat().st_uid == 0 and kernel_dir.stat().st_mode & 0o777 == 0o755
        assert warm.connection_info["ip"] == str(kernel_dir / "k")
    assert len({warm.connection_info["key"] for warm in rows}) == 2
    status = io.StringIO()
    await sync_to_async(call_command)("lms_kernels_pool", "status", stdout=status)
    assert status.getvalue().strip() == f"{SLUG} (docker): size 2, 2 ready, 0 starting, 0 stale"
    # Full: a second fill starts nothing.
    [report] = await pools.afill()
    assert report.started == 0 and len(pooled_containers(engine)) == 2


# -- claiming -----------------------------------------------------------------------------------------------


HARDENING_KEYS = (
    "CapDrop",
    "SecurityOpt",
    "ReadonlyRootfs",
    "Init",
    "AutoRemove",
    "Tmpfs",
    "Memory",
    "MemorySwap",
    "NanoCpus",
    "PidsLimit",
    "NetworkMode",
    "PortBindings",
    "LogConfig",
    "Privileged",
    "CapAdd",
)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_start_is_served_from_the_pool_which_refills(pool_env, user, engine, kernel_image):
    await pools.afill()
    pooled_before = {c.id: c for c in pooled_containers(engine)}
    ours_before = {c.id for c in our_containers(engine)}
    client = await logged_in_client(user)
    requested = time.time()
    kernel = await start_kernel(client, SLUG)
    # No container was created for the request: the kernel runs in one that was there before it.
    created_during = [c for c in our_containers(engine) if c.id not in ours_before]
    assert all(LABELS["pool"] in c.labels for c in created_during)  # only the pool's refill, if anything
    stored = await row(kernel["id"])
    container_id = stored.backend_state["container_id"]
    assert container_id in pooled_before
    assert created_at(pooled_before[container_id]).timestamp() < requested
    assert stored.status == "running" and stored.connection_info["key"]
    assert not await WarmKernel.objects.filter(pk=stored.backend_state["pool_id"]).aexists()
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        assert (await ws.execute("x = 1")).reply["content"]["status"] == "ok"
        assert (await ws.execute("x")).result == "1"
        whoami = await ws.execute("import os; print(os.getuid(), os.access('/etc', os.W_OK))")
        assert whoami.stdout == "65534 False\n"
    # Hardened exactly like a kernel started cold from an identical environment.
    await sync_to_async(make_environment)(kernel_image, slug="py-cold", pool_size=0)
    cold = await start_kernel(client, "py-cold")
    cold_container = engine.containers.get((await row(cold["id"])).backend_state["container_id"])
    served = engine.containers.get(container_id)
    for key in HARDENING_KEYS:
        assert served.attrs["HostConfig"][key] == cold_container.attrs["HostConfig"][key], key
    for key in ("User", "Env", "Cmd", "Hostname", "WorkingDir", "Image"):
        assert served.attrs["Config"][key] == cold_container.attrs["Config"][key], key
    assert served.attrs["Image"] == cold_container.attrs["Image"]
    # The pool refills in the background, with new containers.
    await pools.wait_for_refills()
    rows = await warm_rows(ready=True)
    assert len(rows) == 2 and container_id not in {warm.backend_state["container_id"] for warm in rows}
    # A restart makes a normal kernel container on the same sockets; open connections carry on.
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")).status_code == 200
        assert (await ws.execute("1+1", timeout=60)).result == "2"
    restarted = await row(kernel["id"])
    assert restarted.connection_info == stored.connection_info
    new_container = engine.containers.get(restarted.backend_state["container_id"])
    assert new_container.id != container_id and new_container.labels[LABELS["kernel_id"]] == kernel["id"]
    assert new_container.labels[LABELS["owner_id"]] == str(user.pk)
    assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
    assert not Path(stored.backend_state["kernel_dir"]).exists()
    assert new_container.id not in {c.id for c in our_containers(engine)}


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_concurrent_starts_never_share_a_pooled_container(pooled, kernel_image, engine):
    await sync_to_async(make_environment)(kernel_image, pool_size=3)
    await pools.afill()
    pooled_ids = {c.id for c in pooled_containers(engine)}
    users = await amake_users(5)
    started = await asyncio.gather(*(services.start_kernel(u, SLUG) for u in users))
    ids = [kernel.backend_state["container_id"] for kernel in started]
    assert len(set(ids)) == 5
    assert len(set(ids) & pooled_ids) == 3  # the pool's three, then two cold starts
    assert all(kernel.status == "running" for kernel in started)


class _AdoptingBackend(KernelBackend):
    """Only what a claim asks of a backend (the database is what is tested here)."""

    supports_pools = True

    async def start(self, kernel, environment):  # pragma: no cover - not called
        raise AssertionError

    async def shutdown(self, kernel, *, restart=False):  # pragma: no cover - not called
        raise AssertionError

    async def is_alive(self, kernel):  # pragma: no cover - not called
        raise AssertionError


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_pooled_kernels_each_get_their_own(python3):
    """Eight workers (threads with their own PostgreSQL connections) claim from a pool of four at once."""
    environment = KernelEnvironment.objects.create(
        slug=SLUG, display_name="Pooled", backend="docker", backend_options={"pool_size": 4}
    )
    for i in range(4):
        WarmKernel.objects.create(
            environment=environment, backend="docker", ready=True, backend_state={"container_id": f"c{i}"}
        )
    users = make_users(8)
    rows = [
        Kernel.objects.create(owner=u, environment=environment, name=SLUG, backend="docker") for u in users
    ]
    backend = _AdoptingBackend("docker")
    barrier = threading.Barrier(8)

    def worker(index):
        def run():
            barrier.wait(10)
            claimed = pools._claim(rows[index], environment, backend)
            return None if claimed is None else str(claimed[0].pk)

        return run

    threads = [in_thread(worker(i)) for i in range(8)]
    for thread, _box in threads:
        thread.join(60)
    assert not [box["error"] for _thread, box in threads if "error" in box]
    claimed = [box["result"] for _thread, box in threads if box["result"]]
    assert len(claimed) == 4 and len(set(claimed)) == 4
    recorded = [k.backend_state.get("container_id") for k in Kernel.objects.all()]
    assert sorted(filter(None, recorded)) == ["c0", "c1", "c2", "c3"]
    assert not WarmKernel.objects.exists()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_dead_pooled_container_is_never_handed_out(pool_env, user, engine):
    await pools.afill()
    first, second = await warm_rows()
    engine.api.kill(first.backend_state["container_id"])
    # The culling task's fill finds it dead, removes it and starts another.
    [report] = await pools.afill()
    assert (report.removed_dead, report.started) == (1, 1)
    assert first.backend_state["container_id"] not in {c.id for c in our_containers(engine)}
    # A claim that finds its kernel dead (killed since the last fill) discards it and takes the next one.
    oldest = (await warm_rows())[0]
    assert oldest.pk == second.pk
    engine.api.kill(second.backend_state["container_id"])
    client = await logged_in_client(user)
    kernel = await start_kernel(client, SLUG)
    stored = await row(kernel["id"])
    assert stored.backend_state["container_id"] not in (
        first.backend_state["container_id"],
        second.backend_state["container_id"],
    )
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("1+1", timeout=60)).result == "2"
    assert second.backend_state["container_id"] not in {c.id for c in our_containers(engine)}


# -- images, reconciliation, draining ----------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_rebuilt_image_drains_the_stale_pooled_containers(
    pooled, kernel_image, user, engine, tmp_path
):
    import docker.errors as docker_errors

    await sync_to_async(make_environment)(kernel_image, pool_size=1)
    await pools.afill()
    [stale] = await warm_rows()
    tag = f"groundup-lms/env-pool-{INSTANCE}:latest"
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "Dockerfile").write_text(
        f"FROM {kernel_image}\nLABEL org.groundup-lms.lesson=v2\n"
    )
    made = None
    try:
        await sync_to_async(call_command)(
            "lms_kernels_image", "build", SLUG, str(tmp_path / "lesson"), "--tag", tag, stdout=io.StringIO()
        )
        made = engine.images.get(tag).id
        environment = await KernelEnvironment.objects.aget(slug=SLUG)
        assert environment.image_digest == made != stale.image_id
        status = io.StringIO()
        await sync_to_async(call_command)("lms_kernels_pool", "status", stdout=status)
        assert "0 ready, 0 starting, 1 stale" in status.getvalue()
        # A start does not get the stale container: it starts cold from the new image.
        client = await logged_in_client(user)
        kernel = await start_kernel(client, SLUG)
        assert (await row(kernel["id"])).backend_state["image_id"] == made
        # The refill that follows the miss removes the stale container and starts one from the new image.
        await pools.wait_for_refills()
        status = io.StringIO()
        await sync_to_async(call_command)("lms_kernels_pool", "status", stdout=status)
        assert "1 ready, 0 starting, 0 stale" in status.getvalue()
        [fresh] = await warm_rows()
        assert fresh.image_id == made
        assert engine.containers.get(fresh.backend_state["container_id"]).attrs["Image"] == made
        assert stale.backend_state["container_id"] not in {c.id for c in our_containers(engine)}
        assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
    finally:
        await drain_all_pools()
        for reference in (tag, made):
            if reference:
                with contextlib.suppress(docker_errors.ImageNotFound, docker_errors.APIError):
                    engine.api.remove_image(reference)


def _stray(engine, kernel_image, **labels):
    labels = {
        LABELS["environment"]: SLUG,
        LABELS["backend_alias"]: "docker",
        LABELS["instance"]: INSTANCE,
        **{LABELS[k]: v for k, v in labels.items()},
    }
    return engine.containers.create(kernel_image, ["sleep", "60"], labels=labels, network_mode="none")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_reconcile_keeps_pooled_and_claimed_containers_and_removes_orphans(
    pool_env, user, engine, kernel_image
):
    await pools.afill()
    client = await logged_in_client(user)
    kernel = await start_kernel(client, SLUG)  # claimed: in use, though its labels still say "pool"
    claimed = (await row(kernel["id"])).backend_state["container_id"]
    await pools.wait_for_refills()
    pooled_ids = {warm.backend_state["container_id"] for warm in await warm_rows()}
    # A pool row whose container is still being started protects it too.
    starting = await WarmKernel.objects.acreate(environment=pool_env, backend="docker")
    being_started = _stray(engine, kernel_image, pool=SLUG, pool_id=str(starting.pk))
    orphan_pooled = _stray(engine, kernel_image, pool=SLUG, pool_id=str(uuid.uuid4()))
    orphan_kernel = _stray(engine, kernel_image, kernel_id=str(uuid.uuid4()), owner_id="0")
    out = io.StringIO()
    await sync_to_async(call_command)("lms_kernels_reconcile", stdout=out)
    text = out.getvalue()
    assert (
        f"removed the pooled container of unknown pool entry {orphan_pooled.labels[LABELS['pool_id']]}"
        in text
    )
    assert f"removed the container of unknown kernel {orphan_kernel.labels[LABELS['kernel_id']]}" in text
    assert "2 orphan container(s) removed, 0 lost kernel(s) recovered" in text
    assert {c.id for c in our_containers(engine)} == {claimed, being_started.id, *pooled_ids}
    async with kernel_socket(client, kernel["id"]) as ws:
        assert (await ws.execute("1+1")).result == "2"
    # Once its row is gone, the container being started is an orphan as well.
    await starting.adelete()
    await sync_to_async(call_command)("lms_kernels_reconcile", stdout=io.StringIO())
    assert being_started.id not in {c.id for c in our_containers(engine)}


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_drain_removes_every_pooled_container_and_the_culling_task_refills(pool_env, engine):
    await pools.afill()
    dirs = [Path(warm.backend_state["kernel_dir"]) for warm in await warm_rows()]
    out = io.StringIO()
    await sync_to_async(call_command)("lms_kernels_pool", "drain", stdout=out)
    assert out.getvalue().strip() == f"{SLUG} (docker): 2 pooled kernel(s) removed"
    assert not pooled_containers(engine) and not await WarmKernel.objects.aexists()
    assert not any(path.exists() for path in dirs)
    await sync_to_async(tasks.cull_kernels_task.now)()
    assert len(await warm_rows(ready=True)) == 2 and len(pooled_containers(engine)) == 2
    # A size lowered to 0 empties the pool at the next fill.
    pool_env.backend_options = {"pool_size": 0}
    await pool_env.asave(update_fields=["backend_options"])
    [report] = await pools.afill()
    assert report.removed_extra == 2 and not pooled_containers(engine)


# -- settings -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"backend_options": {"pool_size": -1}}, "must be a whole number from 0 to 100, not -1"),
        ({"backend_options": {"pool_size": "3"}}, "must be a whole number from 0 to 100, not '3'"),
        ({"backend_options": {"pool_size": True}}, "must be a whole number"),
        ({"backend_options": {"pool_size": 2}, "gpus": 1}, "GPU environments have no warm pool"),
        ({"backend_options": {"pool_size": 2}, "backend": "local"}, "'local' keeps no warm pools"),
    ],
)
def test_pool_sizes_that_cannot_be_honoured_are_e107(docker_settings, kernel_image, fields, problem):
    pytest.importorskip("docker")
    environment = make_environment(kernel_image, **fields)
    errors = pools_check(databases=["default"])
    assert [(e.id, e.obj) for e in errors] == [("lms_kernels.E107", environment)]
    assert problem in errors[0].msg
    assert pools.pool_size(environment) == 0


@pytest.mark.django_db
def test_a_valid_pool_passes_the_check(docker_settings, kernel_image):
    pytest.importorskip("docker")
    environment = make_environment(kernel_image, pool_size=3)
    assert pools_check(databases=["default"]) == []
    assert pools.pool_size(environment) == 3
    environment.is_active = False
    assert pools.pool_size(environment) == 0
