"""A path converter for database ids: ``<lms_id:pk>``, Django's ``<int:pk>`` bounded to what a database holds.

Django answers a lookup on an integer field with a number past its range as "no such row", but not a lookup
through a relation (a foreign key, or the parent link that is the primary key of a multi-table child model):
there SQLite raises :class:`OverflowError` and PostgreSQL a ``DataError``, a 500 for
``/surveys/99999999999999999999/``. Ids past a signed 64-bit integer (a ``BigAutoField``'s range) match no
URL here, so they are a 404 like any other id that names nothing, before a view looks them up.
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import IntConverter, get_converters

__all__ = ["MAX_ID", "IdConverter", "register"]

#: The largest id a database's 64-bit integer column holds.
MAX_ID = 2**63 - 1


class IdConverter(IntConverter):
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)  # the resolver's "no match": a 404
        return number


def register() -> None:
    """Register ``lms_id`` once (a ``urls.py`` calls it before its ``path()`` list)."""
    if "lms_id" not in get_converters():
        register_converter(IdConverter, "lms_id")
