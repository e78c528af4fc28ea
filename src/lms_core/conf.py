"""``settings.LMS_CORE``, read through :data:`app_settings`.

======================== ========================= ================================================
key                      default                   meaning
======================== ========================= ================================================
``AVATAR_SIZE``          ``120``                   width and height in pixels of identicon avatars
``AVATAR_FOREGROUND``    six colours               colours an identicon's cells are drawn in
``AVATAR_BACKGROUND``    ``"#f0f0f0"``             the identicon's background colour
======================== ========================= ================================================
"""

from lms_common.settings import AppSettings

from .internal.validators import colour_list, css_colour, int_between

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS = {
    "AVATAR_SIZE": 120,
    "AVATAR_FOREGROUND": [
        "#1b7c83",
        "#d1495b",
        "#edae49",
        "#3d5a80",
        "#6a994e",
        "#8e7dbe",
    ],
    "AVATAR_BACKGROUND": "#f0f0f0",
}

app_settings = AppSettings(
    "LMS_CORE",
    DEFAULTS,
    validators={
        "AVATAR_SIZE": int_between(16, 1024),
        "AVATAR_FOREGROUND": colour_list,
        "AVATAR_BACKGROUND": css_colour,
    },
)
