"""The live signature counter (server-sent events) and the embeddable petition widget.

Why the live counter stays light when a petition goes viral
-----------------------------------------------------------
* **One read a second per process.** A stream looks at the total at most once a second
  (CHECK_SECONDS), through the per-process memo that count.json uses
  (services/public_numbers.current_total), so however many streams and polls watch a
  petition, each app process asks the database once per COUNT_MEMO_SECONDS (1 s). Between
  looks a stream holds no database connection.
* **A cap on streams, well below the threads.** An open stream holds a server thread
  (gunicorn's gthread worker) while it waits, so idle streams must never take the threads that
  pages need. A process serves at most LIVE_MAX_STREAMS at once, a quarter of its WEB_THREADS
  by default (rounded down: none below 4 threads, and then every page polls); `create_app()`
  refuses a LIVE_MAX_STREAMS above that quarter, and gunicorn.conf.py refuses to serve an app
  sized for more threads than its worker has. Past the cap it answers 503 with Retry-After
  straight away, and live.js polls count.json instead.
* **Streams end after LIVE_STREAM_SECONDS (30 s).** No thread is held for long, slots turn
  over between readers, and a reader who left (unnoticed until the next write) frees a slot
  at the latest then. The `retry:` field makes the browser reconnect a few seconds later.
* **Polling is cacheable.** count.json has max-age and an ETag, so a CDN or reverse proxy in
  front answers most polls and the browser revalidates the rest with If-None-Match (304).
* Quiet streams get a comment line every LIVE_HEARTBEAT_SECONDS so proxies keep them open, and
  `X-Accel-Buffering: no` makes nginx pass each event on at once. A petition that is no longer
  open has nothing to stream: its stream ends after one event, and live.js stops; so does a
  hidden tab.

The widget (/petitions/<id>/embed) is the one page other sites may frame; it shows the title
and the same live count, and its links open the petition in a new tab.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from ..extensions import db
from ..http import cacheable, problem
from ..models import PetitionState, utcnow
from ..security import allow_framing
from ..services import counts, petitions
from ..services.public_numbers import current_total

bp = Blueprint("live", __name__)

#: How often a stream looks at the total (through the memo, so a look is cheap).
CHECK_SECONDS = 1.0
#: How long the browser waits before reconnecting once a stream has ended (SSE `retry:`).
RECONNECT_MS = 3000
#: How long browsers and proxies may keep the widget page; live.js brings its count up to date.
EMBED_MAX_AGE = 60
#: Of every STREAM_SHARE threads of a process, one may hold a live stream; pages keep the rest.
STREAM_SHARE = 4


class StreamSlots:
    """How many live streams this process has open, held to LIVE_MAX_STREAMS (thread-safe).

    A slot is given back when the server closes the response (WSGI `close()`), which it does
    whether the stream ran out, the reader left or the response was never iterated.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0

    @property
    def open(self) -> int:
        with self._lock:
            return self._open

    def take(self, limit: int) -> Callable[[], None] | None:
        """A slot if fewer than `limit` are open: the function that gives it back (once,
        however often it is called); None if all are taken."""
        with self._lock:
            if self._open >= limit:
                return None
            self._open += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            with self._lock:
                if not given_back:
                    given_back = True
                    self._open -= 1

        return give_back


class Clock(Protocol):
    """Where a stream reads the time and waits (the `time` module is one). A test gives the app
    one that moves on when asked to wait, so a stream's half minute passes at once."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


def max_streams(threads: int) -> int:
    """The most live streams a process with `threads` threads may hold: one in STREAM_SHARE
    (rounded down), so however many readers keep a stream open, at least three threads in four
    are left for pages; below STREAM_SHARE threads none, and the pages poll count.json."""
    return max(threads, 0) // STREAM_SHARE


def stream_cap(config: Mapping[str, Any]) -> int:
    """LIVE_MAX_STREAMS as configured, or max_streams(WEB_THREADS) when it is not set.

    RuntimeError (the app does not start) if a configured cap would leave pages fewer threads
    than max_streams() keeps for them: an attacker holding that many idle streams open would
    otherwise take the site down.
    """
    threads = config["WEB_THREADS"]
    if threads < 1:
        raise RuntimeError(f"WEB_THREADS must be at least 1, not {threads}.")
    allowed = max_streams(threads)
    configured = config.get("LIVE_MAX_STREAMS")
    if configured is None:
        return allowed
    if not 0 <= configured <= allowed:
        raise RuntimeError(
            f"Refusing to start with LIVE_MAX_STREAMS={configured}: each open live-count stream "
            f"holds one of the {threads} threads of a process (WEB_THREADS), and pages keep at "
            f"least {threads - allowed} of them. Set LIVE_MAX_STREAMS between 0 and {allowed}, "
            f"leave it unset (then it is {allowed}), or raise WEB_THREADS: streams may take one "
            f"thread in {STREAM_SHARE}."
        )
    return configured


@bp.record_once
def _init_streams(state: BlueprintSetupState) -> None:
    app = state.app
    app.config["LIVE_MAX_STREAMS"] = stream_cap(app.config)
    app.extensions["live_streams"] = StreamSlots()
    app.extensions["live_clock"] = time


def stream_slots(app: Flask) -> StreamSlots:
    return app.extensions["live_streams"]


def stream_clock(app: Flask) -> Clock:
    """The clock the app's streams run on: the `time` module, unless a test set its own in
    `app.extensions["live_clock"]`."""
    return app.extensions["live_clock"]


@bp.get("/petitions/<int:petition_id>/count/stream")
def count_stream(petition_id: int):
    """The running total as server-sent events: `retry:`, the total now, then each change,
    for LIVE_STREAM_SECONDS; 503 (problem+json, Retry-After) when the process has
    LIVE_MAX_STREAMS open, so the page polls count.json instead. See the module docstring."""
    total = current_total(petition_id)
    if total is None:
        abort(404)
    config = current_app.config
    give_back = stream_slots(current_app).take(config["LIVE_MAX_STREAMS"])
    if give_back is None:
        return _streams_busy(retry_after=config["LIVE_STREAM_SECONDS"])
    events = count_events(
        current_app._get_current_object(),
        total,
        seconds=config["LIVE_STREAM_SECONDS"],
        heartbeat=config["LIVE_HEARTBEAT_SECONDS"],
        clock=stream_clock(current_app),
    )
    response = Response(events, mimetype="text/event-stream")
    response.call_on_close(give_back)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _streams_busy(retry_after: int) -> Response:
    """503 problem+json; a slot is free again within one stream's lifetime."""
    response = problem(
        503,
        _("Live count busy"),
        _(
            "This server is streaming the count to as many readers as it can. "
            "The page checks the count every few seconds instead."
        ),
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def count_events(
    app: Flask, first: counts.PublicTotal, *, seconds: float, heartbeat: float, clock: Clock
) -> Iterator[str]:
    """The stream's text: `retry:`, `first`, then each change of count or state until
    `seconds` have passed on `clock` (see stream_clock) or the petition is no longer open.

    It runs after the request has ended (Flask pops the request context before a response is
    streamed), so each look at the total has its own app context, whose teardown hands the
    database connection back: a waiting stream holds a thread, never a connection or an open
    transaction (in which SQLite would keep reading the same old snapshot). It looks once more
    after every message it sends, however late the reader takes it, before it may end.
    """
    started = clock.monotonic()
    deadline = started + seconds
    next_heartbeat = started + heartbeat
    yield f"retry: {RECONNECT_MS}\n\n"
    yield _count_event(first)
    shown = first
    while shown.state == PetitionState.OPEN:
        clock.sleep(max(0.0, min(CHECK_SECONDS, deadline - clock.monotonic())))
        with app.app_context():
            total = current_total(first.petition_id)
        if total is None:
            return  # hidden meanwhile: the reconnection gets a 404 and live.js stops
        if (total.state, total.signature_count) != (shown.state, shown.signature_count):
            yield _count_event(total)
            shown = total
            if shown.state != PetitionState.OPEN:
                return
            next_heartbeat = clock.monotonic() + heartbeat  # the event kept the line busy
        now = clock.monotonic()
        if now >= deadline:
            return
        if now >= next_heartbeat:
            yield ": heartbeat\n\n"
            next_heartbeat = now + heartbeat


def _count_event(total: counts.PublicTotal) -> str:
    data = json.dumps(
        {
            "petition_id": total.petition_id,
            "state": str(total.state),
            "signature_count": total.signature_count,
        },
        separators=(",", ":"),
    )
    return f"event: count\ndata: {data}\n\n"


@bp.get("/petitions/<int:petition_id>/embed")
def embed(petition_id: int):
    """A small page with the title and the live count, for other sites to show in an iframe.

    Only open and closed petitions: a rejected one has nothing to be counted, and its text may
    be withheld. Cacheable for EMBED_MAX_AGE, since a widget on a busy news page is loaded as
    often as that page.
    """
    petition = petitions.public_petition(db.session, petition_id)
    total = current_total(petition_id) if petition is not None else None
    if petition is None or total is None:
        abort(404)
    response = make_response(
        render_template(
            "public/embed.html",
            petition=petition,
            total=total.signature_count,
            accepting=petition.accepts_signatures(utcnow()),
            petition_url=url_for("public.petition", petition_id=petition.id, _external=True),
        )
    )
    allow_framing(response)
    response.vary.add("Accept-Language")
    return cacheable(response, request, max_age=EMBED_MAX_AGE)
