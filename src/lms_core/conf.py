"""``settings.LMS_CORE``, read through :data:`app_settings`.

======================== ========================= ================================================
key                      default                   meaning
======================== ========================= ================================================
``AVATAR_SIZE``          ``120``                   width and height in pixels of identicon avatars
``AVATAR_SIZES``         ``[32, 64, 120, 256]``    the sizes ``?size=`` may ask for (incl. AVATAR_SIZE)
``AVATAR_FOREGROUND``    six colours               colours an identicon's cells are drawn in
``AVATAR_BACKGROUND``    ``"#f0f0f0"``             the identicon's background colour
``CLIENT_IP_HEADER``     ``None``                  ``request.META`` key with the client address set by
                                                   a trusted reverse proxy (audit log); None: REMOTE_ADDR
``PICTURE_URL``          ``None``                  dotted path to ``f(user, size) -> str | None``: the
                                                   URL of a user's uploaded picture, or None for the
                                                   identicon (see :func:`lms_core.avatars.avatar_url`)
======================== ========================= ================================================

``DEADLINE_SWEEP_INTERVAL`` (default ``300``): seconds between two runs of the repeating deadline sweep,
``lms_core.tasks.sweep_deadlines`` (10 to 86400), queued after every ``migrate``; ``None``: queue no repeating
sweep (run ``manage.py lms_core_sweep_deadlines`` from cron instead).
"""

import re
from collections.abc import Mapping

from django.conf import settings

from lms_common.settings import AppSettings, SettingProblem

from .internal.validators import colour_list, css_colour, int_between

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS = {
    "AVATAR_SIZE": 120,
    "AVATAR_SIZES": [32, 64, 120, 256],
    "AVATAR_FOREGROUND": [
        "#1b7c83",
        "#d1495b",
        "#edae49",
        "#3d5a80",
        "#6a994e",
        "#8e7dbe",
    ],
    "AVATAR_BACKGROUND": "#f0f0f0",
    "CLIENT_IP_HEADER": None,
    # Dotted path to f(user, size) -> URL of the user's uploaded picture, or None to use the identicon.
    "PICTURE_URL": None,
    # Seconds between two runs of the repeating task lms_core.tasks.sweep_deadlines.
    "DEADLINE_SWEEP_INTERVAL": 300,
}


def _sizes(value):
    """A non-empty list of distinct pixel sizes, each valid on its own."""
    if not isinstance(value, list | tuple) or not value:
        return f"must be a non-empty list of sizes in pixels, not {value!r}."
    for size in value:
        message = int_between(16, 1024)(size)
        if message:
            return f"each size {message}"
    if len(set(value)) != len(value):
        return f"lists a size twice: {value!r}."
    return None


def _callable_or_none(value):
    if value is None or callable(value):
        return None
    return f"must be the dotted path of a function (user, size) -> URL or None, not {value!r}."


def _interval(value):
    if value is None:
        return None
    message = int_between(10, 86400)(value)
    return message and f"{message[:-1]} (or None: no repeating sweep)."


_META_KEY = re.compile(r"^(HTTP_[A-Z0-9_]+|REMOTE_ADDR)$")


def _meta_key(value):
    if value is None or (isinstance(value, str) and _META_KEY.match(value)):
        return None
    return f"must be None or a request.META key such as 'HTTP_X_REAL_IP', not {value!r}."


class _CoreSettings(AppSettings):
    """``LMS_CORE`` with the one check that involves two keys: ``AVATAR_SIZE`` must be an allowed size.

    Reported as ``lms_core.E004`` like any other invalid value, and only when both keys are valid on their
    own (a size of 4 is already reported once; saying it again would only add noise).
    """

    def problems(self) -> list[SettingProblem]:
        found = super().problems()
        raw = getattr(settings, self.setting_name, None)
        if not isinstance(raw, Mapping) or any(p.key in {"AVATAR_SIZE", "AVATAR_SIZES"} for p in found):
            return found
        size = raw.get("AVATAR_SIZE", self.defaults["AVATAR_SIZE"])
        sizes = raw.get("AVATAR_SIZES", self.defaults["AVATAR_SIZES"])
        if size not in sizes:
            found.append(
                SettingProblem(
                    "invalid",
                    "AVATAR_SIZE",
                    f"{self.setting_name}['AVATAR_SIZE']: {size!r} must be one of "
                    f"AVATAR_SIZES {list(sizes)!r}.",
                    hint="Add it to AVATAR_SIZES, or pick one of them.",
                )
            )
        return found


app_settings = _CoreSettings(
    "LMS_CORE",
    DEFAULTS,
    import_strings={"PICTURE_URL"},
    validators={
        "AVATAR_SIZE": int_between(16, 1024),
        "AVATAR_SIZES": _sizes,
        "AVATAR_FOREGROUND": colour_list,
        "AVATAR_BACKGROUND": css_colour,
        "CLIENT_IP_HEADER": _meta_key,
        "PICTURE_URL": _callable_or_none,
        "DEADLINE_SWEEP_INTERVAL": _interval,
    },
)
