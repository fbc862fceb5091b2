"""Running totals of confirmed signatures: exact, cheap to read, and cheap to write under load.

Design
------
The public number is the sum of a petition's *count shards*: `COUNT_SHARDS` (default 16) rows
in `petition_count_shards`, keyed by (petition_id, shard).

* **Exact.** Confirming a signature flips its status from pending to confirmed with a
  conditional UPDATE and, *in the same transaction*, adds one to shard `signature.id % N`.
  Either both happen or neither; a second confirmation finds nothing to flip and adds nothing.
  So the sum of the shards equals the number of confirmed rows at every commit; there is no lag
  in the database. (count.json may be cached by a proxy for COUNT_CACHE_MAX_AGE seconds,
  default 2.)
* **No hot row.** A single counter row would make every confirmation of a viral petition
  wait for the previous one's row lock (the UK Parliament site hit exactly that at ~2,000
  signatures a minute). Here concurrent confirmations land on N different rows, so up to N
  of them commit in parallel.
* **O(1) reads.** Reading a total sums N small rows through the primary key, independent of
  the number of signatures; no COUNT(*) over signatures on any page view. `count.json`, which
  a crowd polls, is also memoised per process for COUNT_MEMO_SECONDS (default 1 s), so a
  viral petition costs each app process about one query a second however many watch it.
  Documented lag of the public number: at most COUNT_MEMO_SECONDS plus, behind a proxy,
  COUNT_CACHE_MAX_AGE (default 2 s).
* **Listings** (the home page, search, the API) show and sort by the stored totals of
  services/rollups.py instead, which the worker keeps from the signatures and which are exact
  too (stored plus the live tail): reading them costs one row per petition, not N.
* **Reconciliation.** `reconcile()` recomputes the shards from the signature table and repairs
  drift (from a manual edit or a restore, say). It first makes sure all N shard rows exist and
  locks them (`SELECT ... FOR UPDATE` on PostgreSQL), so a confirmation that commits meanwhile
  waits for the repair and then adds to the repaired value rather than being lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from ..database import dialect_insert as _insert
from ..models import CountShard, Petition, PetitionState, Signature, SignatureStatus, utcnow


def shard_for(signature_id: int, shards: int) -> int:
    return signature_id % shards


def add_confirmed(session: Session, petition_id: int, signature_id: int, shards: int) -> None:
    """Count one newly confirmed signature; call in the transaction that confirmed it."""
    session.execute(
        _add_statement(session),
        {"petition_id": petition_id, "shard": shard_for(signature_id, shards), "count": 1},
    )


#: add_confirmed's upsert per database dialect, built once: it runs for every confirmation.
_ADDS: dict[str, object] = {}


def _add_statement(session: Session):
    dialect = session.get_bind().dialect.name
    statement = _ADDS.get(dialect)
    if statement is None:
        table = CountShard.__table__
        statement = _ADDS[dialect] = _insert(session)(table).on_conflict_do_update(
            index_elements=[table.c.petition_id, table.c.shard],
            set_={"count": table.c.count + 1},
        )
    return statement


def total_column(petition_id: int):
    """The public total of one petition as a scalar subquery, to read with other columns."""
    return (
        select(func.coalesce(func.sum(CountShard.count), 0))
        .where(CountShard.petition_id == petition_id)
        .scalar_subquery()
    )


def count_for(session: Session, petition_id: int) -> int:
    """The public total of one petition."""
    return int(session.scalar(select(total_column(petition_id))) or 0)


def counts_for(session: Session, petition_ids: Iterable[int]) -> dict[int, int]:
    """Totals of several petitions at once (0 for those never signed)."""
    ids = list(petition_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CountShard.petition_id, func.sum(CountShard.count))
        .where(CountShard.petition_id.in_(ids))
        .group_by(CountShard.petition_id)
    )
    totals = dict.fromkeys(ids, 0)
    totals.update({petition_id: int(total) for petition_id, total in rows})
    return totals


@dataclass(frozen=True)
class PublicTotal:
    petition_id: int
    state: str
    signature_count: int
    #: When the total was read from the database.
    computed_at: datetime


def public_total(session: Session, petition_id: int) -> PublicTotal | None:
    """A public petition's state and total in one query; None if it is not public."""
    row = session.execute(
        select(Petition.id, Petition.state, func.coalesce(func.sum(CountShard.count), 0))
        .outerjoin(CountShard, CountShard.petition_id == Petition.id)
        .where(
            Petition.id == petition_id,
            Petition.state.in_([PetitionState.OPEN, PetitionState.CLOSED]),
        )
        .group_by(Petition.id, Petition.state)
    ).one_or_none()
    if row is None:
        return None
    return PublicTotal(row[0], row[1], int(row[2]), utcnow())


@dataclass(frozen=True)
class Reconciliation:
    petition_id: int
    stored: int
    actual: int
    repaired: bool

    @property
    def drift(self) -> int:
        return self.stored - self.actual


def reconcile(session: Session, petition: Petition, shards: int, *, repair: bool) -> Reconciliation:
    """Compare the stored total with the signature table; with `repair`, fix the shards.

    Repairing commits, and reads and rewrites the shards in one transaction that holds them:
    it first makes sure every shard row exists, then locks them `FOR UPDATE` (PostgreSQL);
    on SQLite that first INSERT takes the database's write lock. Either way no confirmation
    commits between the counting and the rewriting, so none is lost.

    A check without `repair` reads both totals in one statement, hence one snapshot: read one
    after the other, a confirmation committed in between would look like drift.
    """
    if not repair:
        stored, actual = session.execute(
            select(
                select(func.coalesce(func.sum(CountShard.count), 0))
                .where(CountShard.petition_id == petition.id)
                .scalar_subquery(),
                select(func.count())
                .select_from(Signature)
                .where(
                    Signature.petition_id == petition.id,
                    Signature.status == SignatureStatus.CONFIRMED,
                )
                .scalar_subquery(),
            )
        ).one()
        return Reconciliation(petition.id, int(stored), int(actual), repaired=False)
    insert = _insert(session)
    session.execute(
        insert(CountShard)
        .values([{"petition_id": petition.id, "shard": n, "count": 0} for n in range(shards)])
        .on_conflict_do_nothing(index_elements=[CountShard.petition_id, CountShard.shard])
    )
    shard_query = select(CountShard).where(CountShard.petition_id == petition.id).with_for_update()
    stored_shards = {row.shard: row for row in session.scalars(shard_query)}
    stored = sum(row.count for row in stored_shards.values())
    # The shard number inline, so SELECT and GROUP BY hold the same expression (as two bind
    # parameters, PostgreSQL sees two different expressions and refuses the query).
    shard_of = Signature.id % literal_column(str(int(shards)))
    expected = dict(
        session.execute(
            select(shard_of, func.count())
            .where(
                Signature.petition_id == petition.id,
                Signature.status == SignatureStatus.CONFIRMED,
            )
            .group_by(shard_of)
        ).all()
    )
    actual = sum(expected.values())
    changed = False
    for shard_no, row in stored_shards.items():
        want = int(expected.get(shard_no, 0))
        if row.count != want:
            row.count = want
            changed = True
    session.commit()
    return Reconciliation(petition.id, stored, actual, repaired=changed)
