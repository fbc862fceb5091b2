"""How long the request facts of a signature are kept (see the privacy page).

Signing keeps the client's address, its network, a keyed hash of the browser's User-Agent
and the time taken to submit, for fraud investigation. Once a petition has been closed for
INVESTIGATION_DAYS nobody will investigate it any more: the worker forgets each address
(`client_ip`) and the User-Agent hash, keeping only the network (aggregate statistics, as
the public numbers' removals may be questioned later) and the time taken.

In batches, by signature id, each committed: resumable, never one long transaction, and
idempotent (a forgotten address is NULL and not looked at again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import REMOVED_STATUSES, Petition, PetitionState, Signature

logger = logging.getLogger(__name__)


def forget_request_facts(
    session: Session,
    *,
    now: datetime,
    investigation_days: int,
    batch_size: int = 1000,
    max_batches: int = 100,
) -> int:
    """Truncate the addresses of signatures of petitions closed more than
    `investigation_days` ago; commits each batch. Returns how many signatures changed."""
    closed_before = now - timedelta(days=investigation_days)
    expired = select(Petition.id).where(
        Petition.state == PetitionState.CLOSED, Petition.closed_at < closed_before
    )
    changed = 0
    for _ in range(max_batches):
        ids = list(
            session.scalars(
                select(Signature.id)
                .where(
                    Signature.petition_id.in_(expired),
                    or_(Signature.client_ip.is_not(None), Signature.user_agent_hash.is_not(None)),
                )
                .order_by(Signature.id)
                .limit(batch_size)
            )
        )
        if not ids:
            break
        changed += session.execute(
            update(Signature)
            .where(Signature.id.in_(ids))
            .values(client_ip=None, user_agent_hash=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
    if changed:
        logger.info("forgot the client addresses of %d signatures", changed)
    return changed


def forget_removed_addresses(
    session: Session,
    *,
    now: datetime,
    investigation_days: int,
    batch_size: int = 1000,
    max_batches: int = 100,
) -> int:
    """Erase the addresses of signatures removed more than `investigation_days` ago (a bulk
    invalidation keeps them so that an undo gives them back, services/removal.py); commits
    each batch. Returns how many signatures changed."""
    removed_before = now - timedelta(days=investigation_days)
    changed = 0
    for _ in range(max_batches):
        ids = list(
            session.scalars(
                select(Signature.id)
                .where(
                    Signature.status.in_(REMOVED_STATUSES),
                    Signature.removed_at < removed_before,
                    Signature.email.is_not(None),
                )
                .order_by(Signature.id)
                .limit(batch_size)
            )
        )
        if not ids:
            break
        changed += session.execute(
            update(Signature)
            .where(Signature.id.in_(ids))
            .values(email=None, wants_updates=False, share_email=False)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
    if changed:
        logger.info("erased the addresses of %d removed signatures", changed)
    return changed
