"""lms_kernels' models: kernel environments, kernels and their sessions, GPU allocations and usage, warm pools,
API tokens."""

from .environments import KernelEnvironment, NetworkPolicy
from .gpus import GpuAllocation, GpuUsage
from .kernels import ExecutionState, Kernel, KernelSession, KernelStatus
from .pools import WarmKernel
from .tokens import KernelApiToken

__all__ = [
    "ExecutionState",
    "GpuAllocation",
    "GpuUsage",
    "Kernel",
    "KernelApiToken",
    "KernelEnvironment",
    "KernelSession",
    "KernelStatus",
    "NetworkPolicy",
    "WarmKernel",
]
