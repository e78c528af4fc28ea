"""Headless previews: a signed, expiring token names one revision of a page.

Wagtail's API serves only live pages. An editor who may edit a page gets a token for its latest revision (from
the admin's "Headless preview" link, or :func:`make_preview_token`); a front end then fetches
``GET <api>/pages/preview/?token=...`` and gets that revision in the same shape as the pages endpoint. Tokens are
signed with the project's ``SECRET_KEY`` and expire after ``LMS_CMS_BLOCKS["PREVIEW_TOKEN_MAX_AGE"]`` seconds.
"""

from __future__ import annotations

from django.core import signing

from .conf import app_settings

__all__ = ["InvalidPreviewToken", "make_preview_token", "read_preview_token"]

SALT = "lms_cms_blocks.preview"


class InvalidPreviewToken(Exception):
    """The token is malformed, forged or expired (the message says which)."""


def make_preview_token(revision) -> str:
    """A token for ``revision`` (a ``wagtail.models.Revision`` of a page)."""
    return signing.dumps({"revision": revision.pk, "page": int(revision.object_id)}, salt=SALT, compress=True)


def read_preview_token(token: str) -> dict:
    """``{"revision": id, "page": id}`` from a token, or :class:`InvalidPreviewToken`."""
    try:
        return signing.loads(token, salt=SALT, max_age=app_settings.PREVIEW_TOKEN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InvalidPreviewToken("The preview token has expired.") from exc
    except signing.BadSignature as exc:
        raise InvalidPreviewToken("The preview token is not valid.") from exc
