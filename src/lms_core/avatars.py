"""Identicon avatars (pydenticon): a distinct default picture for every user without a photo."""

import hashlib

import pydenticon

from .conf import app_settings

__all__ = ["identicon_png"]


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
