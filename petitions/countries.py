"""ISO 3166-1 countries for the sign form, named in the reader's language where translated.

Names come from the iso-codes catalogs pycountry ships. Those know a country by its short
name (`common_name`, "Iran") in some languages and only by its formal one ("Iran, Islamic
Republic of") in others, so both are tried before giving up. A few recent names (Türkiye,
Eswatini, North Macedonia) are missing from some of them, Kyrgyz among them: our own catalog
has those (RECENT_NAMES), so a reader never meets an English country name on a page in
their language.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

import pycountry
from babel.support import Translations

#: The site's own catalogs (petitions/translations).
CATALOGS = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention; pybabel extracts it)
    """Marks a message for the catalogs without translating it here."""
    return message


#: Names some iso-codes catalogs lack (they still have the old ones, or none): translated in
#: the site's own catalogs.
RECENT_NAMES = {
    "MK": N_("North Macedonia"),
    "SZ": N_("Eswatini"),
    "TR": N_("Türkiye"),
}


@cache
def _translation(locale: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )


@cache
def _own_translation(locale: str) -> gettext.NullTranslations:
    return Translations.load(str(CATALOGS), [locale])


def country_name(code: str, locale: str = "en") -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    short = getattr(country, "common_name", None) or country.name
    for name in dict.fromkeys((short, country.name)):
        translated = _translation(locale).gettext(name)
        if translated != name:
            return translated
    if code in RECENT_NAMES:
        return _own_translation(locale).gettext(RECENT_NAMES[code])
    return short


@cache
def country_choices(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(alpha-2 code, name) pairs sorted by name in `locale`."""
    pairs = [(c.alpha_2, country_name(c.alpha_2, locale)) for c in pycountry.countries]
    return tuple(sorted(pairs, key=lambda pair: pair[1].casefold()))


@cache
def _codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code exactly as the form sends it (upper case)."""
    return code in _codes()
