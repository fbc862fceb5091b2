"""The one place where a signature that the signer confirmed changes status after that:
invalidated (fraud, duplicates found by an operator), withdrawn (the signer asked), a held
signature validated, and any of these undone. (Signing and confirming, in services/signing.py,
only ever move a signature out of *pending*.) The public data says how many were removed, when
and in which category, per petition, never which.

Exact, like confirmation: a conditional UPDATE flips only signatures still in a status they
may come from, and the same transaction takes one off, or adds one to, the count shard of each
flipped signature that leaves or enters the count (services/counts.py), so the total equals
the confirmed rows at every commit, and changing the same signature twice changes it once.

A signature withdrawn, or removed one by one from the command line, loses its address at once
(no more mail about this petition). One invalidated by a bulk action (services/bulk.py) keeps
it, so that an undo gives it back whole; it gets no mail meanwhile (mail goes to confirmed
signatures only), and services/retention.py erases it INVESTIGATION_DAYS after the removal.
The row stays either way, so the person cannot sign again and the number removed stays
verifiable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert
from ..models import (
    REMOVED_STATUSES,
    CountShard,
    EventAction,
    RemovalCategory,
    Signature,
    SignatureStatus,
)
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


#: Where a signature may go from where (after its signer confirmed it). Only CONFIRMED counts.
MOVES: dict[SignatureStatus, tuple[SignatureStatus, ...]] = {
    SignatureStatus.INVALIDATED: (SignatureStatus.CONFIRMED, SignatureStatus.HELD),
    SignatureStatus.WITHDRAWN: (SignatureStatus.CONFIRMED, SignatureStatus.HELD),
    # Validated when held; put back when an invalidation is undone.
    SignatureStatus.CONFIRMED: (SignatureStatus.HELD, SignatureStatus.INVALIDATED),
    # Put back when a validation or an invalidation of a held signature is undone.
    SignatureStatus.HELD: (SignatureStatus.CONFIRMED, SignatureStatus.INVALIDATED),
}


@dataclass(frozen=True)
class Changed:
    """One signature a change moved, with what it was before (so it can be undone)."""

    signature_id: int
    prior_status: str
    prior_category: str | None


def _give(session: Session, petition_id: int, signature_ids: list[int], shards: int) -> None:
    """Count these signatures: one upsert per shard, in shard order (as `_take`)."""
    wanted: dict[int, int] = {}
    for signature_id in signature_ids:
        shard = counts.shard_for(signature_id, shards)
        wanted[shard] = wanted.get(shard, 0) + 1
    insert = dialect_insert(session)
    for shard, number in sorted(wanted.items()):
        statement = insert(CountShard).values(petition_id=petition_id, shard=shard, count=number)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[CountShard.petition_id, CountShard.shard],
                set_={"count": CountShard.count + number},
            )
        )


def change_status(
    session: Session,
    petition_id: int,
    signature_ids: Iterable[int],
    *,
    to: SignatureStatus,
    now: datetime,
    shards: int,
    category: RemovalCategory | None = None,
    only_from: Iterable[SignatureStatus] | None = None,
    erase_address: bool = False,
    restore_categories: dict[int, str | None] | None = None,
) -> list[Changed]:
    """Move these signatures of the petition to `to`, from the statuses `MOVES` allows (or
    the narrower `only_from`), and keep the count exact; flushes, the caller commits and
    logs. Ids of other petitions or in other statuses are left alone. Returns what changed.

    Removed statuses take `category` (a withdrawal is the signer's request unless told
    otherwise). `restore_categories` gives back, per signature, the category an undo
    restores. `erase_address` forgets the address and the wish for updates."""
    allowed = MOVES[to]
    if only_from is not None:
        allowed = tuple(s for s in allowed if s in set(only_from))
    ids = sorted(set(signature_ids))
    if not ids or not allowed:
        return []
    lock = select(Signature.id, Signature.status, Signature.removal_category).where(
        Signature.id.in_(ids),
        Signature.petition_id == petition_id,
        Signature.status.in_(allowed),
    )
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update()
    before = {row.id: row for row in session.execute(lock)}
    values: dict = {"status": to}
    if to in REMOVED_STATUSES:
        if category is None and to == SignatureStatus.WITHDRAWN:
            category = RemovalCategory.SIGNER_REQUEST
        values.update(removed_at=now, removal_category=category)
    else:
        values.update(removed_at=None, removal_category=None)
    if erase_address:
        values.update(email=None, wants_updates=False)
    changed: list[Changed] = []
    for status in allowed:
        group = [i for i, row in before.items() if row.status == status]
        if not group:
            continue
        moved = session.scalars(
            update(Signature)
            .where(Signature.id.in_(group), Signature.status == status)
            .values(**values)
            .returning(Signature.id)
            .execution_options(synchronize_session=False)
        ).all()
        changed += [Changed(i, status, before[i].removal_category) for i in sorted(moved)]
        if status == SignatureStatus.CONFIRMED:
            _take(session, petition_id, list(moved), shards)
        elif to == SignatureStatus.CONFIRMED:
            _give(session, petition_id, list(moved), shards)
    if restore_categories and to in REMOVED_STATUSES:
        by_category: dict[str | None, list[int]] = {}
        for item in changed:
            by_category.setdefault(restore_categories.get(item.signature_id), []).append(
                item.signature_id
            )
        for restored, group in by_category.items():
            session.execute(
                update(Signature)
                .where(Signature.id.in_(group))
                .values(removal_category=restored)
                .execution_options(synchronize_session=False)
            )
    session.flush()
    return changed


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
    """Remove these confirmed signatures of the petition from its total, erasing their
    addresses (the command line's one-by-one removal); flushes, the caller commits. Returns
    how many were removed (ids not confirmed on this petition are ignored)."""
    if status not in REMOVED_STATUSES:
        raise ValueError(f"status must be one of {REMOVED_STATUSES}")
    removed = change_status(
        session,
        petition_id,
        signature_ids,
        to=status,
        now=now,
        shards=shards,
        only_from=(SignatureStatus.CONFIRMED,),
        erase_address=True,
    )
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
