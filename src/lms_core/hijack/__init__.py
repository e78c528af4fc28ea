"""Staff impersonation (django-hijack): who may impersonate whom, and the audit log of every start and end.

Point django-hijack at :func:`can_hijack` (``HIJACK_PERMISSION_CHECK = "lms_core.hijack.can_hijack"``);
:class:`~lms_core.apps.LmsCoreConfig` connects :func:`record_hijack_started` and :func:`record_hijack_ended`
to django-hijack's signals, so every impersonation leaves a :class:`~lms_core.models.HijackEvent`, and
:func:`record_logout_while_hijacked` to Django's ``user_logged_out``, so that signing out while impersonating
records the end too (with the logout page as its page).
The system checks ``lms_core.W102`` and ``lms_core.W103`` say when a project installs django-hijack without
this permission check or without the middleware that shows the banner. :mod:`lms_core.hijack.urls` serves
django-hijack's views with malformed input answered 404.
"""

from __future__ import annotations

import ipaddress
import logging

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import ValidationError

from ..conf import app_settings
from ..models import HijackEvent

__all__ = [
    "HIJACK_PERMISSION",
    "PERMISSION_CHECK_PATH",
    "can_hijack",
    "client_ip",
    "record_hijack_ended",
    "record_hijack_started",
    "record_logout_while_hijacked",
]

logger = logging.getLogger(__name__)

#: The permission (``app_label.codename``) a staff member needs to impersonate learners.
HIJACK_PERMISSION = "lms_core.hijack_user"
#: What ``HIJACK_PERMISSION_CHECK`` should say.
PERMISSION_CHECK_PATH = "lms_core.hijack.can_hijack"
_HIJACK_MIDDLEWARE = "hijack.middleware.HijackUserMiddleware"


def can_hijack(*, hijacker, hijacked) -> bool:
    """Whether ``hijacker`` may impersonate ``hijacked`` (django-hijack's ``HIJACK_PERMISSION_CHECK``).

    * Only an active staff member with the ``lms_core.hijack_user`` permission, or an active superuser, may
      impersonate anyone. ``is_staff`` alone is not enough: impersonation sees a learner's private work, so it
      is granted deliberately, per person or group.
    * Only a superuser may impersonate a superuser or another staff member, so impersonation never gains
      anyone a permission they lack (a staff member who became a superuser's session would be one).
    * Nobody impersonates themselves or an inactive user.
    * A session that is already impersonating someone cannot start another impersonation: the audit log's
      "who" must be the real person at the keyboard, not the account they are borrowing.

    The same function decides whether the admin shows an "impersonate" button, so staff never see a button
    that would answer 403.
    """
    if hijacker is None or hijacked is None:
        return False
    if not getattr(hijacker, "is_authenticated", False) or not hijacker.is_active:
        return False
    if getattr(hijacker, "is_hijacked", False):
        return False
    if hijacked.pk == hijacker.pk or not hijacked.is_active:
        return False
    if hijacker.is_superuser:
        return True
    if not hijacker.is_staff or not hijacker.has_perm(HIJACK_PERMISSION):
        return False
    return not (hijacked.is_staff or hijacked.is_superuser)


def client_ip(request) -> str | None:
    """The client's IP address for the audit log: ``REMOTE_ADDR``, or a trusted proxy's header.

    With ``LMS_CORE["CLIENT_IP_HEADER"]`` set (e.g. ``"HTTP_X_FORWARDED_FOR"``), the *rightmost* address in
    that header is used: it is the one your own proxy appended; addresses to its left came from the client
    and can be forged. A missing or malformed header falls back to ``REMOTE_ADDR`` (the request did not come
    through the proxy). Anything that is not an IP address is recorded as unknown (``None``), never stored.
    """
    candidates = []
    header = app_settings.CLIENT_IP_HEADER
    if header:
        parts = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
        if parts:
            candidates.append(parts[-1])
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _page(request) -> str:
    """The page the impersonation opened on (start) or was ended from (end): hijack's ``next`` field.

    Only a local path is recorded (``next`` is user input); otherwise the request's own path.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = request.path
    return target[: HijackEvent._meta.get_field("path").max_length]


def _record(action: str, request, hijacker, hijacked) -> HijackEvent:
    event = HijackEvent.objects.create(
        action=action,
        hijacker_id=hijacker.pk,
        hijacked_id=hijacked.pk,
        ip_address=client_ip(request),
        path=_page(request),
    )
    logger.info(
        "impersonation %s: %s (pk %s) as %s (pk %s) from %s",
        action,
        hijacker.get_username(),
        hijacker.pk,
        hijacked.get_username(),
        hijacked.pk,
        event.ip_address or "an unknown address",
    )
    return event


def record_hijack_started(sender, *, request, hijacker, hijacked, **kwargs) -> None:
    """Receiver of ``hijack.signals.hijack_started``: log who started impersonating whom, from where."""
    _record(HijackEvent.Action.STARTED, request, hijacker, hijacked)


def record_hijack_ended(sender, *, request, hijacker, hijacked, **kwargs) -> None:
    """Receiver of ``hijack.signals.hijack_ended``: log the end of an impersonation."""
    _record(HijackEvent.Action.ENDED, request, hijacker, hijacked)


def record_logout_while_hijacked(sender, *, request, user, **kwargs) -> None:
    """Receiver of Django's ``user_logged_out``: signing out while impersonating ends the impersonation.

    django-hijack only reports an end through its release view; a staff member who signs out from the
    borrowed account (the site's "Log out" link) ends it too, and the session with its ``hijack_history`` is
    flushed right after this signal. Without this, the log would show a start with no end.
    """
    if request is None or user is None or not getattr(request, "session", None):
        return
    history = request.session.get("hijack_history") or []
    if not history:
        return
    user_model = get_user_model()
    try:
        hijacker = user_model._default_manager.get(pk=user_model._meta.pk.to_python(history[-1]))
    except (user_model.DoesNotExist, ValidationError):
        logger.warning("impersonation of pk %s ended by logout; the impersonator is unknown", user.pk)
        return
    _record(HijackEvent.Action.ENDED, request, hijacker, user)


@checks.register(checks.Tags.security)
def hijack_settings_check(app_configs=None, **kwargs):
    """``lms_core.W102``/``W103``: django-hijack installed without our permission check or its banner."""
    if not apps.is_installed("hijack"):
        return []
    found = []
    current = getattr(settings, "HIJACK_PERMISSION_CHECK", "hijack.permissions.superusers_only")
    if current != PERMISSION_CHECK_PATH:
        found.append(
            checks.Warning(
                f"HIJACK_PERMISSION_CHECK is {current!r}, so the {HIJACK_PERMISSION!r} permission does not "
                "decide who may impersonate users.",
                hint=f"Set HIJACK_PERMISSION_CHECK = {PERMISSION_CHECK_PATH!r}, or silence this warning if "
                "your own check wraps it.",
                id="lms_core.W102",
            )
        )
    if _HIJACK_MIDDLEWARE not in settings.MIDDLEWARE:
        found.append(
            checks.Warning(
                "django-hijack is installed but its middleware is not, so an impersonating staff member sees "
                "no banner and no button to stop.",
                hint=f"Add {_HIJACK_MIDDLEWARE!r} to MIDDLEWARE after AuthenticationMiddleware.",
                id="lms_core.W103",
            )
        )
    return found
