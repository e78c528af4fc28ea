"""GPU allocation, quotas and accounting, with a fake GPU inventory on the local backend (real kernels: each
one's ``CUDA_VISIBLE_DEVICES`` is what the allocator gave it)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import psutil
import pytest
from asgiref.sync import sync_to_async
from django.core import checks
from django.db import IntegrityError, transaction
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from lms_kernels import capacity, services
from lms_kernels.adapters import KernelAdapter
from lms_kernels.conf import app_settings
from lms_kernels.culling import acull_kernels
from lms_kernels.exceptions import BackendUnavailable
from lms_kernels.models import GpuAllocation, GpuUsage, Kernel
from lms_kernels.queue import drain

from .capacity_helpers import (
    amake_users,
    gpu_environment,
    in_thread,
    is_notice,
    make_users,
    set_capacity,
    update_settings,
    wait_for,
)
from .conftest import PREFIX, kernel_socket, logged_in_client, start_kernel

CUDA = "import os; os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')"


class CourseAdapter(KernelAdapter):
    """Lesson paths are ``courses/<course>/<lesson>``: the course is the group."""

    def get_kernel_group(self, user, environment, path):
        parts = (path or "").split("/")
        return parts[1] if len(parts) > 2 and parts[0] == "courses" else ""

    def get_group_display_name(self, group):
        return f"The course {group}"


@pytest.fixture
def gpu(db):
    return gpu_environment("gpu", 1)


@pytest.fixture
def gpu2(db):
    return gpu_environment("gpu2", 2)


async def cuda_devices(client, kernel_id) -> str:
    async with kernel_socket(client, kernel_id) as ws:
        return (await ws.execute(CUDA, timeout=60)).result


async def open_usage(kernel_id) -> int:
    return await GpuUsage.objects.filter(kernel_id=kernel_id, ended__isnull=True).acount()


# -- allocation ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_each_kernel_sees_exactly_the_gpus_it_was_given(kernels, settings, gpu, gpu2, user):
    set_capacity(settings, GPUS=["0", "1", "2"])
    client = await logged_in_client(user)
    two = await start_kernel(client, "gpu2")
    one = await start_kernel(client, "gpu")
    cpu = await start_kernel(client, "python3")
    assert await cuda_devices(client, two["id"]) == "'0,1'"
    assert await cuda_devices(client, one["id"]) == "'2'"
    assert await cuda_devices(client, cpu["id"]) == "''"  # a CPU kernel on a GPU host sees no GPU
    rows = {str(k.pk): k for k in await sync_to_async(list)(Kernel.objects.all())}
    assert rows[two["id"]].gpu_devices == ["0", "1"] and rows[cpu["id"]].gpu_devices == []
    held = await sync_to_async(list)(
        GpuAllocation.objects.order_by("device").values_list("device", "kernel_id")
    )
    assert [(device, str(kernel)) for device, kernel in held] == [
        ("0", two["id"]),
        ("1", two["id"]),
        ("2", one["id"]),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_concurrent_starts_through_the_service_never_share_a_gpu(kernels, settings, gpu):
    set_capacity(settings, GPUS=["0", "1"], GPU_SHARE=2)
    users = await amake_users(7)
    started = await asyncio.gather(*(services.start_kernel(u, "gpu") for u in users))
    assert Counter(k.status for k in started) == {"running": 4, "queued": 3}
    slots = await sync_to_async(list)(GpuAllocation.objects.values_list("device", "slot"))
    assert sorted(slots) == [("0", 0), ("0", 1), ("1", 0), ("1", 1)]
    # The kernels are spread over the GPUs, and each one's process sees its own.
    devices = Counter(d for k in started for d in k.gpu_devices)
    assert devices == {"0": 2, "1": 2}


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_kernel_on_a_taken_slot(settings, gpu, user):
    """The final guarantee on every database, SQLite included: (backend, device, slot) is unique."""
    set_capacity(settings, GPUS=["0"])
    first = Kernel.objects.create(owner=user, environment=gpu, name="gpu", backend="local")
    second = Kernel.objects.create(owner=user, environment=gpu, name="gpu", backend="local")
    GpuAllocation.objects.create(backend="local", device="0", slot=0, kernel=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        GpuAllocation.objects.create(backend="local", device="0", slot=0, kernel=second)
    GpuAllocation.objects.create(backend="other", device="0", slot=0, kernel=second)  # another host's GPU 0


def _race(count: int, target) -> list:
    barrier = threading.Barrier(count)

    def worker(index):
        def run():
            barrier.wait(10)
            return target(index)

        return run

    threads = [in_thread(worker(i)) for i in range(count)]
    for thread, _box in threads:
        thread.join(60)
    errors = [box["error"] for _thread, box in threads if "error" in box]
    assert not errors, errors
    return [box["result"] for _thread, box in threads]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("gpus", "share"), [(["0", "1", "2"], 1), (["0", "1"], 3)])
def test_workers_racing_for_gpus_each_get_a_slot_of_their_own(settings, gpu, gpus, share):
    """Twelve workers (threads with their own PostgreSQL connections) ask at the same moment."""
    set_capacity(settings, GPUS=gpus, GPU_SHARE=share)
    users = make_users(12)
    statuses = _race(12, lambda i: capacity.admit_new(users[i], gpu, "local", "")[0].status)
    assert Counter(statuses) == {"starting": len(gpus) * share, "queued": 12 - len(gpus) * share}
    slots = list(GpuAllocation.objects.values_list("device", "slot"))
    assert sorted(slots) == sorted((d, s) for d in gpus for s in range(share))
    assert GpuAllocation.objects.values("kernel").distinct().count() == len(gpus) * share
    assert GpuUsage.objects.filter(ended__isnull=True).count() == len(gpus) * share


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_kernel_slots_never_exceed_them(settings, python3):
    """No unique constraint guards a count: the allocation lock does."""
    set_capacity(settings, KERNELS=2)
    users = make_users(10)
    statuses = _race(10, lambda i: capacity.admit_new(users[i], python3, "local", "")[0].status)
    assert Counter(statuses) == {"starting": 2, "queued": 8}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_environment_needing_more_gpus_than_the_host_has_is_refused_clearly(
    kernels, settings, gpu2, user
):
    set_capacity(settings, GPUS=["0"])
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "gpu2"}, content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {
        "message": "This environment needs 2 GPUs, but its server has only 1.",
        "reason": "no_gpus_on_backend",
    }
    set_capacity(settings)  # no GPUs at all
    response = await client.post(f"{PREFIX}/kernels", {"name": "gpu2"}, content_type="application/json")
    assert response.json()["message"] == "This environment needs a GPU, but its server has none."
    assert not await Kernel.objects.aexists()


@pytest.mark.django_db
def test_system_check_e106_reports_environments_the_inventory_cannot_serve(settings, gpu, gpu2):
    set_capacity(settings, GPUS=["0"])
    found = [m for m in checks.run_checks(databases=["default"]) if m.id == "lms_kernels.E106"]
    assert [m.obj for m in found] == [gpu2]
    assert "needs 2 GPU(s)" in found[0].msg


@pytest.mark.parametrize(
    "capacity_setting",
    [
        {"GPUS": "0,1"},
        {"GPUS": [0, 1]},
        {"GPUS": ["0", "0"]},
        {"GPU_SHARE": 0},
        {"KERNELS": 0},
        {"SLOTS": 3},
    ],
)
def test_invalid_capacity_settings_are_e004(settings, capacity_setting):
    settings.LMS_KERNELS = {
        "BACKENDS": {
            "local": {"BACKEND": "lms_kernels.backends.local.LocalBackend", "CAPACITY": capacity_setting}
        }
    }
    ids = [m.id for m in checks.run_checks() if m.id.startswith("lms_kernels.")]
    assert ids == ["lms_kernels.E004"]


def test_valid_capacity_and_gpu_settings_pass(settings):
    settings.LMS_KERNELS = {
        "BACKENDS": {
            "local": {
                "BACKEND": "lms_kernels.backends.local.LocalBackend",
                "CAPACITY": {"KERNELS": 20, "GPUS": ["0", "GPU-5f1c"], "GPU_SHARE": 2},
            }
        },
        "GPU_QUOTA_PER_USER": 1,
        "GPU_QUOTA_PER_GROUP": {"course-a": 4, "course-b": None},
        "QUEUE_TIMEOUT": None,
    }
    assert not [m for m in checks.run_checks() if m.id.startswith("lms_kernels.")]
    assert capacity.capacity_of("local") == capacity.Capacity(20, ("0", "GPU-5f1c"), 2)
    assert app_settings.GPU_QUOTA_PER_GROUP["course-a"] == 4


# -- release on every way out --------------------------------------------------------------------------------


async def assert_released(kernel_id) -> None:
    assert not await GpuAllocation.objects.filter(kernel_id=kernel_id).aexists()
    usage = await sync_to_async(list)(GpuUsage.objects.filter(kernel_id=kernel_id))
    assert usage and all(u.ended is not None and u.seconds is not None for u in usage)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_shutdown_releases_the_gpu_and_a_restart_keeps_it(kernels, settings, gpu, user):
    set_capacity(settings, GPUS=["0", "1"])
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "gpu")
    before = await Kernel.objects.aget(pk=kernel["id"])
    assert (await client.post(f"{PREFIX}/kernels/{kernel['id']}/restart")).status_code == 200
    after = await Kernel.objects.aget(pk=kernel["id"])
    assert after.generation == 2 and after.gpu_devices == before.gpu_devices == ["0"]
    assert await cuda_devices(client, kernel["id"]) == "'0'"
    assert await open_usage(kernel["id"]) == 1  # one record, running on
    assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
    await assert_released(kernel["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_culling_releases_the_gpu(kernels, settings, gpu, user):
    set_capacity(settings, GPUS=["0"])
    update_settings(settings, CULL_IDLE_TIMEOUT=60)
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "gpu")
    culled = await acull_kernels(timezone.now() + timedelta(seconds=120))
    assert [c.kernel_id for c in culled] == [kernel["id"]]
    await assert_released(kernel["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_crash_releases_the_gpu_without_auto_restart_and_keeps_it_with(kernels, settings, gpu, user):
    set_capacity(settings, GPUS=["0"])
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "gpu")
    async with kernel_socket(client, kernel["id"]) as ws:  # auto-restart: the new process has the GPU
        await ws.wait_ready()
        await ws.send(ws.execute_request("import os; os._exit(1)"))
        await ws.receive_until(is_notice("died"))
        assert (await ws.execute(CUDA, timeout=60)).result == "'0'"
    assert await open_usage(kernel["id"]) == 1
    update_settings(settings, AUTO_RESTART=False)
    async with kernel_socket(client, kernel["id"]) as ws:
        await ws.wait_ready()
        await ws.send(ws.execute_request("import os; os._exit(1)"))
        assert await ws.receive_close() == 4500
    assert (await Kernel.objects.aget(pk=kernel["id"])).status == "dead"
    await assert_released(kernel["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_failed_start_releases_the_gpu(kernels, settings, gpu, user, monkeypatch):
    set_capacity(settings, GPUS=["0"])

    async def broken(self, kernel, environment):
        raise OSError("no such file: ipykernel")

    monkeypatch.setattr("lms_kernels.backends.local.LocalBackend.start", broken)
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "gpu"}, content_type="application/json")
    assert response.status_code == 503 and response.json()["reason"] == "kernel_start_failed"
    assert not await Kernel.objects.aexists() and not await GpuAllocation.objects.aexists()
    assert await GpuUsage.objects.filter(ended__isnull=True).acount() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_deleting_the_owner_stops_the_kernel_and_releases_the_gpu(
    kernels, settings, gpu, user, other_user
):
    set_capacity(settings, GPUS=["0"])
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "gpu")
    waiting = await services.start_kernel(other_user, "gpu")
    pid = (await Kernel.objects.aget(pk=kernel["id"])).backend_state["pid"]
    await sync_to_async(user.delete)()  # as the admin does (synchronous code under an event loop)
    await assert_released(kernel["id"])
    usage = await GpuUsage.objects.aget(kernel_id=kernel["id"])
    assert usage.owner_id is None  # the record stays for the group's totals

    async def next_one_runs():
        return await Kernel.objects.filter(pk=waiting.pk, status="running").aexists()

    await wait_for(next_one_runs)  # the queue moved once the deletion was committed

    async def gone():
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    await wait_for(gone)
    await drain()


# -- quotas ----------------------------------------------------------------------------------------------------


async def post_kernel(client: AsyncClient, name: str):
    return await client.post(f"{PREFIX}/kernels", {"name": name}, content_type="application/json")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_user_quota_refuses_with_a_message_saying_which(kernels, settings, gpu, gpu2, user):
    set_capacity(settings, GPUS=["0", "1", "2"])
    update_settings(settings, GPU_QUOTA_PER_USER=1)
    client = await logged_in_client(user)
    response = await post_kernel(client, "gpu2")
    assert response.status_code == 403
    assert response.json() == {
        "message": "This environment needs 2 GPUs, but your limit is 1.",
        "reason": "gpu_quota_exceeded",
    }
    await start_kernel(client, "gpu")
    response = await post_kernel(client, "gpu")
    assert response.status_code == 403
    assert response.json()["message"] == (
        "You already use 1 GPU, your limit is 1. Shut down a kernel that uses a GPU, then try again."
    )
    await start_kernel(client, "python3")  # CPU kernels are not counted
    update_settings(settings, GPU_QUOTA_PER_USER=0)
    assert (await post_kernel(client, "gpu")).json()["message"].startswith("You already use 1 GPU")
    assert await GpuAllocation.objects.acount() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_group_quota_counts_the_course_of_the_lesson(kernels, settings, gpu, django_user_model):
    set_capacity(settings, GPUS=["0", "1", "2"])
    update_settings(
        settings, ADAPTER="tests.lms_kernels.test_gpus.CourseAdapter", GPU_QUOTA_PER_GROUP={"ai-101": 1}
    )
    first, second = await amake_users(2)
    body = {"path": "courses/ai-101/lesson-1", "type": "notebook", "kernel": {"name": "gpu"}}
    a, b = await logged_in_client(first), await logged_in_client(second)
    response = await a.post(f"{PREFIX}/sessions", body, content_type="application/json")
    assert response.status_code == 201
    assert (await Kernel.objects.aget(pk=response.json()["kernel"]["id"])).group == "ai-101"
    response = await b.post(f"{PREFIX}/sessions", body, content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {
        "message": "The course ai-101 already uses 1 GPU, its limit is 1. Try again when one of its kernels stops.",
        "reason": "group_gpu_quota_exceeded",
    }
    # Another course, and kernels outside any course, are not limited by it.
    other = {**body, "path": "courses/ml-201/lesson-1"}
    assert (await b.post(f"{PREFIX}/sessions", other, content_type="application/json")).status_code == 201
    assert (await post_kernel(b, "gpu")).status_code == 201


# -- accounting ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_gpu_seconds_are_accounted_from_allocation_to_release(kernels, settings, gpu2, user):
    set_capacity(settings, GPUS=["0", "1"])
    client = await logged_in_client(user)
    kernel = await start_kernel(client, "gpu2")
    ten_seconds_ago = timezone.now() - timedelta(seconds=10)
    await GpuUsage.objects.filter(kernel_id=kernel["id"]).aupdate(started=ten_seconds_ago)
    report = (await client.get(f"{PREFIX}/gpu-usage")).json()
    assert report["running"] == 2 and 20 <= report["total_seconds"] < 30
    assert (await client.delete(f"{PREFIX}/kernels/{kernel['id']}")).status_code == 204
    records = await sync_to_async(list)(GpuUsage.objects.filter(kernel_id=kernel["id"]))
    assert sorted(r.device for r in records) == ["0", "1"]
    assert all(10 <= r.seconds < 20 for r in records)
    assert {(r.environment, r.owner_id, r.group) for r in records} == {("gpu2", user.pk, "")}


def usage(owner, group, seconds, *, running=False):
    now = timezone.now()
    return GpuUsage.objects.create(
        kernel_id="00000000-0000-0000-0000-000000000001",
        owner=owner,
        group=group,
        environment="gpu",
        backend="local",
        device="0",
        started=now - timedelta(seconds=seconds),
        ended=None if running else now,
        seconds=None if running else seconds,
    )


@pytest.fixture
def usage_records(db, user, other_user):
    usage(user, "ai-101", 100)
    usage(user, "ml-201", 50)
    usage(other_user, "ai-101", 1000)
    usage(other_user, "ai-101", 30, running=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_api_shows_a_learner_their_own_gpu_seconds_only(usage_records, user):
    client = await logged_in_client(user)
    report = (await client.get(f"{PREFIX}/gpu-usage")).json()
    assert report["user"] == "learner" and report["total_seconds"] == 150 and report["count"] == 2
    assert report["by_group"] == [
        {"group": "ai-101", "seconds": 100, "records": 1},
        {"group": "ml-201", "seconds": 50, "records": 1},
    ]
    assert [r["seconds"] for r in report["records"]] == [50, 100]  # newest first
    assert set(report["records"][0]) == {
        "kernel_id", "user", "group", "environment", "device", "started", "ended", "seconds", "running",
    }  # fmt: skip
    assert "by_user" not in report
    only = (await client.get(f"{PREFIX}/gpu-usage", {"group": "ml-201"})).json()
    assert only["total_seconds"] == 50
    for params in ({"user": "other"}, {"user": "*"}, {"user": "nobody"}):
        response = await client.get(f"{PREFIX}/gpu-usage", params)
        assert response.status_code == 403 and response.json()["reason"] == "permission_denied"
    assert (await client.get(f"{PREFIX}/gpu-usage", {"since": "yesterday"})).status_code == 400
    assert (await client.get(f"{PREFIX}/gpu-usage", {"limit": "0"})).status_code == 400
    assert (await AsyncClient().get(f"{PREFIX}/gpu-usage")).status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_staff_see_everyones_gpu_seconds_per_user_and_group(usage_records, django_user_model):
    staff = await sync_to_async(django_user_model.objects.create_user)(
        "teacher", password="pw", is_staff=True
    )
    client = await logged_in_client(staff)
    report = (await client.get(f"{PREFIX}/gpu-usage", {"user": "*", "group": "ai-101"})).json()
    assert report["user"] == "*" and report["running"] == 1 and report["count"] == 3
    assert 1130 <= report["total_seconds"] < 1140
    assert [(r["user"], round(r["seconds"])) for r in report["by_user"]] == [
        ("other", 1030),
        ("learner", 100),
    ]
    other = (await client.get(f"{PREFIX}/gpu-usage", {"user": "other", "limit": 1})).json()
    assert len(other["records"]) == 1 and other["count"] == 2 and other["records"][0]["running"]
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    assert (await client.get(f"{PREFIX}/gpu-usage", {"user": "*", "since": since})).json()["count"] == 0
    missing = await client.get(f"{PREFIX}/gpu-usage", {"user": "nobody"})
    assert missing.status_code == 400 and missing.json()["reason"] == "no_such_user"


@pytest.mark.django_db
def test_the_admin_shows_gpu_hours_per_user_and_group(usage_records, client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", password="pw")
    client.force_login(admin)
    page = client.get(reverse("admin:lms_kernels_gpuusage_changelist"))
    assert page.status_code == 200
    summary = page.context["gpu_usage_summary"]
    assert summary["running"] == 1 and summary["records"] == 4
    assert [(row["user"].username, row["hours"]) for row in summary["by_user"]] == [
        ("other", "0.29"),
        ("learner", "0.04"),
    ]
    assert [(row["group"], row["records"]) for row in summary["by_group"]] == [("ai-101", 3), ("ml-201", 1)]
    assert "GPU hours" in page.content.decode()
    filtered = client.get(reverse("admin:lms_kernels_gpuusage_changelist"), {"group": "ml-201"})
    assert filtered.context["gpu_usage_summary"]["records"] == 1
    assert client.get(reverse("admin:lms_kernels_gpuallocation_changelist")).status_code == 200


def test_check_inventory_is_backend_agnostic(settings, db):
    set_capacity(settings, GPUS=["a", "b"])
    capacity.check_inventory("local", gpu_environment("gpu2", 2))
    with pytest.raises(BackendUnavailable):
        capacity.check_inventory("local", gpu_environment("gpu3", 3))
