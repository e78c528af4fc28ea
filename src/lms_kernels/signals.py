"""Facts about kernels, for other code to act on (receivers get ``sender=Kernel`` and ``kernel=<row>``).

``kernel_started``
    A kernel was launched (``kernel`` holds its row).
``kernel_restarted``
    A kernel was replaced by a fresh one: on request, automatically after it died, or by the culler because
    it stayed busy without answering past its maximum busy time.
``kernel_shutdown``
    A kernel was shut down; its row is about to be deleted.
``kernel_died``
    A kernel's process ended by itself (a crash, ``os._exit``, the out-of-memory killer); ``reason`` says
    what is known. Sent before the automatic restart, if any.
``kernel_culled``
    The culler is about to shut a kernel down; ``reason`` is ``"idle"``, ``"max_age"`` or ``"lost"`` (its
    process was gone). ``kernel_shutdown`` follows.

The service sends them robustly: a receiver that raises is logged and does not undo what happened.
"""

import logging

from asgiref.sync import sync_to_async
from django.dispatch import Signal

__all__ = ["kernel_culled", "kernel_died", "kernel_restarted", "kernel_shutdown", "kernel_started"]

kernel_started = Signal()
kernel_restarted = Signal()
kernel_shutdown = Signal()
kernel_died = Signal()
kernel_culled = Signal()


logger = logging.getLogger(__name__)


async def send_robust(signal: Signal, sender, **kwargs) -> None:
    """Send ``signal`` from the service: a receiver that fails is logged and does not undo what happened
    (a kernel that started stays started, a culled kernel is still shut down)."""
    for receiver, result in await sync_to_async(signal.send_robust)(sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("A receiver of a kernel signal failed: %r", receiver, exc_info=result)
