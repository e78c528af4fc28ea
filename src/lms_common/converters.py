"""Path converters for what a URL may name: ``<lms_id:pk>``, ``<lms_str:key>`` and ``<lms_path:key>``.

``lms_id`` is Django's ``<int:pk>`` bounded to what a database holds.

Django answers a lookup on an integer field with a number past its range as "no such row", but not a lookup
through a relation (a foreign key, or the parent link that is the primary key of a multi-table child model):
there SQLite raises :class:`OverflowError` and PostgreSQL a ``DataError``, a 500 for
``/surveys/99999999999999999999/``. Ids past a signed 64-bit integer (a ``BigAutoField``'s range) match no
URL here, so they are a 404 like any other id that names nothing, before a view looks them up.

``lms_str`` and ``lms_path`` are Django's ``str`` and ``path`` without the NUL character (``%00``), which
PostgreSQL refuses in a query (a 500) and which no key or block id holds: such a URL is a 404.
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import IntConverter, PathConverter, StringConverter, get_converters

__all__ = ["MAX_ID", "IdConverter", "PathWithoutNulConverter", "SegmentWithoutNulConverter", "register"]

#: The largest id a database's 64-bit integer column holds.
MAX_ID = 2**63 - 1


class IdConverter(IntConverter):
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)  # the resolver's "no match": a 404
        return number


class SegmentWithoutNulConverter(StringConverter):
    regex = "[^/\x00]+"


class PathWithoutNulConverter(PathConverter):
    regex = "[^\x00]+"


CONVERTERS = {
    "lms_id": IdConverter,
    "lms_str": SegmentWithoutNulConverter,
    "lms_path": PathWithoutNulConverter,
}


def register() -> None:
    """Register the converters once (a ``urls.py`` calls it before its ``path()`` list)."""
    registered = get_converters()
    for name, converter in CONVERTERS.items():
        if name not in registered:
            register_converter(converter, name)
