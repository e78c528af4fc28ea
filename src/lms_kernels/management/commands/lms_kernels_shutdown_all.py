"""``manage.py lms_kernels_shutdown_all``: shut down every kernel (of some backends), as a server would at exit.

Kernels outlive the ASGI worker that started them on purpose: with several workers, or across a restart or a
deployment, any worker reaches any kernel through what is stored on its row, and learners keep their
variables. So stopping a server never shuts kernels down by itself. Where that is wanted after all (a
single-process demo being stopped, as Jupyter Server shuts its kernels down when it exits; a maintenance
window), run this command: each kernel goes through the same shut-down as ``DELETE /api/kernels/{id}``
(:func:`lms_kernels.services.shutdown_kernel`: its process and its iopub relay are stopped, its files
removed, its row and sessions deleted, its GPUs freed), all of them at once.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync, sync_to_async
from django.core.management.base import BaseCommand, CommandError

from ...conf import app_settings
from ...models import Kernel

__all__ = ["Command", "shutdown_all_kernels"]


async def _shutdown(kernel: Kernel) -> tuple[Kernel, Exception | None]:
    from ...services import shutdown_kernel

    pk = kernel.pk
    try:
        await shutdown_kernel(kernel)
    except Exception as exc:  # reported per kernel; the others are still shut down
        return kernel, exc
    finally:
        kernel.pk = pk  # deleting the row cleared it; the caller reports which kernel this was
    return kernel, None


async def ashutdown_all_kernels(backends: list[str] | None = None) -> list[tuple[Kernel, Exception | None]]:
    """Shut down every kernel (or those of the ``backends`` aliases) concurrently; returns each kernel (its row
    deleted, its ``pk`` kept) with the error that kept it from shutting down, or ``None``."""
    kernels = Kernel.objects.all()
    if backends:
        kernels = kernels.filter(backend__in=backends)
    found = await sync_to_async(list)(kernels.order_by("created"))
    return list(await asyncio.gather(*(_shutdown(kernel) for kernel in found)))


def shutdown_all_kernels(backends: list[str] | None = None) -> list[tuple[Kernel, Exception | None]]:
    """:func:`ashutdown_all_kernels` for synchronous callers (this command, a project's own commands)."""
    return async_to_sync(ashutdown_all_kernels)(backends)


class Command(BaseCommand):
    help = (
        "Shut down every kernel (or those of the given backends): their processes, iopub relays, files, rows "
        "and sessions, as DELETE /api/kernels/{id} does. Servers keep kernels across restarts; use this when "
        "they should not survive (a demo being stopped, maintenance)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backend",
            action="append",
            dest="backends",
            metavar="ALIAS",
            help="Only the kernels of this backend (an LMS_KERNELS['BACKENDS'] alias); may be repeated.",
        )

    def handle(self, *args, backends=None, **options):
        unknown = sorted(set(backends or ()) - set(app_settings.BACKENDS))
        if unknown:
            raise CommandError(f"Unknown backend(s): {', '.join(unknown)}.")
        results = shutdown_all_kernels(backends)
        failed = 0
        for kernel, error in results:
            if error is None:
                self.stdout.write(f"shut down {kernel.id} ({kernel.name}, user {kernel.owner_id})")
            else:
                failed += 1
                self.stderr.write(f"could not shut down {kernel.id} ({kernel.name}): {error}")
        self.stdout.write(self.style.SUCCESS(f"{len(results) - failed} kernel(s) shut down."))
        if failed:
            raise CommandError(f"{failed} kernel(s) could not be shut down; run the command again.")
