"""Signing a petition and confirming the signature by email.

The signer always sees the same "check your email" answer, whatever the address's history;
what differs is only the email that address receives (a confirmation link, a reminder link,
or "you already signed"), so the site never tells a third party whether someone signed.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.orm import Session

from .. import links, outbox
from ..clientaddr import network_of, parse_address
from ..database import dialect_insert
from ..emailaddr import BUILTIN_ALIAS_RULES, AliasRules, email_domain, identity_keys
from ..models import Petition, Signature, SignatureFlag, SignatureStatus
from ..models.petition import SPONSOR_STATES
from ..models.types import UTCDateTime
from ..tokens import ConfirmationClaim, TokenState
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
    #: Chose to give their address to the organiser; off unless ticked.
    share_email: bool = False
    #: The language they signed in; their emails are written in it.
    locale: str = "en"


@dataclass(frozen=True)
class RequestFacts:
    """What the request that signs looked like, kept on the new signature for fraud
    investigation (the privacy page says what and for how long; services/retention.py
    truncates the address later)."""

    #: The client's IP address (clientaddr.py made request.remote_addr trustworthy).
    client_ip: str | None = None
    #: Its network, e.g. "203.0.113.0/24" (clientaddr.network_of).
    client_network: str | None = None
    #: A keyed hash of the User-Agent, 16 hex characters (`user_agent_hash`).
    user_agent_hash: str | None = None
    #: Milliseconds from the form being served to it being posted; None: unknown.
    submit_ms: int | None = None
    #: The address's domain (emailaddr.email_domain).
    email_domain: str | None = None

    @classmethod
    def observe(
        cls,
        *,
        remote_addr: str | None,
        user_agent: str | None,
        email: str,
        submit_ms: int | None,
        hash_key: str,
    ) -> RequestFacts:
        address = parse_address(remote_addr)
        return cls(
            client_ip=str(address) if address else None,
            client_network=network_of(address) if address else None,
            user_agent_hash=user_agent_hash(user_agent, hash_key),
            submit_ms=submit_ms,
            email_domain=email_domain(email),
        )


def user_agent_hash(user_agent: str | None, hash_key: str) -> str | None:
    """The same browser gives the same 16 hex characters; the text is not kept (HMAC-SHA256
    with SIGNER_HASH_KEY, so the value cannot be looked up in a table of known agents)."""
    if not user_agent:
        return None
    message = b"user-agent:" + user_agent.encode("utf-8", "replace")
    return hmac.new(hash_key.encode(), message, hashlib.sha256).hexdigest()[:16]


#: The signer clicked their link: counted, or held for review (which they are not told).
CONFIRMED_BY_SIGNER = (SignatureStatus.CONFIRMED, SignatureStatus.HELD)


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


def confirmation_link(signature_id: int, email_key: str, policy: SigningPolicy) -> str:
    return links.confirmation(policy.base_url, signature_id, email_key, policy.secret_key)


def petition_link(petition: Petition, policy: SigningPolicy) -> str:
    """Where the petition can be read: its public page, or its sponsor link before that."""
    if petition.state in SPONSOR_STATES:
        return links.sponsor(policy.base_url, petition.id, policy.secret_key)
    return links.petition(policy.base_url, petition.id)


def may_sign(petition: Petition, now: datetime, *, as_sponsor: bool) -> bool:
    """Open petitions take signatures; sponsoring ones (and those waiting for moderation) only
    through the organiser's sponsor link."""
    if as_sponsor:
        return petition.state in SPONSOR_STATES
    return petition.accepts_signatures(now)


def may_confirm(signature: Signature, now: datetime) -> bool:
    """Whether a pending signature can still be confirmed: its petition is open, or it is a
    sponsor's and the petition has not yet left the sponsor stages."""
    petition = signature.petition
    if signature.is_sponsor and petition.state in SPONSOR_STATES:
        return True
    return petition.accepts_signatures(now)


def may_send_confirmation(signature: Signature, now: datetime, policy: SigningPolicy) -> bool:
    """Whether another confirmation mail may go to this pending signature.

    At most `max_confirmation_sends` links can be valid at once, so nobody's inbox can be
    flooded through the form; once every link sent has expired, the allowance starts again,
    so a signer whose mails were lost is never locked out for good. `COUNT_MAIL` is the
    same rule in SQL, applied atomically when signing.
    """
    if signature.confirmation_sends < policy.max_confirmation_sends:
        return True
    last = signature.last_confirmation_sent_at
    return last is not None and now - last > policy.confirmation_max_age


def _confirmation_context(
    signature_id: int, email_key: str, name: str, petition: Petition, policy: SigningPolicy
) -> dict:
    return {
        "name": name,
        "title": petition.title,
        "petition_id": petition.id,
        "confirm_url": confirmation_link(signature_id, email_key, policy),
        "petition_url": petition_link(petition, policy),
    }


def _count_mail_statement():
    """One UPDATE that counts one more mail to the signature of (petition, key), if its limit
    allows one, and returns the row (None when the limit is reached or the signature was
    taken out of the total); its values are `_count_mail_params`.

    The check and the increment are one statement, so parallel requests for the same address
    (20 at once in an attack) cannot all pass the check: the row lock serialises them and each
    sees the count the one before left. A pending signature counts confirmation mails (its
    allowance starts again once every link sent has expired, as `may_send_confirmation`); a
    confirmed one counts "you already signed" notices.

    Built once, on the table (Core, not the ORM): building this statement on every sign
    request cost more of the app's CPU than PostgreSQL spent running it.
    """
    c = Signature.__table__.c
    pending = c.status == SignatureStatus.PENDING
    confirmed = c.status.in_(CONFIRMED_BY_SIGNER)
    max_sends = bindparam("max_sends", type_=Integer())
    return (
        update(Signature.__table__)
        .where(
            c.petition_id == bindparam("of_petition"),
            c.email_key == bindparam("of_key"),
            or_(
                and_(
                    pending,
                    or_(
                        c.confirmation_sends < max_sends,
                        c.last_confirmation_sent_at < bindparam("expired_before"),
                    ),
                ),
                and_(confirmed, c.already_signed_notices < bindparam("max_notices")),
            ),
        )
        .values(
            confirmation_sends=case(
                (
                    pending,
                    case(
                        (c.confirmation_sends >= max_sends, 1),
                        else_=c.confirmation_sends + 1,
                    ),
                ),
                else_=c.confirmation_sends,
            ),
            last_confirmation_sent_at=case(
                (pending, bindparam("now", type_=UTCDateTime())),
                else_=c.last_confirmation_sent_at,
            ),
            already_signed_notices=case(
                (confirmed, c.already_signed_notices + 1),
                else_=c.already_signed_notices,
            ),
        )
        .returning(c.id, c.status, c.name, c.locale, c.created_at, c.confirmation_sends)
    )


COUNT_MAIL = _count_mail_statement()


def _count_mail_params(petition_id: int, key: str, now: datetime, policy: SigningPolicy) -> dict:
    return {
        "of_petition": petition_id,
        "of_key": key,
        "max_sends": policy.max_confirmation_sends,
        "expired_before": now - policy.confirmation_max_age,
        "max_notices": policy.max_already_signed_notices,
        "now": now,
    }


#: The sign request's INSERT ... ON CONFLICT DO NOTHING, per database dialect (built once,
#: as COUNT_MAIL; the row's values are the execution's parameters).
_SIGNATURE_INSERTS: dict[str, object] = {}


def _signature_insert(session: Session):
    dialect = session.get_bind().dialect.name
    statement = _SIGNATURE_INSERTS.get(dialect)
    if statement is None:
        table = Signature.__table__
        statement = _SIGNATURE_INSERTS[dialect] = dialect_insert(session)(
            table
        ).on_conflict_do_nothing(index_elements=[table.c.petition_id, table.c.email_key])
    return statement


def sign_petition(
    session: Session,
    petition: Petition,
    signer: Signer,
    *,
    now: datetime,
    policy: SigningPolicy,
    as_sponsor: bool = False,
    facts: RequestFacts | None = None,
    flag: SignatureFlag | None = None,
) -> SignOutcome:
    """Record a pending signature (or answer a repeat) and queue its email; commits.

    Every answer costs the same three statements, so the response time does not tell whether
    the address had signed (emails.py says why the mail is rendered by the worker):

    1. `INSERT ... ON CONFLICT DO NOTHING` of a pending signature (nothing for a repeat; two
       submissions racing with one address meet at the unique constraint);
    2. one conditional UPDATE that counts the mail this answer sends, within its limit
       (`COUNT_MAIL`), and says which row and state it found;
    3. one outbox row: the confirmation link (new or pending), "you already signed"
       (confirmed), or a withheld record when the limit is reached.

    All in one transaction, so a signature never exists without its mail. No SAVEPOINT: with
    SQLite's Python driver, releasing one that opened the transaction commits it.

    `as_sponsor`: signed through the organiser's sponsor link (see may_sign); the signature is
    flagged as a sponsor's and otherwise treated like any other.

    `facts` (the request) and `flag` (services/screening.py's verdict) are stored on a new
    row only; a repeat keeps what its first request left (the INSERT does nothing).
    """
    if facts is None:
        facts = RequestFacts(email_domain=email_domain(signer.email))
    if not may_sign(petition, now, as_sponsor=as_sponsor):
        raise PetitionNotOpen(petition.id)
    key, *earlier_keys = identity_keys(signer.email, policy.hash_key, policy.alias_rules)
    if earlier_keys:
        # The address may have signed under an older rule's key (emailaddr.identity_keys):
        # that row is the person's. Whether this lookup runs depends on how the address is
        # written, never on whether it signed.
        key = (
            session.scalar(
                select(Signature.email_key)
                .where(
                    Signature.petition_id == petition.id,
                    Signature.email_key.in_(earlier_keys),
                )
                .limit(1)
            )
            or key
        )
    session.execute(
        _signature_insert(session),
        {
            "petition_id": petition.id,
            "email_key": key,
            "email": signer.email,
            "name": signer.name,
            "country": signer.country,
            "region": signer.region,
            "wants_updates": signer.wants_updates,
            "share_email": signer.share_email,
            "show_name": signer.show_name,
            "locale": signer.locale,
            "is_sponsor": as_sponsor,
            "consented_at": now,
            "created_at": now,
            "status": SignatureStatus.PENDING,
            "confirmation_sends": 0,
            "last_confirmation_sent_at": None,
            "already_signed_notices": 0,
            "flag": flag,
            "client_ip": facts.client_ip,
            "client_network": facts.client_network,
            "user_agent_hash": facts.user_agent_hash,
            "submit_ms": facts.submit_ms,
            "email_domain": facts.email_domain,
        },
    )
    row = session.execute(
        COUNT_MAIL, _count_mail_params(petition.id, key, now, policy)
    ).one_or_none()
    if row is None:
        outbox.withhold(session, kind="confirmation", reason="mail limit reached")
        outcome = SignOutcome.LIMIT_REACHED
    elif row.status in CONFIRMED_BY_SIGNER:
        outbox.enqueue(
            session,
            kind="already_signed",
            to=signer.email,
            locale=row.locale,
            context={
                "title": petition.title,
                "petition_id": petition.id,
                "petition_url": petition_link(petition, policy),
            },
        )
        outcome = SignOutcome.ALREADY_SIGNED
    else:
        outbox.enqueue(
            session,
            kind="confirmation",
            to=signer.email,
            locale=row.locale,
            context=_confirmation_context(row.id, key, row.name, petition, policy),
        )
        created = row.created_at == now and row.confirmation_sends == 1
        outcome = SignOutcome.CREATED if created else SignOutcome.RESENT
    session.commit()
    return outcome


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


#: The conditional UPDATE that confirms a pending signature, built once, on the table; the
#: execution's parameters other than `of_id` are the columns it sets.
CONFIRM = update(Signature.__table__).where(
    Signature.__table__.c.id == bindparam("of_id"),
    Signature.__table__.c.status == SignatureStatus.PENDING,
)


def confirm_signature(
    session: Session, signature_id: int, *, now: datetime, policy: SigningPolicy
) -> ConfirmOutcome:
    """Confirm a pending signature and count it, exactly once; commits.

    A flagged signature (`Signature.flag`, set when signing) is confirmed the same way, with
    the same answer, but held for a moderator instead of counted (SignatureStatus.HELD).

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
    held = signature.flag is not None
    petition_id = signature.petition_id  # read now: after the commit it would cost a query
    status = SignatureStatus.HELD if held else SignatureStatus.CONFIRMED
    values: dict = {"status": status, "confirmed_at": now}
    if not (signature.wants_updates or signature.share_email):
        values["email"] = None
    flipped = session.execute(CONFIRM, {"of_id": signature_id, **values}).rowcount
    if flipped != 1:
        session.rollback()
        return ConfirmOutcome.ALREADY_CONFIRMED
    if not held:
        counts.add_confirmed(session, petition_id, signature_id, policy.count_shards)
    if signature.is_sponsor and not held:
        lifecycle.enter_moderation_if_sponsored(
            session, petition_id, now=now, policy=policy.lifecycle
        )
    session.commit()
    logger.info("signature %s confirmed on petition %s", signature_id, petition_id)
    return ConfirmOutcome.CONFIRMED


def resend_confirmation(
    session: Session, signature: Signature, *, now: datetime, policy: SigningPolicy
) -> bool:
    """Queue a fresh link for a pending signature whose link expired; commits.

    Returns False (and queues nothing) when there is nothing to send: the signature is already
    confirmed, its address was erased, the petition closed, or the mail limit is reached (the
    limit is checked and counted in one statement, as when signing).
    """
    if signature.is_confirmed or not signature.email or not may_confirm(signature, now):
        return False
    row = session.execute(
        COUNT_MAIL, _count_mail_params(signature.petition_id, signature.email_key, now, policy)
    ).one_or_none()
    if row is None or row.status != SignatureStatus.PENDING:
        session.rollback()
        return False
    outbox.enqueue(
        session,
        kind="confirmation",
        to=signature.email,
        locale=row.locale,
        context=_confirmation_context(
            row.id, signature.email_key, row.name, signature.petition, policy
        ),
    )
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
