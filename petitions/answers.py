"""A per-process memo of public answers, in front of the whole Flask app (WSGI).

The most requested answers of a viral petition are the same for every reader: `count.json`,
polled by every open page, and the anonymous petition page. nginx's cache serves most of
them; what reaches the app (misses, revalidations, a deployment without nginx) still paid
the full request machinery even when the view itself was a memo hit: the language
middleware, Flask-Login, the limiter, the CSRF check, six after-request hooks. Measured on
count.json, that machinery was half of the app's CPU per request.

So each process keeps, for ANSWER_MEMO_SECONDS, the answers the app itself has declared
shareable, and replays them to the next reader who could have been given the same one by
any shared cache, without running the app. It follows HTTP's own caching rules rather than
a list of routes, so a view decides by its headers, as it does for nginx:

- stored: a 200 to a GET, `Cache-Control: public` (and not `private`, `no-store` or
  `no-cache`), no `Set-Cookie`, a `Content-Length` (never a stream), not `Vary: *`;
- keyed by everything the URL the reader asked for depends on (scheme, host, the
  forwarding headers the proxy fix reads, path, query) and by the request headers the
  answer names in `Vary`;
- served only to a request that carries no cookie, no credentials and no condition
  (`If-None-Match` and the like go to the app, which answers 304 itself), so what one reader
  is given never depends on who they are.

The answer is replayed as the app made it (its ETag, security and CORS headers); it is at
most ANSWER_MEMO_SECONDS older than the app's own memos would make it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask

#: Request headers that make an answer the reader's own, or conditional: never replayed.
PERSONAL = (
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)

#: What the URL of the answer depends on besides the path (security.py's ProxyFix reads the
#: forwarding headers, after this layer).
URL_PARTS = (
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
)

#: Answers larger than this are not kept (a page is ~20 KB; exports are not public-cached).
MAX_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class _Answer:
    expires: float
    #: The environ keys of the request headers named in Vary, and their values when stored.
    vary: tuple[str, ...]
    varied: tuple[str | None, ...]
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def shareable(status: str, headers: list[tuple[str, str]]) -> tuple[str, ...] | None:
    """The environ keys the answer varies on if a shared cache may keep it, else None."""
    if not status.startswith("200"):
        return None
    control, vary, length = "", [], False
    for name, value in headers:
        lower = name.lower()
        if lower == "set-cookie":
            return None
        if lower == "cache-control":
            control += "," + value.lower()
        elif lower == "vary":
            vary.extend(part.strip() for part in value.split(","))
        elif lower == "content-length":
            length = True
    directives = {part.strip().split("=", 1)[0] for part in control.split(",")}
    if "public" not in directives or directives & {"private", "no-store", "no-cache"}:
        return None
    if not length or "*" in vary:
        return None
    return tuple(sorted({"HTTP_" + part.upper().replace("-", "_") for part in vary if part}))


class AnswerMemo:
    """WSGI middleware: see the module docstring."""

    def __init__(
        self,
        app: Callable,
        seconds: float,
        *,
        max_entries: int = 2_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._answers: dict[tuple, list[_Answer]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or any(k in environ for k in PERSONAL):
            return self.app(environ, start_response)
        key = tuple(environ.get(part) for part in URL_PARTS)
        now = self.clock()
        for answer in self._answers.get(key, ()):
            if answer.expires > now and tuple(environ.get(k) for k in answer.vary) == answer.varied:
                start_response(answer.status, list(answer.headers))
                return [answer.body]
        return self._ask_app(key, environ, start_response)

    def _ask_app(self, key: tuple, environ, start_response) -> Iterable[bytes]:
        seen: dict = {}

        def noting_start_response(status, headers, exc_info=None):
            seen.update(status=status, headers=list(headers), vary=shareable(status, headers))
            return start_response(status, headers, exc_info)

        body = self.app(environ, noting_start_response)
        if seen and seen["vary"] is None:
            return body  # as the app made it (a file wrapper stays one)
        return _Kept(body, seen, lambda chunks: self._keep(key, environ, seen, chunks))

    def _keep(self, key: tuple, environ, seen: dict, body: bytes) -> None:
        vary = seen["vary"]
        answer = _Answer(
            self.clock() + self.seconds,
            vary,
            tuple(environ.get(k) for k in vary),
            seen["status"],
            seen["headers"],
            body,
        )
        with self._lock:
            now = self.clock()
            kept = [a for a in self._answers.get(key, ()) if a.expires > now and a.vary == vary]
            kept = [a for a in kept if a.varied != answer.varied][-15:]
            if key not in self._answers and len(self._answers) >= self.max_entries:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = [*kept, answer]


class _Kept:
    """The app's body, passed through as it is read, and kept once read to its end if the
    answer is shareable and as long as it said (a client that hangs up keeps nothing)."""

    def __init__(self, body: Iterable[bytes], seen: dict, keep: Callable[[bytes], None]):
        self.body = body
        self.seen = seen
        self.keep = keep

    def __iter__(self):
        if self.seen.get("vary") is None:
            yield from self.body
            return
        chunks, size = [], 0
        for chunk in self.body:
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            yield chunk
        declared = next((v for n, v in self.seen["headers"] if n.lower() == "content-length"), None)
        if size <= MAX_BODY and declared == str(size):
            self.keep(b"".join(chunks))

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()


def init_app(app: Flask) -> None:
    """Outermost WSGI layer (install it after every other middleware)."""
    seconds = app.config["ANSWER_MEMO_SECONDS"]
    if seconds > 0:
        app.wsgi_app = AnswerMemo(app.wsgi_app, seconds)
