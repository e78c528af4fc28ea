"""Identicon avatars (pydenticon): a distinct default picture for every user without a photo.

:func:`identicon_png` draws one; :func:`avatar_url` is the URL other code (the REST API, templates: the
``{% avatar_url %}`` tag of ``lms_avatars``) should hand out for a user's avatar, so that every page and API
response points at the same cacheable image: the user's uploaded picture where the project has one
(``LMS_CORE["PICTURE_URL"]``), their identicon otherwise.

An identicon's URL names the user by an opaque key (:func:`avatar_key`), never by their primary key: a URL
``/core/avatars/17.png`` would let any signed-in user count the accounts and walk through them. The key is an
HMAC of the primary key with the project's ``SECRET_KEY``, so only the server can compute it, and the picture
is drawn from the key itself: the avatar view reads no user, and a made-up key gets a picture too, which tells
nobody whether such a user exists. Rotating ``SECRET_KEY`` changes every identicon URL and picture.
"""

import hashlib

import pydenticon
from django.urls import reverse
from django.utils.crypto import salted_hmac

from .conf import app_settings

__all__ = ["AVATAR_KEY_LENGTH", "avatar_key", "avatar_url", "identicon_png"]

#: Hexadecimal digits of an avatar key (128 bits: not guessable, short enough for a URL).
AVATAR_KEY_LENGTH = 32
_KEY_SALT = "lms_core.avatars.avatar_key"


def avatar_key(user) -> str:
    """The opaque key that names ``user``'s identicon (a user object or a primary key) in URLs."""
    pk = getattr(user, "pk", user)
    if pk is None:
        raise ValueError("An unsaved user has no avatar URL.")
    return salted_hmac(_KEY_SALT, str(pk), algorithm="sha256").hexdigest()[:AVATAR_KEY_LENGTH]


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
    and the view's ETag keep the image cached. It names the user by :func:`avatar_key`, not by primary key.

    Where users upload pictures, ``LMS_CORE["PICTURE_URL"]`` names a function ``(user, size) -> URL or None``
    (``size`` may be ``None``: the default size); the URL it returns for a user object is used instead of the
    identicon's. It is called for every user a list shows, so it should read what the user object already
    carries (a field, or a profile selected with the user) rather than query the database.
    """
    pk = getattr(user, "pk", user)
    key = avatar_key(pk)
    if size is not None and (isinstance(size, bool) or size not in app_settings.AVATAR_SIZES):
        raise ValueError(f"Avatar size {size!r} is not one of LMS_CORE['AVATAR_SIZES'].")
    picture = app_settings.PICTURE_URL
    url = picture(user, size) if picture is not None and pk is not user else None
    if not url:
        url = reverse("lms_core:avatar", kwargs={"key": key})
        if size is not None:
            url = f"{url}?size={size}"
    return request.build_absolute_uri(url) if request is not None else url
