"""``GET /api/kernelspecs`` and ``GET /api/kernelspecs/<name>``: the environments this user may use."""

from __future__ import annotations

from ..exceptions import NoSuchKernelSpec
from ..serializers import kernelspec_model, kernelspecs_model
from ..services import list_environments
from .base import ApiView, json_response

__all__ = ["KernelSpecDetailView", "KernelSpecListView"]


class KernelSpecListView(ApiView):
    http_method_names = ["get"]

    async def get(self, request, user):
        environments, default = await list_environments(user)
        return json_response(kernelspecs_model(environments, default))


class KernelSpecDetailView(ApiView):
    http_method_names = ["get"]

    async def get(self, request, user, name):
        environments, _default = await list_environments(user)
        for environment in environments:
            if environment.slug == name:
                return json_response(kernelspec_model(environment))
        raise NoSuchKernelSpec()
