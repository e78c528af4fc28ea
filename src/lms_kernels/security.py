"""The Origin check for the kernel WebSocket: Django's CSRF origin rule, fitted for Jupyter clients that are not browsers.

Browsers always send ``Origin`` on a WebSocket handshake, and attach the site's cookies by themselves: the
Origin check is what stops another site's page from opening a socket with a learner's session. The check is
Django's own (``CsrfViewMiddleware``'s, for unsafe requests): the Origin's scheme, host *and port* must be
those of the request itself (its ``Host``, and ``https`` when :meth:`~django.http.HttpRequest.is_secure`, so
``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` apply), or match an entry of
``CSRF_TRUSTED_ORIGINS``; the ``Host`` must be one of ``ALLOWED_HOSTS``. ``ws``/``wss`` count as
``http``/``https``.

Programs such as JupyterLab's gateway client or a script built on ``jupyter_client`` send no ``Origin`` at
all, and authenticate with an API token that nothing attaches by itself. :class:`KernelOriginValidator`
therefore lets a handshake *without* ``Origin`` through when it carries a token (``Authorization: token ...``
or ``?token=``), and checks every other handshake::

    application = ProtocolTypeRouter({
        "websocket": KernelOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    })

A handshake with a foreign ``Origin`` is refused (HTTP 403, before the socket is accepted) whether or not it
has a token, and so is one with neither ``Origin`` nor token.
"""

from __future__ import annotations

import io

from channels.security.websocket import WebsocketDenier
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware

from .auth import TOKEN_SCHEMES

__all__ = ["KernelOriginValidator", "origin_allowed"]

#: WebSocket schemes and the HTTP schemes of the pages that open them.
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


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


class _OriginCheck(CsrfViewMiddleware):
    """Django's CSRF middleware, used only for its ``_origin_verified``."""

    def __init__(self):
        super().__init__(lambda request: None)


def _as_request(scope) -> ASGIRequest:
    """The handshake as Django's request object (a ``GET`` of the socket's URL, the scheme as HTTP's)."""
    scheme = _HTTP_SCHEMES.get(scope.get("scheme") or "ws", "http")
    # (The query string plays no part, and Django would choke on one that is not UTF-8.)
    http_scope = {**scope, "type": "http", "method": "GET", "scheme": scheme, "query_string": b""}
    return ASGIRequest(http_scope, io.BytesIO())


def origin_allowed(scope) -> bool:
    """Whether the handshake's ``Origin`` passes Django's CSRF origin check (see the module docstring)."""
    if _header(scope, b"origin") is None:
        return False
    return _OriginCheck()._origin_verified(_as_request(scope))


class KernelOriginValidator:
    """Refuses a WebSocket handshake from a foreign ``Origin``; token clients without ``Origin`` are let through."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket":
            has_origin = _header(scope, b"origin") is not None
            allowed = origin_allowed(scope) if has_origin else _has_token(scope)
            if not allowed:
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
