"""HTTP details shared by every blueprint: problem+json errors, CORS, caching headers, times.

Not part of any blueprint, so error pages, the live counter, the feed and the API use it
without depending on each other.

Readers are scripts and newsrooms' pages on other sites, and a viral petition brings many of
them at once, so every answer can be cached by a reverse proxy or CDN for a short while
(`API_CACHE_MAX_AGE`) and served stale while it revalidates; a validator (ETag, and
Last-Modified where the data has a meaningful one) lets a client that already has the answer
get a 304 with no body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, jsonify, request
from flask.sessions import SecureCookieSessionInterface

from .text import bad_character

#: Paths whose answers are the same for everyone and anyone's page may fetch: the API, the live
#: total and its stream, the embeddable widget and the feed (public data, no cookies involved).
CORS_PREFIXES = ("/api/",)
CORS_SUFFIXES = ("/count.json", "/count/stream", "/embed")
CORS_PATHS = frozenset({"/feed.atom"})


class ApiProblem(Exception):
    """A request the API refuses; answered as RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str, param: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.param = param


def problem(status: int, title: str, detail: str, param: str | None = None) -> Response:
    body: dict = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if param is not None:
        body["invalid_params"] = [{"name": param, "reason": detail}]
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers["Cache-Control"] = "no-store"
    # Its title and detail are in the reader's language (the API's follows Accept-Language).
    response.vary.add("Accept-Language")
    return response


def handle_problem(error: ApiProblem) -> Response:
    return problem(error.status, error.title, error.detail, error.param)


def cacheable(
    response: Response,
    req: Request,
    *,
    max_age: int | None = None,
    last_modified: datetime | None = None,
    etag: bool = True,
    weak_etag: str | None = None,
) -> Response:
    """Public caching headers, a strong ETag of the body (unless streamed) and Last-Modified;
    answers 304 to a matching conditional request.

    `weak_etag` (a `data_etag()`) replaces the ETag of the body where the body also says when
    its numbers were read (`computed_at`), so that the validator changes when the numbers do,
    not every time they are read again.
    """
    max_age = current_app.config["API_CACHE_MAX_AGE"] if max_age is None else max_age
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Cache-Control"] += f", stale-while-revalidate={max(60, max_age * 5)}"
    if last_modified is not None:
        response.last_modified = last_modified.replace(microsecond=0)
    if weak_etag is not None:
        response.set_etag(weak_etag, weak=True)
    elif etag and not response.is_streamed:
        response.add_etag()
    if response.is_streamed:
        # Else make_conditional() reads the whole stream into memory for a Content-Length.
        response.implicit_sequence_conversion = False
    return response.make_conditional(req)


def data_etag(data: object) -> str:
    """A digest of JSON-able data, for a weak ETag (`cacheable(weak_etag=...)`)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, to the second: every time in the open data and the feed."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_public_data(path: str) -> bool:
    return path in CORS_PATHS or path.startswith(CORS_PREFIXES) or path.endswith(CORS_SUFFIXES)


class PublicDataSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions, except that public data answers never carry `Vary: Cookie` or a
    cookie: they are the same for everyone, and a CDN must be able to share one copy among
    all readers (the live counter polls count.json from pages whose visitors have a session
    cookie). Flask-Login reads the session after every request, which alone adds the Vary."""

    def save_session(self, app: Flask, session, response: Response) -> None:
        if is_public_data(request.path) and not session.modified:
            return
        super().save_session(app, session, response)


def add_cors_headers(response: Response) -> Response:
    """Open CORS on public data: any origin may read it, and see its validators and links."""
    if not is_public_data(request.path):
        return response
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified, Link, Retry-After"
    if request.method == "OPTIONS":
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
        headers["Access-Control-Max-Age"] = "86400"
    return response


def init_app(app: Flask) -> None:
    app.session_interface = PublicDataSessionInterface()
    app.after_request(add_cors_headers)


def safe_next(target: object) -> str | None:
    """`target` if it is a path on this site, else None (no open redirect).

    Refused: absolute and scheme-relative URLs (`//evil`, `/\\evil`, which browsers treat as
    another host), anything with a scheme or host, control characters, and anything that is
    not a string.
    """
    if not isinstance(target, str) or not target or len(target) > 2000 or bad_character(target):
        return None
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target
