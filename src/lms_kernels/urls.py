"""The REST API, in Jupyter Server's paths. Include it under ``LMS_KERNELS["URL_PREFIX"]``::

    path("kernels/", include("lms_kernels.urls"))   # -> /kernels/api/kernels, /kernels/api/sessions, ...

The WebSocket route (:mod:`lms_kernels.routing`) uses the same prefix.
"""

from django.urls import path, re_path

from . import views

app_name = "lms_kernels"

_KERNEL = "api/kernels/<str:kernel_id>"
_SESSION = "api/sessions/<str:session_id>"

urlpatterns = [
    path("api/kernelspecs", views.KernelSpecListView.as_view(), name="kernelspec-list"),
    path("api/kernelspecs/<str:name>", views.KernelSpecDetailView.as_view(), name="kernelspec-detail"),
    path("api/kernels", views.KernelListView.as_view(), name="kernel-list"),
    path(_KERNEL, views.KernelDetailView.as_view(), name="kernel-detail"),
    path(f"{_KERNEL}/interrupt", views.KernelActionView.as_view(action="interrupt"), name="kernel-interrupt"),
    path(f"{_KERNEL}/restart", views.KernelActionView.as_view(action="restart"), name="kernel-restart"),
    path("api/sessions", views.SessionListView.as_view(), name="session-list"),
    path(_SESSION, views.SessionDetailView.as_view(), name="session-detail"),
    path("api/gpu-usage", views.GpuUsageView.as_view(), name="gpu-usage"),
    re_path(r"^api/.*$", views.api_not_found, name="api-not-found"),
]
