"""Roll-ups: public statistics that cost the same at 10 million signatures as at 1,000.

What
----
A petition's public numbers (its chart, countries, regions, removals, signatures held) and
the listings' totals used to be GROUP BYs over its signatures: ~0.75 s at a million. They
now read small tables per petition (models/rollups.py): its signatures per status
(`signature_totals`, which listings show and sort by), confirmed per UTC hour, confirmed and
removed (by status and public category) per UTC day, and confirmed per country and ISO
3166-2 subdivision. Their size grows with time and geography, never with the signatures.

Who keeps them: the worker, not the confirming transaction
----------------------------------------------------------
Confirming must stay cheap and free of hot rows (services/counts.py). Roll-ups kept in that
transaction would be three or four more upserts per confirmation, on the rows every
confirmation of a viral petition wants (this hour's, Kyrgyzstan's); to avoid the lock queue
they would need shards of their own, and every read would sum hours times shards. So the
worker keeps them, and signing, confirming, removing and releasing run exactly the
statements they ran before.

Exact without a clock: each signature's rolled copy
---------------------------------------------------
A watermark on time or on a sequence misses the transaction that took its value before the
watermark moved and committed after it. Instead each signature carries the copy of what the
roll-ups counted it with (`rolled_status`, `rolled_removed_at`, `rolled_category`, beside
`status`, `removed_at`, `removal_category`; its country, region and `confirmed_at` never
change once it leaves pending). The invariant:

    the roll-ups = a GROUP BY of the petition's signatures over their rolled copies.

A signature whose columns differ from its copy is *unrolled* (`Signature.unrolled()`),
whatever changed it: a confirmation, a hold, a validation, an invalidation, a withdrawal, an
undo (services/signing.py and services/removal.py) or a hand edit; no writer needs to know.
A partial index holds exactly the unrolled signatures, i.e. those changed since the worker's
last pass: a few seconds' worth.

* **Reads** (`figures()`, in one snapshot): the roll-up rows plus the *live tail*, one
  grouped query over the petition's unrolled signatures, each taking off what its copy
  counted and adding what it counts now. Every answer is exact at every commit; it costs a
  fixed number of statements over the roll-ups and the tail, whatever the signature count.
* **The worker** (`roll_up()`, every ROLLUP_SECONDS): per petition, up to
  ROLLUP_BATCH_SIZE unrolled signatures, locked (`SKIP LOCKED` on PostgreSQL, so several
  workers share the work), have their change added to the roll-ups and their copies set, in
  one transaction. One changed again meanwhile waits for that lock, then is unrolled anew.
  The petition's `signature_totals` row is written first: its row lock makes the workers and
  `repair()` take one petition's roll-ups one at a time (always after the signature locks,
  so they never wait for each other in a circle).
* **The price**: the worker writes each changed signature once more (its copy), off the
  request path, in batches.
* **Reconcile** (`check()`, `repair()`; `flask counts reconcile [--repair]`): compares the
  roll-ups with the GROUP BY over the copies (an operator's or cron's cost) and rewrites
  them from it while holding the totals row, so nothing a worker does meanwhile is lost. A
  worker whose batch would take a roll-up below zero (drift) repairs that petition itself.
* A stopped worker only makes the tail, and so the reads, longer; they stay exact.

Regions are matched to subdivisions (petitions/regions.py) with the site's LANGUAGES when
rolled up and in the tail; after changing LANGUAGES, `reconcile --repair` matches them anew.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import bucket_start, dialect_insert, snapshot_session, utc_trunc
from ..models import (
    REMOVED_STATUSES,
    Petition,
    RemovalCategory,
    Signature,
    SignatureDay,
    SignatureHour,
    SignaturePlace,
    SignatureStatus,
    SignatureTotal,
)
from ..regions import match_subdivision

logger = logging.getLogger(__name__)

S = SignatureStatus
#: The statuses `signature_totals` counts (pending ones count nowhere).
COUNTED = (S.CONFIRMED, S.HELD, S.INVALIDATED, S.WITHDRAWN)
#: Unrolled signatures a worker takes per petition and transaction.
BATCH_SIZE = 5000
#: Roll-up rows written per INSERT (bind parameters stay far below the databases' limits).
WRITE_ROWS = 1000


def public_category(status: str, category: str | None) -> str:
    """The public RemovalCategory of a removed signature ("other" for one removed one by one
    without a category; a withdrawal is the signer's request unless told otherwise)."""
    if category:
        return str(category)
    if status == S.WITHDRAWN:
        return RemovalCategory.SIGNER_REQUEST
    return RemovalCategory.OTHER


def region_code(country: str, region: str | None, locales: tuple[str, ...]) -> str:
    """The ISO 3166-2 subdivision a signer's region names, or '' (other or not given)."""
    found = match_subdivision(country, region, locales)
    return found.code if found else ""


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Figures:
    """A petition's signatures as the roll-ups count them, or a change to them."""

    #: Signatures per status (confirmed, held, invalidated, withdrawn).
    statuses: Counter = field(default_factory=Counter)
    #: Start of the UTC hour -> signatures confirmed in it.
    hours: Counter = field(default_factory=Counter)
    #: (UTC day, status, category) -> signatures confirmed (category '') or removed that day.
    days: Counter = field(default_factory=Counter)
    #: (country, subdivision code or '') -> confirmed signatures.
    places: Counter = field(default_factory=Counter)

    def count(
        self,
        status: str,
        *,
        hour: datetime | None,
        removed_day: date | None,
        category: str | None,
        country: str,
        region: str,
        n: int = 1,
    ) -> None:
        """Add `n` signatures of this kind (a negative `n` takes them off)."""
        if status not in COUNTED:
            return
        self.statuses[status] += n
        if status == S.CONFIRMED:
            self.hours[hour] += n
            self.days[(hour.date(), S.CONFIRMED.value, "")] += n
            self.places[(country, region)] += n
        elif status in REMOVED_STATUSES:
            self.days[(removed_day, str(status), public_category(status, category))] += n

    def add(self, other: Figures) -> None:
        for mine, theirs in (
            (self.statuses, other.statuses),
            (self.hours, other.hours),
            (self.days, other.days),
            (self.places, other.places),
        ):
            mine.update(theirs)  # update() adds negative numbers too, unlike +

    def nonzero(self) -> Figures:
        """The same figures without the entries that came to 0."""
        return Figures(*(_nonzero(c) for c in (self.statuses, self.hours, self.days, self.places)))


def _nonzero(counter: Counter) -> Counter:
    return Counter({key: n for key, n in counter.items() if n})


# --- reading -----------------------------------------------------------------------------------


def stored_statuses():
    """The columns of `signature_totals`, in COUNTED order, for a caller that reads them
    with other things in one statement (then given to `figures(statuses=...)`)."""
    return tuple(getattr(SignatureTotal, status.value) for status in COUNTED)


def stored(
    session: Session, petition_id: int, *, statuses: Sequence[int | None] | None = None
) -> Figures:
    """The roll-ups of one petition as stored (four short queries by primary key; three
    when the caller read the totals row already: `statuses`, see stored_statuses())."""
    found = Figures()
    if statuses is None:
        statuses = session.execute(
            select(*stored_statuses()).where(SignatureTotal.petition_id == petition_id)
        ).one_or_none() or (0,) * len(COUNTED)
    for status, count in zip(COUNTED, statuses, strict=True):
        found.statuses[status.value] = int(count or 0)
    for hour, confirmed in session.execute(
        select(SignatureHour.hour, SignatureHour.confirmed).where(
            SignatureHour.petition_id == petition_id
        )
    ):
        found.hours[hour] += confirmed
    for day, status, category, count in session.execute(
        select(
            SignatureDay.day, SignatureDay.status, SignatureDay.category, SignatureDay.count
        ).where(SignatureDay.petition_id == petition_id)
    ):
        found.days[(day, status, category)] += count
    for country, region, confirmed in session.execute(
        select(SignaturePlace.country, SignaturePlace.region, SignaturePlace.confirmed).where(
            SignaturePlace.petition_id == petition_id
        )
    ):
        found.places[(country, region)] += confirmed
    return found


def _grouped(session: Session, petition_id: int, *, status, removed_at, category, where):
    """Signatures of the petition grouped by what decides where they count (with `status`,
    `removed_at` and `category` either the columns or their rolled copies)."""
    hour = utc_trunc(session, "hour", Signature.confirmed_at)
    removed_day = utc_trunc(session, "day", removed_at)
    columns = (status, hour, removed_day, category, Signature.country, Signature.region)
    return session.execute(
        select(*columns, func.count())
        .where(Signature.petition_id == petition_id, *where)
        .group_by(*columns)
    )


def _bucket(value) -> datetime | None:
    return None if value is None else bucket_start(value)


def _unrolled_of(session: Session, petition_id: int):
    """SQL: the petition's unrolled signatures, read from the unrolled index.

    SQLite has no statistics to tell it that index is small, and for `petition_id = ?` it takes
    ix_signatures_petition_status, i.e. every signature of the petition; `petition_id + 0`
    leaves it only the unrolled index (PostgreSQL's planner knows).
    """
    column = Signature.petition_id
    if session.get_bind().dialect.name == "sqlite":
        column = column + 0
    return and_(column == petition_id, Signature.unrolled())


def _day_of(value) -> date | None:
    return None if value is None else bucket_start(value).date()


def tail(session: Session, petition_id: int, locales: tuple[str, ...]) -> Figures:
    """What the petition's unrolled signatures change: each takes off what its copy counted
    and adds what it counts now (one grouped query over the unrolled index)."""
    columns = (
        Signature.status,
        Signature.removal_category.label("category"),
        utc_trunc(session, "day", Signature.removed_at).label("removed_day"),
        Signature.rolled_status,
        Signature.rolled_category,
        utc_trunc(session, "day", Signature.rolled_removed_at).label("rolled_day"),
        utc_trunc(session, "hour", Signature.confirmed_at).label("hour"),
        Signature.country,
        Signature.region,
    )
    change = Figures()
    rows = session.execute(
        select(*columns, func.count().label("n"))
        .where(_unrolled_of(session, petition_id))
        .group_by(*columns)
    )
    for row in rows:
        where = {
            "hour": _bucket(row.hour),
            "country": row.country,
            "region": region_code(row.country, row.region, locales),
        }
        change.count(
            row.status,
            removed_day=_day_of(row.removed_day),
            category=row.category,
            n=row.n,
            **where,
        )
        change.count(
            row.rolled_status,
            removed_day=_day_of(row.rolled_day),
            category=row.rolled_category,
            n=-row.n,
            **where,
        )
    return change


def figures(
    session: Session,
    petition_id: int,
    locales: tuple[str, ...],
    *,
    statuses: Sequence[int | None] | None = None,
) -> Figures:
    """A petition's exact numbers as of the session's snapshot: roll-ups plus tail (five
    statements however many signatures; four given `statuses`, see `stored()`)."""
    found = stored(session, petition_id, statuses=statuses)
    found.add(tail(session, petition_id, locales))
    return found.nonzero()


class Totals(NamedTuple):
    """A petition's signatures that listings show: counted, removed and held."""

    confirmed: int = 0
    removed: int = 0
    held: int = 0


def _delta(status):
    """SQL: +1 for a signature now in `status`, -1 for one its copy counted in it."""
    statuses = status if isinstance(status, tuple) else (status,)
    return func.sum(
        case((Signature.status.in_(statuses), 1), else_=0)
        - case((Signature.rolled_status.in_(statuses), 1), else_=0)
    )


def unrolled_by_petition():
    """A subquery: (petition_id, confirmed, removed, held) that the unrolled signatures add
    to the stored totals, for every petition that has any (the whole unrolled index: a few
    seconds' worth of changes, whichever petitions the caller reads)."""
    return (
        select(
            Signature.petition_id.label("petition_id"),
            _delta(S.CONFIRMED).label("confirmed"),
            _delta(REMOVED_STATUSES).label("removed"),
            _delta(S.HELD).label("held"),
        )
        .where(Signature.unrolled())
        .group_by(Signature.petition_id)
        .subquery("unrolled")
    )


def with_total(statement):
    """`statement` (a select of Petition) with each petition's exact public total as a second
    column, and that total (to sort by): the stored total plus the tail, one statement."""
    tail_ = unrolled_by_petition()
    total = func.coalesce(SignatureTotal.confirmed, 0) + func.coalesce(tail_.c.confirmed, 0)
    joined = (
        statement.outerjoin(SignatureTotal, SignatureTotal.petition_id == Petition.id)
        .outerjoin(tail_, tail_.c.petition_id == Petition.id)
        .add_columns(total.label("signature_count"))
    )
    return joined, total


def totals_for(session: Session, petition_ids: Iterable[int]) -> dict[int, Totals]:
    """The exact totals of these petitions (zeros for those never signed), one statement."""
    ids = sorted(set(petition_ids))
    if not ids:
        return {}
    tail_ = unrolled_by_petition()
    removed = func.coalesce(SignatureTotal.invalidated, 0) + func.coalesce(
        SignatureTotal.withdrawn, 0
    )
    rows = session.execute(
        select(
            Petition.id,
            func.coalesce(SignatureTotal.confirmed, 0) + func.coalesce(tail_.c.confirmed, 0),
            removed + func.coalesce(tail_.c.removed, 0),
            func.coalesce(SignatureTotal.held, 0) + func.coalesce(tail_.c.held, 0),
        )
        .outerjoin(SignatureTotal, SignatureTotal.petition_id == Petition.id)
        .outerjoin(tail_, tail_.c.petition_id == Petition.id)
        .where(Petition.id.in_(ids))
    )
    found = {petition_id: Totals(int(c), int(r), int(h)) for petition_id, c, r, h in rows}
    return {i: found.get(i, Totals()) for i in ids}


# --- rolling up --------------------------------------------------------------------------------


def _take_write_lock(session: Session) -> None:
    """SQLite: take the database's write lock before reading what will be written, so no
    other writer commits in between (PostgreSQL locks the rows themselves)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(SignatureTotal)
            .where(SignatureTotal.petition_id == -1)
            .values(confirmed=SignatureTotal.confirmed)
        )


class Drift(Exception):
    """A change would take a roll-up below zero or from a row that is not there."""


def _lock_totals(session: Session, petition_id: int) -> None:
    """Make sure the petition's totals row exists and hold its row lock: the petition's
    roll-up lock (after the signature locks, before any other roll-up row)."""
    insert = dialect_insert(session)
    session.execute(
        insert(SignatureTotal)
        .values(petition_id=petition_id)
        .on_conflict_do_update(
            index_elements=["petition_id"], set_={"confirmed": SignatureTotal.confirmed}
        )
    )


def _write(session: Session, petition_id: int, change: Figures, *, replace: bool) -> None:
    """Add `change` to the petition's roll-ups (or, with `replace`, make them `change`);
    raises Drift (or IntegrityError, from the CHECKs) where a count would go below zero.

    Additions are upserts; subtractions are UPDATEs of rows that must exist, because a
    database checks an upsert's CHECK constraints on the row it proposes to insert, before
    it finds the row already there.
    """
    _lock_totals(session, petition_id)
    totals = {status.value: int(change.statuses.get(status.value, 0)) for status in COUNTED}
    session.execute(
        update(SignatureTotal)
        .where(SignatureTotal.petition_id == petition_id)
        .values(
            {
                getattr(SignatureTotal, name): n if replace else getattr(SignatureTotal, name) + n
                for name, n in totals.items()
            }
        )
    )
    if replace:
        for model in (SignatureHour, SignatureDay, SignaturePlace):
            session.execute(delete(model).where(model.petition_id == petition_id))
    insert = dialect_insert(session)
    parts = (
        (SignatureHour, "confirmed", ("hour",), change.hours),
        (SignatureDay, "count", ("day", "status", "category"), change.days),
        (SignaturePlace, "confirmed", ("country", "region"), change.places),
    )
    for model, column, keys, counter in parts:
        # In key order, so that two writers never wait for each other's rows in a circle.
        changes = sorted(
            ((key if isinstance(key, tuple) else (key,)), int(n)) for key, n in counter.items() if n
        )
        added = [
            {"petition_id": petition_id, **dict(zip(keys, key, strict=True)), column: n}
            for key, n in changes
            if n > 0
        ]
        for start in range(0, len(added), WRITE_ROWS):
            statement = insert(model).values(added[start : start + WRITE_ROWS])
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["petition_id", *keys],
                    set_={column: getattr(model, column) + getattr(statement.excluded, column)},
                )
            )
        taken = [
            {**{f"key_{k}": v for k, v in zip(keys, key, strict=True)}, "n": n}
            for key, n in changes
            if n < 0
        ]
        if taken:
            table = model.__table__  # Core: the ORM would take a list of rows for updates by key
            found = session.execute(
                update(table)
                .where(
                    table.c.petition_id == petition_id,
                    *(table.c[k] == bindparam(f"key_{k}") for k in keys),
                )
                .values({column: table.c[column] + bindparam("n")}),
                taken,
            ).rowcount
            if found != len(taken):
                raise Drift(f"{model.__tablename__}: {len(taken) - found} row(s) missing")


def _roll_batch(
    session: Session, petition_id: int, locales: tuple[str, ...], batch_size: int
) -> int:
    """Roll up to `batch_size` unrolled signatures of the petition; commits. Returns how many."""
    _take_write_lock(session)
    query = (
        select(
            Signature.id,
            Signature.status,
            Signature.removed_at,
            Signature.removal_category,
            Signature.rolled_status,
            Signature.rolled_removed_at,
            Signature.rolled_category,
            Signature.confirmed_at,
            Signature.country,
            Signature.region,
        )
        .where(_unrolled_of(session, petition_id))
        .limit(batch_size)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        session.rollback()
        return 0
    change = Figures()
    for row in rows:
        where = {
            "hour": row.confirmed_at and _hour(row.confirmed_at),
            "country": row.country,
            "region": region_code(row.country, row.region, locales),
        }
        change.count(
            row.status,
            removed_day=row.removed_at and row.removed_at.astimezone(UTC).date(),
            category=row.removal_category,
            **where,
        )
        change.count(
            row.rolled_status,
            removed_day=row.rolled_removed_at and row.rolled_removed_at.astimezone(UTC).date(),
            category=row.rolled_category,
            n=-1,
            **where,
        )
    _write(session, petition_id, change, replace=False)
    session.execute(
        update(Signature)
        .where(Signature.id.in_([row.id for row in rows]))
        .values(
            rolled_status=Signature.status,
            rolled_removed_at=Signature.removed_at,
            rolled_category=Signature.removal_category,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(rows)


def unrolled_petitions(session: Session) -> list[int]:
    """The petitions that have unrolled signatures (read from the unrolled index)."""
    ids = session.scalars(
        select(Signature.petition_id).where(Signature.unrolled()).distinct()
    ).all()
    session.rollback()
    return sorted(ids)


def roll_up(
    session: Session,
    *,
    locales: Sequence[str] = (),
    batch_size: int = BATCH_SIZE,
    max_rows: int | None = None,
) -> int:
    """Roll up the unrolled signatures of every petition, a batch per petition and
    transaction, at most `max_rows` in all (None: until none is left). Returns how many.

    A batch that would take a roll-up below zero means the roll-ups drifted (a hand edit, a
    restore): that petition is repaired from the copies, and the worker goes on.
    """
    locales = tuple(locales)
    rolled = 0
    for petition_id in unrolled_petitions(session):
        repaired = False
        while max_rows is None or rolled < max_rows:
            size = batch_size if max_rows is None else min(batch_size, max_rows - rolled)
            try:
                done = _roll_batch(session, petition_id, locales, size)
            except (IntegrityError, Drift) as exc:
                session.rollback()
                if repaired:
                    logger.error("petition %s cannot be rolled up: %s", petition_id, exc)
                    break
                logger.warning(
                    "roll-ups of petition %s drifted (%s); repairing them", petition_id, exc
                )
                repair(session, petition_id, locales=locales)
                repaired = True
                continue
            rolled += done
            if done < size:
                break
    if rolled:
        logger.info("rolled up %d changed signatures", rolled)
    return rolled


# --- reconciling -------------------------------------------------------------------------------


def expected(session: Session, petition_id: int, locales: tuple[str, ...]) -> Figures:
    """What the roll-ups must hold: a GROUP BY of the petition's signatures over their rolled
    copies (the invariant; costs what the statistics used to cost on every read)."""
    found = Figures()
    rows = _grouped(
        session,
        petition_id,
        status=Signature.rolled_status,
        removed_at=Signature.rolled_removed_at,
        category=Signature.rolled_category,
        where=(Signature.rolled_status != S.PENDING,),
    )
    for status, hour, removed_day, category, country, region, n in rows:
        found.count(
            status,
            hour=_bucket(hour),
            removed_day=_day_of(removed_day),
            category=category,
            country=country,
            region=region_code(country, region, locales),
            n=n,
        )
    return found.nonzero()


@dataclass(frozen=True)
class RollupCheck:
    petition_id: int
    #: The roll-ups that differed from the signatures: "totals", "hours", "days", "places".
    drifted: tuple[str, ...]
    #: Signatures changed since the worker last rolled them up (not drift: the reads add them).
    unrolled: int
    repaired: bool = False


def _differences(have: Figures, want: Figures) -> tuple[str, ...]:
    have = have.nonzero()
    names = {"statuses": "totals", "hours": "hours", "days": "days", "places": "places"}
    return tuple(
        label for name, label in names.items() if getattr(have, name) != getattr(want, name)
    )


def _unrolled_count(session: Session, petition_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Signature).where(_unrolled_of(session, petition_id))
        )
        or 0
    )


def check(session: Session, petition_id: int, *, locales: Sequence[str] = ()) -> RollupCheck:
    """Compare the petition's roll-ups with the GROUP BY over the copies, in one snapshot."""
    with snapshot_session(session) as snap:
        want = expected(snap, petition_id, tuple(locales))
        have = stored(snap, petition_id)
        unrolled = _unrolled_count(snap, petition_id)
    return RollupCheck(petition_id, _differences(have, want), unrolled)


def repair(session: Session, petition_id: int, *, locales: Sequence[str] = ()) -> RollupCheck:
    """Rewrite the petition's roll-ups from the copies; commits.

    The totals row is written (locked) first, so no worker rolls this petition up between
    the GROUP BY and the rewrite; the unrolled signatures stay for the worker, and the reads
    keep adding them meanwhile.
    """
    _take_write_lock(session)
    _lock_totals(session, petition_id)
    want = expected(session, petition_id, tuple(locales))
    have = stored(session, petition_id)
    drifted = _differences(have, want)
    if drifted:
        _write(session, petition_id, want, replace=True)
    unrolled = _unrolled_count(session, petition_id)
    session.commit()
    if drifted:
        logger.warning("roll-ups of petition %s repaired: %s", petition_id, ", ".join(drifted))
    return RollupCheck(petition_id, drifted, unrolled, repaired=bool(drifted))


__all__ = [
    "COUNTED",
    "Figures",
    "RollupCheck",
    "Totals",
    "check",
    "expected",
    "figures",
    "public_category",
    "region_code",
    "repair",
    "roll_up",
    "stored",
    "stored_statuses",
    "tail",
    "totals_for",
    "unrolled_by_petition",
    "unrolled_petitions",
    "with_total",
]
