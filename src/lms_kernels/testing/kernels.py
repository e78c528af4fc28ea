"""Kernel clean-up for tests."""

from __future__ import annotations

import contextlib

from asgiref.sync import sync_to_async

__all__ = ["drain_all_pools", "shutdown_all_kernels"]


async def shutdown_all_kernels() -> int:
    """Shut down every kernel in the database through its backend; returns how many there were.

    Kernels the queue starts meanwhile (each shutdown frees capacity) are waited for and shut down too.
    """
    from ..models import Kernel
    from ..queue import drain
    from ..services import shutdown_kernel

    count = 0
    for _round in range(10):
        await drain()
        kernels = await sync_to_async(list)(Kernel.objects.select_related("environment"))
        if not kernels:
            break
        count += len(kernels)
        for kernel in kernels:
            with contextlib.suppress(Exception):  # best effort: the next kernel must still be stopped
                await shutdown_kernel(kernel)
    await drain()
    return count


async def drain_all_pools() -> int:
    """Wait for the background refills of warm pools, then remove every pooled kernel; returns how many."""
    from ..pools import adrain, wait_for_refills

    await wait_for_refills()
    return sum(report.drained for report in await adrain())
