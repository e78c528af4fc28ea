"""Translations for ``lms_common``, a helper package that projects do not put in ``INSTALLED_APPS``.

Django finds a ``locale`` folder only for installed apps (and ``LOCALE_PATHS``), so the messages of this package
are looked up in its own catalogue (``lms_common/locale``, shipped compiled like the apps' ones) after Django's
merged catalogue: a project's ``LOCALE_PATHS`` or an app can still translate them differently.
"""

from __future__ import annotations

import gettext as gettext_module
from functools import cache
from pathlib import Path

from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as django_gettext

__all__ = ["gettext"]

LOCALE_DIR = Path(__file__).resolve().with_name("locale")


@cache
def _catalogue(language: str) -> gettext_module.NullTranslations:
    return gettext_module.translation("django", LOCALE_DIR, languages=[to_locale(language)], fallback=True)


def gettext(message: str) -> str:
    """``message`` in the active language: the project's catalogues first, then this package's own."""
    translated = django_gettext(message)
    if translated != message:
        return translated
    language = get_language()
    return _catalogue(language).gettext(message) if language else message
