"""Petitions and their public running totals."""

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
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, one_of, utcnow
from .user import User


def search_index(name: str, where: str | None = None) -> Index:
    """A trigram index on `search_text`, so `search_text LIKE '%word%'` is indexed: PostgreSQL
    only (the pg_trgm extension); SQLite scans (migration 0009, services/search.py). `where`:
    only the rows search reads."""
    return Index(
        name,
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        postgresql_where=text(where) if where else None,
    ).ddl_if(dialect="postgresql")


class PetitionState(enum.StrEnum):
    #: Being written by its organiser; editable, previewable, not public.
    DRAFT = "draft"
    #: Submitted; collecting sponsors through the organiser's share link.
    SPONSORING = "sponsoring"
    #: Enough sponsors; waiting in the moderation queue.
    MODERATION = "moderation"
    OPEN = "open"
    CLOSED = "closed"
    #: Refused by a moderator, with a reason; shown publicly with that reason.
    REJECTED = "rejected"
    #: Abusive or unlawful: not shown at all; the reason is kept for moderators.
    HIDDEN = "hidden"


class RejectionReason(enum.StrEnum):
    DUPLICATE = "duplicate"
    NOT_AN_ACTION = "not_an_action"
    OFFENSIVE = "offensive"
    DEFAMATORY = "defamatory"
    ADVERTISING = "advertising"
    OTHER = "other"


#: Rejection reasons for which the petition's text is never republished.
WITHHELD_REASONS = (RejectionReason.OFFENSIVE, RejectionReason.DEFAMATORY)

# The named sets of states, in one place: every page, service and query asks these.
#: Shown at /petitions/<id> and in the open data (rejected ones with their reason).
PUBLIC_STATES = (PetitionState.OPEN, PetitionState.CLOSED, PetitionState.REJECTED)
#: Took signatures, so they have a public total, breakdowns and time series.
COUNTED_STATES = (PetitionState.OPEN, PetitionState.CLOSED)
#: The sponsor link collects signatures (late sponsors are welcome while the petition waits
#: for a moderator; they count like everybody else once it opens).
SPONSOR_STATES = (PetitionState.SPONSORING, PetitionState.MODERATION)
#: The organiser may post updates (signers exist and the page is public); moderators may
#: correct the text and attach the official response.
PUBLISHED_STATES = (PetitionState.OPEN, PetitionState.CLOSED)
#: The organiser may add, change and delete translations of its text (not once a moderator
#: rejected or hid it: those texts are settled).
TRANSLATABLE_STATES = (
    PetitionState.DRAFT,
    PetitionState.SPONSORING,
    PetitionState.MODERATION,
    PetitionState.OPEN,
    PetitionState.CLOSED,
)
#: A moderator may hide a petition from any state but hidden.
HIDEABLE_STATES = tuple(s for s in PetitionState if s != PetitionState.HIDDEN)

TITLE_MAX = 150
ACTION_MAX = 1000
BACKGROUND_MAX = 5000
ADDRESSEE_MAX = 200
LANGUAGE_MAX = 16
TIME_ZONE_MAX = 64


class Petition(db.Model):
    __tablename__ = "petitions"
    __table_args__ = (
        CheckConstraint(one_of("state", PetitionState), name="state_known"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint("signature_goal IS NULL OR signature_goal > 0", name="goal_positive"),
        CheckConstraint(
            f"NOT {one_of('state', COUNTED_STATES)} OR opened_at IS NOT NULL",
            name="opened_has_date",
        ),
        CheckConstraint(
            "state <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"
        ),
        CheckConstraint(
            f"rejection_reason IS NULL OR {one_of('rejection_reason', RejectionReason)}",
            name="rejection_reason_known",
        ),
        CheckConstraint("state <> 'hidden' OR hidden_reason IS NOT NULL", name="hidden_has_reason"),
        CheckConstraint("state <> 'closed' OR closed_at IS NOT NULL", name="closed_has_date"),
        CheckConstraint(
            "closes_at IS NULL OR opened_at IS NULL OR closes_at > opened_at",
            name="closes_after_opening",
        ),
        Index("ix_petitions_state_opened_at", "state", "opened_at"),
        Index("ix_petitions_owner_id", "owner_id"),
        Index("ix_petitions_moderation_queue", "state", "moderation_requested_at"),
        search_index("ix_petitions_search_text"),
    )

    #: Public, stable identifier: the petition lives at /petitions/<id>.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Short headline shown in lists and share previews.
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    #: What the petition asks the addressee to do.
    action: Mapped[str] = mapped_column(Text)
    #: Why: context and reasons, plain text with blank-line paragraphs.
    background: Mapped[str] = mapped_column(Text, default="")
    #: Who the petition is addressed to, e.g. "Jogorku Kenesh — Parliament of the Kyrgyz Republic".
    addressee: Mapped[str] = mapped_column(String(ADDRESSEE_MAX))
    #: Optional number of signatures the organisers aim for.
    signature_goal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Lifecycle state; only open petitions accept signatures.
    state: Mapped[str] = mapped_column(String(16), default=PetitionState.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When it opened for signatures (set once).
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Deadline for signatures; no signature is accepted from this moment on.
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When it was closed (by the deadline, its organiser or an operator).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    #: The organiser's account; NULL for petitions created by operators, or once the organiser
    #: deleted their account (then `owner_removed_at` is set: "former organiser").
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    owner_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The organiser, shown as the petition's creator.
    owner: Mapped[User | None] = relationship()
    #: One-time key of the form that created it, so a double submit creates one petition.
    creation_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    #: When the organiser submitted it for sponsors.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When it entered the moderation queue (the queue is ordered by it).
    moderation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Why a moderator rejected it (a RejectionReason) and what they wrote to the organiser.
    rejection_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rejection_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Why it is hidden; for moderators only.
    hidden_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What a moderator asked the organiser to change when sending it back.
    changes_requested: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: When a moderator last corrected the text of an open petition ("edited").
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The addressee's official response or the outcome, and when it was attached.
    response_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The response email still has to be queued for opted-in signers whose signature id is
    #: above this; NULL once every one has it queued (see services/moderation.py).
    response_mail_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Likewise for the "petition closed" email, set to 0 when the petition closes.
    closing_mail_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Signing paused by a moderator since then (an attack); resuming moves the deadline on by
    #: the time paused. NULL: not paused.
    signing_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The language the organiser wrote the title, action and background in (a catalog code
    #: such as "ky"); translations into others are PetitionTranslation rows.
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX), default="en", server_default="en")
    #: The IANA time zone its dates are shown in (e.g. "Asia/Bishkek"); open data stays UTC.
    time_zone: Mapped[str] = mapped_column(
        String(TIME_ZONE_MAX), default="UTC", server_default="UTC"
    )

    #: Title, action and background folded for search (services/search.py keeps it right);
    #: deferred: only search reads it.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)

    translations: Mapped[list[PetitionTranslation]] = relationship(
        back_populates="petition", cascade="all, delete-orphan", passive_deletes=True
    )
    #: The translations readers see, by language code (read-only; the public page loads them
    #: in the query that loads the petition, services/petitions.public_petition).
    approved_translations: Mapped[list[PetitionTranslation]] = relationship(
        primaryjoin="and_(PetitionTranslation.petition_id == Petition.id, "
        "PetitionTranslation.state == 'approved')",
        order_by="PetitionTranslation.language",
        viewonly=True,
    )

    def accepts_signatures(self, now: datetime) -> bool:
        """Open, not paused, and its deadline (if any) not yet reached."""
        return (
            self.state == PetitionState.OPEN
            and self.signing_paused_at is None
            and (self.closes_at is None or now < self.closes_at)
        )

    def is_public(self) -> bool:
        """Shown at /petitions/<id>: open, closed, or rejected (with the reason, as the UK site)."""
        return self.state in PUBLIC_STATES

    @hybrid_method
    def text_withheld(self) -> bool:
        """Rejected as offensive or defamatory: only the decision is public, never the text
        (pages, share metadata, the API, search). `Petition.text_withheld()` is the same rule
        in SQL."""
        return self.state == PetitionState.REJECTED and self.rejection_reason in WITHHELD_REASONS

    @text_withheld.expression
    def text_withheld(cls):  # noqa: N805 - SQLAlchemy passes the class
        return and_(cls.state == PetitionState.REJECTED, cls.rejection_reason.in_(WITHHELD_REASONS))

    def __repr__(self) -> str:
        return f"<Petition {self.id} {self.state} {self.title[:30]!r}>"


class TranslationState(enum.StrEnum):
    #: Written by the organiser; a moderator has not looked at it yet. Not public.
    PENDING = "pending"
    #: Reviewed like the original: shown to readers of its language, in the API and search.
    APPROVED = "approved"
    #: Refused by a moderator (with a note to the organiser); never shown.
    REJECTED = "rejected"


class PetitionTranslation(db.Model):
    """The title, action and background of a petition in another language than its own.

    Each one is reviewed by a moderator like the original; an approved translation that its
    organiser changes goes back to pending.
    """

    __tablename__ = "petition_translations"
    __table_args__ = (
        CheckConstraint(one_of("state", TranslationState), name="state_known"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint("length(action) > 0", name="action_not_empty"),
        CheckConstraint("length(language) >= 2", name="language_not_empty"),
        CheckConstraint("state = 'pending' OR reviewed_at IS NOT NULL", name="reviewed_has_date"),
        UniqueConstraint("petition_id", "language", name="uq_petition_translations_language"),
        Index("ix_petition_translations_queue", "state", "submitted_at"),
        search_index("ix_petition_translations_search_text", where="state = 'approved'"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    #: A catalog code other than the petition's own language.
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    action: Mapped[str] = mapped_column(Text)
    background: Mapped[str] = mapped_column(Text, default="")
    #: A TranslationState.
    state: Mapped[str] = mapped_column(String(16), default=TranslationState.PENDING)
    #: When the organiser last wrote or changed it (the moderators' queue is ordered by it).
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When and by whom it was last approved or rejected.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: What the moderator wrote to the organiser when rejecting it.
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Title, action and background folded for search (services/search.py keeps it right);
    #: deferred: only search reads it.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)

    petition: Mapped[Petition] = relationship(back_populates="translations")

    @classmethod
    def approved_into(cls, language: str, petition_ids):
        """The criteria of the approved translations of these petitions into `language`:
        what readers, mails and the feed of that language show (one rule, three readers)."""
        return (
            cls.petition_id.in_(petition_ids),
            cls.language == language,
            cls.state == TranslationState.APPROVED,
        )

    def __repr__(self) -> str:
        return f"<PetitionTranslation {self.petition_id}/{self.language} {self.state}>"


class CountShard(db.Model):
    """One slice of a petition's confirmed-signature total (see services/counts.py)."""

    __tablename__ = "petition_count_shards"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    #: The petition counted.
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    #: Shard number: confirmed signature ids are spread over shards by `id % COUNT_SHARDS`.
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Confirmed signatures counted in this shard.
    count: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = [
    "COUNTED_STATES",
    "CountShard",
    "HIDEABLE_STATES",
    "PUBLIC_STATES",
    "PUBLISHED_STATES",
    "Petition",
    "PetitionState",
    "RejectionReason",
    "SPONSOR_STATES",
    "TRANSLATABLE_STATES",
]
