"""Signatures: pending until the signer confirms by email, then counted once."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .petition import Petition
from .types import BigId, UTCDateTime, one_of, utcnow


class SignatureStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    #: Confirmed once, then struck out by an operator (fraud, duplicates): no longer counted.
    INVALIDATED = "invalidated"
    #: Confirmed once, then withdrawn at the signer's request: no longer counted.
    WITHDRAWN = "withdrawn"
    #: Confirmed by email, but flagged when signing (`flag`): not counted until a moderator
    #: validates it (then CONFIRMED) or invalidates it. The public numbers say how many wait.
    HELD = "held"


#: Statuses of signatures that were counted and then taken out of the total; the public data
#: says how many, never which.
REMOVED_STATUSES = (SignatureStatus.INVALIDATED, SignatureStatus.WITHDRAWN)


#: A signature the roll-ups (services/rollups.py) have not caught up with: its status, removal
#: time or category differs from the copy they were counted with. The same SQL is the partial
#: index's condition and the reads' (`Signature.unrolled()`), so both databases answer "which
#: signatures changed since the last roll-up" from that small index. `IS TRUE` (the condition
#: is never NULL) makes PostgreSQL estimate it from the statistics migration 0010 keeps on the
#: expression: asked about `a <> b` bare, it guesses that most rows match and scans them all.
UNROLLED_SQL = (
    "(status <> rolled_status"
    " OR removed_at IS DISTINCT FROM rolled_removed_at"
    " OR removal_category IS DISTINCT FROM rolled_category) IS TRUE"
)
#: The statuses REMOVED_STATUSES names, as SQL for the partial index of removal times.
REMOVED_SQL = "status IN ('invalidated', 'withdrawn')"

NAME_MAX = 100
EMAIL_MAX = 254
REGION_MAX = 100


class Signature(db.Model):
    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("petition_id", "email_key", name="uq_signatures_petition_person"),
        CheckConstraint(one_of("status", SignatureStatus), name="status_known"),
        CheckConstraint(
            "(status <> 'pending' AND confirmed_at IS NOT NULL)"
            " OR (status = 'pending' AND confirmed_at IS NULL)",
            name="confirmed_has_date",
        ),
        CheckConstraint(
            f"({one_of('status', REMOVED_STATUSES)}) = (removed_at IS NOT NULL)",
            name="removed_has_date",
        ),
        CheckConstraint("status <> 'held' OR flag IS NOT NULL", name="held_has_flag"),
        CheckConstraint(
            f"removal_category IS NULL OR ({one_of('status', REMOVED_STATUSES)})",
            name="category_only_removed",
        ),
        CheckConstraint(one_of("rolled_status", SignatureStatus), name="rolled_status_known"),
        CheckConstraint("length(country) = 2", name="country_alpha2"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("confirmation_sends >= 0", name="sends_not_negative"),
        Index("ix_signatures_petition_status", "petition_id", "status"),
        # Investigation: one petition's signatures by source network.
        Index("ix_signatures_petition_network", "petition_id", "client_network"),
        Index("ix_signatures_petition_domain", "petition_id", "email_domain"),
        # The hourly trending pass and the investigation's time windows.
        Index("ix_signatures_petition_created", "petition_id", "created_at"),
        # The public breakdowns and time series read confirmed signatures only.
        Index(
            "ix_signatures_confirmed_country",
            "petition_id",
            "country",
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
        Index(
            "ix_signatures_confirmed_time",
            "petition_id",
            "confirmed_at",
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
        # The latest removal, for the public data's Last-Modified (removed signatures only).
        Index(
            "ix_signatures_removed_time",
            "petition_id",
            "removed_at",
            postgresql_where=text(REMOVED_SQL),
            sqlite_where=text(REMOVED_SQL),
        ),
        # The signatures the roll-ups have not counted yet: a few seconds' worth.
        Index(
            "ix_signatures_unrolled",
            "petition_id",
            postgresql_where=text(UNROLLED_SQL),
            sqlite_where=text(UNROLLED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    #: Keyed hash (HMAC-SHA256) of the normalised address: one signature per person per
    #: petition without keeping a searchable copy of the address (see emailaddr.py).
    email_key: Mapped[str] = mapped_column(String(64))
    #: The address as typed; kept while a confirmation may still be needed, and after
    #: confirmation only if the signer asked for updates or to share it with the organiser.
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), nullable=True)
    #: Full name as the signer gave it.
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    #: ISO 3166-1 alpha-2 country code.
    country: Mapped[str] = mapped_column(String(2))
    #: Optional region, city or constituency, free text.
    region: Mapped[str | None] = mapped_column(String(REGION_MAX), nullable=True)
    #: The signer asked to hear about this petition's progress (mailed by the platform; the
    #: organiser never sees the address for this).
    wants_updates: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The signer chose to give their address to the petition's organiser (off unless ticked;
    #: only this puts it in the organiser's export).
    share_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The language the signer read the petition in; their emails are written in it.
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    #: The signer agreed to have their name shown (organiser's dashboard, public lists).
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Signed through the organiser's share link before moderation (a sponsor); counts too.
    is_sponsor: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the signer agreed to the processing of their data (the form requires it).
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=SignatureStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When a confirmed signature was invalidated or withdrawn (see REMOVED_STATUSES).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Confirmation emails queued for this signature so far (bounded per signature).
    confirmation_sends: Mapped[int] = mapped_column(Integer, default=0)
    #: When the latest confirmation email was queued.
    last_confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: "You already signed" notices queued so far (bounded, so nobody is mail-bombed).
    already_signed_notices: Mapped[int] = mapped_column(Integer, default=0)

    # What the request that made the signature looked like, for fraud investigation only; the
    # worker truncates the address to its network after the investigation window.
    #: A SignatureFlag: why it is held for review when confirmed (NULL: counted when confirmed).
    flag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The client's IP address (clientaddr.py), NULL once truncated or for older signatures.
    client_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    #: Its network (IPv4 /24, IPv6 /48), e.g. "203.0.113.0/24"; kept for the investigation
    #: window's aggregate statistics.
    client_network: Mapped[str | None] = mapped_column(String(49), nullable=True)
    #: A keyed hash of the User-Agent header (the same browser signs alike; the text is not
    #: kept).
    user_agent_hash: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The address's domain, lower-case ASCII (emailaddr.email_domain); kept when the address
    #: is erased, for per-domain statistics, search and trending.
    email_domain: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: Milliseconds from the sign page being served to the form being posted (None: unknown).
    submit_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: For removed signatures: the public RemovalCategory (NULL: removed one by one, "other").
    removal_category: Mapped[str | None] = mapped_column(String(32), nullable=True)

    # What the roll-ups count this signature as (services/rollups.py): copies of the three
    # columns above that decide where it counts, made by the worker when it rolls it up. Only
    # the worker and `flask counts reconcile` write them; a signature whose copies differ is
    # "unrolled", and every read adds what changed from the signature itself.
    #: `status` as rolled up ("pending": counted nowhere yet).
    rolled_status: Mapped[str] = mapped_column(
        String(16), default=SignatureStatus.PENDING, server_default="pending"
    )
    #: `removed_at` as rolled up.
    rolled_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: `removal_category` as rolled up.
    rolled_category: Mapped[str | None] = mapped_column(String(32), nullable=True)

    petition: Mapped[Petition] = relationship(lazy="joined")

    @staticmethod
    def unrolled():
        """SQL: the signature changed since the roll-ups counted it (UNROLLED_SQL, as the
        partial index has it; for statements that read `signatures` under its own name)."""
        return text(UNROLLED_SQL)

    @property
    def is_confirmed(self) -> bool:
        """The signer clicked their link (counted, or held for review)."""
        return self.status in (SignatureStatus.CONFIRMED, SignatureStatus.HELD)

    def __repr__(self) -> str:
        return f"<Signature {self.id} petition={self.petition_id} {self.status}>"
