"""The transactional outbox: queue mail with the change it reports, deliver it later.

`enqueue()` only adds a row to the caller's session, so a message exists if and only if the
transaction that created it (a new signature, say) commits. Workers deliver it:

1. claim a batch of due messages by setting a lease (`claimed_until`) in a short transaction;
   on PostgreSQL the candidate rows are read `FOR UPDATE SKIP LOCKED`, so workers running at
   the same time claim disjoint batches and never send a message twice;
2. read the batch, the translated titles its mails name and its recipients' places under the
   daily cap in one more transaction (`_prepare`), then send it over one SMTP connection,
   outside any transaction;
3. mark each message sent (erasing its address and body) or schedule a retry with
   exponential backoff (OUTBOX_RETRY_SECONDS doubling to OUTBOX_MAX_RETRY_SECONDS). If SMTP
   is down, messages wait and go when it is back.

What that guarantees (tests/faults/ breaks each part on purpose):

- nothing is lost: a worker that dies mid-batch leaves its lease to expire, and its messages
  are then taken by another worker (or itself, restarted);
- a database outage shorter than the lease costs nothing: the batch waits for the database to
  come back (`_durably`) and records what it did, then goes on;
- a message goes twice only when the relay received its end and the commit that records it
  as sent never happened: its worker died (SIGKILL, a crash, the machine), or the database
  stayed away longer than the lease, or the relay took longer than MAIL_TIMEOUT to answer.
  That is at most one message per such worker, the one in flight, and SMTP cannot do better:
  a relay may keep a message whose "250 OK" never reached the sender. The window is the
  relay's answer and one UPDATE; a worker killed at any other moment doubles nothing.

Account and signing mail meets the per-recipient daily cap on its way out (mailcap.py): a
message over it is withheld, never sent.
"""

from __future__ import annotations

import contextlib
import logging
import random
import smtplib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from . import mailcap
from .emails import approved_titles, email_for, localized_headers, render
from .errors import database_unavailable
from .mail import Mail, PermanentFailure, connect
from .models import OutboxMessage, utcnow
from .models.types import UTCDateTime
from .services import site_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How often a batch that lost the database mid-way asks for it again.
DATABASE_RETRY_SECONDS = 0.5


def enqueue(
    session: Session,
    *,
    kind: str,
    to: str,
    locale: str,
    context: Mapping,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Queue the email `kind` of petitions/emails.py for `to`, written in `locale` from the
    plain values of `context` when the worker sends it, with any extra `headers`
    (List-Unsubscribe, say). One INSERT in the caller's transaction."""
    email_for(kind)
    now = utcnow()
    _queue(
        session,
        kind=kind,
        to_address=to,
        template=kind,
        locale=locale,
        context=dict(context),
        headers=dict(headers) if headers else None,
        created_at=now,
        next_attempt_at=now,
    )


def withhold(session: Session, *, kind: str, reason: str) -> None:
    """Record, in place of a message, that none is sent (a mail limit, no such account).

    The caller writes this row where it would otherwise queue a message, so a request does
    the same work whatever it answers (see emails.py). It keeps no recipient and no text.
    """
    now = utcnow()
    _queue(
        session,
        kind=kind,
        created_at=now,
        next_attempt_at=now,
        failed_at=now,
        last_error=f"withheld: {reason}",
    )


#: Built once, on the table (no ORM flush): every signature queues a row.
_QUEUE = insert(OutboxMessage.__table__)


def _queue(session: Session, **values) -> None:
    """Insert an outbox row now; a value left None is the column's NULL (a JSON column given
    None would store JSON `null`), a column not given gets the model's default."""
    session.execute(_QUEUE, {name: value for name, value in values.items() if value is not None})


def backoff(attempts: int, *, first: float = 5.0, longest: float = 15 * 60.0) -> timedelta:
    """Delay before the next try after `attempts` failures: `first` seconds doubling to
    `longest` (OUTBOX_RETRY_SECONDS, OUTBOX_MAX_RETRY_SECONDS), with jitter to spread a
    backlog."""
    base = min(first * 2 ** max(attempts - 1, 0), longest)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311


def claim_batch(session: Session, *, limit: int, lease_seconds: int, now: datetime) -> list[int]:
    """Lease up to `limit` due messages to this worker and commit; returns their ids."""
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(claimed_until=now + timedelta(seconds=lease_seconds))
        )
    session.commit()
    return ids


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: Not sent: over the recipient's daily cap (mailcap.py).
    withheld: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            self.withheld + other.withheld,
        )

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.withheld


#: What an erased message keeps: the kind, subject, times and outcome, not who or what.
ERASED = {
    "to_address": None,
    "body_text": "",
    "body_html": None,
    "headers": None,
    "context": None,
}


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    to: str
    kind: str
    template: str | None
    locale: str | None
    context: dict | None
    subject: str | None
    text: str
    html: str | None
    headers: dict | None

    def mail(self, titles: Mapping[tuple[int, str], str] | None = None) -> Mail:
        """The message to send: rendered now from its template (with the batch's translated
        `titles`, emails.approved_titles), or as it was queued (mail queued before the worker
        rendered it). Raises whatever rendering raises."""
        if self.template is not None:
            rendered = render(self.template, self.context or {}, self.locale, titles=titles)
            headers = localized_headers(self.headers, self.locale)
            return Mail(self.to, rendered.subject, rendered.text, rendered.html, headers)
        return Mail(self.to, self.subject or "", self.text, self.html, self.headers)


#: Built once (on the table: no ORM pass), as it runs once for every message sent.
MARK_SENT = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id == bindparam("message_id"))
    .values(sent_at=bindparam("sent_at", type_=UTCDateTime()), claimed_until=None, **ERASED)
)


def _mark_sent(session: Session, message_id: int) -> None:
    session.execute(MARK_SENT, {"message_id": message_id, "sent_at": utcnow()})
    session.commit()


def _mark_failed(
    session: Session, message: _Claimed, error: str, *, permanent: bool, config: Mapping
) -> bool:
    """Schedule a retry, or give up (and erase the message); True if given up."""
    now = utcnow()
    attempts = message.attempts + 1
    values: dict = {"attempts": attempts, "last_error": error[:2000], "claimed_until": None}
    gave_up = permanent or attempts >= config["OUTBOX_MAX_ATTEMPTS"]
    if gave_up:
        values.update(failed_at=now, **ERASED)
    else:
        values["next_attempt_at"] = now + backoff(
            attempts,
            first=config["OUTBOX_RETRY_SECONDS"],
            longest=config["OUTBOX_MAX_RETRY_SECONDS"],
        )
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
    session.commit()
    return gave_up


def _mark_withheld(session: Session, message: _Claimed) -> None:
    """Give the message up unsent (over its recipient's cap) and erase it; the caller
    commits."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(
            failed_at=utcnow(), claimed_until=None, last_error=mailcap.WITHHELD_REASON, **ERASED
        )
    )


def _release(session: Session, ids: list[int]) -> None:
    """Hand back claimed messages untried, for this or another worker to take at once."""
    if ids:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(claimed_until=None)
        )


def _durably(session: Session, write: Callable[[], T], *, until: datetime) -> T:
    """`write()` and commit, riding out a short database outage: while the database is
    unavailable (errors.database_unavailable: a restart, a failover, a cut connection), roll
    back and try again every DATABASE_RETRY_SECONDS until `until`, then raise.

    So a batch that loses the database mid-way keeps what it knows: a message it has sent is
    recorded as sent once the database is back, not sent again when its lease runs out, and
    the rest of the batch goes on instead of waiting out the lease.
    """
    warned = False
    while True:
        try:
            result = write()
            session.commit()
            return result
        except SQLAlchemyError as exc:
            with contextlib.suppress(SQLAlchemyError):
                session.rollback()
            if not database_unavailable(exc) or utcnow() >= until:
                raise
            if not warned:
                logger.warning("database unavailable mid-batch, the batch waits: %s", exc)
                warned = True
            time.sleep(DATABASE_RETRY_SECONDS)


def _claimed_messages(session: Session, ids: list[int]) -> list[_Claimed]:
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.attempts,
            OutboxMessage.to_address,
            OutboxMessage.kind,
            OutboxMessage.template,
            OutboxMessage.locale,
            OutboxMessage.context,
            OutboxMessage.subject,
            OutboxMessage.body_text,
            OutboxMessage.body_html,
            OutboxMessage.headers,
        )
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    ).all()
    return [
        _Claimed(
            r.id,
            r.attempts,
            r.to_address or "",
            r.kind,
            r.template,
            r.locale,
            r.context,
            r.subject,
            r.body_text,
            r.body_html,
            r.headers,
        )
        for r in rows
    ]


def deliver_batch(session: Session, config: Mapping) -> DeliveryReport:
    """Claim and deliver one batch over one SMTP connection; returns what happened to it.

    Each outcome is committed as soon as it is known (waiting for the database if it went
    away, `_durably`). The batch stops, handing the rest back, before its lease could run out
    mid-send: past the lease another worker may claim the same messages, and a message must
    not go twice.
    """
    lease = timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
    claimed_at = utcnow()
    ids = claim_batch(
        session,
        limit=config["OUTBOX_BATCH_SIZE"],
        lease_seconds=int(lease.total_seconds()),
        now=claimed_at,
    )
    report = DeliveryReport()
    if not ids:
        return report
    lease_ends = claimed_at + lease
    # Worst case for one more message: a connect and a send, each up to MAIL_TIMEOUT.
    stop_at = lease_ends - timedelta(seconds=2 * config["MAIL_TIMEOUT"] + 1)
    day = claimed_at.date()
    prepared = _durably(session, partial(_prepare, session, ids, config, day), until=stop_at)
    for message in prepared.withheld:
        logger.warning(
            "outbox message %s (%s) withheld: its recipient's daily mail cap is reached",
            message.id,
            message.kind,
        )
    report.withheld = len(prepared.withheld)
    batch = prepared.messages

    def record(message: _Claimed, error: str, permanent: bool, recipient=None) -> None:
        def write() -> bool:
            _unreserve(session, recipient, day)
            return _mark_failed(session, message, error, permanent=permanent, config=config)

        gave_up = _durably(session, write, until=lease_ends)
        report.failed += gave_up
        report.retried += not gave_up

    try:
        connection = connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("mail server unavailable, %d messages wait: %s", len(batch), exc)
        for message in batch:
            record(
                message,
                f"connect: {exc}",
                permanent=False,
                recipient=prepared.places.get(message.id),
            )
        return report
    try:
        for position, message in enumerate(batch):
            if utcnow() >= stop_at:
                rest = batch[position:]
                _durably(
                    session, partial(_hand_back, session, rest, prepared, day), until=lease_ends
                )
                break
            recipient = prepared.places.get(message.id)
            try:
                connection.send(message.mail(prepared.titles))
            except PermanentFailure as exc:
                logger.warning("outbox message %s refused: %s", message.id, exc)
                record(message, str(exc), permanent=True, recipient=recipient)
            except (OSError, smtplib.SMTPException) as exc:
                record(message, str(exc), permanent=False, recipient=recipient)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                # Rendering or building it failed (a template, a header it cannot carry): it
                # is this message's failure, counted and retried like any other, and the
                # batch goes on.
                logger.exception(
                    "outbox message %s (%s) could not be built", message.id, message.kind
                )
                record(
                    message, f"{type(exc).__name__}: {exc}", permanent=False, recipient=recipient
                )
                connection.reset()
            else:
                _durably(session, partial(_mark_sent, session, message.id), until=lease_ends)
                report.sent += 1
    finally:
        connection.close()
    return report


def _unreserve(session: Session, recipient: str | None, day) -> None:
    """A capped message that did not go gives its place back (committed with its outcome)."""
    if recipient is not None:
        mailcap.release(session, recipient, day)


@dataclass(frozen=True)
class _Prepared:
    """A claimed batch, read and reserved in one transaction (`_prepare`)."""

    #: The messages to send, in order.
    messages: list[_Claimed]
    #: Those over their recipient's daily cap, given up unsent.
    withheld: list[_Claimed]
    #: Message id -> the recipient key whose place it took (capped kinds only).
    places: dict[int, str]
    #: The translated titles the messages name (emails.approved_titles).
    titles: dict[tuple[int, str], str]


def _prepare(session: Session, ids: list[int], config: Mapping, day) -> _Prepared:
    """Everything a batch needs from the database before its first mail, in one transaction
    (`_durably` commits it): the messages, the titles they name in their languages, and a
    place under the daily cap for each capped one (mailcap.reserve), or its withholding.
    Reading it all up front leaves one commit per message sent, the one that records it."""
    claimed = _claimed_messages(session, ids)
    cap = site_settings.load(session, config)["mail_cap_per_recipient"]
    messages, withheld, places = [], [], {}
    for message in claimed:
        if message.kind in mailcap.CAPPED_KINDS and message.to:
            key = mailcap.recipient_key(
                message.to, config["SIGNER_HASH_KEY"], config["EMAIL_ALIAS_RULES"]
            )
            if not mailcap.reserve(session, key, day, cap):
                _mark_withheld(session, message)
                withheld.append(message)
                continue
            places[message.id] = key
        messages.append(message)
    titles = approved_titles(session, ((m.context, m.locale) for m in messages if m.template))
    return _Prepared(messages, withheld, places, titles)


def _hand_back(session: Session, rest: list[_Claimed], prepared: _Prepared, day) -> None:
    """The batch is out of time: the messages not tried go back, with their places under the
    cap, for this or another worker to take at once (committed together)."""
    for message in rest:
        _unreserve(session, prepared.places.get(message.id), day)
    _release(session, [message.id for message in rest])


def deliver_all(session: Session, config: Mapping, *, max_batches: int = 1000) -> DeliveryReport:
    """Deliver until nothing is due (or `max_batches` batches); used by tests and `--once`."""
    total = DeliveryReport()
    for _ in range(max_batches):
        report = deliver_batch(session, config)
        total = total + report
        if report.handled == 0:
            break
    return total


def pending_count(session: Session) -> int:
    """Messages still to be delivered (for operators and the benchmark)."""
    return (
        session.scalar(
            select(func.count()).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)
            )
        )
        or 0
    )
