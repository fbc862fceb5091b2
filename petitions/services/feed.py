"""What the Atom feed lists: petitions newly opened, and the milestones they reached.

For journalists and anyone who follows the site in a feed reader: one entry when a petition
opens for signatures, one when it reaches its goal or passes a MILESTONES total (as recorded
by the worker in `petition_milestones`). Only public petitions with a public count (open or
closed) appear: drafts, petitions in moderation, rejected and hidden ones never do, and an
entry disappears if its petition is hidden later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    MilestoneKind,
    Petition,
    PetitionMilestone,
    PetitionTranslation,
)
from .opendata import COUNTED_STATES

#: The kind of an entry for a petition that opened; milestones use their MilestoneKind.
OPENED = "opened"


@dataclass(frozen=True)
class FeedEntry:
    #: OPENED, or a MilestoneKind ("goal", "count").
    kind: str
    petition_id: int
    title: str
    action: str
    addressee: str
    #: The total a milestone reached; None for OPENED.
    threshold: int | None
    #: When it happened: the opening, or when the worker noticed the milestone.
    at: datetime

    def tag_uri(self, authority: str) -> str:
        """The entry's permanent id, an RFC 4151 tag: URI.

        Made of facts that never change once the entry exists (the petition, the event and the
        day it happened), so a feed reader never shows an entry twice, even if the site moves.
        """
        day = self.at.strftime("%Y-%m-%d")
        if self.kind == OPENED:
            return f"tag:{authority},{day}:petition/{self.petition_id}/opened"
        return f"tag:{authority},{day}:petition/{self.petition_id}/{self.kind}/{self.threshold}"


def recent_entries(
    session: Session, *, now: datetime, limit: int, language: str | None = None
) -> list[FeedEntry]:
    """The `limit` newest entries up to `now`, newest first; each petition's title and action
    in its approved translation into `language`, where it has one (the feed of that language).

    Two bounded queries (openings through the (state, opened_at) index, milestones), merged;
    a third for the translations.
    """
    opened = session.execute(
        select(Petition.id, Petition.title, Petition.action, Petition.addressee, Petition.opened_at)
        .where(Petition.state.in_(COUNTED_STATES), Petition.opened_at <= now)
        .order_by(Petition.opened_at.desc(), Petition.id.desc())
        .limit(limit)
    ).all()
    reached = session.execute(
        select(
            PetitionMilestone.petition_id,
            PetitionMilestone.kind,
            PetitionMilestone.threshold,
            PetitionMilestone.reached_at,
            Petition.title,
            Petition.action,
            Petition.addressee,
        )
        .join(Petition, Petition.id == PetitionMilestone.petition_id)
        .where(Petition.state.in_(COUNTED_STATES), PetitionMilestone.reached_at <= now)
        .order_by(
            PetitionMilestone.reached_at.desc(),
            PetitionMilestone.petition_id.desc(),
            PetitionMilestone.threshold.desc(),
        )
        .limit(limit)
    ).all()
    entries = [
        FeedEntry(OPENED, row.id, row.title, row.action, row.addressee, None, row.opened_at)
        for row in opened
    ] + [
        FeedEntry(
            row.kind,
            row.petition_id,
            row.title,
            row.action,
            row.addressee,
            row.threshold,
            row.reached_at,
        )
        for row in reached
    ]
    # Newest first; at the same moment a milestone after the opening, a goal after a count.
    order = {OPENED: 0, MilestoneKind.COUNT: 1, MilestoneKind.GOAL: 2}
    entries.sort(
        key=lambda e: (e.at, e.petition_id, order.get(e.kind, 3), e.threshold or 0), reverse=True
    )
    entries = entries[:limit]
    if language is None or not entries:
        return entries
    translated = {
        row.petition_id: row
        for row in session.execute(
            select(
                PetitionTranslation.petition_id,
                PetitionTranslation.title,
                PetitionTranslation.action,
            ).where(*PetitionTranslation.approved_into(language, {e.petition_id for e in entries}))
        )
    }
    return [
        replace(e, title=translated[e.petition_id].title, action=translated[e.petition_id].action)
        if e.petition_id in translated
        else e
        for e in entries
    ]
