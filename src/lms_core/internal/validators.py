"""Validators for ``LMS_CORE`` values: each returns an error message or ``None``."""

import re

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def int_between(low, high):
    def validate(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be an integer from {low} to {high}, not {value!r}."
        return None

    return validate


def css_colour(value):
    if not isinstance(value, str) or not _HEX_COLOUR.match(value):
        return f"must be a hex colour such as '#1b7c83', not {value!r}."
    return None


def colour_list(value):
    if not isinstance(value, list | tuple) or not value:
        return f"must be a non-empty list of hex colours, not {value!r}."
    for item in value:
        message = css_colour(item)
        if message:
            return message
    return None
