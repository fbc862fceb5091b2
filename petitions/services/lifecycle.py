"""The organiser's side of a petition's life, modelled on the UK Parliament petitions site.

    draft --submit--> sponsoring --SPONSORS_REQUIRED confirmed sponsors--> moderation
      ^                                                                        |
      +------------------ sent back by a moderator (changes_requested) --------+
    open --closed early by its organiser--> closed

(moderation -> open / rejected / hidden / sent back belongs to services/moderation.py.)

Every change of state goes through services/transitions.py (one conditional UPDATE, the audit
event and the side effects), so two requests racing (a double click, a submit during an edit,
two sponsors confirming at once) change a petition at most once. Functions take their settings
explicitly and commit, unless they say they only flush.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import links
from ..database import dialect_insert
from ..models import (
    EventAction,
    Petition,
    PetitionState,
    PetitionTranslation,
    Signature,
    SignatureStatus,
)
from . import counts
from .petitions import PetitionDraft, PetitionError, cleaned_fields, close_petition
from .transitions import TransitionRefused, log_event, transition

logger = logging.getLogger(__name__)


class LifecycleError(Exception):
    """The petition cannot change as asked in its current state; the message says why."""


class TranslatedAlready(PetitionError):
    """The draft's new language is that of one of its translations."""

    def __init__(self, language: str) -> None:
        super().__init__(f"The petition already has a translation into {language}.")
        self.language = language


@dataclass(frozen=True)
class LifecyclePolicy:
    """The settings the lifecycle depends on."""

    secret_key: str
    base_url: str
    sponsors_required: int

    @classmethod
    def from_config(cls, config: Mapping) -> LifecyclePolicy:
        return cls(
            secret_key=config["SECRET_KEY"],
            base_url=config["PUBLIC_BASE_URL"],
            sponsors_required=config["SPONSORS_REQUIRED"],
        )


def sponsor_link(petition_id: int, policy: LifecyclePolicy) -> str:
    return links.sponsor(policy.base_url, petition_id, policy.secret_key)


# --- reading ---------------------------------------------------------------------------------


def owned_petition(session: Session, petition_id: int, owner_id: int) -> Petition | None:
    """The petition if `owner_id` owns it; None otherwise (the caller answers 404)."""
    petition = session.get(Petition, petition_id)
    if petition is None or petition.owner_id is None or petition.owner_id != owner_id:
        return None
    return petition


def owned_petitions(session: Session, owner_id: int) -> list[tuple[Petition, int]]:
    """An organiser's petitions, newest first, with their confirmed-signature totals."""
    found = session.scalars(
        select(Petition)
        .where(Petition.owner_id == owner_id)
        .order_by(Petition.created_at.desc(), Petition.id.desc())
    ).all()
    totals = counts.counts_for(session, [p.id for p in found])
    return [(p, totals[p.id]) for p in found]


def sponsor_count(session: Session, petition_id: int) -> int:
    """Confirmed sponsor signatures of a petition."""
    return (
        session.scalar(
            select(func.count()).where(
                Signature.petition_id == petition_id,
                Signature.is_sponsor.is_(True),
                Signature.status == SignatureStatus.CONFIRMED,
            )
        )
        or 0
    )


# --- the organiser's actions -----------------------------------------------------------------


def create_draft(
    session: Session,
    draft: PetitionDraft,
    *,
    owner_id: int,
    creation_key: str,
    now: datetime,
    languages: Iterable[str] | None = None,
) -> tuple[int, bool]:
    """Store a new draft owned by `owner_id`; commits. Returns (petition id, created).

    `creation_key` is the one-time key of the form: a second submission of the same form (a
    double click, a reload) finds the petition the first one made, and two racing ones meet at
    the unique constraint (`INSERT ... ON CONFLICT DO NOTHING`), so one form is one petition.
    Raises PetitionError for bad text (or a language not in `languages`, or an unknown time
    zone), LifecycleError if the key belongs to another account.
    """
    fields = cleaned_fields(draft, languages=languages)
    by_key = select(Petition.id, Petition.owner_id).where(Petition.creation_key == creation_key)
    existing = session.execute(by_key).one_or_none()
    if existing is None:
        new_id = session.scalar(
            dialect_insert(session)(Petition)
            .values(
                **fields,
                state=PetitionState.DRAFT,
                owner_id=owner_id,
                creation_key=creation_key,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[Petition.creation_key])
            .returning(Petition.id)
        )
        if new_id is not None:
            log_event(session, new_id, EventAction.CREATED, actor_id=owner_id, now=now)
            session.commit()
            logger.info("petition %s created by user %s", new_id, owner_id)
            return new_id, True
        existing = session.execute(by_key).one()
    session.rollback()
    if existing.owner_id != owner_id:
        raise LifecycleError(_("This form has expired; please reload the page."))
    return existing.id, False


def edit_draft(
    session: Session,
    petition: Petition,
    draft: PetitionDraft,
    *,
    actor_id: int,
    now: datetime,
    languages: Iterable[str] | None = None,
) -> None:
    """Change a draft's texts, language and time zone; commits. Only drafts change
    (LifecycleError otherwise). Its language cannot become that of one of its translations
    (PetitionError: delete the translation first)."""
    fields = cleaned_fields(draft, languages=languages)
    translated = session.scalars(
        select(PetitionTranslation.language).where(PetitionTranslation.petition_id == petition.id)
    ).all()
    if fields["language"] in translated:
        raise TranslatedAlready(fields["language"])
    changed = {
        name: [getattr(petition, name), value]
        for name, value in fields.items()
        if getattr(petition, name) != value
    }
    matched = session.execute(
        update(Petition)
        .where(Petition.id == petition.id, Petition.state == PetitionState.DRAFT)
        .values(**fields)
        .execution_options(synchronize_session=False)
    ).rowcount
    if matched != 1:
        session.rollback()
        raise LifecycleError(_("Only a draft can be edited; this petition has been submitted."))
    if changed:
        log_event(
            session, petition.id, EventAction.EDITED, actor_id=actor_id, now=now, details=changed
        )
    session.commit()
    session.expire(petition)
    logger.info("petition %s edited by user %s: %s", petition.id, actor_id, sorted(changed))


def submit_petition(
    session: Session, petition: Petition, *, actor_id: int, now: datetime, policy: LifecyclePolicy
) -> PetitionState:
    """Draft -> sponsoring (its sponsor link starts working); commits. Returns the new state.

    A draft that already has enough confirmed sponsors (one a moderator sent back) goes
    straight on to the moderation queue.
    """
    try:
        transition(
            session,
            petition.id,
            EventAction.SUBMITTED,
            actor_id=actor_id,
            now=now,
            base_url=policy.base_url,
            values={"submitted_at": now},
            details={"resubmitted": True} if petition.changes_requested else None,
        )
    except TransitionRefused:
        session.rollback()
        raise LifecycleError(_("This petition has already been submitted.")) from None
    state = PetitionState.SPONSORING
    if enter_moderation_if_sponsored(session, petition.id, now=now, policy=policy):
        state = PetitionState.MODERATION
    session.commit()
    session.expire(petition)
    logger.info("petition %s submitted by user %s: %s", petition.id, actor_id, state)
    return state


def enter_moderation_if_sponsored(
    session: Session, petition_id: int, *, now: datetime, policy: LifecyclePolicy
) -> bool:
    """Sponsoring -> moderation once enough sponsors confirmed; flushes, the caller commits.

    Called in the transaction that confirmed a sponsor's signature (or submitted the petition).
    The petition row is locked first (`FOR NO KEY UPDATE` on PostgreSQL, which does not conflict
    with the key-share locks that counting takes; SQLite has one writer at a time anyway), so of
    two confirmations committing at once the second counts after the first has committed: the
    one that crosses the threshold always sees it, and the conditional UPDATE lets exactly one
    move the petition. The transition logs the event and mails the organiser.
    """
    locked = session.scalar(
        select(Petition.id)
        .where(Petition.id == petition_id, Petition.state == PetitionState.SPONSORING)
        .with_for_update(key_share=True)
    )
    if locked is None:
        return False
    sponsors = sponsor_count(session, petition_id)
    if sponsors < policy.sponsors_required:
        return False
    try:
        transition(
            session,
            petition_id,
            EventAction.ENTERED_MODERATION,
            actor_id=None,
            now=now,
            base_url=policy.base_url,
            values={"moderation_requested_at": now},
            details={"sponsors": sponsors},
        )
    except TransitionRefused:
        return False
    logger.info("petition %s has %s sponsors: awaiting moderation", petition_id, sponsors)
    return True


def close_early(
    session: Session, petition: Petition, *, actor_id: int, now: datetime, base_url: str
) -> None:
    """Open -> closed before the deadline, at the organiser's request; commits."""
    try:
        close_petition(
            session,
            petition.id,
            now=now,
            base_url=base_url,
            by="organiser",
            actor_id=actor_id,
            early=True,
        )
    except PetitionError:
        session.rollback()
        raise LifecycleError(_("Only an open petition can be closed.")) from None
    session.commit()
    session.expire(petition)
    logger.info("petition %s closed early by user %s", petition.id, actor_id)
