"""CSV for the cohort-learners list (``?format=csv`` or ``Accept: text/csv``), streamed row by row.

The view does not hand a CSV list to this renderer: it answers ``?format=csv`` with a
:class:`~django.http.StreamingHttpResponse` of :func:`stream_csv` (every filtered row, unpaginated, read with
``QuerySet.iterator()`` so memory stays flat for any cohort size). The renderer exists so content negotiation,
the browsable API's format menu and the OpenAPI schema know the format.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator

from rest_framework.renderers import BaseRenderer

__all__ = ["CSVRenderer", "safe_cell", "stream_csv"]

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): a learner could name
# themselves "=HYPERLINK(…)". Such cells get a leading apostrophe, as OWASP recommends.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Line:
    """A file-like object whose ``write`` returns the line instead of storing it (Django's streaming CSV recipe)."""

    def write(self, value):
        return value


def stream_csv(header: list[str], rows: Iterable, to_cells: Callable[[object], list]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(header)  # the BOM makes spreadsheet programs read UTF-8 (Hangul names)
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in to_cells(row)])


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        """Render a flat dict or a list of flat dicts (the streaming path bypasses this)."""
        if data is None:
            return b""
        rows = data.get("results", [data]) if isinstance(data, dict) else list(data)
        header = list(rows[0]) if rows else []
        lines = stream_csv(header, rows, lambda row: [row.get(key, "") for key in header])
        return "".join(lines).encode(self.charset)
