"""Updates: what an organiser tells the signers of their open or closed petition.

`post_update()` stores the update and asks for its email (`mail_after = 0`) in one
transaction; services/signer_mail.py queues that email to confirmed, opted-in signers in
bounded batches. A form's one-time key (`creation_key`, unique in the database) makes a double
submit post one update.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import EventAction, Petition, PetitionUpdate
from ..models.petition import PUBLISHED_STATES
from ..models.updates import UPDATE_BODY_MAX, UPDATE_TITLE_MAX
from ..text import bad_character, normalise
from .transitions import log_event

logger = logging.getLogger(__name__)

#: States whose organiser may post updates: signers exist and the page is public.
UPDATABLE = PUBLISHED_STATES


class UpdateRefused(Exception):
    """The update was not posted: the petition cannot take one, or the text is invalid."""


def _clean(value: str | None, limit: int, *, multiline: bool) -> str:
    value = normalise(value, multiline=multiline)
    if not value or len(value) > limit or bad_character(value, multiline=multiline):
        raise UpdateRefused("invalid text")
    return value


def post_update(
    session: Session,
    petition: Petition,
    *,
    author_id: int,
    title: str,
    body: str,
    creation_key: str,
    now: datetime,
) -> tuple[int, bool]:
    """Post an update on an open or closed petition; commits. Returns (update id, created):
    a second submit of the same form returns the first update's id and False."""
    existing = session.scalar(
        select(PetitionUpdate.id).where(PetitionUpdate.creation_key == creation_key)
    )
    if existing is not None:
        return existing, False
    if petition.state not in UPDATABLE:
        raise UpdateRefused(f"petition is {petition.state}")
    update = PetitionUpdate(
        petition_id=petition.id,
        author_id=author_id,
        title=_clean(title, UPDATE_TITLE_MAX, multiline=False),
        body=_clean(body, UPDATE_BODY_MAX, multiline=True),
        created_at=now,
        creation_key=creation_key,
        mail_after=0,
    )
    session.add(update)
    try:
        session.flush()
    except IntegrityError:
        # The same form sent twice at once: the other request's insert won.
        session.rollback()
        existing = session.scalar(
            select(PetitionUpdate.id).where(PetitionUpdate.creation_key == creation_key)
        )
        if existing is None:
            raise
        return existing, False
    log_event(
        session,
        petition.id,
        EventAction.UPDATE_POSTED,
        actor_id=author_id,
        now=now,
        note=update.title,
        details={"update_id": update.id},
    )
    session.commit()
    logger.info("update %s posted on petition %s by user %s", update.id, petition.id, author_id)
    return update.id, True


def updates_of(session: Session, petition_id: int) -> list[PetitionUpdate]:
    """A petition's updates, newest first (for its public page)."""
    return list(
        session.scalars(
            select(PetitionUpdate)
            .where(PetitionUpdate.petition_id == petition_id)
            .order_by(PetitionUpdate.created_at.desc(), PetitionUpdate.id.desc())
        )
    )
