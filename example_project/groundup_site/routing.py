"""The project's WebSocket routes: each app's ``routing.websocket_urlpatterns``, as apps provide them."""

from importlib import import_module

from django.apps import apps

#: Apps whose ``routing`` module, when it exists, contributes WebSocket routes.
ROUTED_APPS = ["lms_kernels", "lms_cms_blocks", "lms_surveys", "lms_core"]


def collect_websocket_urlpatterns():
    patterns = []
    for name in ROUTED_APPS:
        if not apps.is_installed(name):
            continue
        try:
            module = import_module(f"{name}.routing")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.routing":
                raise
            continue
        patterns.extend(module.websocket_urlpatterns)
    return patterns


websocket_urlpatterns = collect_websocket_urlpatterns()
