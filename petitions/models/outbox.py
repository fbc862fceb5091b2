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
    subject: Mapped[str] = mapped_column(String(300))
    #: Bodies; erased with the recipient, since they may hold a confirmation link.
    body_text: Mapped[str] = mapped_column(Text)
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
