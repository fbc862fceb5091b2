"""The time zones an organiser may choose for a petition (its dates are shown in it; the open
data stays in UTC).

The IANA names of places (`Area/City`: "Asia/Bishkek", "America/Argentina/Salta"), plus UTC,
from the system's tz database through `zoneinfo`; the legacy aliases ("US/Eastern", "Etc/GMT+5",
"Cuba") are left out, as nobody looks for their city under them. The zones most of our
organisers live in come first, so the select opens on them.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from babel.dates import get_timezone, get_timezone_location

#: Offered first, in this order: where most of our organisers and signers are.
COMMON_ZONES = (
    "Asia/Bishkek",
    "Asia/Almaty",
    "Europe/Moscow",
    "Asia/Jakarta",
    "Asia/Makassar",
    "Asia/Jayapura",
    "Europe/London",
    "UTC",
)
DEFAULT_ZONE = "UTC"
#: The areas of place names (the first part of "Area/City").
_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe"}
    | {"Indian", "Pacific"}
)


@cache
def zone_names() -> tuple[str, ...]:
    """Every zone offered: the common ones first, then the others by name."""
    places = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and name.split("/", 1)[0] in _AREAS
    }
    common = [name for name in COMMON_ZONES if name in places or name == "UTC"]
    return (*common, *sorted(places - set(common)))


@cache
def zone_choices(locale: str) -> tuple[tuple[str, str], ...]:
    """The select's (zone, label) pairs for a reader of `locale`: each zone named by its city
    in their language (CLDR's exemplar cities: "Бишкек", "Джакарта"), the common zones first,
    the others by that name; one zone per name (aliases such as Asia/Ujung_Pandang name the
    same city as Asia/Makassar)."""
    named: dict[str, str] = {}
    for zone in zone_names():
        label = (
            zone
            if zone == "UTC"
            else get_timezone_location(get_timezone(zone), locale=locale, return_city=True)
        )
        named.setdefault(label, zone)
    common = [(zone, label) for label, zone in named.items() if zone in COMMON_ZONES]
    common.sort(key=lambda pair: COMMON_ZONES.index(pair[0]))
    others = sorted(
        ((zone, label) for label, zone in named.items() if zone not in COMMON_ZONES),
        key=lambda pair: pair[1].casefold(),
    )
    return (*common, *others)


def is_offered(name: object) -> bool:
    return isinstance(name, str) and name in _offered()


@cache
def _offered() -> frozenset[str]:
    return frozenset(zone_names())
