"""The audit log of everything that happens to a petition in its lifecycle."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import BigId, UTCDateTime, utcnow
from .user import User


class EventAction(enum.StrEnum):
    CREATED = "created"
    SUBMITTED = "submitted"
    ENTERED_MODERATION = "entered_moderation"
    APPROVED = "approved"
    REJECTED = "rejected"
    HIDDEN = "hidden"
    SENT_BACK = "sent_back"
    EDITED = "edited"
    RESPONSE = "response"
    #: Opened for signatures by an operator (CLI), without moderation.
    OPENED = "opened"
    CLOSED = "closed"
    UPDATE_POSTED = "update_posted"
    #: Confirmed signatures taken out of the total (details: status and how many).
    SIGNATURES_REMOVED = "signatures_removed"
    #: Signing stopped by a moderator (an attack); the deadline waits.
    SIGNING_PAUSED = "signing_paused"
    #: Signing again; details: how long it was paused and the new deadline.
    SIGNING_RESUMED = "signing_resumed"
    #: A moderator started a bulk action on signatures (details: the action, its kind,
    #: criteria, category and how many matched).
    BULK_STARTED = "bulk_started"
    #: A bulk action went through every match (details: how many it changed).
    BULK_FINISHED = "bulk_finished"
    #: A moderator stopped a bulk action; what it did so far stays done.
    BULK_CANCELLED = "bulk_cancelled"
    #: The organiser wrote a translation of the text into another language (details: its
    #: language); it waits for a moderator.
    TRANSLATION_SUBMITTED = "translation_submitted"
    #: The organiser changed a translation (details: its language, the old and new text of
    #: each changed field, the state it left); it waits for a moderator again.
    TRANSLATION_EDITED = "translation_edited"
    #: The organiser deleted a translation (details: its language and state).
    TRANSLATION_DELETED = "translation_deleted"
    #: A moderator approved a translation: readers of its language see it.
    TRANSLATION_APPROVED = "translation_approved"
    #: A moderator refused a translation; the note tells the organiser why.
    TRANSLATION_REJECTED = "translation_rejected"
    #: A moderator corrected a translation (typos; details: old and new text).
    TRANSLATION_CORRECTED = "translation_corrected"


class PetitionEvent(db.Model):
    """Who did what to a petition, when and why; moderators read it, nobody edits it."""

    __tablename__ = "petition_events"
    __table_args__ = (Index("ix_petition_events_petition_created", "petition_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    #: Who acted; NULL for the system (deadlines, sponsor threshold) or a deleted account.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: An EventAction.
    action: Mapped[str] = mapped_column(String(32))
    #: A RejectionReason for rejections; free for other actions.
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: What the actor wrote (to the organiser, or for other moderators).
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Structured detail, e.g. {"field": [old, new]} for an edit.
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()
