"""A DRF parser for the apps' REST APIs: JSON within the bounds of :mod:`lms_common.jsoninput`.

DRF's own :class:`~rest_framework.parsers.JSONParser` lets a :class:`RecursionError` through (a 500 for
``[[[[...``), and hands on lone surrogates and numbers out of range that fail later, in the database or the
renderer. This one answers each with a ``400`` and a message that says what is wrong and where.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .jsoninput import JSONInputError, loads

__all__ = ["StrictJSONParser"]


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return loads(stream.read() if stream is not None else b"")
        except JSONInputError as exc:
            if exc.syntax_error is not None:  # not JSON at all: DRF's own answer
                raise ParseError(f"JSON parse error - {exc.syntax_error}") from None
            raise ParseError(str(exc)) from None
