"""Facts about kernels, for other code to act on (receivers get ``sender=Kernel`` and ``kernel=<row>``).

``kernel_started``
    A kernel was launched (``kernel`` holds its row).
``kernel_restarted``
    A kernel was replaced by a fresh one, on request.
``kernel_shutdown``
    A kernel was shut down; its row is about to be deleted.
``kernel_died``
    A kernel's process ended by itself (a crash, ``os._exit``, the out-of-memory killer); ``reason`` says
    what is known. Sent before the automatic restart, if any.
``kernel_culled``
    The culler is about to shut a kernel down; ``reason`` is ``"idle"`` or ``"max_age"``. ``kernel_shutdown``
    follows.
"""

from django.dispatch import Signal

__all__ = ["kernel_culled", "kernel_died", "kernel_restarted", "kernel_shutdown", "kernel_started"]

kernel_started = Signal()
kernel_restarted = Signal()
kernel_shutdown = Signal()
kernel_died = Signal()
kernel_culled = Signal()
