"""Who is calling: the Django session (with CSRF on unsafe methods) or an API token.

Jupyter clients send ``Authorization: token <t>`` (``Bearer`` is accepted too); on the WebSocket they may
send ``?token=<t>`` instead, since browsers cannot set headers there. Token requests need no CSRF token: a
browser never attaches them by itself.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .exceptions import NotAuthenticated, PermissionDenied

__all__ = ["authenticate_request", "authenticate_scope", "user_for_token"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOKEN_SCHEMES = frozenset({"token", "bearer"})
#: ``last_used`` is written at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def user_for_token(token: str):
    """The active user holding ``token``, or ``None``."""
    from .models import KernelApiToken
    from .models.tokens import hash_token

    if not token or len(token) > 256:
        return None
    row = await KernelApiToken.objects.select_related("user").filter(key_hash=hash_token(token)).afirst()
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used is None or now - row.last_used > LAST_USED_RESOLUTION:
        await KernelApiToken.objects.filter(pk=row.pk).aupdate(last_used=now)
    return row.user


def _token_from_header(value: str) -> str | None:
    scheme, _sep, token = value.strip().partition(" ")
    if scheme.lower() in TOKEN_SCHEMES and token.strip():
        return token.strip()
    return None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request) -> str | None:
    check = _CsrfCheck(lambda request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


async def authenticate_request(request):
    """The user of a REST request; raises :class:`NotAuthenticated` or (CSRF) :class:`PermissionDenied`."""
    token = _token_from_header(request.headers.get("Authorization", ""))
    if token is not None:
        user = await user_for_token(token)
        if user is None:
            raise NotAuthenticated(_("The API token is not valid."))
        return user
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else None
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if request.method not in SAFE_METHODS:
        if getattr(settings, "CSRF_USE_SESSIONS", False):
            reason = await sync_to_async(_csrf_failure)(request)
        else:
            reason = _csrf_failure(request)
        if reason:
            raise PermissionDenied(
                _("CSRF check failed: %(reason)s") % {"reason": reason}, code="csrf_failed"
            )
    return user


async def authenticate_scope(scope):
    """The user of a WebSocket: ``?token=``, ``Authorization: token``, or the session user
    (``AuthMiddlewareStack``)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [None])[0]
    if token is None:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                token = _token_from_header(value.decode("latin-1"))
                break
    if token:
        user = await user_for_token(token)
        if user is None:
            raise NotAuthenticated(_("The API token is not valid."))
        return user
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    return user
