"""API tokens for Jupyter clients that cannot use the Django session (``Authorization: token <t>``).

Only a SHA-256 hash of each token is stored: a token is 32 random bytes, so a plain hash is enough (no
salt or slow hash is needed against guessing), and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["KernelApiToken"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KernelApiTokenManager(models.Manager):
    def issue(self, user) -> tuple[KernelApiToken, str]:
        """Create or replace ``user``'s token; returns the row and the token (shown once, never stored)."""
        token = secrets.token_urlsafe(32)
        row, _created = self.update_or_create(
            user=user,
            defaults={"key_hash": hash_token(token), "prefix": token[:6], "created": timezone.now()},
        )
        return row, token


class KernelApiToken(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_kernels_token",
        verbose_name=_("user"),
    )
    key_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("token prefix"), max_length=8, editable=False, help_text=_("The first characters, to recognise it.")
    )
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = KernelApiTokenManager()

    class Meta:
        verbose_name = _("kernel API token")
        verbose_name_plural = _("kernel API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
