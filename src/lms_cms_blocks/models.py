"""What a learner did with a page's Jupyter blocks: their edited code, their last outputs, their pass."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["CellState"]


class CellState(models.Model):
    """One learner's state of one Jupyter block of one page.

    ``source`` is ``None`` while the learner has not changed the block's code (or reset it), ``outputs`` is
    ``None`` while they have not run it (the block's precomputed outputs are shown then). A pass of the block's
    exercise check is kept in ``passed_at`` even when the learner resets the block.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_cell_states",
        verbose_name=_("user"),
    )
    page = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("page")
    )
    block_id = models.CharField(_("block id"), max_length=64)
    # None (not edited) differs from "" (the learner deleted all the code).
    source = models.TextField(_("code"), null=True, blank=True)  # noqa: DJ001
    outputs = models.JSONField(_("outputs"), null=True, blank=True)
    execution_count = models.PositiveIntegerField(_("execution count"), null=True, blank=True)
    passed_at = models.DateTimeField(_("passed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("learner's cell")
        verbose_name_plural = _("learners' cells")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "page", "block_id"], name="lms_cms_blocks_cellstate_unique"
            )
        ]
        indexes = [models.Index(fields=["page", "block_id"], name="lms_cms_blocks_cell_block")]

    def __str__(self) -> str:
        return f"{self.user} · {self.page_id} · {self.block_id}"

    @property
    def passed(self) -> bool:
        return self.passed_at is not None
