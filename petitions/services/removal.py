"""Taking confirmed signatures out of a petition's total: invalidated (fraud, duplicates found
by an operator) or withdrawn (the signer asked). The public data says how many were removed,
per petition, never which.

Exact, like confirmation: one conditional UPDATE flips only signatures that are still
confirmed, and the same transaction takes one off the count shard of each flipped signature
(services/counts.py), so the total equals the confirmed rows at every commit, and removing the
same signature twice removes it once. The signer's address is erased with the removal (no
more mail about this petition); the row stays, so the person cannot sign again and the number
removed stays verifiable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import REMOVED_STATUSES, CountShard, EventAction, Signature, SignatureStatus
from . import counts
from .transitions import log_event

logger = logging.getLogger(__name__)


def _take(session: Session, petition_id: int, signature_ids: list[int], shards: int) -> None:
    """Take the signatures off their shards, in shard order (so two removals never wait for
    each other's shards in opposite orders: no deadlock).

    If COUNT_SHARDS changed since they were counted, a shard may hold fewer than it should
    lose (the CHECK keeps shards >= 0); the rest comes off other shards that have some.
    """
    wanted: dict[int, int] = {}
    for signature_id in signature_ids:
        shard = counts.shard_for(signature_id, shards)
        wanted[shard] = wanted.get(shard, 0) + 1
    left = 0
    for shard, number in sorted(wanted.items()):
        taken = session.execute(
            update(CountShard)
            .where(
                CountShard.petition_id == petition_id,
                CountShard.shard == shard,
                CountShard.count >= number,
            )
            .values(count=CountShard.count - number)
        ).rowcount
        if not taken:
            left += number
    while left:
        row = session.execute(
            select(CountShard.shard, CountShard.count)
            .where(CountShard.petition_id == petition_id, CountShard.count > 0)
            .order_by(CountShard.shard)
            .limit(1)
            .with_for_update()
        ).first()
        if row is None:
            logger.warning("petition %s: no count left to remove %d from", petition_id, left)
            return
        number = min(left, row.count)
        session.execute(
            update(CountShard)
            .where(CountShard.petition_id == petition_id, CountShard.shard == row.shard)
            .values(count=CountShard.count - number)
        )
        left -= number


def remove_signatures(
    session: Session,
    petition_id: int,
    signature_ids: Iterable[int],
    *,
    status: SignatureStatus,
    now: datetime,
    shards: int,
    actor_id: int | None = None,
    note: str | None = None,
) -> int:
    """Remove these confirmed signatures of the petition from its total; flushes, the caller
    commits. Returns how many were removed (ids not confirmed on this petition are ignored)."""
    if status not in REMOVED_STATUSES:
        raise ValueError(f"status must be one of {REMOVED_STATUSES}")
    ids = sorted(set(signature_ids))
    if not ids:
        return 0
    removed = session.scalars(
        update(Signature)
        .where(
            Signature.id.in_(ids),
            Signature.petition_id == petition_id,
            Signature.status == SignatureStatus.CONFIRMED,
        )
        .values(status=status, removed_at=now, email=None, wants_updates=False)
        .returning(Signature.id)
        .execution_options(synchronize_session=False)
    ).all()
    _take(session, petition_id, list(removed), shards)
    if removed:
        log_event(
            session,
            petition_id,
            EventAction.SIGNATURES_REMOVED,
            actor_id=actor_id,
            now=now,
            reason=str(status),
            note=note,
            details={"count": len(removed)},
        )
    session.flush()
    logger.info("%d signatures %s on petition %s", len(removed), status, petition_id)
    return len(removed)
