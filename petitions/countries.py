"""ISO 3166-1 countries for the sign form, named in the reader's language where translated."""

from __future__ import annotations

import gettext
from functools import cache

import pycountry


@cache
def _translation(locale: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )


def country_name(code: str, locale: str = "en") -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return _translation(locale).gettext(name)


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
