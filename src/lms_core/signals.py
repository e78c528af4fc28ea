"""Facts lms_core announces. Receivers are connected in ``AppConfig.ready()`` of the app that listens.

``content_completed(sender=Progress, progress, enrollment, user, content)``
    A learner completed a content (sent once, on the transition to completed).
``enrollment_delayed(sender=Enrollment, enrollment_ids, at)``
    These enrollments just turned ``delayed`` (a required content is overdue).
``enrollment_caught_up(sender=Enrollment, enrollment_ids, at)``
    These enrollments were ``delayed`` and are ``active`` again.
``enrollment_completed(sender=Enrollment, enrollment_ids, at)``
    These enrollments just completed every required content.

The enrollment signals are set-based: one signal per sweep with the ids that changed, never one per row.
"""

from django.dispatch import Signal

content_completed = Signal()
enrollment_delayed = Signal()
enrollment_caught_up = Signal()
enrollment_completed = Signal()

__all__ = ["content_completed", "enrollment_caught_up", "enrollment_completed", "enrollment_delayed"]
