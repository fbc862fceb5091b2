"""Moderation: what moderators decide about petitions, each decision logged with who and why.

Every action is a plain function with explicit arguments (no `request`, no `g`), so views, the
CLI and tests share it. Each one

* changes the petition through services/transitions.py: one conditional UPDATE on the state it
  expects (`... WHERE id = :id AND state = 'moderation'`), so when two moderators act on the
  same petition at once exactly one UPDATE matches and the other gets `ModerationRefused` with
  `Refusal.ALREADY_HANDLED` and changes nothing; the `PetitionEvent` (actor, reason, note,
  details) and the organiser's email in the same transaction, so a decision and its email
  commit or vanish together;
* edits and responses, which change no state, are conditional UPDATEs logged the same way.

Functions flush, never commit, except `queue_response_mail`, which commits once per batch on
purpose (see its docstring). The caller commits.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import (
    EventAction,
    Petition,
    PetitionEvent,
    PetitionState,
    RejectionReason,
    Signature,
    SignatureStatus,
)
from ..models.petition import ACTION_MAX, BACKGROUND_MAX, PUBLISHED_STATES, TITLE_MAX
from ..pagination import Page, bounds
from ..text import bad_character, normalise
from . import signer_mail
from .petitions import MAX_PETITION_ID
from .transitions import TransitionRefused, log_event, transition

logger = logging.getLogger(__name__)

#: Longest note to an organiser (rejection, changes requested) or reason for hiding.
NOTE_MAX = 2000
#: Longest official response.
RESPONSE_MAX = 10000

#: States whose text moderators may correct and that may receive an official response.
PUBLISHED = PUBLISHED_STATES


class Refusal(enum.StrEnum):
    #: No petition with that id.
    NOT_FOUND = "not_found"
    #: The petition is not (or no longer) in a state this action applies to: someone else
    #: handled it first, or it never was there.
    ALREADY_HANDLED = "already_handled"
    #: The text changed since the moderator opened the edit form.
    EDIT_CONFLICT = "edit_conflict"
    #: The edit changes nothing.
    NOTHING_CHANGED = "nothing_changed"
    #: The petition already has an official response.
    ALREADY_RESPONDED = "already_responded"
    #: Input the forms should have refused (empty, too long, control characters).
    INVALID = "invalid"


class ModerationRefused(Exception):
    """The action was not taken; `refusal` says why, `state` is the petition's current state."""

    def __init__(self, refusal: Refusal, *, state: str | None = None, detail: str = "") -> None:
        super().__init__(f"{refusal}: {state or ''} {detail}".strip())
        self.refusal = refusal
        self.state = state
        self.detail = detail


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    petition: Petition
    sponsors: int
    waiting: timedelta


def _sponsor_counts():
    return (
        select(Signature.petition_id, func.count().label("sponsors"))
        .where(Signature.is_sponsor.is_(True), Signature.status == SignatureStatus.CONFIRMED)
        .group_by(Signature.petition_id)
        .subquery()
    )


def moderation_queue(session: Session, *, now: datetime) -> list[QueueEntry]:
    """Petitions waiting for a decision, the longest-waiting first, with their sponsors."""
    sponsors = _sponsor_counts()
    rows = session.execute(
        select(Petition, func.coalesce(sponsors.c.sponsors, 0))
        .outerjoin(sponsors, sponsors.c.petition_id == Petition.id)
        .where(Petition.state == PetitionState.MODERATION)
        .order_by(Petition.moderation_requested_at.asc().nulls_last(), Petition.id)
    ).all()
    return [
        QueueEntry(p, count, now - (p.moderation_requested_at or p.created_at)) for p, count in rows
    ]


def petition_for_review(session: Session, petition_id: int) -> Petition | None:
    """Any petition, whatever its state (moderators see hidden ones too)."""
    if not 0 < petition_id <= MAX_PETITION_ID:
        return None
    return session.get(Petition, petition_id)


def sponsors_of(session: Session, petition_id: int) -> list[Signature]:
    """Confirmed sponsors, in the order they confirmed."""
    return list(
        session.scalars(
            select(Signature)
            .where(
                Signature.petition_id == petition_id,
                Signature.is_sponsor.is_(True),
                Signature.status == SignatureStatus.CONFIRMED,
            )
            .order_by(Signature.confirmed_at, Signature.id)
        )
    )


def events_of(session: Session, petition_id: int) -> list[PetitionEvent]:
    """A petition's history, oldest first."""
    return list(
        session.scalars(
            select(PetitionEvent)
            .where(PetitionEvent.petition_id == petition_id)
            .order_by(PetitionEvent.created_at, PetitionEvent.id)
        )
    )


def audit_log(session: Session, *, petition_id: int | None, page: int, per_page: int) -> Page:
    """Every event (or one petition's), newest first, with the petition's title."""
    query = select(PetitionEvent, Petition.title).join(
        Petition, Petition.id == PetitionEvent.petition_id
    )
    if petition_id is not None:
        query = query.where(PetitionEvent.petition_id == petition_id)
    total, pages, page = bounds(session, query, page=page, per_page=per_page)
    rows = session.execute(
        query.order_by(PetitionEvent.created_at.desc(), PetitionEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(event, title) for event, title in rows], page, pages, total)


def text_fingerprint(petition: Petition) -> str:
    """Identifies the text a moderator saw, so an edit never overwrites someone else's."""
    joined = "\x00".join((petition.title, petition.action, petition.background or ""))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


# --- deciding --------------------------------------------------------------------------------


def _check_text(value: str | None, *, limit: int, required: bool, multiline: bool) -> str | None:
    value = normalise(value, multiline=multiline)
    if required and not value:
        raise ModerationRefused(Refusal.INVALID, detail="required")
    if len(value) > limit:
        raise ModerationRefused(Refusal.INVALID, detail="too long")
    if bad_character(value, multiline=multiline):
        raise ModerationRefused(Refusal.INVALID, detail="bad character")
    return value or None


def _step(
    session: Session,
    petition_id: int,
    action: EventAction,
    *,
    moderator_id: int,
    now: datetime,
    base_url: str,
    **kwargs,
) -> Petition:
    """A moderator's step through services/transitions.py, its refusal as ModerationRefused."""
    try:
        return transition(
            session,
            petition_id,
            action,
            actor_id=moderator_id,
            now=now,
            base_url=base_url,
            **kwargs,
        )
    except TransitionRefused as refused:
        if refused.state is None:
            raise ModerationRefused(Refusal.NOT_FOUND) from None
        raise ModerationRefused(Refusal.ALREADY_HANDLED, state=refused.state) from None


def approve(
    session: Session,
    petition_id: int,
    *,
    moderator_id: int,
    now: datetime,
    duration_days: int,
    base_url: str,
    note: str | None = None,
) -> Petition:
    """Open a petition from the queue for signatures until `duration_days` from now; the
    organiser is emailed its public link and closing date."""
    note = _check_text(note, limit=NOTE_MAX, required=False, multiline=True)
    closes_at = now + timedelta(days=duration_days)
    return _step(
        session,
        petition_id,
        EventAction.APPROVED,
        moderator_id=moderator_id,
        now=now,
        base_url=base_url,
        values={"opened_at": now, "closes_at": closes_at, "changes_requested": None},
        note=note,
        details={"closes_at": closes_at.isoformat(timespec="seconds")},
    )


def reject(
    session: Session,
    petition_id: int,
    *,
    moderator_id: int,
    now: datetime,
    reason: RejectionReason | str,
    note: str,
    base_url: str,
) -> Petition:
    """Refuse a petition from the queue; the reason and note are public and emailed."""
    try:
        reason = RejectionReason(reason)
    except ValueError:
        raise ModerationRefused(Refusal.INVALID, detail="unknown reason") from None
    note = _check_text(note, limit=NOTE_MAX, required=True, multiline=True)
    return _step(
        session,
        petition_id,
        EventAction.REJECTED,
        moderator_id=moderator_id,
        now=now,
        base_url=base_url,
        values={"rejection_reason": reason.value, "rejection_note": note},
        reason=reason.value,
        note=note,
    )


def hide(
    session: Session,
    petition_id: int,
    *,
    moderator_id: int,
    now: datetime,
    reason: str,
    base_url: str = "",
) -> Petition:
    """Take an abusive or unlawful petition out of public view; the reason stays internal."""
    reason_text = _check_text(reason, limit=NOTE_MAX, required=True, multiline=True)
    return _step(
        session,
        petition_id,
        EventAction.HIDDEN,
        moderator_id=moderator_id,
        now=now,
        base_url=base_url,
        values={"hidden_reason": reason_text},
        note=reason_text,
    )


def send_back(
    session: Session,
    petition_id: int,
    *,
    moderator_id: int,
    now: datetime,
    note: str,
    base_url: str,
) -> Petition:
    """Return a petition from the queue to its organiser as a draft, saying what to change."""
    note = _check_text(note, limit=NOTE_MAX, required=True, multiline=True)
    return _step(
        session,
        petition_id,
        EventAction.SENT_BACK,
        moderator_id=moderator_id,
        now=now,
        base_url=base_url,
        values={"changes_requested": note},
        note=note,
    )


def edit_text(
    session: Session,
    petition_id: int,
    *,
    moderator_id: int,
    now: datetime,
    seen: str,
    title: str,
    action: str,
    background: str,
    note: str | None = None,
) -> Petition:
    """Correct the text of a published petition (typos); old and new values go in the log.

    `seen` is the `text_fingerprint()` of the text the moderator edited: if another moderator
    saved a change meanwhile, this one is refused rather than silently undoing theirs.
    """
    new = {
        "title": _check_text(title, limit=TITLE_MAX, required=True, multiline=False),
        "action": _check_text(action, limit=ACTION_MAX, required=True, multiline=True),
        "background": _check_text(background, limit=BACKGROUND_MAX, required=False, multiline=True)
        or "",
    }
    note = _check_text(note, limit=NOTE_MAX, required=False, multiline=True)
    petition = petition_for_review(session, petition_id)
    if petition is None:
        raise ModerationRefused(Refusal.NOT_FOUND)
    if petition.state not in PUBLISHED:
        raise ModerationRefused(Refusal.ALREADY_HANDLED, state=petition.state)
    if text_fingerprint(petition) != seen:
        raise ModerationRefused(Refusal.EDIT_CONFLICT, state=petition.state)
    old = {"title": petition.title, "action": petition.action, "background": petition.background}
    changes = {name: [old[name], value] for name, value in new.items() if old[name] != value}
    if not changes:
        raise ModerationRefused(Refusal.NOTHING_CHANGED, state=petition.state)
    result = session.execute(
        update(Petition)
        .where(
            Petition.id == petition_id,
            Petition.state.in_(PUBLISHED),
            Petition.title == old["title"],
            Petition.action == old["action"],
            Petition.background == old["background"],
        )
        # All three texts, changed or not, so search folds them anew (services/search.py).
        .values(edited_at=now, **new)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ModerationRefused(Refusal.EDIT_CONFLICT, state=petition.state)
    session.refresh(petition)
    log_event(
        session,
        petition.id,
        EventAction.EDITED,
        actor_id=moderator_id,
        now=now,
        note=note,
        details=changes,
    )
    return petition


def attach_response(
    session: Session, petition_id: int, *, moderator_id: int, now: datetime, text: str
) -> Petition:
    """Publish the addressee's response on an open or closed petition, once.

    Marks the petition's opted-in signers as waiting for the response email
    (`response_mail_after = 0`); `queue_response_mail()` queues those emails in batches.
    """
    text = _check_text(text, limit=RESPONSE_MAX, required=True, multiline=True)
    result = session.execute(
        update(Petition)
        .where(
            Petition.id == petition_id,
            Petition.state.in_(PUBLISHED),
            Petition.response_at.is_(None),
        )
        .values(response_text=text, response_at=now, response_mail_after=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = session.execute(
            select(Petition.state, Petition.response_at).where(Petition.id == petition_id)
        ).first()
        if current is None:
            raise ModerationRefused(Refusal.NOT_FOUND)
        if current.state in PUBLISHED:
            raise ModerationRefused(Refusal.ALREADY_RESPONDED, state=current.state)
        raise ModerationRefused(Refusal.ALREADY_HANDLED, state=current.state)
    petition = session.get(Petition, petition_id)
    session.refresh(petition)
    log_event(session, petition.id, EventAction.RESPONSE, actor_id=moderator_id, now=now, note=text)
    return petition


def queue_response_mail(
    session: Session,
    *,
    base_url: str,
    batch_size: int,
    max_batches: int,
    petition_id: int | None = None,
) -> int:
    """Queue official-response emails for opted-in signers, in bounded batches; commits.

    The batching is services/signer_mail.py's, shared with updates and closing emails.

    A response can go to hundreds of thousands of signers, so it is never queued in one
    transaction: each batch of at most `batch_size` (RESPONSE_MAIL_BATCH_SIZE, default 500)
    signers, taken in signature-id order, is queued and committed together with the petition's
    progress marker (`response_mail_after`), and one call handles at most `max_batches`
    (RESPONSE_MAIL_MAX_BATCHES, default 20) batches. So one call writes at most
    `batch_size * max_batches` (10,000) outbox rows and holds no lock for longer than one
    batch. The moderator's request makes the first call; the worker's housekeeping calls it
    again every round (once a minute) until every marker is NULL, which also resumes a fan-out
    interrupted by a crash, and never queues anyone twice (the marker only moves forward, and a
    batch is claimed by a conditional UPDATE of the marker). The mail itself then leaves at the
    outbox's pace (OUTBOX_BATCH_SIZE per worker round, with retries).

    Signers receive it only if they confirmed, asked for updates, and their address is still
    stored. Returns the number of emails queued.
    """
    return signer_mail.queue_signer_mail(
        session,
        base_url=base_url,
        batch_size=batch_size,
        max_batches=max_batches,
        petition_id=petition_id,
        sources=(signer_mail.RESPONSE,),
    )
