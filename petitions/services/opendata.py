"""Public numbers for journalists and researchers: listings, per-petition statistics, time
series and daily snapshots. Used by the JSON API, the CSV downloads and the petition page.

Trust
-----
* Only confirmed signatures are counted, the same ones as the public total (the count shards,
  services/counts.py). Removed signatures (invalidated or withdrawn) are reported as numbers,
  never which ones.
* No signer's name, address or free text leaves this module: countries are ISO codes, regions
  are ISO 3166-2 subdivisions matched from what signers typed (petitions/regions.py), the rest
  is counted as "other or not given".
* One petition's statistics are read in one snapshot (`REPEATABLE READ` on PostgreSQL), so in
  one answer the total, the countries, the regions and the time series add up exactly, even
  while signatures are being confirmed.

Load
----
Statistics and listing totals read the roll-ups and their live tail (services/rollups.py),
never a GROUP BY over a petition's signatures: a snapshot is seven short statements whether
the petition has a thousand signatures or ten million (bench/scale.py measures it). They are
still computed at most once per `STATS_MEMO_SECONDS` per process (`api.views.petition_stats`,
through memo.Memo) and served with HTTP caching headers. `computed_at` says how old an answer
is; `count.json` stays the live number.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import case, exists, func, or_, select, text
from sqlalchemy.orm import Session

from ..countries import country_name
from ..database import dialect_insert, snapshot_session
from ..models import (
    REMOVED_STATUSES,
    DailyCount,
    Petition,
    PetitionMilestone,
    PetitionState,
    PetitionTranslation,
    Signature,
    SignatureStatus,
    SignatureTotal,
    TranslationState,
    utcnow,
)
from ..models.petition import COUNTED_STATES, PUBLIC_STATES
from ..models.signature import REMOVED_SQL
from ..regions import subdivision_name
from . import counts, rollups

#: The condition of the partial index on confirmed signatures, as written in migration 0004.
CONFIRMED_SQL = "status = 'confirmed'"

logger = logging.getLogger(__name__)

#: States shown to the public (Petition.is_public), and those that have a public total.

SORTS = ("signatures", "newest", "closing")
INTERVALS = ("hour", "day")
#: Longest text search, target filter and page size the API accepts.
QUERY_MAX = 200
PER_PAGE_MAX = 100
#: Petitions read per batch when streaming every petition as CSV.
BATCH_SIZE = 500


# --- one petition's statistics -----------------------------------------------------------------


@dataclass(frozen=True)
class CountryCount:
    #: ISO 3166-1 alpha-2.
    code: str
    #: English short name (stable for scripts; pages translate the code themselves).
    name: str
    count: int


@dataclass(frozen=True)
class RegionCount:
    country: str
    #: ISO 3166-2 code, or None for signers whose region is not a recognised subdivision.
    code: str | None
    #: English subdivision name, or None with `code`.
    name: str | None
    count: int


@dataclass(frozen=True)
class Milestone:
    #: "goal" (the petition's own) or "count" (one of MILESTONES).
    kind: str
    threshold: int
    reached_at: datetime


@dataclass(frozen=True)
class Removal:
    """Signatures taken out of the count on one UTC day for one public reason category."""

    day: date
    #: A RemovalCategory ("other" for one removed one by one without a category).
    category: str
    count: int


@dataclass(frozen=True)
class PetitionStats:
    petition_id: int
    state: str
    signature_count: int
    countries: list[CountryCount]
    regions: list[RegionCount]
    #: (start of the UTC hour, confirmed signatures) for the hours that have any, oldest first.
    per_hour: list[tuple[datetime, int]]
    #: {"invalidated": n, "withdrawn": n}
    removed: dict[str, int]
    milestones: list[Milestone]
    first_signature_at: datetime | None
    last_signature_at: datetime | None
    last_removed_at: datetime | None
    computed_at: datetime = field(compare=False)
    #: Removals by day and category, newest day first (what the page and API disclose).
    removals: list[Removal] = field(default_factory=list)
    #: Confirmed by their signers but held for a moderator's review: not counted yet.
    held: int = 0

    @property
    def removed_total(self) -> int:
        return sum(self.removed.values())


def _latest_moments(session: Session, petition_id: int):
    """(first confirmation, latest confirmation, latest removal) of the petition's counted
    and removed signatures: each the end of a partial index (`ix_signatures_confirmed_time`,
    `ix_signatures_removed_time`), so one short statement however many there are. The index
    conditions are written inline, as the indexes have them, so PostgreSQL uses the indexes
    whatever plan it keeps for the statement."""

    def end(aggregate, column, condition: str):
        return (
            select(aggregate(column))
            .where(Signature.petition_id == petition_id, text(condition))
            .scalar_subquery()
        )

    return session.execute(
        select(
            end(func.min, Signature.confirmed_at, CONFIRMED_SQL),
            end(func.max, Signature.confirmed_at, CONFIRMED_SQL),
            end(func.max, Signature.removed_at, REMOVED_SQL),
        )
    ).one()


def _countries(places: Counter) -> list[CountryCount]:
    totals: Counter = Counter()
    for (country, _region), count in places.items():
        totals[country] += count
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [CountryCount(code, country_name(code, "en"), count) for code, count in ordered if count]


def _regions(places: Counter) -> list[RegionCount]:
    """Regions as ISO 3166-2 subdivisions, most signed first; unrecognised text per country."""
    found = []
    for (country, code), count in places.items():
        if count:
            name = subdivision_name(code) if code else None
            found.append(((country, code or None, name if name else None), count))
    ordered = sorted(found, key=lambda item: (-item[1], item[0][1] is None, item[0]))
    return [RegionCount(country, code, name, count) for (country, code, name), count in ordered]


def petition_stats(
    session: Session, petition_id: int, *, locales: Sequence[str] = (), now: datetime | None = None
) -> PetitionStats | None:
    """Everything public about an open or closed petition's signatures, from one snapshot.

    None for a petition that has no public total (unknown, draft, rejected, hidden). Read from
    the roll-ups and their live tail (services/rollups.py): seven statements whatever the
    number of signatures.
    """
    with snapshot_session(session) as snap:
        row = snap.execute(
            select(Petition.state, counts.total_column(petition_id), *rollups.stored_statuses())
            .outerjoin(SignatureTotal, SignatureTotal.petition_id == Petition.id)
            .where(Petition.id == petition_id, Petition.state.in_(COUNTED_STATES))
        ).one_or_none()
        if row is None:
            return None
        state, total, *statuses = row
        found = rollups.figures(snap, petition_id, tuple(locales), statuses=statuses)
        first, last, last_removed = _latest_moments(snap, petition_id)
        removed_by_day: Counter = Counter()
        for (day, status, category), count in found.days.items():
            if status != SignatureStatus.CONFIRMED:
                removed_by_day[(day, category)] += count
        removals = [
            Removal(day, category, count)
            for (day, category), count in sorted(
                removed_by_day.items(), key=lambda item: (-item[0][0].toordinal(), item[0][1])
            )
        ]
        milestones = [
            Milestone(kind, threshold, at)
            for kind, threshold, at in snap.execute(
                select(
                    PetitionMilestone.kind,
                    PetitionMilestone.threshold,
                    PetitionMilestone.reached_at,
                )
                .where(PetitionMilestone.petition_id == petition_id)
                .order_by(PetitionMilestone.reached_at, PetitionMilestone.threshold)
            )
        ]
        return PetitionStats(
            petition_id=petition_id,
            state=state,
            signature_count=int(total),
            countries=_countries(found.places),
            regions=_regions(found.places),
            per_hour=sorted(found.hours.items()),
            removed={s.value: int(found.statuses.get(s.value, 0)) for s in REMOVED_STATUSES},
            milestones=milestones,
            first_signature_at=first,
            last_signature_at=last,
            last_removed_at=last_removed,
            computed_at=now or utcnow(),
            removals=removals,
            held=int(found.statuses.get(SignatureStatus.HELD.value, 0)),
        )


def last_modified(petition: Petition, stats: PetitionStats | None) -> datetime:
    """When anything public about the petition last changed: its text, state or numbers."""
    moments = [
        petition.created_at,
        petition.opened_at,
        petition.closed_at,
        petition.edited_at,
        petition.response_at,
    ]
    if stats is not None:
        moments += [stats.last_signature_at, stats.last_removed_at]
        moments += [m.reached_at for m in stats.milestones]
    return max(m for m in moments if m is not None)


# --- time series ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    #: Start of the UTC hour or day.
    start: datetime
    count: int
    #: Confirmed signatures up to the end of this interval.
    cumulative: int


def _floor(moment: datetime, interval: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if interval == "day" else moment


def series_end(petition: Petition, now: datetime) -> datetime | None:
    """Where a petition's series stops: now while it is open, its closing time once closed."""
    if petition.state == PetitionState.OPEN:
        return now if petition.closes_at is None else min(now, petition.closes_at)
    return petition.closed_at


def series(stats: PetitionStats, interval: str, *, end: datetime | None) -> list[SeriesPoint]:
    """Confirmed signatures per UTC hour or day, every interval from the first signature to
    `end` (those without signatures with 0), with the running total. Empty if nobody signed.

    The last cumulative value is the snapshot's `signature_count`, as long as the shards agree
    with the signature table (`flask counts reconcile`).
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    if not stats.per_hour:
        return []
    buckets: dict[datetime, int] = {}
    for hour, count in stats.per_hour:
        start = _floor(hour, interval)
        buckets[start] = buckets.get(start, 0) + count
    step = timedelta(hours=1) if interval == "hour" else timedelta(days=1)
    first, last = min(buckets), max(buckets)
    if end is not None and _floor(end, interval) > last:
        last = _floor(end, interval)
    points, running, moment = [], 0, first
    while moment <= last:
        count = buckets.get(moment, 0)
        running += count
        points.append(SeriesPoint(moment, count, running))
        moment += step
    return points


# --- listings ---------------------------------------------------------------------------------


class QueryError(ValueError):
    """A listing was asked for with a parameter out of range; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class PetitionQuery:
    """Which public petitions to list, and in what order."""

    #: One of PUBLIC_STATES, or None for all of them.
    state: str | None = None
    #: Words to find in the title, the action or the background (case-insensitive).
    text: str | None = None
    #: Part of the addressee's name.
    target: str | None = None
    #: Petitions with confirmed signatures from this ISO 3166-1 alpha-2 country.
    country: str | None = None
    sort: str = "signatures"

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in PUBLIC_STATES:
            raise QueryError(
                "state",
                _("state must be one of %(choices)s or all", choices=", ".join(PUBLIC_STATES)),
            )
        if self.sort not in SORTS:
            raise QueryError("sort", _("sort must be one of %(choices)s", choices=", ".join(SORTS)))
        for name in ("text", "target"):
            value = getattr(self, name)
            if value is not None and len(value) > QUERY_MAX:
                raise QueryError(
                    name,
                    _("%(name)s must be at most %(max)s characters", name=name, max=QUERY_MAX),
                )
        if self.country is not None and not (
            len(self.country) == 2 and self.country.isascii() and self.country.isalpha()
        ):
            raise QueryError("country", _("country must be an ISO 3166-1 alpha-2 code, e.g. KG"))


def _folded(session: Session, column):
    """Case-insensitive text on both databases, Cyrillic included (database.py gives SQLite a
    `casefold` function; PostgreSQL's lower() folds by the database's locale)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.casefold(column)
    return func.lower(column)


def _needle(session: Session, text: str) -> str:
    """`text` folded as `_folded()` folds the column: casefold() turns "ß" into "ss" and "ς"
    into "σ", which PostgreSQL's lower() does not, so there Python's lower() matches it."""
    if session.get_bind().dialect.name == "sqlite":
        return text.casefold()
    return text.lower()


def _filtered(session: Session, query: PetitionQuery):
    statement = select(Petition).where(
        Petition.state.in_([query.state] if query.state else PUBLIC_STATES)
    )
    if query.text:
        needle = _needle(session, query.text)
        statement = statement.where(
            # A withheld text is not public, so not searchable.
            ~Petition.text_withheld(),
            or_(
                *(
                    _folded(session, column).contains(needle, autoescape=True)
                    for column in (Petition.title, Petition.action, Petition.background)
                )
            ),
        )
    if query.target:
        statement = statement.where(
            # The addressee is withheld with the text (the API's `target` is null).
            ~Petition.text_withheld(),
            _folded(session, Petition.addressee).contains(
                _needle(session, query.target), autoescape=True
            ),
        )
    if query.country:
        statement = statement.where(
            exists().where(
                Signature.petition_id == Petition.id,
                Signature.country == query.country.upper(),
                Signature.status == SignatureStatus.CONFIRMED,
            )
        )
    return statement


def _ordered(statement, sort: str, total):
    if sort == "newest":
        return statement.order_by(
            func.coalesce(Petition.opened_at, Petition.created_at).desc(), Petition.id.desc()
        )
    if sort == "closing":
        return statement.order_by(
            (Petition.state != PetitionState.OPEN),
            Petition.closes_at.is_(None),
            Petition.closes_at,
            Petition.id,
        )
    return statement.order_by(
        case((Petition.state == PetitionState.REJECTED, -1), else_=total).desc(),
        Petition.id.desc(),
    )


@dataclass(frozen=True)
class Listed:
    petition: Petition
    #: The public total; None for rejected petitions (they never opened).
    signature_count: int | None


@dataclass(frozen=True)
class Listing:
    items: list[Listed]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _shown(petition: Petition, total: int) -> int | None:
    """The total a listing shows: none for a rejected petition (it never opened)."""
    return int(total) if petition.state in COUNTED_STATES else None


def list_public(session: Session, query: PetitionQuery, *, page: int, per_page: int) -> Listing:
    """One page of public petitions with their totals. A page past the last is empty.

    The totals are the stored ones plus the live tail (services/rollups.py), in the query
    that finds the page, so sorting by signatures costs the same however many there are.
    """
    if page < 1:
        raise QueryError("page", _("page must be 1 or more"))
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise QueryError("per_page", _("per_page must be between 1 and %(max)s", max=PER_PAGE_MAX))
    statement = _filtered(session, query)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    with_totals, signatures = rollups.with_total(statement)
    rows = session.execute(
        _ordered(with_totals, query.sort, signatures).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Listing([Listed(p, _shown(p, n)) for p, n in rows], page, per_page, total)


class Disclosed(NamedTuple):
    """What a petition's public numbers say beside its count: signatures removed (invalidated
    or withdrawn) and signatures held for review."""

    removed: int = 0
    held: int = 0


def disclosed_counts(session: Session, petition_ids: Sequence[int]) -> dict[int, Disclosed]:
    """Removed and held signatures per petition (zeros for none), from the roll-ups."""
    totals = rollups.totals_for(session, petition_ids)
    return {i: Disclosed(totals[i].removed, totals[i].held) for i in totals}


def all_public(
    session: Session, query: PetitionQuery, *, batch_size: int = BATCH_SIZE
) -> Iterator[list[tuple[Petition, int | None, Disclosed]]]:
    """Every public petition matching `query`, by id, in batches of (petition, total,
    removed and held).

    Keyset pagination (`id > last`), so each batch is a short query of its own: memory stays
    one batch whatever the number of petitions, and no transaction stays open while the
    client reads slowly.
    """
    last_id = 0
    while True:
        petitions = session.scalars(
            _filtered(session, query)
            .where(Petition.id > last_id)
            .order_by(Petition.id)
            .limit(batch_size)
        ).all()
        if not petitions:
            return
        totals = rollups.totals_for(session, [p.id for p in petitions])
        batch = [
            (
                p,
                _shown(p, totals[p.id].confirmed),
                Disclosed(totals[p.id].removed, totals[p.id].held),
            )
            for p in petitions
        ]
        last_id = petitions[-1].id
        # Forget the rows and end the (read-only) transaction before the batch is sent: a
        # slow client then holds no connection, and no snapshot that keeps VACUUM waiting.
        session.expunge_all()
        session.rollback()
        yield batch


def all_public_translations(
    session: Session, query: PetitionQuery, *, batch_size: int = BATCH_SIZE
) -> Iterator[list[tuple[PetitionTranslation, bool]]]:
    """The approved translations of every public petition matching `query`, by petition id
    and language, in batches of (translation, whether the petition's text is withheld).

    Keyset pagination over the petitions as `all_public`, two short queries per batch.
    """
    last_id = 0
    while True:
        petitions = session.execute(
            _filtered(session, query)
            .with_only_columns(Petition.id, Petition.text_withheld())
            .where(Petition.id > last_id)
            .order_by(Petition.id)
            .limit(batch_size)
        ).all()
        if not petitions:
            return
        withheld = {petition_id: bool(hidden) for petition_id, hidden in petitions}
        found = session.scalars(
            select(PetitionTranslation)
            .where(
                PetitionTranslation.petition_id.in_(list(withheld)),
                PetitionTranslation.state == TranslationState.APPROVED,
            )
            .order_by(PetitionTranslation.petition_id, PetitionTranslation.language)
        ).all()
        batch = [(t, withheld[t.petition_id]) for t in found]
        last_id = petitions[-1][0]
        session.expunge_all()
        session.rollback()
        if batch:
            yield batch


# --- daily snapshots --------------------------------------------------------------------------


def record_daily_counts(session: Session, *, now: datetime) -> int:
    """Record today's (UTC) total of every open and closed petition, once a day; commits.

    Called by the worker every round: after the first round of a day it finds the day recorded
    and does nothing. Several workers at once: the primary key keeps one row each.
    """
    today = now.astimezone(UTC).date()
    if session.scalar(select(exists().where(DailyCount.day == today))):
        return 0
    petitions = session.execute(
        select(Petition.id, Petition.state).where(Petition.state.in_(COUNTED_STATES))
    ).all()
    recorded = 0
    for start in range(0, len(petitions), BATCH_SIZE):
        batch = petitions[start : start + BATCH_SIZE]
        ids = [petition_id for petition_id, _ in batch]
        totals = rollups.totals_for(session, ids)
        insert = dialect_insert(session)(DailyCount)
        result = session.execute(
            insert.values(
                [
                    {
                        "day": today,
                        "petition_id": petition_id,
                        "state": state,
                        "signature_count": totals[petition_id].confirmed,
                        "signatures_removed": totals[petition_id].removed,
                        "signatures_held": totals[petition_id].held,
                        "recorded_at": now,
                    }
                    for petition_id, state in batch
                ]
            )
            .on_conflict_do_nothing(index_elements=[DailyCount.day, DailyCount.petition_id])
            .returning(DailyCount.petition_id)
        )
        recorded += len(result.all())
    session.commit()
    if recorded:
        logger.info("daily counts of %s recorded for %d petitions", today, recorded)
    return recorded


def snapshot_days(session: Session) -> list[tuple[date, int]]:
    """(day, petitions recorded) of every daily snapshot, newest first."""
    rows = session.execute(
        select(DailyCount.day, func.count())
        .join(Petition, Petition.id == DailyCount.petition_id)
        .where(Petition.state.in_(COUNTED_STATES))
        .group_by(DailyCount.day)
        .order_by(DailyCount.day.desc())
    ).all()
    return [(day, int(count)) for day, count in rows]


def snapshot_rows(session: Session, day: date) -> list[tuple[DailyCount, str]]:
    """The rows of one day's snapshot with each petition's title, by petition id.

    Petitions hidden since (abusive or unlawful) are left out, as everywhere in public.
    """
    rows = session.execute(
        select(DailyCount, Petition.title)
        .join(Petition, Petition.id == DailyCount.petition_id)
        .where(DailyCount.day == day, Petition.state.in_(COUNTED_STATES))
        .order_by(DailyCount.petition_id)
    )
    return [(row, title) for row, title in rows]


__all__ = [
    "COUNTED_STATES",
    "INTERVALS",
    "PUBLIC_STATES",
    "SORTS",
    "CountryCount",
    "Disclosed",
    "Listed",
    "Listing",
    "Milestone",
    "PetitionQuery",
    "PetitionStats",
    "QueryError",
    "RegionCount",
    "SeriesPoint",
    "all_public",
    "disclosed_counts",
    "last_modified",
    "list_public",
    "petition_stats",
    "record_daily_counts",
    "series",
    "series_end",
    "snapshot_days",
    "snapshot_rows",
    "snapshot_session",
]
