"""WebSocket routes. Include them in the project's ASGI application, wrapped as Channels recommends::

    KernelOriginValidator(AuthMiddlewareStack(URLRouter(lms_kernels.routing.websocket_urlpatterns)))

:class:`~lms_kernels.security.KernelOriginValidator` applies Django's CSRF origin check to the handshake, and
lets Jupyter clients that are not browsers (no ``Origin``, an API token) through.

The route lives under ``LMS_KERNELS["URL_PREFIX"]``, which must be where the project includes
``lms_kernels.urls`` (``lms_kernels.W102`` checks it).
"""

import re

from django.urls import re_path

from .conf import app_settings
from .consumers import KernelChannelsConsumer

__all__ = ["websocket_urlpatterns"]

websocket_urlpatterns = [
    re_path(
        rf"^{re.escape(app_settings.URL_PREFIX)}api/kernels/(?P<kernel_id>[0-9a-fA-F-]{{32,36}})/channels/?$",
        KernelChannelsConsumer.as_asgi(),
        name="lms_kernels_channels",
    ),
]
