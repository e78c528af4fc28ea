"""Signals of lms_cms_blocks (facts other apps may act on; the example project turns them into progress)."""

from django.dispatch import Signal

__all__ = ["exercise_passed"]

#: A learner passed a Jupyter block's exercise check for the first time.
#: Sent once per learner and block, after the transaction that recorded it commits, with
#: ``sender`` (the :class:`~lms_cms_blocks.models.CellState` class), ``user``, ``page`` (the Wagtail page, specific)
#: and ``block_id`` (the StreamField block's id).
exercise_passed = Signal()
