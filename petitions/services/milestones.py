"""Milestones: the organiser is emailed when their petition reaches its goal, and when it
passes each of the MILESTONES totals (100, 1,000, 10,000, 100,000 by default), once each.

Where it is detected, and why: in the worker's housekeeping (once a minute), from the count
shards, not at confirmation. Checking at confirmation would need the exact total in the
confirming transaction, i.e. reading every shard (or one hot total row) on every confirmation,
which is the contention services/counts.py spreads over shards to avoid. The worker reads the
totals once a round with one grouped query over the shards of open petitions (and of those
closed in the last two days, so a confirmation just before the close still counts), so an email
may go up to a housekeeping interval after the line was crossed, whatever the signing rate.

Exactly once: each milestone reached is a row of `petition_milestones`, whose primary key is
(petition, kind, total). It is inserted with ON CONFLICT DO NOTHING ... RETURNING, in the
transaction that queues the organiser's email, so when two workers notice the same milestone
at once the database lets one insert it and only that one queues the email. If several
thresholds were crossed since the last round (a burst, or petitions that existed before this
feature), each is recorded but only the highest is emailed, with the goal separately.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .. import links, outbox
from ..database import dialect_insert
from ..models import (
    CountShard,
    MilestoneKind,
    Petition,
    PetitionMilestone,
    PetitionState,
    User,
)

logger = logging.getLogger(__name__)

#: Petitions closed this recently are still checked (confirmations made just before closing).
RECENTLY_CLOSED = timedelta(days=2)


def _insert(session: Session):
    return dialect_insert(session)(PetitionMilestone)


def detect_milestones(
    session: Session, *, thresholds: Sequence[int], now: datetime, base_url: str
) -> int:
    """Record milestones newly reached and email each organiser; commits per petition.

    Returns the number of milestones recorded.
    """
    thresholds = sorted({t for t in thresholds if t > 0})
    total = func.sum(CountShard.count)
    reached_something = Petition.signature_goal.is_not(None) & (total >= Petition.signature_goal)
    if thresholds:
        reached_something = or_(reached_something, total >= thresholds[0])
    rows = session.execute(
        select(
            Petition.id,
            Petition.title,
            Petition.signature_goal,
            User.email,
            User.display_name,
            User.locale,
            total.label("total"),
        )
        .join(CountShard, CountShard.petition_id == Petition.id)
        .join(User, User.id == Petition.owner_id)
        .where(
            or_(
                Petition.state == PetitionState.OPEN,
                and_(
                    Petition.state == PetitionState.CLOSED,
                    Petition.closed_at >= now - RECENTLY_CLOSED,
                ),
            )
        )
        .group_by(
            Petition.id,
            Petition.title,
            Petition.signature_goal,
            User.email,
            User.display_name,
            User.locale,
        )
        .having(reached_something)
    ).all()
    session.commit()
    if not rows:
        return 0
    known = set(
        session.execute(
            select(
                PetitionMilestone.petition_id, PetitionMilestone.kind, PetitionMilestone.threshold
            ).where(PetitionMilestone.petition_id.in_([r.id for r in rows]))
        ).all()
    )
    session.commit()
    recorded = 0
    for row in rows:
        crossed = [(MilestoneKind.COUNT.value, t) for t in thresholds if row.total >= t]
        if row.signature_goal and row.total >= row.signature_goal:
            crossed.append((MilestoneKind.GOAL.value, row.signature_goal))
        new = [(kind, t) for kind, t in crossed if (row.id, kind, t) not in known]
        if not new:
            continue
        inserted = session.execute(
            _insert(session)
            .values(
                [
                    {"petition_id": row.id, "kind": k, "threshold": t, "reached_at": now}
                    for k, t in new
                ]
            )
            .on_conflict_do_nothing()
            .returning(PetitionMilestone.kind, PetitionMilestone.threshold)
        ).all()
        counts = [t for kind, t in inserted if kind == MilestoneKind.COUNT]
        goals = [t for kind, t in inserted if kind == MilestoneKind.GOAL]
        emails = [(goal, True) for goal in goals]
        if counts and max(counts) not in goals:  # a goal equal to a threshold: one email
            emails.append((max(counts), False))
        for threshold, is_goal in emails:
            _email_organiser(session, row, threshold=threshold, goal=is_goal, base_url=base_url)
        session.commit()
        recorded += len(inserted)
        if inserted:
            logger.info("petition %s reached milestones %s", row.id, sorted(inserted))
    return recorded


def _email_organiser(session: Session, row, *, threshold: int, goal: bool, base_url: str) -> None:
    outbox.enqueue(
        session,
        kind="milestone",
        to=row.email,
        locale=row.locale,
        context={
            "name": row.display_name,
            "title": row.title,
            "threshold": threshold,
            "goal": goal,
            "petition_url": links.petition(base_url, row.id),
        },
    )
