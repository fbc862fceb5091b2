"""What an organiser's dashboard shows about a petition's confirmed signatures.

Every number counts confirmed signatures only: the same signatures as the public total. The
days (UTC days) and countries come from the roll-ups and their live tail (services/rollups.py),
as the public numbers do, so they cost the same at any size. The regions as signers typed them
(free text, so as many as there are signers in the worst case) are the organiser's alone and
counted by the database (GROUP BY) on this page only; the latest signatures come from an index.

Nothing here reads an email address. A signer's name leaves this module only when the signer
agreed to have it shown (`Signature.show_name`); otherwise only their country does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from ..models import Petition, PetitionState, Signature, SignatureStatus
from ..models.petition import SPONSOR_STATES
from . import counts, rollups

#: Latest confirmed signatures the dashboard lists.
RECENT_SIGNATURES = 10
#: Regions the dashboard lists (the most signed first); region is free text, so it has many.
TOP_REGIONS = 20


@dataclass(frozen=True)
class RegionCount:
    country: str
    #: As the signers typed it; None for signers who gave none.
    region: str | None
    count: int


@dataclass(frozen=True)
class RecentSignature:
    #: The signer's name if they agreed to show it; None otherwise ("a signer from <country>").
    name: str | None
    country: str
    confirmed_at: datetime


@dataclass(frozen=True)
class SponsorStatus:
    confirmed: int
    #: Signed through the sponsor link, not yet confirmed by email.
    pending: int
    required: int

    @property
    def missing(self) -> int:
        return max(0, self.required - self.confirmed)


@dataclass(frozen=True)
class Dashboard:
    #: The public total (the count shards, as count.json and the petition page).
    total: int
    #: Confirmed signatures per UTC day, one entry per day from the first signature on, days
    #: without any included with 0 (see `dashboard_days()`); empty if nobody signed.
    per_day: list[tuple[date, int]]
    #: (country code, confirmed signatures), most first.
    countries: list[tuple[str, int]]
    regions: list[RegionCount]
    #: Regions beyond the TOP_REGIONS listed.
    more_regions: int
    sponsors: SponsorStatus
    recent: list[RecentSignature]


def _confirmed(petition_id: int):
    return (Signature.petition_id == petition_id, Signature.status == SignatureStatus.CONFIRMED)


def _per_day(found: rollups.Figures) -> list[tuple[date, int]]:
    return sorted(
        (day, int(count))
        for (day, status, _category), count in found.days.items()
        if status == SignatureStatus.CONFIRMED and count
    )


def _by_country(found: rollups.Figures) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for (country, _region), count in found.places.items():
        totals[country] = totals.get(country, 0) + int(count)
    return sorted(((c, n) for c, n in totals.items() if n), key=lambda item: (-item[1], item[0]))


def signatures_per_day(session: Session, petition_id: int) -> list[tuple[date, int]]:
    """(UTC day, confirmed signatures) for the days that have any, oldest first."""
    return _per_day(rollups.figures(session, petition_id, ()))


def fill_days(
    points: Iterable[tuple[date, int]], start: date | None = None, end: date | None = None
) -> list[tuple[date, int]]:
    """Every day from the first to the last, those missing from `points` with 0.

    The range also reaches back to `start` and on to `end` when given. Repeated days are added
    up. No points and no range: an empty list.
    """
    totals: dict[date, int] = {}
    for day, count in points:
        totals[day] = totals.get(day, 0) + count
    bounds = [*totals, *(d for d in (start, end) if d is not None)]
    if not bounds:
        return []
    first, last = min(bounds), max(bounds)
    return [
        (first + timedelta(days=n), totals.get(first + timedelta(days=n), 0))
        for n in range((last - first).days + 1)
    ]


def dashboard_days(
    petition: Petition, points: list[tuple[date, int]], today: date
) -> list[tuple[date, int]]:
    """The days the chart shows: from the first signature to today while the petition still
    collects signatures (so a quiet week shows as one), to its closing day once closed."""
    if not points:
        return []
    end = None
    if petition.state in (PetitionState.OPEN, *SPONSOR_STATES):
        end = today
    elif petition.state == PetitionState.CLOSED and petition.closed_at is not None:
        end = petition.closed_at.date()
    if end is not None and end < points[0][0]:  # a clock or data oddity: never run backwards
        end = None
    return fill_days(points, end=end)


def signatures_by_country(session: Session, petition_id: int) -> list[tuple[str, int]]:
    """(ISO country code, confirmed signatures), most first, then by code."""
    return _by_country(rollups.figures(session, petition_id, ()))


def signatures_by_region(
    session: Session, petition_id: int, limit: int = TOP_REGIONS
) -> tuple[list[RegionCount], int]:
    """The `limit` (country, region) pairs with most confirmed signatures, and how many other
    pairs there are. Signers without a region are one pair per country (region None)."""
    region = case(
        (func.trim(Signature.region) == literal_column("''"), None), else_=Signature.region
    ).label("region")
    signatures = func.count().label("signatures")
    grouped = (
        select(Signature.country, region, signatures)
        .where(*_confirmed(petition_id))
        .group_by(Signature.country, region)
        .subquery()
    )
    rows = session.execute(
        select(grouped.c.country, grouped.c.region, grouped.c.signatures)
        .order_by(
            grouped.c.signatures.desc(),
            grouped.c.region.is_(None),
            grouped.c.country,
            grouped.c.region,
        )
        .limit(limit)
    ).all()
    pairs = session.scalar(select(func.count()).select_from(grouped)) or 0
    found = [RegionCount(country, name, int(count)) for country, name, count in rows]
    return found, max(0, int(pairs) - len(found))


def sponsor_status(session: Session, petition_id: int, required: int) -> SponsorStatus:
    """Sponsors (signatures made through the sponsor link), confirmed and still pending."""
    confirmed, pending = session.execute(
        select(
            func.count().filter(Signature.status == SignatureStatus.CONFIRMED),
            func.count().filter(Signature.status == SignatureStatus.PENDING),
        ).where(Signature.petition_id == petition_id, Signature.is_sponsor.is_(True))
    ).one()
    return SponsorStatus(int(confirmed or 0), int(pending or 0), required)


def latest_signatures(
    session: Session, petition_id: int, limit: int = RECENT_SIGNATURES
) -> list[RecentSignature]:
    """The latest confirmed signatures, newest first; names only of signers who allowed it.

    The name is chosen in the query itself, so a hidden name never leaves the database.
    """
    shown_name = case((Signature.show_name.is_(True), Signature.name), else_=None)
    rows = session.execute(
        select(shown_name, Signature.country, Signature.confirmed_at)
        .where(*_confirmed(petition_id))
        .order_by(Signature.confirmed_at.desc(), Signature.id.desc())
        .limit(limit)
    ).all()
    return [RecentSignature(name, country, at) for name, country, at in rows]


def petition_dashboard(
    session: Session, petition: Petition, *, sponsors_required: int, today: date
) -> Dashboard:
    """Everything the organiser's dashboard shows about one petition."""
    regions, more_regions = signatures_by_region(session, petition.id)
    found = rollups.figures(session, petition.id, ())
    return Dashboard(
        total=counts.count_for(session, petition.id),
        per_day=dashboard_days(petition, _per_day(found), today),
        countries=_by_country(found),
        regions=regions,
        more_regions=more_regions,
        sponsors=sponsor_status(session, petition.id, sponsors_required),
        recent=latest_signatures(session, petition.id),
    )
