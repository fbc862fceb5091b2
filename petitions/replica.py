"""A read replica for the public numbers, when DATABASE_REPLICA_URL names one.

The numbers a crowd reads (services/public_numbers.py: a petition's running total for
count.json, the live counter and the widget; its statistics snapshot for its page, the API
and the feed) are the site's most repeated reads, and none of them needs the very latest
commit: they are already memoised per process for COUNT_MEMO_SECONDS and STATS_MEMO_SECONDS.
A PostgreSQL hot standby (`pg_basebackup -R`, streaming replication) can answer them instead
of the primary, which then keeps its connections and processor for signing. Everything else,
every write and every read that decides one (signing, confirming, accounts, moderation),
stays on the primary.

The replica is behind by its replay lag (milliseconds on a quiet network, more while it
replays a burst; README, Operations). A replica that cannot be reached is no reason to refuse
a reader: the numbers are then read from the primary, and the log says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .errors import database_unavailable
from .extensions import db

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: app.extensions key of the replica's engine (absent without DATABASE_REPLICA_URL).
ENGINE_KEY = "petitions_replica_engine"


def replica_engine(app: Flask) -> Engine | None:
    return app.extensions.get(ENGINE_KEY)


def read_public(read: Callable[[Session], T]) -> T:
    """`read(session)` on the replica if there is one (a session of its own, closed after),
    else, or if the replica is unavailable, on the request's session to the primary."""
    engine = replica_engine(current_app)
    if engine is None:
        return read(db.session)
    try:
        with Session(engine) as session:
            return read(session)
    except SQLAlchemyError as error:
        if not database_unavailable(error):
            raise
        logger.warning(
            "read replica unavailable, the public numbers come from the primary: %s", error
        )
        return read(db.session)


def init_app(app: Flask) -> None:
    """The replica's engine, with the primary's engine options (pool_pre_ping: a replica
    restarted or promoted is reconnected to, not failed on)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if url:
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        app.extensions[ENGINE_KEY] = create_engine(url, **options)
