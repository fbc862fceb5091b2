"""Bulk actions on one petition's signatures: invalidate what a search matches (a script's
work), validate held signatures found genuine, and undo either.

An action is a row (`BulkAction`) with the search as JSON, a public category and a private
note. The worker (`run_next`) works through it in batches of signature ids in ascending order,
each batch one transaction that changes the signatures (services/removal.change_status, the one
place statuses change, so the count stays exact), records what each was before
(`BulkActionItem`) and moves the cursor (`last_signature_id`) on. So an action survives a
restart (it resumes after the cursor), a cancel takes effect between two batches, and two
workers never run the same batch (the action's row is locked for it on PostgreSQL; SQLite
has one writer at a time).

The search is evaluated again for each batch: a signature that arrives while it runs and
matches is included, which is what a moderator stopping a script wants. The preview says how
many match now.

Undo is an action too: it goes through the items of the action it reverses and puts back
each signature still in the status that action gave it (one changed since by someone else is
left alone, and counted as skipped).

Every step is in the petition's audit log (started, finished, cancelled; details name the
action), which moderators read on the petition's page and the site audit log shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    BulkAction,
    BulkActionItem,
    BulkKind,
    BulkState,
    EventAction,
    RemovalCategory,
    Signature,
    SignatureStatus,
)
from . import lifecycle, removal
from .investigation import SignatureQuery, conditions
from .signing import SigningPolicy
from .transitions import log_event

logger = logging.getLogger(__name__)

#: Signatures per batch: small enough that a batch's transaction is short (a confirmation
#: on the same petition waits at most for one batch), large enough to clear 100,000 in minutes.
BATCH_SIZE = 500

#: The statuses each kind of action takes signatures from, and the status it gives them.
SOURCES = {
    BulkKind.INVALIDATE: (SignatureStatus.CONFIRMED, SignatureStatus.HELD),
    BulkKind.VALIDATE: (SignatureStatus.HELD,),
}
TARGETS = {
    BulkKind.INVALIDATE: SignatureStatus.INVALIDATED,
    BulkKind.VALIDATE: SignatureStatus.CONFIRMED,
}


class BulkRefused(Exception):
    """The action cannot start, stop or be undone as asked; `message` says why (a lazy
    string, shown in the moderator's language)."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


BUSY = _l("Another bulk action is running on this petition; wait for it or cancel it first.")


def _add(session: Session, action: BulkAction) -> None:
    """Insert the action; the database allows one running action per petition
    (uq_bulk_actions_one_running), so of two moderators starting at once one is refused."""
    try:
        with session.begin_nested():
            session.add(action)
    except IntegrityError:
        raise BulkRefused(BUSY) from None


def _eligible(session: Session, petition_id: int, kind: BulkKind, query: SignatureQuery) -> list:
    return [
        *conditions(session, petition_id, query),
        Signature.status.in_(SOURCES[kind]),
    ]


def preview(session: Session, petition_id: int, kind: BulkKind, query: SignatureQuery) -> int:
    """How many signatures the action would change if it ran now."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(*_eligible(session, petition_id, kind, query))
        )
        or 0
    )


def _running(session: Session, petition_id: int) -> BulkAction | None:
    return session.scalars(
        select(BulkAction).where(
            BulkAction.petition_id == petition_id, BulkAction.state == BulkState.RUNNING
        )
    ).first()


def start(
    session: Session,
    petition_id: int,
    kind: BulkKind,
    query: SignatureQuery,
    *,
    category: RemovalCategory | None,
    note: str | None,
    actor_id: int | None,
    now: datetime,
) -> BulkAction:
    """Record a new action for the worker; flushes, the caller commits. One action runs per
    petition at a time, so two moderators cannot undo each other's work midway."""
    if kind not in SOURCES:
        raise ValueError(f"start() takes {tuple(SOURCES)}, not {kind}")
    if kind == BulkKind.INVALIDATE and category is None:
        raise BulkRefused(_l("An invalidation needs a public reason category."))
    if query.is_empty:
        raise BulkRefused(
            _l("Narrow the search first: a bulk action never takes every signature of a petition.")
        )
    if _running(session, petition_id) is not None:
        raise BulkRefused(BUSY)
    matched = preview(session, petition_id, kind, query)
    if matched == 0:
        raise BulkRefused(_l("No signature matches, so there is nothing to do."))
    action = BulkAction(
        petition_id=petition_id,
        kind=kind,
        criteria=query.criteria(),
        category=category if kind == BulkKind.INVALIDATE else None,
        note=note or None,
        state=BulkState.RUNNING,
        matched=matched,
        created_by=actor_id,
        created_at=now,
    )
    _add(session, action)
    _log(session, action, EventAction.BULK_STARTED, actor_id=actor_id, now=now)
    return action


def undo(session: Session, action_id: int, *, actor_id: int | None, now: datetime) -> BulkAction:
    """Record an action that puts back what `action_id` changed; flushes, the caller commits."""
    original = session.get(BulkAction, action_id)
    if original is None or original.kind == BulkKind.UNDO:
        raise BulkRefused(_l("Only an invalidation or a validation can be undone."))
    if original.state not in (BulkState.DONE, BulkState.CANCELLED):
        raise BulkRefused(_l("This action cannot be undone now: it is running or already undone."))
    if _running(session, original.petition_id) is not None:
        raise BulkRefused(BUSY)
    action = BulkAction(
        petition_id=original.petition_id,
        kind=BulkKind.UNDO,
        criteria=original.criteria,
        note=note_of_undo(original),
        undo_of=original.id,
        state=BulkState.RUNNING,
        matched=original.changed,
        created_by=actor_id,
        created_at=now,
    )
    _add(session, action)
    _log(session, action, EventAction.BULK_STARTED, actor_id=actor_id, now=now)
    return action


def note_of_undo(original: BulkAction) -> str:
    return f"undo of bulk action {original.id}"


def cancel(session: Session, action_id: int, *, actor_id: int | None, now: datetime) -> bool:
    """Stop a running action after the batch in progress; flushes, the caller commits.
    False when it was not running (finished meanwhile, or cancelled by someone else)."""
    stopped = session.execute(
        update(BulkAction)
        .where(BulkAction.id == action_id, BulkAction.state == BulkState.RUNNING)
        .values(state=BulkState.CANCELLED, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not stopped:
        return False
    action = session.get(BulkAction, action_id)
    session.refresh(action)
    _log(session, action, EventAction.BULK_CANCELLED, actor_id=actor_id, now=now)
    return True


def _log(
    session: Session, action: BulkAction, event: EventAction, *, actor_id: int | None, now
) -> None:
    log_event(
        session,
        action.petition_id,
        event,
        actor_id=actor_id,
        now=now,
        reason=action.category,
        note=action.note,
        details={
            "bulk_action": action.id,
            "kind": action.kind,
            "criteria": action.criteria,
            "matched": action.matched,
            "changed": action.changed,
            **({"undo_of": action.undo_of} if action.undo_of else {}),
        },
    )


@dataclass(frozen=True)
class BatchReport:
    action_id: int
    processed: int
    changed: int
    finished: bool


def _claim(session: Session, action_id: int | None) -> BulkAction | None:
    """The running action (the oldest, or this one), locked for one batch on PostgreSQL
    (another worker skips it meanwhile)."""
    statement = select(BulkAction).where(BulkAction.state == BulkState.RUNNING)
    if action_id is not None:
        statement = statement.where(BulkAction.id == action_id)
    statement = statement.order_by(BulkAction.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalars(statement.execution_options(populate_existing=True)).first()


def run_batch(
    session: Session,
    *,
    now: datetime,
    policy: SigningPolicy,
    batch_size: int = BATCH_SIZE,
    action_id: int | None = None,
) -> BatchReport | None:
    """Do one batch of the oldest running action (or of `action_id`); commits. None when
    nothing runs.

    A batch that counts signatures of a petition still gathering sponsors (held sponsors
    validated, or an invalidation undone) may send it to moderation, as a sponsor's own
    confirmation does (lifecycle.enter_moderation_if_sponsored, same transaction)."""
    action = _claim(session, action_id)
    if action is None:
        session.rollback()
        return None
    if action.kind == BulkKind.UNDO:
        batch = _undo_batch(session, action, now=now, shards=policy.count_shards, size=batch_size)
    else:
        batch = _forward_batch(
            session, action, now=now, shards=policy.count_shards, size=batch_size
        )
    processed, changed, last = batch.processed, batch.changed, batch.last
    if batch.counted:
        lifecycle.enter_moderation_if_sponsored(
            session, action.petition_id, now=now, policy=policy.lifecycle
        )
    finished = processed < batch_size
    values: dict = {
        "processed": BulkAction.processed + processed,
        "changed": BulkAction.changed + changed,
        "last_signature_id": max(last, action.last_signature_id),
    }
    if finished:
        values.update(state=BulkState.DONE, finished_at=now)
    still_running = session.execute(
        update(BulkAction)
        .where(BulkAction.id == action.id, BulkAction.state == BulkState.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not still_running:
        # Cancelled while this batch ran: the cancel wins, the batch is not done.
        session.rollback()
        return BatchReport(action.id, 0, 0, True)
    if finished:
        session.refresh(action)
        _log(session, action, EventAction.BULK_FINISHED, actor_id=action.created_by, now=now)
        if action.undo_of is not None:
            session.execute(
                update(BulkAction)
                .where(BulkAction.id == action.undo_of)
                .values(state=BulkState.UNDONE)
                .execution_options(synchronize_session=False)
            )
    session.commit()
    if finished:
        logger.info(
            "bulk action %s (%s) on petition %s finished: %d of %d changed",
            action.id,
            action.kind,
            action.petition_id,
            action.changed,
            action.processed,
        )
    return BatchReport(action.id, processed, changed, finished)


class _Batch(NamedTuple):
    processed: int
    changed: int
    #: The last signature id looked at (where the next batch resumes).
    last: int
    #: Whether it moved any signature into the count.
    counted: bool = False


def _forward_batch(
    session: Session, action: BulkAction, *, now: datetime, shards: int, size: int
) -> _Batch:
    kind = BulkKind(action.kind)
    query = SignatureQuery.from_criteria(action.criteria)
    ids = list(
        session.scalars(
            select(Signature.id)
            .where(
                *_eligible(session, action.petition_id, kind, query),
                Signature.id > action.last_signature_id,
            )
            .order_by(Signature.id)
            .limit(size)
        )
    )
    if not ids:
        return _Batch(0, 0, action.last_signature_id)
    changed = removal.change_status(
        session,
        action.petition_id,
        ids,
        to=TARGETS[kind],
        now=now,
        shards=shards,
        category=RemovalCategory(action.category) if action.category else None,
        only_from=SOURCES[kind],
    )
    session.add_all(
        BulkActionItem(
            action_id=action.id,
            signature_id=item.signature_id,
            prior_status=item.prior_status,
            prior_category=item.prior_category,
        )
        for item in changed
    )
    return _Batch(
        len(ids),
        len(changed),
        ids[-1],
        counted=bool(changed) and TARGETS[kind] == SignatureStatus.CONFIRMED,
    )


def _undo_batch(
    session: Session, action: BulkAction, *, now: datetime, shards: int, size: int
) -> _Batch:
    original = session.get(BulkAction, action.undo_of)
    items = session.execute(
        select(
            BulkActionItem.signature_id, BulkActionItem.prior_status, BulkActionItem.prior_category
        )
        .where(
            BulkActionItem.action_id == action.undo_of,
            BulkActionItem.signature_id > action.last_signature_id,
        )
        .order_by(BulkActionItem.signature_id)
        .limit(size)
    ).all()
    if not items:
        return _Batch(0, 0, action.last_signature_id)
    given = TARGETS[BulkKind(original.kind)]
    changed = 0
    counted = False
    by_prior: dict[str, list] = {}
    for item in items:
        by_prior.setdefault(item.prior_status, []).append(item)
    for prior, group in sorted(by_prior.items()):
        moved = removal.change_status(
            session,
            action.petition_id,
            [item.signature_id for item in group],
            to=SignatureStatus(prior),
            now=now,
            shards=shards,
            only_from=(given,),
            restore_categories={item.signature_id: item.prior_category for item in group},
        )
        changed += len(moved)
        counted = counted or (bool(moved) and prior == SignatureStatus.CONFIRMED)
    return _Batch(len(items), changed, items[-1].signature_id, counted)


def run_next(session: Session, *, now: datetime, policy: SigningPolicy, batches: int = 10) -> int:
    """The worker's share: up to `batches` batches of running actions; returns how many ran."""
    ran = 0
    for _ in range(batches):
        if run_batch(session, now=now, policy=policy) is None:
            break
        ran += 1
    return ran


def actions_of(session: Session, petition_id: int, *, limit: int = 20) -> list[BulkAction]:
    """The petition's latest bulk actions, newest first."""
    return list(
        session.scalars(
            select(BulkAction)
            .where(BulkAction.petition_id == petition_id)
            .order_by(BulkAction.id.desc())
            .limit(limit)
        )
    )
