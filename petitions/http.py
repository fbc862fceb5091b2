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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, jsonify, make_response, request
from flask.sessions import SecureCookieSessionInterface

from .memo import app_memo
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
    response.cache_control.s_maxage = max_age
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


#: Where shared_page marks the request, for the session interface (environ: per request).
SHARED_KEY = "petitions.shared_page"
PRIVATE_PAGE = "private, no-cache"


def anonymous(req: Request, config) -> bool:
    """No session and no remembered login: nothing on the page can be this reader's own."""
    cookies = req.cookies
    return (
        config["SESSION_COOKIE_NAME"] not in cookies
        and config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
    )


@dataclass(frozen=True, slots=True)
class KeptPage:
    """A rendered page as the view returned it, before the after_request hooks."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def shared_page(view: Callable) -> Callable:
    """Decorator for public pages that are the same for every anonymous reader of a URL.

    To such a reader (no session or login cookie) a 200 says `Cache-Control: public` with
    `s-maxage` (PAGE_CACHE_SECONDS) and `stale-while-revalidate` (PAGE_STALE_SECONDS), a strong
    ETag of the body, and answers a matching If-None-Match with a 304; the session interface
    sets no cookie and adds no `Vary: Cookie` for it. So nginx or a CDN serves a viral
    petition's page to the crowd, and the app renders it a few times a minute. Within the app,
    each process also reuses the rendered page for the next anonymous reader of the same URL
    for PAGE_MEMO_SECONDS (the cache's misses and revalidations arrive in bursts).

    A reader with a session (an organiser, a moderator) gets the page made for them,
    `private, no-cache`: it shows their name and their log-out form. The language is in the
    URL (languages.py): a plain path reaches the view only in the default language, and says
    `Vary: Accept-Language, Cookie`.
    """

    @wraps(view)
    def shared(*args, **kwargs):
        config = current_app.config
        if not anonymous(request, config):
            response = make_response(view(*args, **kwargs))
            response.headers["Cache-Control"] = PRIVATE_PAGE
            return response
        request.environ[SHARED_KEY] = True
        seconds = config["PAGE_MEMO_SECONDS"]
        if seconds > 0 and request.method in ("GET", "HEAD"):
            memo = app_memo(current_app, "shared_pages", seconds, max_entries=2_000)
            key = (request.host, request.script_root, request.full_path)
            kept = memo.get(key, lambda: _keep(make_response(view(*args, **kwargs))))
            response = Response(kept.body, kept.status, kept.headers)
        else:
            response = _with_etag(make_response(view(*args, **kwargs)))
        if response.status_code == 200:
            cache_seconds = config["PAGE_CACHE_SECONDS"]
            response.headers["Cache-Control"] = (
                f"public, max-age=0, s-maxage={cache_seconds}, "
                f"stale-while-revalidate={config['PAGE_STALE_SECONDS']}"
                if cache_seconds > 0
                else "no-cache"
            )
        return response.make_conditional(request)

    return shared


def _with_etag(response: Response) -> Response:
    """A strong ETag of the body, unless the view gave a validator of its own."""
    if response.status_code == 200 and not response.is_streamed and "ETag" not in response.headers:
        response.add_etag()
    return response


def _keep(response: Response) -> KeptPage:
    _with_etag(response)
    return KeptPage(response.status_code, list(response.headers.items()), response.get_data())


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
    """Cookie sessions, except that public data answers, and public pages to anonymous
    readers (`shared_page`), never carry `Vary: Cookie` or a cookie: they are the same for
    everyone, and a CDN must be able to share one copy among all readers (the live counter
    polls count.json from pages whose visitors have a session cookie). Flask-Login reads the
    session after every request, which alone adds the Vary."""

    def save_session(self, app: Flask, session, response: Response) -> None:
        shared = request.environ.get(SHARED_KEY, False)
        if (shared or is_public_data(request.path)) and not session.modified:
            return
        if shared:
            # Something on the page wrote to a new session: its cookie is this reader's.
            response.headers["Cache-Control"] = PRIVATE_PAGE
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
