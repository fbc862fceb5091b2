"""The one place where a petition changes state.

    draft --submit--> sponsoring --enough sponsors--> moderation --approve--> open --close--> closed
      ^   \\--opened by an operator (CLI)------------------------------------^
      +------------------------------ sent back ----------------------------+
    moderation --reject--> rejected;  any state but hidden --hide--> hidden

Every step, whoever takes it (an organiser, a sponsor's confirmation, a moderator, an operator
at the command line, the worker at a deadline), goes through `transition()`, which in the
caller's transaction

1. changes the petition with one conditional UPDATE on the states the step starts from
   (`... WHERE id = :id AND state IN (...)`), so of two requests racing (a double click, two
   moderators, a close at the deadline while the organiser closes it) exactly one moves it and
   the other gets `TransitionRefused` with the state it found;
2. writes the audit-log entry (`log_event`, a PetitionEvent) for it;
3. does the step's side effects: the organiser's email (queued through the outbox, so it
   commits or vanishes with the change) and, on closing, the request for the signers' closing
   email (`closing_mail_after = 0`, services/signer_mail.py).

It flushes, never commits: the caller decides the transaction (a sponsor's confirmation and the
move to moderation commit together).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import links, outbox
from ..models import EventAction, Petition, PetitionEvent, PetitionState, User
from ..models.petition import HIDEABLE_STATES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    #: The states the step starts from.
    sources: tuple[PetitionState, ...]
    target: PetitionState
    #: The organiser's email for it (a kind of petitions/emails.py), if any.
    organiser_mail: str | None = None


S = PetitionState
STEPS: dict[EventAction, Step] = {
    EventAction.SUBMITTED: Step((S.DRAFT,), S.SPONSORING),
    EventAction.ENTERED_MODERATION: Step((S.SPONSORING,), S.MODERATION, "awaiting_moderation"),
    EventAction.APPROVED: Step((S.MODERATION,), S.OPEN, "approved"),
    EventAction.OPENED: Step((S.DRAFT,), S.OPEN),
    EventAction.REJECTED: Step((S.MODERATION,), S.REJECTED, "rejected"),
    EventAction.SENT_BACK: Step((S.MODERATION,), S.DRAFT, "sent_back"),
    EventAction.HIDDEN: Step(HIDEABLE_STATES, S.HIDDEN),
    EventAction.CLOSED: Step((S.OPEN,), S.CLOSED),
}


class TransitionRefused(Exception):
    """The petition is not in a state the step starts from; `state` is the one it is in
    (None: there is no such petition)."""

    def __init__(self, petition_id: int, action: EventAction, state: str | None) -> None:
        super().__init__(f"petition {petition_id} cannot be {action} from {state}")
        self.state = state


def log_event(
    session: Session,
    petition_id: int,
    action: EventAction,
    *,
    actor_id: int | None,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
    details: dict | None = None,
) -> None:
    """Add an audit-log entry to the caller's transaction (the one log of everything that
    happens to a petition: its steps, edits, updates, responses, removed signatures)."""
    session.add(
        PetitionEvent(
            petition_id=petition_id,
            actor_id=actor_id,
            action=action,
            reason=reason,
            note=note,
            details=details,
            created_at=now,
        )
    )
    logger.info("petition %s %s by user %s (%s)", petition_id, action, actor_id, reason or "-")


def transition(
    session: Session,
    petition_id: int,
    action: EventAction,
    *,
    actor_id: int | None,
    now: datetime,
    base_url: str,
    values: dict | None = None,
    reason: str | None = None,
    note: str | None = None,
    details: dict | None = None,
) -> Petition:
    """Take the step `action` (see STEPS and the module docstring); flushes. Returns the
    petition as it is now; raises TransitionRefused if it was not in a state to take it.

    `values` are columns set with the state (a closing date, a rejection reason, ...).
    """
    step = STEPS[action]
    changes = {"state": step.target, **(values or {})}
    if step.target == PetitionState.CLOSED:
        changes.setdefault("closed_at", now)
        changes.setdefault("closing_mail_after", 0)
    moved = session.execute(
        update(Petition)
        .where(Petition.id == petition_id, Petition.state.in_(step.sources))
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        state = session.scalar(select(Petition.state).where(Petition.id == petition_id))
        raise TransitionRefused(petition_id, action, state)
    log_event(
        session,
        petition_id,
        action,
        actor_id=actor_id,
        now=now,
        reason=reason,
        note=note,
        details=details,
    )
    petition = session.get(Petition, petition_id)
    session.refresh(petition)
    if step.organiser_mail:
        _mail_organiser(session, petition, step.organiser_mail, base_url, details or {})
    session.flush()
    logger.info("petition %s is %s (%s)", petition_id, step.target, action)
    return petition


def _mail_organiser(
    session: Session, petition: Petition, kind: str, base_url: str, details: dict
) -> None:
    """The organiser's email about the step, in their language; none for a petition created
    by an operator or whose organiser deleted their account."""
    owner = session.get(User, petition.owner_id) if petition.owner_id else None
    if owner is None:
        return
    context: dict = {
        "name": owner.display_name,
        "title": petition.title,
        "petition_url": links.petition(base_url, petition.id),
    }
    if kind == "awaiting_moderation":
        context["sponsors"] = details.get("sponsors", 0)
        context["organiser_url"] = links.organiser_petition(base_url, petition.id)
    elif kind == "approved":
        context["closes_at"] = petition.closes_at.isoformat() if petition.closes_at else None
        # Shown in the petition's zone, as its page shows it (i18n.petition_zone).
        context["time_zone"] = petition.time_zone
    elif kind == "rejected":
        context["reason"] = petition.rejection_reason
        context["note"] = petition.rejection_note
    elif kind == "sent_back":
        context["note"] = petition.changes_requested
    outbox.enqueue(session, kind=kind, to=owner.email, locale=owner.locale, context=context)
