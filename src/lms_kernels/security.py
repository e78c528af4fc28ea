"""The Origin check for the kernel WebSocket, fitted for Jupyter clients that are not browsers.

Browsers always send ``Origin`` on a WebSocket handshake, and attach the site's cookies by themselves: the
Origin check (Channels' ``AllowedHostsOriginValidator``) is what stops another site's page from opening a
socket with a learner's session. Programs such as JupyterLab's gateway client or a script built on
``jupyter_client`` send no ``Origin`` at all, and authenticate with an API token that nothing attaches by
itself. :class:`KernelOriginValidator` therefore lets a handshake *without* ``Origin`` through when it
carries a token (``Authorization: token ...`` or ``?token=``), and checks every other handshake exactly as
``AllowedHostsOriginValidator`` does::

    application = ProtocolTypeRouter({
        "websocket": KernelOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    })

A handshake with a foreign ``Origin`` is refused whether or not it has a token.
"""

from __future__ import annotations

from channels.security.websocket import AllowedHostsOriginValidator

from .auth import TOKEN_SCHEMES

__all__ = ["KernelOriginValidator"]


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def _has_token(scope) -> bool:
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _sep, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() in TOKEN_SCHEMES and token.strip():
            return True
    query = scope.get("query_string", b"").decode("latin-1")
    return any(part.startswith("token=") and len(part) > len("token=") for part in query.split("&"))


class KernelOriginValidator:
    """``AllowedHostsOriginValidator``, except that token clients without ``Origin`` are let through."""

    def __init__(self, application):
        self.application = application
        self.validated = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket" and _header(scope, b"origin") is None and _has_token(scope):
            return await self.application(scope, receive, send)
        return await self.validated(scope, receive, send)
