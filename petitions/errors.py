"""Error pages: every failure gets a clear page (or JSON for .json URLs), never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    SecurityError,
)

from .api.http import problem

logger = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.path.startswith("/api/")


def _render(status: int, title: str, message: str):
    if _wants_json():
        return problem(status, title, message)
    return render_template("errors/error.html", status=status, title=title, message=message), status


def handle_csrf(error: CSRFError):
    return _render(
        400,
        _("This form has expired"),
        _(
            "For your security, forms expire after a while or when cookies are blocked. "
            "Please go back, reload the page and send it again."
        ),
    )


def handle_http(error: HTTPException):
    if isinstance(error, SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page either.
        return Response(
            _("This site does not answer to that host name."), 400, mimetype="text/plain"
        )
    messages = {
        404: (
            _("Page not found"),
            _(
                "There is no page at this address. It may have been "
                "mistyped, or the petition is not public."
            ),
        ),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        413: (_("Too much data"), _("What you sent is too large. Please shorten it.")),
        400: (
            _("Bad request"),
            _("We could not understand what your browser sent. Please go back and try again."),
        ),
    }
    title, message = messages.get(
        error.code or 500, (error.name, _("Something went wrong with this request."))
    )
    response = _render(error.code or 500, title, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # RFC 9110: a 405 says which methods the resource takes.
        if isinstance(response, tuple):
            response = make_response(response)
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
        return handle_http(error)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _render(
        500,
        _("Something went wrong"),
        _(
            "An unexpected error happened on our side. Nothing you sent was lost; "
            "please try again in a moment."
        ),
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_unexpected)
