"""Kernel clean-up for tests."""

from __future__ import annotations

import contextlib

from asgiref.sync import sync_to_async

__all__ = ["shutdown_all_kernels"]


async def shutdown_all_kernels() -> int:
    """Shut down every kernel in the database through its backend; returns how many there were."""
    from ..models import Kernel
    from ..services import shutdown_kernel

    kernels = await sync_to_async(list)(Kernel.objects.select_related("environment"))
    for kernel in kernels:
        with contextlib.suppress(Exception):  # best effort: the next kernel must still be stopped
            await shutdown_kernel(kernel)
    return len(kernels)
