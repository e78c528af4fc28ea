"""lms_core's HTML-side views: for now, the avatar image (the REST API lives in :mod:`lms_core.api`)."""

import hashlib

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import condition, require_safe

from .avatars import identicon_png
from .conf import app_settings

__all__ = ["avatar"]

#: How long a browser may reuse an avatar without asking again (a look change reaches everyone within this).
AVATAR_MAX_AGE = 86400


def _requested_size(request) -> int | None:
    """The ``?size=`` asked for (``AVATAR_SIZE`` without one), or ``None`` when it is not an allowed size."""
    raw = request.GET.get("size")
    if raw is None:
        return app_settings.AVATAR_SIZE
    # isdigit() alone accepts "²" and other Unicode digits; the length cap keeps int() cheap.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        return None
    size = int(raw)
    return size if size in app_settings.AVATAR_SIZES else None


def _avatar_etag(request, key):
    """Same key, size and look → same ETag; an invalid size gets none, so the view answers 400, not 304."""
    size = _requested_size(request)
    if size is None:
        return None
    look = repr((size, app_settings.AVATAR_FOREGROUND, app_settings.AVATAR_BACKGROUND))
    return f"{key}-{size}-{hashlib.sha1(look.encode(), usedforsecurity=False).hexdigest()[:12]}"


@require_safe
@login_required
@condition(etag_func=_avatar_etag)
def avatar(request, key):
    """The identicon named ``key`` as a PNG (any signed-in user may see anyone's avatar, as on a forum).

    ``key`` is a user's :func:`~lms_core.avatars.avatar_key`; the picture is drawn from it without reading the
    user, so a key that belongs to nobody gets a picture as well and the view tells nothing about who exists.

    ``?size=N`` picks one of ``LMS_CORE["AVATAR_SIZES"]``; any other value is a 400 with a message rather
    than an image of an arbitrary size, so the set of images (and of cache entries) stays small.
    """
    size = _requested_size(request)
    if size is None:
        allowed = ", ".join(str(s) for s in app_settings.AVATAR_SIZES)
        return HttpResponseBadRequest(
            _("The avatar size must be one of %(allowed)s (pixels).") % {"allowed": allowed},
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(identicon_png(key, size=size), content_type="image/png")
    patch_cache_control(response, private=True, max_age=AVATAR_MAX_AGE)
    return response
