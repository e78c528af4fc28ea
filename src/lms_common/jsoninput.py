"""Reading JSON that a user sent: the bounds every app's API puts on request bodies.

Python's :func:`json.loads` accepts more than a database or a JSON renderer can take back: nesting as deep as
the interpreter's stack (deeper raises :class:`RecursionError`), lone UTF-16 surrogates written as ``"\\udfff"``
escapes (no UTF-8 encoder takes them), ``NaN`` and ``Infinity``, and numbers such as ``1e309`` that become
``inf``. :func:`loads` refuses each with a :class:`JSONInputError` whose message says what and where (``at
outputs[0].text``), for the API to answer with a ``400``. :func:`check_text` is the same check for a value that
came some other way (a query parameter, a form field).
"""

from __future__ import annotations

import json
import math

from .translation import gettext as _

__all__ = ["MAX_DEPTH", "JSONInputError", "check_text", "check_value", "loads"]

#: The deepest nesting of arrays and objects accepted. Jupyter notebooks and outputs nest a handful of levels.
MAX_DEPTH = 64


class JSONInputError(ValueError):
    """The body is not JSON the API accepts; ``str(error)`` is the message for the user. ``syntax_error`` is
    the parser's own message when the body is not JSON at all (for APIs that keep their usual wording)."""

    syntax_error: str | None = None


def _refuse_constant(name: str):
    raise JSONInputError(_("%(value)s is not a number JSON allows.") % {"value": name})


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONInputError(_("The number %(value)s is out of range.") % {"value": text[:40]})
    return value


def _where(path: list) -> str:
    where = ""
    for step in path:
        if not isinstance(step, int):
            step = step[:40].encode("utf-8", "replace").decode()  # readable, and printable even if bad
        where += f"[{step}]" if isinstance(step, int) else (f".{step}" if where else step)
    return where


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return _("a lone surrogate (U+%(code)04X, not a Unicode character)") % {"code": ord(text[exc.start])}
    return None


def check_text(text: str, *, nul: bool = True) -> str | None:
    """The problem with ``text`` as a user's text (a lone surrogate; a NUL character unless ``nul=False``),
    or ``None``. Databases store neither: PostgreSQL refuses NUL in text, no UTF-8 encoder takes a surrogate."""
    problem = _text_problem(text)
    if problem is None and nul and "\x00" in text:
        problem = _("a NUL character (U+0000)")
    return problem


def check_value(data, *, max_depth: int = MAX_DEPTH) -> None:
    """:class:`JSONInputError` if ``data`` (parsed JSON) nests deeper than ``max_depth`` or holds a string (a
    value or a key) with a lone surrogate. Iterative: a deep value cannot exhaust the stack here."""
    stack = [(data, [], 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem is not None:
                raise JSONInputError(_at(problem, path))
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise JSONInputError(
                    _("The JSON nests too deeply: at most %(limit)d levels of arrays and objects.")
                    % {"limit": max_depth}
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = _text_problem(key)
                    if problem is not None:
                        raise JSONInputError(_at(problem, [*path, key]))
                    stack.append((item, [*path, key], depth + 1))
            else:
                stack.extend((item, [*path, index], depth + 1) for index, item in enumerate(value))


def _at(problem: str, path: list) -> str:
    if not path:
        return _("The JSON holds %(problem)s.") % {"problem": problem}
    return _("The JSON holds %(problem)s at %(where)s.") % {"problem": problem, "where": _where(path)}


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH):
    """Parse a request body: :func:`json.loads` without ``NaN``, ``Infinity`` or numbers out of a float's
    range, within ``max_depth`` levels, with no lone surrogates. Any problem is a :class:`JSONInputError`."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_float)
    except JSONInputError:
        raise
    except RecursionError:
        raise JSONInputError(
            _("The JSON nests too deeply: at most %(limit)d levels of arrays and objects.")
            % {"limit": max_depth}
        ) from None
    except UnicodeDecodeError:
        raise JSONInputError(_("The body is not UTF-8 text.")) from None
    except ValueError as exc:
        error = JSONInputError(_("The body is not valid JSON: %(error)s") % {"error": exc})
        error.syntax_error = str(exc)
        raise error from None
    check_value(value, max_depth=max_depth)
    return value
