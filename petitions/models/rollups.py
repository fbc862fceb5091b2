"""Roll-ups of signatures: what the public statistics read instead of the signatures.

Each table holds, per petition, the signatures as the worker last rolled them up (their
`rolled_*` copies); services/rollups.py adds the few that changed since, and explains why.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .signature import SignatureStatus
from .types import UTCDateTime, one_of

#: The statuses a day's roll-up counts: confirmed on that day, or removed on it.
DAY_STATUSES = (SignatureStatus.CONFIRMED, SignatureStatus.INVALIDATED, SignatureStatus.WITHDRAWN)


def _petition_key() -> Mapped[int]:
    return mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class SignatureTotal(db.Model):
    """A petition's signatures per status: the stored total that listings sort by."""

    __tablename__ = "signature_totals"
    __table_args__ = (
        CheckConstraint("confirmed >= 0", name="confirmed_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("invalidated >= 0", name="invalidated_not_negative"),
        CheckConstraint("withdrawn >= 0", name="withdrawn_not_negative"),
    )

    petition_id: Mapped[int] = _petition_key()
    #: Confirmed signatures: the public total.
    confirmed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Confirmed by their signers, held for a moderator's review.
    held: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Struck out by an operator.
    invalidated: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Withdrawn at their signers' request.
    withdrawn: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SignatureHour(db.Model):
    """Confirmed signatures of a petition by the UTC hour of their confirmation."""

    __tablename__ = "signature_hours"
    __table_args__ = (CheckConstraint("confirmed >= 0", name="confirmed_not_negative"),)

    petition_id: Mapped[int] = _petition_key()
    #: The start of the UTC hour.
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    #: Signatures confirmed in that hour and still counted.
    confirmed: Mapped[int] = mapped_column(BigInteger, default=0)


class SignatureDay(db.Model):
    """A petition's signatures by UTC day: confirmed that day (and still counted), and
    removed that day (still removed) by status and public category."""

    __tablename__ = "signature_days"
    __table_args__ = (
        CheckConstraint("count >= 0", name="count_not_negative"),
        CheckConstraint(one_of("status", DAY_STATUSES), name="status_known"),
        CheckConstraint("(status = 'confirmed') = (category = '')", name="category_of_removed"),
    )

    petition_id: Mapped[int] = _petition_key()
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    #: confirmed, invalidated or withdrawn.
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: For removals, the public RemovalCategory; '' for confirmations.
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class SignaturePlace(db.Model):
    """Confirmed signatures of a petition by country and ISO 3166-2 subdivision."""

    __tablename__ = "signature_places"
    __table_args__ = (
        CheckConstraint("confirmed >= 0", name="confirmed_not_negative"),
        CheckConstraint("length(country) = 2", name="country_alpha2"),
    )

    petition_id: Mapped[int] = _petition_key()
    #: ISO 3166-1 alpha-2.
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    #: The subdivision the signer's region names (petitions/regions.py), '' for none.
    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    confirmed: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = ["DAY_STATUSES", "SignatureDay", "SignatureHour", "SignaturePlace", "SignatureTotal"]
