"""Signing a petition and confirming the signature by email.

The signer always sees the same "check your email" answer, whatever the address's history;
what differs is only the email that address receives (a confirmation link, a reminder link,
or "you already signed"), so the site never tells a third party whether someone signed.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .. import outbox
from ..database import dialect_insert
from ..emailaddr import BUILTIN_ALIAS_RULES, AliasRules, identity_keys
from ..models import Petition, Signature, SignatureStatus
from ..tokens import ConfirmationClaim, TokenState, make_confirmation_token
from . import counts, lifecycle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningPolicy:
    """The settings signing depends on, taken from the app config once per call site."""

    secret_key: str
    hash_key: str
    base_url: str
    max_confirmation_sends: int
    max_already_signed_notices: int
    count_shards: int
    confirmation_max_age: timedelta
    #: Confirmed sponsors that send a submitted petition to moderation (services/lifecycle.py).
    sponsors_required: int = 5
    #: Which addresses are one mailbox (config EMAIL_ALIAS_RULES; see emailaddr.py).
    alias_rules: AliasRules = BUILTIN_ALIAS_RULES

    @classmethod
    def from_config(cls, config: Mapping) -> SigningPolicy:
        return cls(
            secret_key=config["SECRET_KEY"],
            hash_key=config["SIGNER_HASH_KEY"],
            base_url=config["PUBLIC_BASE_URL"],
            max_confirmation_sends=config["CONFIRMATION_MAX_SENDS"],
            max_already_signed_notices=config["ALREADY_SIGNED_MAX_NOTICES"],
            count_shards=config["COUNT_SHARDS"],
            confirmation_max_age=timedelta(seconds=config["CONFIRMATION_MAX_AGE_SECONDS"]),
            sponsors_required=config["SPONSORS_REQUIRED"],
            alias_rules=config["EMAIL_ALIAS_RULES"],
        )

    @property
    def lifecycle(self) -> lifecycle.LifecyclePolicy:
        return lifecycle.LifecyclePolicy(self.secret_key, self.base_url, self.sponsors_required)


@dataclass(frozen=True)
class Signer:
    """What the sign form collects, already validated and cleaned."""

    name: str
    email: str
    country: str
    region: str | None
    wants_updates: bool
    #: Agreed to have their name shown as a signer (to the organiser); off unless ticked.
    show_name: bool = False


class SignOutcome(enum.Enum):
    #: A new pending signature; a confirmation link was queued.
    CREATED = "created"
    #: The address had a pending signature; its link was queued again.
    RESENT = "resent"
    #: The address had already confirmed; a "you already signed" notice was queued.
    ALREADY_SIGNED = "already_signed"
    #: Nothing was queued (the per-signature mail limit is reached).
    LIMIT_REACHED = "limit_reached"


class PetitionNotOpen(Exception):
    """The petition does not accept signatures (draft, closed, or past its deadline)."""


def confirmation_link(signature: Signature, policy: SigningPolicy) -> str:
    token = make_confirmation_token(signature.id, signature.email_key, policy.secret_key)
    return f"{policy.base_url}/confirm/{token}"


def petition_link(petition: Petition, policy: SigningPolicy) -> str:
    """Where the petition can be read: its public page, or its sponsor link before that."""
    if petition.state in lifecycle.SPONSOR_STATES:
        return lifecycle.sponsor_link(petition.id, policy.lifecycle)
    return f"{policy.base_url}/petitions/{petition.id}"


def may_sign(petition: Petition, now: datetime, *, as_sponsor: bool) -> bool:
    """Open petitions take signatures; sponsoring ones (and those waiting for moderation) only
    through the organiser's sponsor link."""
    if as_sponsor:
        return petition.state in lifecycle.SPONSOR_STATES
    return petition.accepts_signatures(now)


def may_confirm(signature: Signature, now: datetime) -> bool:
    """Whether a pending signature can still be confirmed: its petition is open, or it is a
    sponsor's and the petition has not yet left the sponsor stages."""
    petition = signature.petition
    if signature.is_sponsor and petition.state in lifecycle.SPONSOR_STATES:
        return True
    return petition.accepts_signatures(now)


def may_send_confirmation(signature: Signature, now: datetime, policy: SigningPolicy) -> bool:
    """Whether another confirmation mail may go to this pending signature.

    At most `max_confirmation_sends` links can be valid at once, so nobody's inbox can be
    flooded through the form; once every link sent has expired, the allowance starts again,
    so a signer whose mails were lost is never locked out for good.
    """
    if signature.confirmation_sends < policy.max_confirmation_sends:
        return True
    last = signature.last_confirmation_sent_at
    return last is not None and now - last > policy.confirmation_max_age


def _queue_confirmation(
    session: Session,
    signature: Signature,
    petition: Petition,
    to: str,
    policy: SigningPolicy,
    now: datetime,
) -> None:
    """Count one more confirmation mail for a pending signature and queue it."""
    if signature.confirmation_sends >= policy.max_confirmation_sends:
        signature.confirmation_sends = 0
    signature.confirmation_sends += 1
    signature.last_confirmation_sent_at = now
    _enqueue_confirmation_mail(session, signature, petition, to, policy)


def _enqueue_confirmation_mail(
    session: Session, signature: Signature, petition: Petition, to: str, policy: SigningPolicy
) -> None:
    outbox.enqueue(
        session,
        kind="confirmation",
        to=to,
        subject=_("Confirm your signature: %(title)s", title=petition.title),
        template="confirm_signature",
        petition=petition,
        signature=signature,
        confirm_url=confirmation_link(signature, policy),
        petition_url=petition_link(petition, policy),
    )


def _queue_already_signed(
    session: Session, signature: Signature, petition: Petition, to: str, policy: SigningPolicy
) -> None:
    signature.already_signed_notices += 1
    outbox.enqueue(
        session,
        kind="already_signed",
        to=to,
        subject=_("You have already signed: %(title)s", title=petition.title),
        template="already_signed",
        petition=petition,
        petition_url=petition_link(petition, policy),
    )


def sign_petition(
    session: Session,
    petition: Petition,
    signer: Signer,
    *,
    now: datetime,
    policy: SigningPolicy,
    as_sponsor: bool = False,
) -> SignOutcome:
    """Record a pending signature (or answer a repeat) and queue its email; commits.

    The signature and its email are written in one transaction. Two submissions racing with
    the same address meet at the unique constraint (`INSERT ... ON CONFLICT DO NOTHING`): the
    loser is treated as a repeat. No SAVEPOINT: with SQLite's Python driver, releasing one
    that opened the transaction commits it, which would store the signature without its mail.

    `as_sponsor`: signed through the organiser's sponsor link (see may_sign); the signature is
    flagged as a sponsor's and otherwise treated like any other.
    """
    if not may_sign(petition, now, as_sponsor=as_sponsor):
        raise PetitionNotOpen(petition.id)
    key, *earlier_keys = identity_keys(signer.email, policy.hash_key, policy.alias_rules)
    same_person = select(Signature).where(
        Signature.petition_id == petition.id, Signature.email_key.in_([key, *earlier_keys])
    )
    existing = session.scalar(same_person)
    if existing is None:
        signature = session.scalar(
            dialect_insert(session)(Signature)
            .values(
                petition_id=petition.id,
                email_key=key,
                email=signer.email,
                name=signer.name,
                country=signer.country,
                region=signer.region,
                wants_updates=signer.wants_updates,
                show_name=signer.show_name,
                is_sponsor=as_sponsor,
                consented_at=now,
                created_at=now,
                status=SignatureStatus.PENDING,
                # Its first confirmation mail, queued just below in the same transaction.
                confirmation_sends=1,
                last_confirmation_sent_at=now,
                already_signed_notices=0,
            )
            .on_conflict_do_nothing(index_elements=[Signature.petition_id, Signature.email_key])
            .returning(Signature)
        )
        if signature is not None:
            _enqueue_confirmation_mail(session, signature, petition, signer.email, policy)
            session.commit()
            return SignOutcome.CREATED
        existing = session.scalar(same_person)
        if existing is None:  # the row that won the race was deleted meanwhile
            raise RuntimeError(f"signature of petition {petition.id} neither stored nor found")
    outcome = _answer_repeat(session, existing, petition, signer, policy, now)
    session.commit()
    return outcome


def _answer_repeat(
    session: Session,
    signature: Signature,
    petition: Petition,
    signer: Signer,
    policy: SigningPolicy,
    now: datetime,
) -> SignOutcome:
    if signature.is_confirmed:
        if signature.already_signed_notices >= policy.max_already_signed_notices:
            return SignOutcome.LIMIT_REACHED
        _queue_already_signed(session, signature, petition, signer.email, policy)
        return SignOutcome.ALREADY_SIGNED
    if not may_send_confirmation(signature, now, policy):
        return SignOutcome.LIMIT_REACHED
    _queue_confirmation(session, signature, petition, signer.email, policy, now)
    return SignOutcome.RESENT


class ConfirmOutcome(enum.Enum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    PETITION_CLOSED = "petition_closed"
    NOT_FOUND = "not_found"


def signature_for_claim(session: Session, claim: ConfirmationClaim) -> Signature | None:
    """The signature a decoded token refers to, if the token is well-formed and still fits."""
    if claim.state is TokenState.INVALID or claim.signature_id is None:
        return None
    signature = session.get(Signature, claim.signature_id)
    if signature is None or not signature.email_key.startswith(claim.key_prefix or "\0"):
        return None
    return signature


def confirm_signature(
    session: Session, signature_id: int, *, now: datetime, policy: SigningPolicy
) -> ConfirmOutcome:
    """Confirm a pending signature and count it, exactly once; commits.

    The status flip is a conditional UPDATE, so of two simultaneous confirmations only one
    changes a row and only that one adds to the count. A sponsor's confirmation may, in the same
    transaction, send the petition to moderation (lifecycle.enter_moderation_if_sponsored).
    """
    signature = session.get(Signature, signature_id)
    if signature is None:
        return ConfirmOutcome.NOT_FOUND
    if signature.is_confirmed:
        return ConfirmOutcome.ALREADY_CONFIRMED
    if not may_confirm(signature, now):
        return ConfirmOutcome.PETITION_CLOSED
    values: dict = {"status": SignatureStatus.CONFIRMED, "confirmed_at": now}
    if not signature.wants_updates:
        values["email"] = None
    flipped = session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.status == SignatureStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if flipped != 1:
        session.rollback()
        return ConfirmOutcome.ALREADY_CONFIRMED
    counts.add_confirmed(session, signature.petition_id, signature_id, policy.count_shards)
    if signature.is_sponsor:
        lifecycle.enter_moderation_if_sponsored(
            session, signature.petition_id, now=now, policy=policy.lifecycle
        )
    session.commit()
    logger.info("signature %s confirmed on petition %s", signature_id, signature.petition_id)
    return ConfirmOutcome.CONFIRMED


def resend_confirmation(
    session: Session, signature: Signature, *, now: datetime, policy: SigningPolicy
) -> bool:
    """Queue a fresh link for a pending signature whose link expired; commits.

    Returns False (and queues nothing) when there is nothing to send: the signature is already
    confirmed, its address was erased, the petition closed, or the mail limit is reached.
    """
    if (
        signature.is_confirmed
        or not signature.email
        or not may_confirm(signature, now)
        or not may_send_confirmation(signature, now, policy)
    ):
        return False
    _queue_confirmation(session, signature, signature.petition, signature.email, policy, now)
    session.commit()
    return True


def purge_unconfirmed(session: Session, *, older_than: datetime) -> int:
    """Delete pending signatures created before `older_than`; flushes, returns how many.

    Nobody confirmed them, so they count for nothing, and keeping their email addresses would
    only be a liability (data minimisation). Their links have long expired by then.
    """
    result = session.execute(
        delete(Signature).where(
            Signature.status == SignatureStatus.PENDING, Signature.created_at < older_than
        )
    )
    return result.rowcount or 0
