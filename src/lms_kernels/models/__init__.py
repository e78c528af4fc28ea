"""lms_kernels' models: kernel environments, running kernels and their sessions, API tokens."""

from .environments import KernelEnvironment, NetworkPolicy
from .kernels import ExecutionState, Kernel, KernelSession, KernelStatus
from .tokens import KernelApiToken

__all__ = [
    "ExecutionState",
    "Kernel",
    "KernelApiToken",
    "KernelEnvironment",
    "KernelSession",
    "KernelStatus",
    "NetworkPolicy",
]
