"""Notebooks (``.ipynb``) in and out of lesson pages.

* :func:`import_notebook` turns a notebook into a new lesson page (a draft revision, optionally published), in
  one transaction: markdown cells become markdown blocks, code cells Jupyter blocks, raw cells static code blocks
  (language ``text``); attachments and image outputs become Wagtail images; the kernelspec becomes each Jupyter
  block's environment. Everything wrong with the notebook raises :class:`NotebookError` before anything is saved.
* :func:`export_notebook` turns a lesson page back into a notebook (nbformat v4).
"""

from .errors import (
    NotebookError,
    NotebookImageError,
    NotebookInvalid,
    NotebookTooLarge,
    UnknownKernelspec,
)
from .exporter import export_notebook, export_notebook_bytes
from .importer import import_notebook, lesson_page_models, read_notebook

__all__ = [
    "NotebookError",
    "NotebookImageError",
    "NotebookInvalid",
    "NotebookTooLarge",
    "UnknownKernelspec",
    "export_notebook",
    "export_notebook_bytes",
    "import_notebook",
    "lesson_page_models",
    "read_notebook",
]
