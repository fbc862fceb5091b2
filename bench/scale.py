"""Public numbers at 1,000, 1 million and 10 million signatures, run by hand (`make
bench-scale`), never by CI or pytest: does every public read cost the same at any size?

All on 127.0.0.1 and bounded:

1. drops and recreates the PostgreSQL database `petitions_scale` (`--database`), builds the
   schema with the migrations, and creates `--petitions` open petitions with `--others`
   signatures each (for the listings);
2. for each size (1,000 and 1,000,000; `--ten-million` adds 10,000,000), adds an open petition
   (opened `--days` ago) with that many signatures, inserted inside PostgreSQL (`INSERT ...
   SELECT FROM generate_series`, a transaction per million) as the worker leaves them: rolled
   up (their rolled copies set). Keys grow at the right edge of their indexes (monotonic ids
   and email keys; times cycle over the petition's hours), so inserting churns no index more
   than it must. Mix: 99 % confirmed, 0.5 % pending, 0.1 % each invalidated, withdrawn and
   held; 70 % KG, regions as signers type them. Then rebuilds its count shards and roll-ups
   from the signatures (what `flask counts reconcile --repair` does), VACUUM ANALYZE, adds a
   live tail (`--tail` signatures confirmed since the worker's last pass), and measures the
   listings (home, search, API), which read every petition;
3. measures each petition's public reads, taking the petitions in turns (a busy machine slows
   every size alike): the median of `--repeat` calls, memos off (each call reads the database,
   as a memo refill does), and the statements each call sends: the statistics snapshot
   (service call), the petition page, the API's petition JSON, hourly series and countries
   CSV; beside the snapshot as it was read before the roll-ups (its GROUP BYs over the
   signatures);
4. times the worker rolling up the tails (signatures per second), and checks that the
   roll-ups equal the GROUP BY over the signatures (`rollups.check`); exits 1 if not.

The Markdown table goes to stdout, progress to stderr.

    .venv/bin/python bench/scale.py                 # 1,000 and 1 M
    .venv/bin/python bench/scale.py --ten-million   # and 10 M (about ten minutes more)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, func, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: Signatures inserted per transaction.
CHUNK = 1_000_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ten-million", action="store_true", help="also measure 10,000,000")
    parser.add_argument("--sizes", help="comma-separated sizes instead (e.g. 1000,200000)")
    parser.add_argument("--petitions", type=int, default=200, help="other open petitions")
    parser.add_argument("--others", type=int, default=50, help="signatures of each other one")
    parser.add_argument("--days", type=int, default=30, help="days the petition has been open")
    parser.add_argument("--tail", type=int, default=1000, help="signatures not rolled up yet")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database", default="petitions_scale")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the petitions an earlier run built (a new live tail each), build none",
    )
    args = parser.parse_args(argv)
    if "scale" not in args.database and "bench" not in args.database:
        parser.error("the database name must contain 'scale' or 'bench' (it is dropped)")
    if make_url(args.database_url).host not in LOOPBACK:
        parser.error("only a PostgreSQL on this machine (loopback) is used")
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [1_000, 1_000_000, *([10_000_000] if args.ten_million else [])]
    )
    if sizes != sorted(sizes) or not all(0 < s <= 20_000_000 for s in sizes):
        parser.error("sizes grow, each up to 20,000,000")
    args.sizes = sizes
    return args


def recreate(args) -> str:
    admin = create_engine(make_url(args.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    return make_url(args.database_url).set(database=args.database).render_as_string(False)


#: Signatures number `:first` to `:last` of a petition, rolled up (copies = columns). Times
#: cycle over the petition's hours, so each index on a time grows at one spot per hour.
INSERT_SQL = """
INSERT INTO signatures (petition_id, email_key, email_domain, name, country, region,
    wants_updates, share_email, locale, show_name, is_sponsor, consented_at, status, flag,
    created_at, confirmed_at, removed_at, removal_category, confirmation_sends,
    already_signed_notices, rolled_status, rolled_removed_at, rolled_category)
SELECT :petition_id, :prefix || lpad(i::text, 10, '0'), 'example.kg', 'Signer ' || i,
    (ARRAY['KG','KG','KG','KG','KG','KG','KG','RU','RU','KZ'])[1 + i % 10],
    (ARRAY['Chüy','Osh','Bishkek Shaary','Naryn','my village','','Batken',NULL,
           'Talas Region','Ysyk-Köl'])[1 + (i / 10) % 10],
    false, false, 'en', false, false, t, s,
    CASE WHEN s = 'held' THEN 'rate' END, t,
    CASE WHEN s = 'pending' THEN NULL ELSE t END, r, c, 1, 0, s, r, c
FROM (
    SELECT i, t, s,
        CASE WHEN s IN ('invalidated', 'withdrawn') THEN t + interval '1 hour' END AS r,
        CASE s WHEN 'invalidated' THEN 'duplicates' WHEN 'withdrawn' THEN 'signer_request'
        END AS c
    FROM (
        SELECT i,
            CAST(:start AS timestamptz) + (i % :hours) * interval '1 hour'
                + (i / :hours % 3600) * interval '1 second' AS t,
            CASE WHEN i % 200 = 7 THEN 'pending' WHEN i % 1000 = 1 THEN 'invalidated'
                 WHEN i % 1000 = 2 THEN 'withdrawn' WHEN i % 1000 = 3 THEN 'held'
                 ELSE 'confirmed' END AS s
        FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
    ) AS g
) AS h
"""

#: Signatures confirmed since the worker's last pass: copies still "pending".
TAIL_SQL = """
INSERT INTO signatures (petition_id, email_key, email_domain, name, country, region,
    wants_updates, show_name, is_sponsor, consented_at, status, created_at, confirmed_at,
    confirmation_sends, already_signed_notices)
SELECT :petition_id, :prefix || lpad(i::text, 10, '0'), 'example.kg', 'Late signer ' || i,
    (ARRAY['KG','KZ','RU','US'])[1 + i % 4], (ARRAY['Osh', NULL, 'Naryn'])[1 + i % 3],
    false, false, false, now(), 'confirmed', now(), now() - (i % 60) * interval '1 second', 1, 0
FROM generate_series(1, :n) AS i
"""


def insert(db, petition_id: int, prefix: str, first: int, last: int, start, hours: int) -> None:
    """Signatures first..last of the petition, a transaction per CHUNK."""
    for low in range(first, last + 1, CHUNK):
        high = min(last, low + CHUNK - 1)
        began = time.perf_counter()
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
        db.session.execute(
            text(INSERT_SQL),
            {
                "petition_id": petition_id,
                "prefix": prefix,
                "first": low,
                "last": high,
                "start": start,
                "hours": hours,
            },
        )
        db.session.commit()
        log(f"  signatures {low:,}..{high:,} in {time.perf_counter() - began:.1f} s")


def rebuild(app, db, petition_ids) -> float:
    """The count shards and roll-ups from the signatures (`flask counts reconcile --repair`)."""
    from petitions.models import Petition
    from petitions.services import counts, rollups

    began = time.perf_counter()
    for petition_id in petition_ids:
        petition = db.session.get(Petition, petition_id)
        counts.reconcile(db.session, petition, app.config["COUNT_SHARDS"], repair=True)
        rollups.repair(db.session, petition_id, locales=app.config["LANGUAGES"])
    return time.perf_counter() - began


def vacuum(db) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def add_tail(db, petition_id: int, n: int, prefix: str) -> None:
    from petitions.models import CountShard

    db.session.execute(text(TAIL_SQL), {"petition_id": petition_id, "prefix": prefix, "n": n})
    db.session.execute(
        CountShard.__table__.update()
        .where(CountShard.petition_id == petition_id, CountShard.shard == 0)
        .values(count=CountShard.count + n)
    )
    db.session.commit()


class Statements:
    """Counts the statements the app's engine sends (as tests/web/test_query_budget.py)."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, *_args) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def interleaved(
    calls: dict[str, Callable[[], object]], statements: Statements, repeat: int
) -> dict[str, tuple[float, int]]:
    """Median milliseconds of `repeat` calls of each, taken in turns (so a busy machine slows
    them alike), after one call each to warm up; and the statements of each call."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    sent: dict[str, int] = {}
    for call in calls.values():
        call()
    for _ in range(repeat):
        for name, call in calls.items():
            before = statements.count
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
            sent[name] = max(sent.get(name, 0), statements.count - before)
    return {name: (statistics.median(times[name]), sent[name]) for name in calls}


def getter(client, path: str) -> Callable[[], object]:
    def call():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    return call


#: The reads of one petition's numbers, by name: a function of (app, db, client, petition id).
def petition_reads(app, db, client, petition_id: int) -> dict[str, Callable[[], object]]:
    from petitions.services import opendata

    locales = tuple(app.config["LANGUAGES"])

    def snapshot():
        found = opendata.petition_stats(db.session, petition_id, locales=locales)
        db.session.remove()
        return found

    api = f"/api/v1/petitions/{petition_id}"
    return {
        "Statistics snapshot (`opendata.petition_stats`)": snapshot,
        "Petition page `/petitions/<id>`": getter(client, f"/petitions/{petition_id}"),
        "API petition `/api/v1/petitions/<id>`": getter(client, api),
        "API hourly series `.../timeseries?interval=hour`": getter(
            client, f"{api}/timeseries?interval=hour"
        ),
        "API countries `.../countries.csv`": getter(client, f"{api}/countries.csv"),
    }


LISTINGS = {
    "Home listing `/?sort=popular`": "/?sort=popular",
    "Search `/search?sort=signatures`": "/search?sort=signatures",
    "API listing `/api/v1/petitions?sort=signatures`": "/api/v1/petitions?sort=signatures",
}
#: What a snapshot cost before the roll-ups.
REFERENCE = "Before the roll-ups: the snapshot's GROUP BYs over the signatures (its old queries)"


def before_snapshot(db, petition_id: int, locales: tuple[str, ...]) -> None:
    """The queries `opendata.petition_stats` ran before the roll-ups (git show fb576dd), in one
    REPEATABLE READ snapshot: countries, hours, regions and removals grouped from the
    signatures themselves."""
    from sqlalchemy import func as f

    from petitions.database import snapshot_session, utc_trunc
    from petitions.models import (
        REMOVED_STATUSES,
        Petition,
        PetitionMilestone,
        Signature,
        SignatureStatus,
    )
    from petitions.regions import match_subdivision
    from petitions.services import counts

    confirmed = (Signature.petition_id == petition_id, Signature.status == "confirmed")
    with snapshot_session(db.session) as snap:
        snap.scalar(select(Petition.state).where(Petition.id == petition_id))
        counts.count_for(snap, petition_id)
        n = f.count().label("n")
        snap.execute(
            select(Signature.country, n)
            .where(*confirmed)
            .group_by(Signature.country)
            .order_by(n.desc(), Signature.country)
        ).all()
        hour = utc_trunc(snap, "hour", Signature.confirmed_at).label("hour")
        snap.execute(select(hour, f.count()).where(*confirmed).group_by(hour).order_by(hour)).all()
        snap.execute(
            select(f.min(Signature.confirmed_at), f.max(Signature.confirmed_at)).where(*confirmed)
        ).one()
        day = utc_trunc(snap, "day", Signature.removed_at).label("day")
        snap.execute(
            select(
                Signature.status,
                Signature.removal_category,
                day,
                f.count(),
                f.max(Signature.removed_at),
            )
            .where(
                Signature.petition_id == petition_id,
                Signature.status.in_((*REMOVED_STATUSES, SignatureStatus.HELD)),
            )
            .group_by(Signature.status, Signature.removal_category, day)
        ).all()
        snap.execute(
            select(PetitionMilestone.kind).where(PetitionMilestone.petition_id == petition_id)
        ).all()
        for country, region, _count in snap.execute(
            select(Signature.country, Signature.region, f.count())
            .where(*confirmed)
            .group_by(Signature.country, Signature.region)
        ):
            match_subdivision(country, region, locales)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from flask_migrate import upgrade

    from config import ENVIRONMENT_VARIABLES
    from petitions import create_app
    from petitions.extensions import db
    from petitions.models import Petition, SignatureTotal, utcnow
    from petitions.services import rollups

    for name in ENVIRONMENT_VARIABLES:
        os.environ.pop(name, None)
    if args.measure_only:
        url = make_url(args.database_url).set(database=args.database).render_as_string(False)
    else:
        url = recreate(args)
    app = create_app(
        {
            "PETITIONS_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "SERVER_NAME": "localhost",
            "STATS_MEMO_SECONDS": 0.0,
            "COUNT_MEMO_SECONDS": 0.0,
            "SITE_SETTINGS_SECONDS": 5.0,
        }
    )
    locales = tuple(app.config["LANGUAGES"])
    now = utcnow()
    opened = now - timedelta(days=args.days)
    hours = args.days * 24

    def new_petition(title: str, minutes: int = 0) -> Petition:
        return Petition(
            title=title,
            action="Vote against any deployment abroad.",
            addressee="Jogorku Kenesh",
            state="open",
            created_at=opened,
            opened_at=opened + timedelta(minutes=minutes),
            closes_at=now + timedelta(days=30),
        )

    notes: list[str] = []
    listings: dict[int, dict[str, tuple[float, int]]] = {}
    failed = False

    def measure_listings(in_database: int) -> None:
        statements = Statements(db.engine)
        listings[in_database] = interleaved(
            {name: getter(client, path) for name, path in LISTINGS.items()},
            statements,
            args.repeat,
        )
        statements.close()
        log(f"  listings with {in_database:,} signatures in the database: {listings[in_database]}")

    with app.app_context():
        upgrade()
        client = app.test_client()
        sized: dict[int, int] = {}
        if args.measure_only:
            for petition_id, title in db.session.execute(
                select(Petition.id, Petition.title).where(Petition.title.like("A petition with %"))
            ):
                sized[int(title.split()[3].replace(",", ""))] = petition_id
            sized = dict(sorted(sized.items()))
            for petition_id in sized.values():
                add_tail(db, petition_id, args.tail, f"t{petition_id}-{time.time():.0f}-")
            log(f"measuring the petitions of {', '.join(f'{s:,}' for s in sized)} signatures")
        else:
            others = [new_petition(f"Petition {n}", n) for n in range(args.petitions)]
            db.session.add_all(others)
            db.session.commit()
            other_ids = [p.id for p in others]
            for other in other_ids:
                insert(db, other, f"o{other}-", 1, args.others, opened, hours)
            rebuild(app, db, other_ids)
            log(f"{args.petitions} other petitions with {args.others} signatures each")
        for size in [] if args.measure_only else args.sizes:
            log(f"a petition with {size:,} signatures")
            petition = new_petition(f"A petition with {size:,} signatures")
            db.session.add(petition)
            db.session.commit()
            sized[size] = petition.id
            began = time.perf_counter()
            insert(db, petition.id, f"p{petition.id}-", 1, size, opened, hours)
            inserted = time.perf_counter() - began
            repaired = rebuild(app, db, [petition.id])
            began = time.perf_counter()
            vacuum(db)
            vacuumed = time.perf_counter() - began
            add_tail(db, petition.id, args.tail, f"t{petition.id}-")
            notes.append(
                f"{size:,}: inserted in {inserted:.0f} s (a transaction per {CHUNK:,}); count "
                f"shards and roll-ups rebuilt from the signatures in {repaired:.1f} s "
                f"(`counts reconcile --repair`); VACUUM ANALYZE {vacuumed:.0f} s"
            )
            measure_listings(sum(sized) + args.petitions * args.others)
        if args.measure_only:
            in_database = db.session.scalar(text("SELECT count(*) FROM signatures"))
            measure_listings(int(in_database))

        log("the petitions' reads, in turns")
        statements = Statements(db.engine)
        calls = {}
        for size, petition_id in sized.items():
            for name, call in petition_reads(app, db, client, petition_id).items():
                calls[(name, size)] = call
        measured = interleaved(calls, statements, args.repeat)

        def before(petition_id: int):
            def call():
                before_snapshot(db, petition_id, locales)
                db.session.remove()

            return call

        reference = interleaved(
            {size: before(petition_id) for size, petition_id in sized.items()}, statements, 3
        )
        statements.close()
        for size, petition_id in sized.items():
            began = time.perf_counter()
            rolled = rollups.roll_up(db.session, locales=locales)
            rolling = time.perf_counter() - began
            check = rollups.check(db.session, petition_id, locales=locales)
            if check.drifted or check.unrolled:
                failed = True
                log(f"  MISMATCH at {size:,}: {check}")
            if rolled:
                notes.append(
                    f"the worker rolled up the tails ({rolled:,} signatures) in "
                    f"{rolling * 1000:.0f} ms: {rolled / rolling:,.0f} signatures/s"
                )
        notes.append(
            "roll-ups equal the GROUP BY over the signatures afterwards (`rollups.check`): "
            + ("NO" if failed else "yes")
        )
        others_count, others_signatures = db.session.execute(
            select(func.count(), func.coalesce(func.sum(SignatureTotal.confirmed), 0))
            .select_from(Petition)
            .outerjoin(SignatureTotal, SignatureTotal.petition_id == Petition.id)
            .where(Petition.id.not_in(list(sized.values())))
        ).one()
        size_bytes = db.session.scalar(text("SELECT pg_database_size(current_database())"))
        server = db.session.scalar(text("SHOW server_version"))
        db.session.remove()

    sizes = list(sized)
    print(f"## Public reads at {', '.join(f'{s:,}' for s in sizes)} signatures\n")
    print(
        f"{platform.machine()}, {os.cpu_count()} cores (load average "
        f"{os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}, "
        f"PostgreSQL {server}; database {size_bytes / 2**30:.1f} GiB. One petition per size "
        f"(open {args.days} days, rolled up, then {args.tail:,} more confirmed and not rolled "
        f"up yet: the live tail), {others_count} other petitions ({others_signatures:,} confirmed "
        f"signatures in all); memos "
        f"off; median of {args.repeat} calls taken in turns, in this process (Flask test "
        f"client); statements per call in brackets.\n"
    )
    print("| Read | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name in petition_reads(app, db, client, 0):
        cells = " | ".join(
            f"{measured[(name, s)][0]:.1f} ms ({measured[(name, s)][1]})" for s in sizes
        )
        print(f"| {name} | {cells} |")
    cells = " | ".join(f"{reference[s][0]:.0f} ms ({reference[s][1]})" for s in sizes)
    print(f"| {REFERENCE} | {cells} |")
    print()
    totals = list(listings)
    print("| Listing | " + " | ".join(f"{t:,} in the database" for t in totals) + " |")
    print("|---|" + "---:|" * len(totals))
    for name in LISTINGS:
        cells = " | ".join(
            f"{listings[t][name][0]:.1f} ms ({listings[t][name][1]})" for t in totals
        )
        print(f"| {name} | {cells} |")
    print()
    for note in notes:
        print(f"- {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
