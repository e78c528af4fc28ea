"""Sphinx configuration of the Groundup LMS documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (warnings are errors).
Django is deliberately not imported here: the pages are written by hand until API reference
pages are generated.
"""

import tomllib
from pathlib import Path

_pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))

project = "Groundup LMS"
author = "Groundup LMS contributors"
copyright = "Groundup LMS contributors"
release = _pyproject["project"]["version"]
version = release

extensions = ["myst_parser"]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"

myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "furo"
html_title = "Groundup LMS"
