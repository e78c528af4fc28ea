"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Serve it with ``uvicorn groundup_site.asgi:application`` (uvicorn sets TCP_NODELAY on its sockets).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "groundup_site.settings")

# Set up Django (apps, settings) before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from groundup_site.routing import websocket_urlpatterns  # noqa: E402
from lms_kernels.security import KernelOriginValidator  # noqa: E402

if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_app = ASGIStaticFilesHandler(django_asgi_app)
else:
    http_app = django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Django's CSRF origin check on the handshake (scheme, host and port), letting through Jupyter
        # clients that are not browsers (no Origin, an API token): see lms_kernels.security.
        "websocket": KernelOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
