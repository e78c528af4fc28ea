"""lms_kernels' exception tree, and the one table that maps it to REST errors and WebSocket close codes.

Each error carries an HTTP status, a WebSocket close code (4000-4999) and a short code, like DRF's
``APIException``, so the REST views and the WebSocket consumer report it the same way: a JSON body
``{"message": ..., "reason": code}`` (Jupyter Server's error shape) or a close frame with the code and the
message as its reason. A user always gets a clear message, never a bare 500 or a silent close.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AlreadyQueued",
    "BackendUnavailable",
    "BadRequest",
    "CapacityExhausted",
    "InvalidBackendError",
    "InvalidMessage",
    "KernelCulled",
    "KernelDied",
    "KernelGone",
    "KernelNotFound",
    "KernelNotResponding",
    "KernelRestartLimitReached",
    "KernelServiceError",
    "KernelStartFailed",
    "MessageTooLarge",
    "NoGpuAvailable",
    "NoSuchKernelSpec",
    "NotAuthenticated",
    "PermissionDenied",
    "QueueTimeout",
    "QuotaExceeded",
    "SessionConflict",
    "SessionNotFound",
    "TooManyInvalidMessages",
]


class InvalidBackendError(ImproperlyConfigured):
    """A backend alias that ``LMS_KERNELS["BACKENDS"]`` does not define, or a backend that cannot be loaded.

    A configuration error (like Django's ``InvalidCacheBackendError``), so it is not a
    :class:`KernelServiceError`; the views report it to users as :class:`BackendUnavailable`.
    """


class KernelServiceError(Exception):
    """Base class: something a client asked for could not be done. Subclasses set the three codes."""

    status_code = 400
    close_code = 4400
    default_code = "kernel_service_error"
    default_detail = _("The request could not be carried out.")

    def __init__(self, detail=None, code: str | None = None):
        self.detail = str(detail if detail is not None else self.default_detail)
        self.code = code or self.default_code
        super().__init__(self.detail)

    def as_json(self) -> dict:
        return {"message": self.detail, "reason": self.code}


class BadRequest(KernelServiceError):
    default_code = "bad_request"
    default_detail = _("The request is not valid.")


class NotAuthenticated(KernelServiceError):
    status_code = 403  # what Jupyter Server answers; clients treat it as "log in"
    close_code = 4401
    default_code = "not_authenticated"
    default_detail = _("Log in, or send an API token, to use the kernel service.")


class PermissionDenied(KernelServiceError):
    status_code = 403
    close_code = 4403
    default_code = "permission_denied"
    default_detail = _("You may not do this.")


class KernelNotFound(KernelServiceError):
    status_code = 404
    close_code = 4404
    default_code = "kernel_not_found"
    default_detail = _("No such kernel.")


class SessionNotFound(KernelServiceError):
    status_code = 404
    close_code = 4404
    default_code = "session_not_found"
    default_detail = _("No such session.")


class NoSuchKernelSpec(KernelServiceError):
    status_code = 404
    close_code = 4404
    default_code = "no_such_kernelspec"
    default_detail = _("No such kernel environment.")


class SessionConflict(KernelServiceError):
    status_code = 409
    close_code = 4409
    default_code = "session_conflict"
    default_detail = _("You already have a session at this path.")


class QuotaExceeded(KernelServiceError):
    status_code = 403
    close_code = 4403
    default_code = "kernel_quota_exceeded"
    default_detail = _("You have too many running kernels. Shut one down and try again.")


class AlreadyQueued(KernelServiceError):
    """The user already waits in the queue for a kernel: one place per user."""

    status_code = 409
    close_code = 4409
    default_code = "already_queued"
    default_detail = _(
        "You are already waiting in the queue for a kernel. Wait for it to start, or shut it down to ask "
        "for another one."
    )


class CapacityExhausted(KernelServiceError):
    """No room for another kernel on its backend, and the queue is off (``QUEUE_TIMEOUT = 0``)."""

    status_code = 503
    close_code = 4503
    default_code = "capacity_exhausted"
    default_detail = _("There is no room for another kernel right now. Try again in a few minutes.")


class NoGpuAvailable(CapacityExhausted):
    default_code = "no_gpu_available"
    default_detail = _("No GPU is free right now. Try again in a few minutes.")


class QueueTimeout(CapacityExhausted):
    """A kernel waited in the queue for ``QUEUE_TIMEOUT`` seconds without capacity becoming free."""

    default_code = "queue_timeout"
    default_detail = _("No room for your kernel became free in time; try again later.")


class KernelGone(KernelServiceError):
    status_code = 410
    close_code = 4410
    default_code = "kernel_gone"
    default_detail = _("The kernel was shut down.")


class KernelCulled(KernelGone):
    """The kernel was shut down by the culler (idle too long, or past its maximum age)."""

    default_code = "kernel_culled"
    default_detail = _("The kernel was shut down because it was idle for too long.")


class KernelDied(KernelServiceError):
    """The kernel's process ended by itself and was not restarted (``AUTO_RESTART`` is off, or it failed)."""

    status_code = 503
    close_code = 4500
    default_code = "kernel_died"
    default_detail = _("The kernel died. Restart it to go on.")


class KernelRestartLimitReached(KernelDied):
    """The kernel died on start after each of ``RESTART_LIMIT`` automatic restarts in a row, so it is left
    dead until someone restarts it (jupyter_client's ``KernelRestarter`` rule)."""

    default_code = "restart_limit_reached"
    default_detail = _(
        "The kernel was restarted several times in a row and died each time on start. Restart it once the "
        "cause is fixed."
    )


class MessageTooLarge(KernelServiceError):
    status_code = 413
    close_code = 4413
    default_code = "message_too_large"
    default_detail = _("The message is too large.")


class InvalidMessage(KernelServiceError):
    """A WebSocket frame that is not a valid Jupyter message. Answered with an error, the socket stays open."""

    default_code = "invalid_message"
    default_detail = _("The message is not a valid Jupyter message.")


class TooManyInvalidMessages(KernelServiceError):
    close_code = 4400
    default_code = "too_many_invalid_messages"
    default_detail = _("Too many invalid messages; the connection was closed.")


class KernelStartFailed(KernelServiceError):
    status_code = 503
    close_code = 4500
    default_code = "kernel_start_failed"
    default_detail = _("The kernel could not be started. Try again later.")


class BackendUnavailable(KernelServiceError):
    status_code = 503
    close_code = 4503
    default_code = "backend_unavailable"
    default_detail = _("This kernel environment is not available right now.")


class KernelNotResponding(KernelServiceError):
    status_code = 504
    close_code = 4504
    default_code = "kernel_not_responding"
    default_detail = _("The kernel did not respond in time.")
