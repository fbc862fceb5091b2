"""Public counts as they stood each day, so journalists can show how the numbers changed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .petition import COUNTED_STATES
from .types import UTCDateTime, one_of, utcnow


class DailyCount(db.Model):
    """One public petition's total as recorded once on one UTC day (the daily snapshot).

    The primary key makes each day's row written once, however many workers record it; rows
    are never changed afterwards, so a published snapshot file stays the same forever.
    """

    __tablename__ = "daily_counts"
    __table_args__ = (
        CheckConstraint("signature_count >= 0", name="count_not_negative"),
        CheckConstraint("signatures_removed >= 0", name="removed_not_negative"),
        CheckConstraint("signatures_held >= 0", name="held_not_negative"),
        CheckConstraint(one_of("state", COUNTED_STATES), name="state_public"),
    )

    #: The UTC day the snapshot belongs to.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    #: The petition's state when recorded.
    state: Mapped[str] = mapped_column(String(16))
    #: Confirmed signatures counted at `recorded_at`.
    signature_count: Mapped[int] = mapped_column(BigInteger)
    #: Signatures invalidated or withdrawn by then.
    signatures_removed: Mapped[int] = mapped_column(Integer, default=0)
    #: Signatures held for a moderator's review then (NULL: recorded before this was kept).
    signatures_held: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the worker took the snapshot (the first housekeeping round of the day).
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["DailyCount"]
