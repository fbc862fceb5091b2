"""Trending sources: one network that signed one petition at least `trending_threshold`
times in one UTC hour, so moderators notice a campaign (or a script) while it runs.

The worker looks at each complete hour once (`find_trending`, idempotent: the table's unique
constraint on hour, petition and source means a second pass, or a second worker, adds
nothing), then tells the webhook (`notify_webhook`) about each source not yet told.

Only networks for now: signatures keep no email domain column (its keyed hash would be
needed to group by domain without keeping addresses); when one is added, group by it the
same way with `kind="domain"`.

Every signature created in the hour counts, confirmed or not: a script that never confirms
is as much a source as one that does.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Petition, Signature, TrendingSource
from ..pagination import Page, bounds

logger = logging.getLogger(__name__)

#: Seconds the worker waits for the webhook before giving up until the next pass.
WEBHOOK_TIMEOUT = 5
#: Sources older than this are not posted any more (a webhook set up today does not get
#: last month's alerts).
NOTIFY_WITHIN = timedelta(days=1)


def last_complete_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def find_trending(session: Session, *, hour: datetime, threshold: int) -> list[TrendingSource]:
    """Record the sources of the hour starting at `hour` with at least `threshold`
    signatures on one petition; returns the rows added (none for an hour already done).
    Commits each row on its own savepoint, so a row another worker added is skipped."""
    if threshold <= 0:
        return []
    end = hour + timedelta(hours=1)
    signatures = func.count(Signature.id)
    found = session.execute(
        select(Signature.petition_id, Signature.client_network, signatures)
        .where(
            Signature.created_at >= hour,
            Signature.created_at < end,
            Signature.client_network.is_not(None),
        )
        .group_by(Signature.petition_id, Signature.client_network)
        .having(signatures >= threshold)
        .order_by(Signature.petition_id, Signature.client_network)
    ).all()
    known = set(
        session.execute(
            select(TrendingSource.petition_id, TrendingSource.kind, TrendingSource.value).where(
                TrendingSource.hour == hour
            )
        ).all()
    )
    added = []
    for petition_id, network, count in found:
        if (petition_id, "network", network) in known:
            continue
        row = TrendingSource(
            hour=hour, petition_id=petition_id, kind="network", value=network, signatures=count
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        added.append(row)
    if added:
        logger.warning(
            "trending sources in the hour from %s: %s",
            hour.isoformat(),
            ", ".join(f"petition {r.petition_id} {r.value} ({r.signatures})" for r in added),
        )
    return added


def webhook_payload(source: TrendingSource, *, title: str, base_url: str) -> dict:
    return {
        "event": "trending_source",
        "hour": source.hour.isoformat(),
        "petition_id": source.petition_id,
        "petition_title": title,
        "petition_url": f"{base_url.rstrip('/')}/petitions/{source.petition_id}",
        "kind": source.kind,
        "value": source.value,
        "signatures": source.signatures,
    }


def notify_webhook(session: Session, *, url: str, now: datetime, base_url: str) -> int:
    """POST each recent source not yet told to `url` (JSON); marks those the webhook
    accepted (2xx). Errors are logged, never raised: the next pass tries again. Returns how
    many were accepted. The caller commits."""
    pending = session.execute(
        select(TrendingSource, Petition.title)
        .join(Petition, Petition.id == TrendingSource.petition_id)
        .where(TrendingSource.notified_at.is_(None), TrendingSource.hour >= now - NOTIFY_WITHIN)
        .order_by(TrendingSource.id)
    ).all()
    if not url.startswith(("http://", "https://")):
        logger.warning("TRENDING_WEBHOOK_URL is not an http(s) URL; not posting")
        return 0
    told = 0
    for source, title in pending:
        body = json.dumps(webhook_payload(source, title=title, base_url=base_url)).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
                accepted = 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError) as error:
            logger.warning("trending webhook failed for source %s: %s", source.id, error)
            continue
        if accepted:
            source.notified_at = now
            told += 1
    session.flush()
    return told


def recent_sources(session: Session, *, page: int, per_page: int) -> Page:
    """Trending sources, newest hour first, with the petition's title (the admin page)."""
    query = select(TrendingSource, Petition.title).join(
        Petition, Petition.id == TrendingSource.petition_id
    )
    total, pages, page = bounds(session, query, page=page, per_page=per_page)
    rows = session.execute(
        query.order_by(TrendingSource.hour.desc(), TrendingSource.signatures.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(source, title) for source, title in rows], page, pages, total)
