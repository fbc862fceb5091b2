"""The transactional outbox: mail queued in the same transaction as the change it reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("NOT (sent_at IS NOT NULL AND failed_at IS NOT NULL)", name="one_end"),
        CheckConstraint(
            "sent_at IS NOT NULL OR failed_at IS NOT NULL OR to_address IS NOT NULL",
            name="pending_has_rcpt",
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
            sqlite_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: What the message is for (confirmation, already_signed, ...), for operators.
    kind: Mapped[str] = mapped_column(String(32))
    #: Recipient; erased once the message is sent or given up on (data minimisation).
    to_address: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: A subject rendered when queued (messages queued before mail was rendered by the worker);
    #: NULL for a message the worker renders from `template`.
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: Which email of petitions/emails.py the worker renders (subject and bodies), in `locale`,
    #: from `context`; NULL for a message queued already rendered.
    template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The recipient's language.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The plain values the email is rendered from; erased with the recipient (it may hold a
    #: confirmation link).
    context: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: Bodies rendered when queued (older messages); erased with the recipient.
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Extra mail headers (List-Unsubscribe); erased with the body, since they hold a token.
    headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Delivery attempts made so far.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not to be tried before this time (backoff after a failure).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A worker has claimed the message until this time; after it, another may retry.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Set when the message is given up on (refused recipient, or attempts exhausted).
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
