"""Helpers of the GPU and queue tests: a fake GPU inventory on the local backend, users, threads, waiting."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from lms_kernels.models import KernelEnvironment
from lms_kernels.testing import notice


def set_capacity(settings, **capacity) -> None:
    """Give the ``local`` backend a ``CAPACITY`` (``GPUS=["0"]``, ``KERNELS=1``, ``GPU_SHARE=2``...)."""
    backends = {alias: dict(config) for alias, config in settings.LMS_KERNELS["BACKENDS"].items()}
    backends["local"]["CAPACITY"] = capacity
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, "BACKENDS": backends}


def update_settings(settings, **values) -> None:
    settings.LMS_KERNELS = {**settings.LMS_KERNELS, **values}


def gpu_environment(slug: str = "gpu", gpus: int = 1) -> KernelEnvironment:
    environment, _created = KernelEnvironment.objects.get_or_create(
        slug=slug, defaults={"display_name": f"Python with {gpus} GPU(s)", "gpus": gpus}
    )
    return environment


def make_users(count: int, prefix: str = "learner"):
    model = get_user_model()
    return [model.objects.create_user(f"{prefix}{i}", password="pw") for i in range(count)]


amake_users = sync_to_async(make_users)


def in_thread(target):
    """Run ``target`` in a thread with its own database connection; returns the thread and a result box."""
    box: dict = {}

    def run():
        try:
            box["result"] = target()
        except BaseException as exc:  # reported by the test
            box["error"] = exc
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


async def wait_for(predicate, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def is_notice(kind: str):
    return lambda message: notice(message) == kind


def position_of(message: dict) -> int:
    return message["metadata"]["lms_kernels"]["position"]
