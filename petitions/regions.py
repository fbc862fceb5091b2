"""Regions typed by signers, matched to ISO 3166-2 subdivisions for the public breakdown.

The sign form's region is free text, and free text can be anything: a village, a street, a
name. Publishing it as typed could identify a signer, so the public data names only regions
that match a subdivision of the signer's country in ISO 3166-2 (pycountry, maintained with
Debian's iso-codes): "Chüy", "chuy region", "KG-C" and "C" all become KG-C. Everything else is
counted per country as "other or not given". Organisers still see the text as typed on their
own dashboard.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import pycountry


@dataclass(frozen=True)
class Subdivision:
    #: ISO 3166-2 code, e.g. "KG-C".
    code: str
    #: English name as in ISO 3166-2, e.g. "Chüy".
    name: str


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces, no punctuation: "Ysyk-Köl " -> "ysyk kol"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-2", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )


@cache
def _index(country: str, locales: tuple[str, ...]) -> dict[str, Subdivision]:
    """Every spelling we accept for the country's subdivisions, folded, to the subdivision."""
    index: dict[str, Subdivision] = {}
    shortened: list[tuple[str | None, Subdivision]] = []
    # pycountry gives a set, whose order changes from one process to the next; where two
    # subdivisions share a spelling ("Dhaka": division BD-C and district BD-13), every process
    # must pick the same one: the top-level subdivision, then the lowest code.
    subdivisions = pycountry.subdivisions.get(country_code=country) or ()
    for sub in sorted(subdivisions, key=lambda sub: (sub.parent_code is not None, sub.code)):
        found = Subdivision(sub.code, sub.name)
        local_code = sub.code.split("-", 1)[1]
        spellings = {sub.name, f"{sub.name} {sub.type}", sub.code, local_code}
        for locale in locales:
            translated = _translations(locale).gettext(sub.name)
            spellings |= {translated, f"{translated} {sub.type}"}
        for spelling in spellings:
            index.setdefault(_fold(spelling), found)
            shortened.append((_without_generic_word(_fold(spelling)), found))
    # "Bishkek" for "Bishkek Shaary" (city), after every full spelling, so "Osh" stays the
    # region Osh and does not become the city "Osh Shaary".
    for spelling, found in shortened:
        if spelling:
            index.setdefault(spelling, found)
    return index


#: Words for "city" or "region" that people leave out ("Bishkek" for "Bishkek Shaary").
GENERIC_WORDS = frozenset(
    {"city", "region", "province", "oblast", "oblasty", "oblysy", "shaary", "shahri", "kalasy"}
)


def _without_generic_word(folded: str) -> str | None:
    """`folded` without a last word in GENERIC_WORDS, if it has one and more words before."""
    words = folded.split(" ")
    if len(words) > 1 and words[-1] in GENERIC_WORDS:
        return " ".join(words[:-1])
    return None


def match_subdivision(
    country: str, region: str | None, locales: tuple[str, ...] = ()
) -> Subdivision | None:
    """The ISO 3166-2 subdivision of `country` that `region` names, if it names one."""
    if not region or not country:
        return None
    folded = _fold(region)
    if not folded:
        return None
    index = _index(country.upper(), tuple(locales))
    found = index.get(folded)
    if found is None and (shorter := _without_generic_word(folded)):
        found = index.get(shorter)
    return found


@cache
def subdivision_name(code: str) -> str | None:
    """The English ISO 3166-2 name of a subdivision code ("KG-C" -> "Chüy"), as
    `match_subdivision` names it; None for an unknown code."""
    found = pycountry.subdivisions.get(code=code)
    return found.name if found else None
