"""What organisers tell signers after they signed: updates, and milestones reached."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, one_of, utcnow

UPDATE_TITLE_MAX = 150
UPDATE_BODY_MAX = 5000


class PetitionUpdate(db.Model):
    """News from the organiser, shown on the petition page and emailed to opted-in signers."""

    __tablename__ = "petition_updates"
    __table_args__ = (
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        Index("ix_petition_updates_petition_created", "petition_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    #: The organiser who posted it; NULL once their account is deleted.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: One-line headline, used as the email subject too.
    title: Mapped[str] = mapped_column(String(UPDATE_TITLE_MAX))
    #: Plain text with blank-line paragraphs.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: One-time key of the form that posted it, so a double submit posts one update.
    creation_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    #: The update email still has to be queued for opted-in signers whose signature id is above
    #: this; NULL once every one has it queued (see services/signer_mail.py).
    mail_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MilestoneKind(enum.StrEnum):
    #: The petition's own signature goal.
    GOAL = "goal"
    #: One of the MILESTONES thresholds.
    COUNT = "count"


class PetitionMilestone(db.Model):
    """A total the petition reached; the primary key makes each one recorded (and its email
    to the organiser queued) exactly once, however many workers notice it at once."""

    __tablename__ = "petition_milestones"
    __table_args__ = (
        CheckConstraint(one_of("kind", MilestoneKind), name="kind_known"),
        CheckConstraint("threshold > 0", name="threshold_positive"),
    )

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    #: A MilestoneKind.
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: The total reached.
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: When the worker noticed it (up to a housekeeping interval after the confirmation).
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "MilestoneKind",
    "PetitionMilestone",
    "PetitionUpdate",
    "UPDATE_BODY_MAX",
    "UPDATE_TITLE_MAX",
]
