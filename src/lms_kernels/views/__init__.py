"""The REST API: Jupyter Server's ``/api/kernelspecs``, ``/api/kernels`` and ``/api/sessions``, and our
``/api/gpu-usage``."""

from .base import ApiView, api_not_found
from .gpu_usage import GpuUsageView
from .kernels import KernelActionView, KernelDetailView, KernelListView
from .kernelspecs import KernelSpecDetailView, KernelSpecListView
from .sessions import SessionDetailView, SessionListView

__all__ = [
    "ApiView",
    "GpuUsageView",
    "KernelActionView",
    "KernelDetailView",
    "KernelListView",
    "KernelSpecDetailView",
    "KernelSpecListView",
    "SessionDetailView",
    "SessionListView",
    "api_not_found",
]
