"""Notebook import errors: each has a message meant for the editor."""

from django.utils.translation import gettext_lazy as _

__all__ = ["NotebookError", "NotebookImageError", "NotebookInvalid", "NotebookTooLarge", "UnknownKernelspec"]


class NotebookError(Exception):
    """A notebook cannot be imported; ``str(exc)`` says why, for the editor."""

    default_detail = _("The notebook cannot be imported.")
    code = "notebook_error"

    def __init__(self, detail=None):
        self.detail = detail or self.default_detail
        super().__init__(str(self.detail))


class NotebookTooLarge(NotebookError):
    code = "too_large"


class NotebookInvalid(NotebookError):
    code = "invalid"


class NotebookImageError(NotebookError):
    """An image in the notebook cannot be taken: ``cell`` (1-based) and ``output`` (1-based) or ``attachment``
    (its name) say which, where known."""

    code = "bad_image"

    def __init__(self, detail=None, *, cell=None, output=None, attachment=None):
        super().__init__(detail)
        self.cell, self.output, self.attachment = cell, output, attachment


class UnknownKernelspec(NotebookError):
    code = "unknown_kernelspec"
