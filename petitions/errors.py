"""Error pages: every failure gets a clear page (or JSON for .json URLs), never a traceback.

When the database cannot be reached or is too busy (a PostgreSQL restart or failover, a
connection cut, a full pool, SQLite's "database is locked"), the answer is 503 with
Retry-After, not 500: nothing is wrong with the request, and it will work again by itself.
`pool_pre_ping` (config.py) lets the first request after the database is back find a live
connection, and Flask-SQLAlchemy's teardown hands the failed session's connection back, so
the app recovers without a restart. An error in the code (bad SQL, a missing table) is still
a 500 with its traceback in the log.

Over a rate limit (limits.py), the answer is 429 with Retry-After (the seconds until the
limit's window ends): a page that says what happened and when to try again, or problem+json
for the API and .json URLs.

nginx answers some requests without the app: its own rate limit's 429, and a 503 when no
instance answers. Those pages are these templates too, rendered ahead of time in every
language (`proxy_pages`, written by deploy/render.py), so the reader sees the site's page in
their language rather than nginx's bare one.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, make_response, render_template, request
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    SecurityError,
)

from .extensions import db, limiter
from .http import problem
from .languages import ENVIRON_KEY, ROOT_KEY
from .security import CrossSitePost

logger = logging.getLogger(__name__)

#: Seconds a client is asked to wait when the database is unavailable (the pages say "a minute").
DATABASE_RETRY_AFTER_SECONDS = 60

#: SQLite result codes (primary codes) that mean busy or unreachable; SQLITE_ERROR, also an
#: OperationalError, means bad SQL or a missing table.
SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # "database is locked": another process is writing
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,  # the file or its disk became read-only
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,  # the file or its folder is missing or unreadable
        sqlite3.SQLITE_PROTOCOL,
    }
)
#: PostgreSQL SQLSTATE classes that mean the same: 08 connection exception, 40 transaction
#: rollback (deadlock, serialisation), 53 insufficient resources (too many connections),
#: 57 operator intervention (shutdown, starting up, statement timeout), 58 system error;
#: class 54 (program limit exceeded), also an OperationalError, is the code's fault.
POSTGRES_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
#: ...and single codes from other classes: 55P03 lock not available, 55006 object in use.
POSTGRES_UNAVAILABLE_CODES = frozenset({"55P03", "55006"})


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


def handle_cross_site(error: CrossSitePost):
    return _render(
        403,
        _("This form was sent from another site"),
        _(
            "We only accept this form from this site's own pages, so that no other site can "
            "send it in your name. Please open the petition on this site and send the form "
            "from there. If you did, your browser may be set to hide where a form comes from."
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
        error.code or 500,
        # Not Werkzeug's English name of the status: the reader's language.
        (
            _("Error %(code)s", code=error.code or 500),
            _("Something went wrong with this request."),
        ),
    )
    response = _render(error.code or 500, title, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # RFC 9110: a 405 says which methods the resource takes.
        if isinstance(response, tuple):
            response = make_response(response)
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


#: Retry-After when the limit's window cannot be read (its storage just went away).
RATE_LIMIT_RETRY_AFTER_SECONDS = 60


def _retry_after_seconds() -> int:
    """Seconds until the breached limit's window ends (at least one)."""
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - a storage error must not turn a 429 into a 500
        logger.warning("could not read the breached rate limit's window", exc_info=True)
    return RATE_LIMIT_RETRY_AFTER_SECONDS


def too_many_requests(retry_after: int) -> Response:
    """The 429 answer: what happened and when to try again; `Retry-After` in seconds."""
    title = _("Too many attempts")
    when = format_timedelta(timedelta(seconds=retry_after), add_direction=True)
    if _wants_json():
        response = problem(
            429,
            title,
            _(
                "Too many requests like this one came from this client. "
                "Please try again in %(seconds)d seconds.",
                seconds=retry_after,
            ),
        )
    else:
        response = make_response(render_template("errors/429.html", title=title, when=when), 429)
        response.headers["Cache-Control"] = "no-store"
    response.headers["Retry-After"] = str(retry_after)
    return response


def handle_rate_limit(error: RateLimitExceeded) -> Response:
    return too_many_requests(_retry_after_seconds())


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is down, unreachable or too busy just now (worth a 503
    and a retry), rather than that the code asked it something wrong (a 500)."""
    if isinstance(error, DisconnectionError | PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in SQLITE_UNAVAILABLE
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is None:  # no answer from a server at all: refused, cut, closed
        return True
    return sqlstate[:2] in POSTGRES_UNAVAILABLE_CLASSES or sqlstate in POSTGRES_UNAVAILABLE_CODES


def handle_database_error(error: SQLAlchemyError):
    """503 with Retry-After while the database is unavailable; any other database error goes
    on to the 500 handler (and the log, with its traceback)."""
    if not database_unavailable(error):
        raise error
    return database_unavailable_response(error)


def database_unavailable_response(error: BaseException) -> Response:
    logger.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.path,
        getattr(error, "orig", None) or error,
    )
    db.session.remove()  # the connection goes back to the pool, which drops it if it is dead
    # The page must render without the database: show the reader as logged out rather than
    # load (or refresh) their account for the page's header.
    g._login_user = current_app.login_manager.anonymous_user()
    if request.method in ("GET", "HEAD", "OPTIONS"):
        message = _("We cannot reach our database just now. Please try again in a minute.")
    else:
        message = _(
            "We cannot reach our database just now, so what you sent may not have been "
            "saved. Please send it again in a minute. Signing or confirming again is safe: "
            "each person is counted only once."
        )
    response = make_response(_render(503, _("The site is busy or under maintenance"), message))
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    # Never kept by a proxy cache: the page would outlive the outage.
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
        return handle_http(error)
    original = getattr(error, "original_exception", None)
    if original is not None and database_unavailable(original):
        # Raised where no handler of the request could catch it (an after_request function).
        return database_unavailable_response(original)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _render(
        500,
        _("Something went wrong"),
        _(
            "An unexpected error happened on our side. Nothing you sent was lost; "
            "please try again in a moment."
        ),
    )


def proxy_pages(
    app: Flask, *, too_many_retry_after: int, unavailable_retry_after: int
) -> dict[str, str]:
    """nginx's own error pages, `{"ru/429.html": html, "ru/503.html": html, ...}` for every
    language of the site: its rate limit's 429 and its 503 when no app instance answers.

    Rendered from the app's 429 and error templates as a request for the language's home page
    would be, outside any real request (no database, no reader: the header shows the logged-out
    links), and saying the same wait as the Retry-After nginx sends with them.
    """
    site = urlsplit(app.config["PUBLIC_BASE_URL"])
    default = app.config["BABEL_DEFAULT_LOCALE"]
    pages = {}
    for code in app.config["LANGUAGES"]:
        prefix = "" if code == default else f"/{code}"
        environ = {ROOT_KEY: "", **({ENVIRON_KEY: code} if prefix else {})}
        with app.test_request_context(
            "/", base_url=f"{site.scheme}://{site.netloc}{prefix}", environ_overrides=environ
        ):
            too_many_when = format_timedelta(
                timedelta(seconds=too_many_retry_after), add_direction=True
            )
            unavailable_when = format_timedelta(
                timedelta(seconds=unavailable_retry_after), add_direction=True
            )
            pages[f"{code}/429.html"] = render_template(
                "errors/429.html", title=_("Too many attempts"), when=too_many_when
            )
            pages[f"{code}/503.html"] = render_template(
                "errors/error.html",
                status=503,
                title=_("The site is busy or under maintenance"),
                # Whoever was cut off mid-signature must not fear being counted twice.
                message=" ".join(
                    (
                        _("Please try again %(when)s.", when=unavailable_when),
                        _("Signing or confirming again is safe: each person is counted once."),
                    )
                ),
            )
    return pages


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(CrossSitePost, handle_cross_site)
    app.register_error_handler(RateLimitExceeded, handle_rate_limit)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_unexpected)
    for error in (DBAPIError, DisconnectionError, PoolTimeoutError):
        app.register_error_handler(error, handle_database_error)
