"""Identicon avatars (pydenticon): a distinct default picture for every user without a photo.

:func:`identicon_png` draws one; :func:`avatar_url` is the URL other code (the REST API, templates) should hand
out for a user's avatar, so that every page and API response points at the same cacheable image: the user's
uploaded picture where the project has one (``LMS_CORE["PICTURE_URL"]``), their identicon otherwise.
"""

import hashlib

import pydenticon
from django.urls import reverse

from .conf import app_settings

__all__ = ["avatar_url", "identicon_png"]


def identicon_png(key: str, size: int | None = None) -> bytes:
    """A PNG identicon for ``key`` (for a user: a stable, non-secret identifier), ``size`` pixels square."""
    size = size or app_settings.AVATAR_SIZE
    generator = pydenticon.Generator(
        5,
        5,
        digest=hashlib.sha1,
        foreground=list(app_settings.AVATAR_FOREGROUND),
        background=app_settings.AVATAR_BACKGROUND,
    )
    padding = size // 10
    inner = size - 2 * padding
    return generator.generate(
        key, inner, inner, padding=(padding, padding, padding, padding), output_format="png"
    )


def avatar_url(user, size: int | None = None, request=None) -> str:
    """The URL of ``user``'s avatar (a user object or a primary key), ``size`` pixels square.

    Without ``size`` the URL carries no ``?size=`` and the view serves ``AVATAR_SIZE``; with one, it must be in
    ``AVATAR_SIZES`` (a :class:`ValueError` otherwise: a wrong size here is a programming error, and handing
    out a URL that answers 400 would only hide it). With ``request`` the URL is absolute, as REST clients on
    another origin need. The URL is stable: the same user and size always give the same URL, so browsers
    and the view's ETag keep the image cached.

    Where users upload pictures, ``LMS_CORE["PICTURE_URL"]`` names a function ``(user, size) -> URL or None``
    (``size`` may be ``None``: the default size); the URL it returns for a user object is used instead of the
    identicon's. It is called for every user a list shows, so it should read what the user object already
    carries (a field, or a profile selected with the user) rather than query the database.
    """
    pk = getattr(user, "pk", user)
    if pk is None:
        raise ValueError("An unsaved user has no avatar URL.")
    if size is not None and (isinstance(size, bool) or size not in app_settings.AVATAR_SIZES):
        raise ValueError(f"Avatar size {size!r} is not one of LMS_CORE['AVATAR_SIZES'].")
    picture = app_settings.PICTURE_URL
    url = picture(user, size) if picture is not None and pk is not user else None
    if not url:
        url = reverse("lms_core:avatar", kwargs={"pk": pk})
        if size is not None:
            url = f"{url}?size={size}"
    return request.build_absolute_uri(url) if request is not None else url
