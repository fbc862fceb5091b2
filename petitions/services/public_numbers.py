"""The public numbers as every reader sees them, memoised per process: the running total
(count.json, the live stream, the widget) and the statistics snapshot (the petition page's
chart and breakdowns, the API's detail, series and CSVs, the feed).

A crowd on a viral petition reads these at once; each app process asks the database for a
total at most once per COUNT_MEMO_SECONDS and for a snapshot once per STATS_MEMO_SECONDS (one
load per key at a time, see memo.py), whichever page, API answer or stream asks. The memos
belong to the app (one per process), which is why this module reads `current_app`; it holds
no request state, so pages, the API, the feed and the live counter share it without depending
on each other's blueprints. With DATABASE_REPLICA_URL both are read from the replica
(replica.py).
"""

from __future__ import annotations

from flask import current_app

from .. import clock
from ..memo import app_memo
from ..models import Petition
from ..replica import read_public
from . import counts, opendata
from .petitions import MAX_PETITION_ID


def current_total(petition_id: int) -> counts.PublicTotal | None:
    """An open or closed petition's total through the per-process memo (COUNT_MEMO_SECONDS),
    for count.json and the live stream; None for any other id."""
    if not 0 < petition_id <= MAX_PETITION_ID:
        return None
    memo = app_memo(current_app, "petition_totals", current_app.config["COUNT_MEMO_SECONDS"])
    return memo.get(
        petition_id, lambda: read_public(lambda session: counts.public_total(session, petition_id))
    )


def _stats_memo(name: str):
    """A per-process memo that lives as long as a statistics snapshot (STATS_MEMO_SECONDS)."""
    config = current_app.config
    return app_memo(current_app, name, config["STATS_MEMO_SECONDS"], config["STATS_MEMO_ENTRIES"])


def petition_stats(petition_id: int) -> opendata.PetitionStats | None:
    """A public petition's statistics, memoised per process (see services/opendata.py)."""
    locales = tuple(current_app.config["LANGUAGES"])
    return _stats_memo("petition_stats").get(
        petition_id,
        lambda: read_public(
            lambda session: opendata.petition_stats(
                session, petition_id, locales=locales, now=clock.now()
            )
        ),
    )


def derived(kind: str, stats: opendata.PetitionStats, *parts, build):
    """Something computed from a statistics snapshot (a series, a chart), made once per
    snapshot and process: a long hourly series costs more to build than to send."""
    return _stats_memo(f"derived_{kind}").get((stats.petition_id, stats.computed_at, *parts), build)


def series_points(
    petition: Petition, stats: opendata.PetitionStats, interval: str
) -> list[opendata.SeriesPoint]:
    """The petition's series up to now (or its closing), once per snapshot: the API's time
    series and the page's chart are the same points."""
    end = opendata.series_end(petition, stats.computed_at)
    return derived(
        "series", stats, interval, build=lambda: opendata.series(stats, interval, end=end)
    )
