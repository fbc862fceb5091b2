"""Locale selection (Flask-Babel): the request's language as petitions/languages.py decides
it (the URL's prefix, else the reader's choice or browser); the templates' `_()` and
`ngettext()`; and dates, times and numbers written by CLDR (Babel) for the reader.

Times about a petition are shown in its time zone (`Petition.time_zone`, IANA): a Bishkek
petition closes "at 18:00" Bishkek time for everyone, and the page names the zone.
`format_datetime(value, "long", zone=petition_zone(petition))` in a template; without a zone
a time is shown in the site's (BABEL_DEFAULT_TIMEZONE, UTC). The open data (API, CSV, feed)
keeps UTC ISO 8601 and does not come through here."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, current_app, g, has_request_context
from flask_babel import (
    format_decimal,
    format_percent,
    get_locale,
    get_translations,
    ngettext,
)
from jinja2 import pass_context
from markupsafe import Markup

from .extensions import babel
from .languages import request_language


def select_locale() -> str:
    """The reader's language; the default outside a request (CLI, worker, services in tests)."""
    if has_request_context():
        return request_language()
    return current_app.config["BABEL_DEFAULT_LOCALE"]


#: Totals that between them fall in every CLDR plural category any language has for whole
#: numbers (Russian 1/2/5, Arabic 0/2/3/11/100, French millions, ...).
PLURAL_SAMPLES = (0, 1, 2, 3, 4, 5, 7, 10, 11, 12, 19, 20, 21, 22, 25, 100, 101, 102, 111, 10**6)

_SIGNATURE_WORDS: dict[str, dict[str, str]] = {}


def signature_words() -> dict[str, str]:
    """The word after the count for each plural category of the reader's language.

    The categories are CLDR's, which the browser's Intl.PluralRules also uses, so live.js can
    write "1 signature", "2 signatures" (and Russian's three forms) as the number changes.
    Worked out once per language and process: every petition page carries it.
    """
    locale = get_locale()
    key = str(locale)
    words = _SIGNATURE_WORDS.get(key)
    if words is None:
        words = {}
        for n in PLURAL_SAMPLES:
            words.setdefault(locale.plural_form(n), ngettext("signature", "signatures", n))
        _SIGNATURE_WORDS[key] = words
    return words


_NUMBER_FORMATS: dict[str, dict[str, str]] = {}


def number_format() -> dict[str, str]:
    """How the reader's language writes a whole number, as data attributes for live.js: its
    group separator (CLDR's: a comma in English, a no-break space in Russian and Kyrgyz, a dot
    in Indonesian) and the sizes of its groups (3 then 3, or 3 then 2 in Hindi).

    Taken from the very pattern Babel's format_decimal() uses, so a count the browser rewrites
    reads exactly as the server wrote it, whatever the browser's own Intl data says.
    """
    locale = get_locale()
    key = str(locale)
    found = _NUMBER_FORMATS.get(key)
    if found is None:
        primary, secondary = locale.decimal_formats[None].grouping
        found = {
            "group": babel_numbers.get_group_symbol(locale),
            "grouping": f"{primary},{secondary}",
        }
        _NUMBER_FORMATS[key] = found
    return found


#: The zone of a petition whose stored zone is unknown (mistyped, or dropped by a new tzdata).
FALLBACK_ZONE = "UTC"


@lru_cache(maxsize=256)
def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or UTC if there is no such zone: a bad value in the database
    shows UTC times, never an error page."""
    try:
        return ZoneInfo(name or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return ZoneInfo(FALLBACK_ZONE)


def petition_zone(petition) -> ZoneInfo:
    """The time zone a petition's times are shown in."""
    return zone_named(getattr(petition, "time_zone", None))


def zone_label(zone: tzinfo) -> str:
    """The zone as a page names it beside its times: its IANA name ("Asia/Bishkek", "UTC"),
    the same in every language (CLDR's names for zones are uneven: Babel calls UTC "Unknown
    Region (UTC) Time")."""
    return getattr(zone, "key", None) or str(zone)


def _site_zone() -> tzinfo:
    return zone_named(current_app.config.get("BABEL_DEFAULT_TIMEZONE"))


def format_datetime(
    value: datetime | None, format: str = "medium", zone: tzinfo | None = None
) -> str:
    """`value` (aware, UTC) written for the reader, in `zone` (else the site's)."""
    if value is None:
        return ""
    return babel_dates.format_datetime(
        value, format, tzinfo=zone or _site_zone(), locale=get_locale()
    )


def format_date(value: date | datetime | None, format: str = "medium", zone=None) -> str:
    """The day of `value` written for the reader: a datetime's day in `zone` (else the
    site's); a date as it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(zone or _site_zone()).date()
    return babel_dates.format_date(value, format, locale=get_locale())


def template_translations():
    """`flask_babel.get_translations()`, remembered for the rest of the request while its locale
    and domain stay the same (asking Flask-Babel walks its context through `g` several times).

    The memo sits in Flask-Babel's own per-request namespace and is keyed by the very locale
    object there, so `force_locale()`, which swaps that object (and back), gets the right
    catalogue at once.
    """
    state = getattr(g, "_flask_babel", None)
    locale = getattr(state, "babel_locale", None)
    if locale is None:  # the first string of the request: Flask-Babel selects the locale
        return get_translations()
    domain = getattr(state, "babel_domain", None)
    known = getattr(state, "petitions_translations", None)
    if known is not None and known[0] is locale and known[1] is domain:
        return known[2]
    translations = get_translations()
    state.petitions_translations = (locale, domain, translations)
    return translations


# What Flask-Babel installs in Jinja (jinja2.ext.i18n, "newstyle": escaped and always
# %-formatted), in one call each. A petition page has some thirty strings: through Jinja's
# wrappers (three Context.call()s) and Flask-Babel's lookup each cost about 11 µs, now 3.


@pass_context
def template_gettext(context, string: str, /, **variables) -> str:
    text = template_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - a translator's text, as Jinja's own newstyle does
    return text % variables


@pass_context
def template_ngettext(context, singular: str, plural: str, num: int, /, **variables) -> str:
    variables.setdefault("num", num)
    text = template_translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - a translator's text, as Jinja's own newstyle does
    return text % variables


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        _=template_gettext,
        gettext=template_gettext,
        ngettext=template_ngettext,
        get_locale=get_locale,
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
        format_percent=format_percent,
        signature_words=signature_words,
        number_format=number_format,
        petition_zone=petition_zone,
        zone_named=zone_named,
        zone_label=zone_label,
    )
