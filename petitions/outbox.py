"""The transactional outbox: queue mail with the change it reports, deliver it later.

`enqueue()` only adds a row to the caller's session, so a message exists if and only if the
transaction that created it (a new signature, say) commits. Workers deliver it:

1. claim a batch of due messages by setting a lease (`claimed_until`) in a short transaction;
   on PostgreSQL the candidate rows are read `FOR UPDATE SKIP LOCKED`, so workers running at
   the same time claim disjoint batches and never send a message twice;
2. send the batch over one SMTP connection, outside any transaction;
3. mark each message sent (erasing its address and body) or schedule a retry with
   exponential backoff. If SMTP is down, messages wait and go when it is back.

A worker that dies mid-batch leaves its lease to expire; its messages are then tried again, so
delivery is at least once (a duplicate only if a worker dies between SMTP's "250 OK" and the
commit that records it).
"""

from __future__ import annotations

import logging
import random
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .mail import Mail, PermanentFailure, connect
from .models import OutboxMessage, utcnow

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 15 * 60


def enqueue(
    session: Session, *, kind: str, to: str, subject: str, template: str, **context
) -> OutboxMessage:
    """Queue a mail rendered from `templates/email/<template>.txt` (and `.html`)."""
    message = OutboxMessage(
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """Delay before the next try: 5 s doubling to 15 min, with jitter to spread a backlog."""
    base = min(5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
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

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.retried + other.retried, self.failed + other.failed
        )

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def _record_failure(
    message: OutboxMessage, error: str, *, permanent: bool, max_attempts: int, now: datetime
) -> bool:
    """Schedule a retry or give up; True if the message is given up on."""
    message.attempts += 1
    message.last_error = error[:2000]
    message.claimed_until = None
    if permanent or message.attempts >= max_attempts:
        message.failed_at = now
        return True
    message.next_attempt_at = now + backoff(message.attempts)
    return False


def deliver_batch(session: Session, config: Mapping) -> DeliveryReport:
    """Claim and deliver one batch; returns what happened to it."""
    ids = claim_batch(
        session,
        limit=config["OUTBOX_BATCH_SIZE"],
        lease_seconds=config["OUTBOX_LEASE_SECONDS"],
        now=utcnow(),
    )
    report = DeliveryReport()
    if not ids:
        return report
    messages = list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by("id"))
    )
    max_attempts = config["OUTBOX_MAX_ATTEMPTS"]
    try:
        connection = connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("mail server unavailable, %d messages wait: %s", len(messages), exc)
        now = utcnow()
        for message in messages:
            gave_up = _record_failure(
                message, f"connect: {exc}", permanent=False, max_attempts=max_attempts, now=now
            )
            report.failed += gave_up
            report.retried += not gave_up
        session.commit()
        return report
    try:
        for message in messages:
            mail = Mail(
                message.to_address or "", message.subject, message.body_text, message.body_html
            )
            try:
                connection.send(mail)
            except PermanentFailure as exc:
                logger.warning("outbox message %s refused: %s", message.id, exc)
                _record_failure(
                    message, str(exc), permanent=True, max_attempts=max_attempts, now=utcnow()
                )
                report.failed += 1
            except (OSError, smtplib.SMTPException) as exc:
                gave_up = _record_failure(
                    message, str(exc), permanent=False, max_attempts=max_attempts, now=utcnow()
                )
                report.failed += gave_up
                report.retried += not gave_up
            else:
                message.sent_at = utcnow()
                message.claimed_until = None
                message.to_address = None
                message.body_text = ""
                message.body_html = None
                report.sent += 1
            session.commit()
    finally:
        connection.close()
    return report


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
    from sqlalchemy import func

    return (
        session.scalar(
            select(func.count()).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)
            )
        )
        or 0
    )
