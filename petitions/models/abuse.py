"""What fights abuse: settings admins tune at run time, block and allow rules, bulk actions on
signatures (with undo), trending sources, per-recipient mail counts, and the site audit log.

Petition-level changes stay in `petition_events`; `admin_events` logs what concerns the whole
site or many signatures (a rate changed, a range blocked, a bulk invalidation run or undone).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, one_of, utcnow


class SignatureFlag(enum.StrEnum):
    """Why a signature waits for review instead of counting when confirmed (quietly: the
    signer sees the same pages and mail as anyone, so a bot cannot probe the limits)."""

    #: Over a signing rate (per address, network, email domain or petition).
    RATE = "rate"
    #: The hidden field a person never fills was filled.
    HONEYPOT = "honeypot"
    #: Posted sooner after the page than a person can read and type.
    TOO_FAST = "too_fast"
    #: No (or no valid) proof of work: JavaScript off, or a script.
    NO_PROOF = "no_proof"
    #: From a source an admin listed for review (a network or domain rule "review").
    LISTED = "listed"


class RemovalCategory(enum.StrEnum):
    """The public reason category of removed signatures (the petition page, API and CSVs say
    how many were removed, when, and in which category)."""

    AUTOMATED = "automated"
    DUPLICATES = "duplicates"
    DISPOSABLE = "disposable"
    FRAUD = "fraud"
    SIGNER_REQUEST = "signer_request"
    OTHER = "other"


class RuleKind(enum.StrEnum):
    #: An email domain, with globs (`*.example.com`, `mailinator.*`).
    DOMAIN = "domain"
    #: One email address (compared in its canonical form).
    ADDRESS = "address"
    #: An IP range in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`).
    NETWORK = "network"


class RuleAction(enum.StrEnum):
    #: Refused with a clear message.
    BLOCK = "block"
    #: Overrides the disposable-domain list and the rate limits.
    ALLOW = "allow"
    #: Accepted, confirmed by email, and held for a moderator (SignatureFlag.LISTED).
    REVIEW = "review"


class SiteSetting(db.Model):
    """A setting an admin changed at run time (services/site_settings.py); absent rows mean
    the environment's default."""

    __tablename__ = "site_settings"

    #: A name from services/site_settings.TUNABLES.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The value, JSON-encoded (a rate string, a number, a flag, a timestamp).
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The admin who set it; NULL for an operator at the command line or a deleted account.
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class AdminEvent(db.Model):
    """The site's audit log: who changed which setting or rule, ran or undid a bulk action."""

    __tablename__ = "admin_events"
    __table_args__ = (Index("ix_admin_events_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: What was done, e.g. "setting_changed", "rule_added", "bulk_started".
    action: Mapped[str] = mapped_column(String(32))
    #: What it was done to, e.g. a setting's key, a rule's pattern, "bulk 12".
    target: Mapped[str] = mapped_column(String(300))
    #: Before and after, counts, criteria.
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessRule(db.Model):
    """An admin's block, allow or review rule for an email domain, an address or an IP range."""

    __tablename__ = "access_rules"
    __table_args__ = (
        UniqueConstraint("kind", "pattern", name="uq_access_rules_kind_pattern"),
        CheckConstraint(one_of("kind", RuleKind), name="kind_known"),
        CheckConstraint(one_of("action", RuleAction), name="action_known"),
        CheckConstraint("length(pattern) > 0", name="pattern_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A RuleKind.
    kind: Mapped[str] = mapped_column(String(16))
    #: A RuleAction.
    action: Mapped[str] = mapped_column(String(16))
    #: The domain glob, canonical address or CIDR range, normalised (lower case, network form).
    pattern: Mapped[str] = mapped_column(String(254))
    #: Why, for the other admins.
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class BulkKind(enum.StrEnum):
    #: Take matching counted (or held) signatures out of the total, with a public category.
    INVALIDATE = "invalidate"
    #: Count matching held signatures (a moderator found them genuine).
    VALIDATE = "validate"
    #: Put back what an earlier bulk action changed (`undo_of`).
    UNDO = "undo"


class BulkState(enum.StrEnum):
    #: The worker (or the page, in batches) is working through the matches.
    RUNNING = "running"
    DONE = "done"
    #: Stopped by a moderator; what was done so far stays done (and can be undone).
    CANCELLED = "cancelled"
    #: A later UNDO action put everything back.
    UNDONE = "undone"


class BulkAction(db.Model):
    """A moderator's bulk invalidation or validation of one petition's signatures matching
    criteria, run in resumable batches (the cursor is `last_signature_id`)."""

    __tablename__ = "bulk_actions"
    __table_args__ = (
        CheckConstraint(one_of("kind", BulkKind), name="kind_known"),
        CheckConstraint(one_of("state", BulkState), name="state_known"),
        CheckConstraint(
            "(kind = 'invalidate') = "
            f"(category IS NOT NULL AND {one_of('category', RemovalCategory)})",
            name="invalidate_has_category",
        ),
        CheckConstraint("(kind = 'undo') = (undo_of IS NOT NULL)", name="undo_names_action"),
        CheckConstraint("processed >= 0 AND changed >= 0", name="progress_not_negative"),
        Index("ix_bulk_actions_state", "state"),
        # One running action per petition: two would undo each other's work midway.
        Index(
            "uq_bulk_actions_one_running",
            "petition_id",
            unique=True,
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    #: A BulkKind.
    kind: Mapped[str] = mapped_column(String(16))
    #: The search that chose the signatures (services/investigation.SignatureQuery as JSON).
    criteria: Mapped[dict] = mapped_column(JSON)
    #: A RemovalCategory, for invalidations (shown publicly).
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The moderator's note (kept for moderators, never public).
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The action an UNDO reverses.
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("bulk_actions.id"), nullable=True)
    #: A BulkState.
    state: Mapped[str] = mapped_column(String(16), default=BulkState.RUNNING)
    #: How many signatures matched when it started (the preview's figure).
    matched: Mapped[int] = mapped_column(Integer, default=0)
    #: Signatures looked at so far; `changed` of them were changed.
    processed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    #: Resume after this signature id (batches go in id order).
    last_signature_id: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BulkActionItem(db.Model):
    """One signature a bulk action changed, with the status it had, so undo restores it."""

    __tablename__ = "bulk_action_items"

    action_id: Mapped[int] = mapped_column(
        ForeignKey("bulk_actions.id", ondelete="CASCADE"), primary_key=True
    )
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    #: The SignatureStatus before the action.
    prior_status: Mapped[str] = mapped_column(String(16))
    #: The removal category before the action (NULL unless it was already removed).
    prior_category: Mapped[str | None] = mapped_column(String(32), nullable=True)


class TrendingSource(db.Model):
    """One network or email domain that signed one petition more than the threshold in one
    hour, found by the worker's hourly pass (and posted to the webhook when configured)."""

    __tablename__ = "trending_sources"
    __table_args__ = (
        UniqueConstraint(
            "hour", "petition_id", "kind", "value", name="uq_trending_sources_hour_source"
        ),
        CheckConstraint("kind IN ('network', 'domain')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The start of the UTC hour.
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: The network (CIDR) or the email domain.
    value: Mapped[str] = mapped_column(String(254))
    signatures: Mapped[int] = mapped_column(Integer)
    #: When the webhook was told (NULL: not yet, or no webhook).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MailRecipientCount(db.Model):
    """How many account and signing mails one recipient got on one UTC day (the worker's
    per-recipient cap, so the site cannot be used to mail-bomb anyone). The recipient is a
    keyed hash of the canonical address, never the address."""

    __tablename__ = "mail_recipient_counts"
    __table_args__ = (CheckConstraint("sent >= 0", name="sent_not_negative"),)

    recipient_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
