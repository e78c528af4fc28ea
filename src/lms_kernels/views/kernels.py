"""``/api/kernels``: list, start, get, shut down, interrupt and restart kernels."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse

from .. import services
from ..serializers import kernel_model
from .base import ApiView, check_text_input, json_response

__all__ = ["KernelActionView", "KernelDetailView", "KernelListView"]


class KernelListView(ApiView):
    http_method_names = ["get", "post"]

    async def get(self, request, user):
        return json_response([kernel_model(kernel) for kernel in await services.list_kernels(user)])

    async def post(self, request, user):
        body = self.json_body(request)
        name = check_text_input("name", body.get("name"))
        kernel = await services.start_kernel(user, name)
        location = reverse("lms_kernels:kernel-detail", kwargs={"kernel_id": kernel.id})
        return json_response(kernel_model(kernel), status=201, headers={"Location": location})


class KernelDetailView(ApiView):
    http_method_names = ["get", "delete"]

    async def get(self, request, user, kernel_id):
        return json_response(kernel_model(await services.get_kernel(user, kernel_id)))

    async def delete(self, request, user, kernel_id):
        await services.shutdown_kernel(await services.get_kernel(user, kernel_id))
        return HttpResponse(status=204)


class KernelActionView(ApiView):
    """``POST .../interrupt`` (204) and ``POST .../restart`` (200, the kernel model)."""

    http_method_names = ["post"]
    action = "interrupt"

    async def post(self, request, user, kernel_id):
        kernel = await services.get_kernel(user, kernel_id)
        if self.action == "interrupt":
            await services.interrupt_kernel(kernel)
            return HttpResponse(status=204)
        kernel = await services.restart_kernel(kernel)
        return json_response(kernel_model(kernel))
