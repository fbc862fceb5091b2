"""Locale selection (Flask-Babel): the reader's Accept-Language among LANGUAGES."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from .extensions import babel


def select_locale() -> str:
    """The reader's language; the default outside a request (CLI, worker, services in tests)."""
    if has_request_context():
        found = request.accept_languages.best_match(current_app.config["LANGUAGES"])
        if found:
            return found
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        get_locale=get_locale,
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
    )
