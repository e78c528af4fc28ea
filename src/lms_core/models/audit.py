"""Impersonation (django-hijack) audit log: every start and end, who, whom, when, from where."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HijackEvent(models.Model):
    class Action(models.TextChoices):
        STARTED = "started", _("Started")
        ENDED = "ended", _("Ended")

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    hijacker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff member")
    )
    hijacked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("impersonated user"),
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    path = models.CharField(_("page"), max_length=500, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("impersonation event")
        verbose_name_plural = _("impersonation events")
        permissions = [("hijack_user", _("Can impersonate learners (hijack)"))]

    def __str__(self):
        return f"{self.hijacker} {self.get_action_display().lower()} impersonating {self.hijacked}"
