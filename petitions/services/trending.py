"""Trending sources: one network (at least `trending_threshold` signatures) or one email
domain (at least `trending_domain_threshold`) that signed one petition in one UTC hour, so
moderators notice a campaign (or a script) while it runs.

The worker looks at each complete hour once (`find_trending`, idempotent: the table's unique
constraint on hour, petition and source means a second pass, or a second worker, adds
nothing), then tells the webhook (`notify_webhook`) about each source not yet told.

Big mail providers (RATE_SIGN_DOMAIN_EXEMPT) and domains an admin allowed (an ALLOW rule) are
never domain sources: thousands of gmail.com signers an hour are a popular petition, not a
campaign, and the network grouping still sees a script behind them.

Every signature created in the hour counts, confirmed or not: a script that never confirms
is as much a source as one that does.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..emailaddr import domain_matches
from ..models import Petition, Signature, TrendingSource
from ..pagination import Page, bounds
from .investigation import SignatureQuery

logger = logging.getLogger(__name__)

#: Seconds the worker waits for the webhook before giving up until the next pass.
WEBHOOK_TIMEOUT = 5
#: Sources older than this are not posted any more (a webhook set up today does not get
#: last month's alerts).
NOTIFY_WITHIN = timedelta(days=1)


def last_complete_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def _grouped(session: Session, column, *, hour: datetime, threshold: int) -> list[tuple]:
    """(petition id, source, signatures) of the hour's sources of one kind over `threshold`."""
    if threshold <= 0:
        return []
    signatures = func.count(Signature.id)
    return session.execute(
        select(Signature.petition_id, column, signatures)
        .where(
            Signature.created_at >= hour,
            Signature.created_at < hour + timedelta(hours=1),
            column.is_not(None),
        )
        .group_by(Signature.petition_id, column)
        .having(signatures >= threshold)
        .order_by(Signature.petition_id, column)
    ).all()


def find_trending(
    session: Session,
    *,
    hour: datetime,
    threshold: int,
    domain_threshold: int = 0,
    exempt_domains: Sequence[str] = (),
) -> list[TrendingSource]:
    """Record the sources of the hour starting at `hour`: networks with at least `threshold`
    signatures on one petition, email domains with at least `domain_threshold` (0: none)
    unless one of the `exempt_domains` patterns (globs as in access rules) covers them.
    Returns the rows added (none for an hour already done). Each row is added on its own
    savepoint, so a row another worker added is skipped; the caller commits."""
    found = [
        ("network", petition_id, value, count)
        for petition_id, value, count in _grouped(
            session, Signature.client_network, hour=hour, threshold=threshold
        )
    ] + [
        ("domain", petition_id, value, count)
        for petition_id, value, count in _grouped(
            session, Signature.email_domain, hour=hour, threshold=domain_threshold
        )
        if not any(domain_matches(value, pattern) for pattern in exempt_domains)
    ]
    known = set(
        session.execute(
            select(TrendingSource.petition_id, TrendingSource.kind, TrendingSource.value).where(
                TrendingSource.hour == hour
            )
        ).all()
    )
    added = []
    for kind, petition_id, value, count in found:
        if (petition_id, kind, value) in known:
            continue
        row = TrendingSource(
            hour=hour, petition_id=petition_id, kind=kind, value=value, signatures=count
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
            ", ".join(
                f"petition {r.petition_id} {r.kind} {r.value} ({r.signatures})" for r in added
            ),
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


def source_query(source: TrendingSource) -> SignatureQuery:
    """The investigation search for a source's signatures in its hour."""
    return SignatureQuery(
        address=source.value if source.kind == "network" else None,
        domain=source.value if source.kind == "domain" else None,
        since=source.hour,
        until=source.hour + timedelta(hours=1),
    )


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
