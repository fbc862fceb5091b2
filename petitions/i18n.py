"""Locale selection (Flask-Babel): the reader's Accept-Language among LANGUAGES."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale, ngettext

from .extensions import babel


def select_locale() -> str:
    """The reader's language; the default outside a request (CLI, worker, services in tests)."""
    if has_request_context():
        found = request.accept_languages.best_match(current_app.config["LANGUAGES"])
        if found:
            return found
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


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        get_locale=get_locale,
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
        signature_words=signature_words,
    )
