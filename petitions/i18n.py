"""Locale selection (Flask-Babel): the reader's Accept-Language among LANGUAGES."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import format_date, format_datetime, get_locale

from .extensions import babel


def select_locale() -> str:
    return (
        request.accept_languages.best_match(current_app.config["LANGUAGES"])
        or (current_app.config["BABEL_DEFAULT_LOCALE"])
    )


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        get_locale=get_locale, format_date=format_date, format_datetime=format_datetime
    )
