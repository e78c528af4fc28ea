"""Facts about kernels, for other code to act on (receivers get ``sender=Kernel`` and ``kernel=<row>``).

``kernel_started``
    A kernel was launched (``kernel`` holds its row).
``kernel_restarted``
    A kernel was replaced by a fresh one, on request.
``kernel_shutdown``
    A kernel was shut down; its row is about to be deleted.
"""

from django.dispatch import Signal

__all__ = ["kernel_restarted", "kernel_shutdown", "kernel_started"]

kernel_started = Signal()
kernel_restarted = Signal()
kernel_shutdown = Signal()
