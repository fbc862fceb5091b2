"""Open-data benchmark at scale, run by hand (`make bench-opendata`), never by CI or pytest.

What does a petition with a million confirmed signatures cost the public numbers? All on
127.0.0.1 and bounded:

1. drops and recreates a PostgreSQL database of its own (default `petitions_bench_opendata`),
   runs the migrations, creates one open petition (opened `--days` ago) and `--petitions`
   other open ones (for the listing);
2. inserts `--signatures` confirmed signatures in the database itself (generate_series: spread
   over the days, 70 % KG, mixed regions, half of them ISO 3166-2 names), plus 1 % pending and
   0.1 % removed, as the worker leaves them (rolled up), and rebuilds the count shards and the
   roll-ups (`counts.reconcile(repair=True)`, `rollups.repair`; see bench/scale.py for the
   same at 1 M and 10 M);
3. times, in this process, the snapshot behind every public number (`opendata.petition_stats`:
   the total, countries, regions, hours, removals, milestones in one REPEATABLE READ
   transaction), cold, `--repeat` times;
4. measures requests per second of the API's detail, hourly time series and the petition page
   through the Flask test client for `--seconds` each, once with the statistics memo on
   (STATS_MEMO_SECONDS=30, as in production) and once off (every request scans);
5. checks the numbers agree (total == sum of countries == last cumulative); exits 1 if not.

The Markdown summary goes to stdout, progress to stderr.

    .venv/bin/python bench/opendata.py --signatures 1000000
    make bench-opendata BENCH_ARGS='--signatures 200000 --seconds 3'
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--petitions", type=int, default=1000, help="other open petitions")
    parser.add_argument("--days", type=int, default=180, help="days the petition has been open")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput target")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--database", default="petitions_bench_opendata")
    args = parser.parse_args(argv)
    if "bench" not in args.database:
        parser.error("the database name must contain 'bench' (it is dropped)")
    if make_url(args.database_url).host not in LOOPBACK:
        parser.error("only a PostgreSQL on this machine (loopback) is used")
    if not 0 < args.signatures <= 20_000_000 or not 0 < args.seconds <= 60:
        parser.error("--signatures up to 20,000,000 and --seconds up to 60")
    return args


def recreate(args) -> str:
    admin = create_engine(make_url(args.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    return make_url(args.database_url).set(database=args.database).render_as_string(False)


SEED_SQL = """
INSERT INTO signatures (petition_id, email_key, name, country, region, wants_updates,
    show_name, is_sponsor, consented_at, status, created_at, confirmed_at, removed_at,
    confirmation_sends, already_signed_notices, rolled_status, rolled_removed_at)
SELECT :petition_id, md5(i::text), 'Signer ' || i,
    (ARRAY['KG','KG','KG','KG','KG','KG','KG','RU','RU','KZ'])[1 + i % 10],
    (ARRAY['Chüy','Osh','Bishkek Shaary','Naryn','my village','','Batken',NULL,
           'Talas Region','Ysyk-Köl'])[1 + (i / 10) % 10],
    false, false, false, t, s, t, CASE WHEN s = 'pending' THEN NULL ELSE t END,
    CASE WHEN s IN ('invalidated', 'withdrawn') THEN t + interval '1 hour' END, 1, 0,
    s, CASE WHEN s IN ('invalidated', 'withdrawn') THEN t + interval '1 hour' END
FROM (
    SELECT i,
        :start + (random() ^ 2) * (:span * interval '1 second') AS t,
        CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 1000 = 1 THEN 'invalidated'
             ELSE 'confirmed' END AS s
    FROM generate_series(1, :n) AS i
) AS g
"""


def seed(app, args) -> int:
    from petitions.extensions import db
    from petitions.models import Petition, utcnow
    from petitions.services import counts, rollups

    now = utcnow()
    opened = now - timedelta(days=args.days)
    with app.app_context():
        main = Petition(
            title="Do not send Kyrgyz troops abroad",
            action="Vote against any deployment abroad.",
            addressee="Jogorku Kenesh",
            state="open",
            created_at=opened,
            opened_at=opened,
            closes_at=now + timedelta(days=2),
        )
        db.session.add(main)
        db.session.flush()
        db.session.execute(
            Petition.__table__.insert(),
            [
                {
                    "title": f"Petition {n}",
                    "action": "Do something.",
                    "background": "",
                    "addressee": "Someone",
                    "state": "open",
                    "created_at": opened,
                    "opened_at": opened + timedelta(minutes=n),
                    "closes_at": now + timedelta(days=30),
                }
                for n in range(args.petitions)
            ],
        )
        db.session.commit()
        started = time.perf_counter()
        db.session.execute(
            text(SEED_SQL),
            {
                "petition_id": main.id,
                "start": opened,
                "span": args.days * 86400,
                "n": args.signatures,
            },
        )
        db.session.commit()
        log(f"inserted {args.signatures:,} signatures in {time.perf_counter() - started:.1f} s")
        db.session.execute(text("ANALYZE signatures"))
        db.session.commit()
        counts.reconcile(db.session, main, app.config["COUNT_SHARDS"], repair=True)
        rollups.repair(db.session, main.id, locales=app.config["LANGUAGES"])
        return main.id


def cold_stats(app, petition_id: int, repeat: int) -> tuple[list[float], object]:
    from petitions.extensions import db
    from petitions.services import opendata

    times, found = [], None
    with app.app_context():
        for _ in range(repeat):
            started = time.perf_counter()
            found = opendata.petition_stats(db.session, petition_id, locales=("en",))
            times.append(time.perf_counter() - started)
            db.session.remove()
    return times, found


def throughput(app, path: str, seconds: float) -> tuple[int, float]:
    client = app.test_client()
    assert client.get(path).status_code == 200, path
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        done += 1
    return done, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from flask_migrate import upgrade

    from config import ENVIRONMENT_VARIABLES
    from petitions import create_app

    # The app is configured below; none of the shell's settings (COUNT_SHARDS, ...) leak in.
    for name in ENVIRONMENT_VARIABLES:
        os.environ.pop(name, None)
    url = recreate(args)

    def make_app(memo: float):
        return create_app(
            {
                "PETITIONS_ENV": "testing",
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": url,
                "SERVER_NAME": "localhost",
                "STATS_MEMO_SECONDS": memo,
                "COUNT_MEMO_SECONDS": 1.0,
            }
        )

    app = make_app(30.0)
    with app.app_context():
        upgrade()
    log("migrated; seeding")
    petition_id = seed(app, args)

    times, stats = cold_stats(app, petition_id, args.repeat)
    series_last = stats.per_hour and sum(count for _, count in stats.per_hour)
    agree = stats.signature_count == sum(
        c.count for c in stats.countries
    ) == series_last and stats.signature_count == sum(r.count for r in stats.regions)
    log(f"snapshot median {statistics.median(times) * 1000:.0f} ms; numbers agree: {agree}")

    targets = [
        ("API detail", f"/api/v1/petitions/{petition_id}"),
        ("API hourly series", f"/api/v1/petitions/{petition_id}/timeseries?interval=hour"),
        ("petition page", f"/petitions/{petition_id}"),
        ("API list (sort=signatures)", "/api/v1/petitions?per_page=20"),
    ]
    rows = []
    for memo in (30.0, 0.0):
        memo_app = make_app(memo)
        for label, path in targets:
            if memo == 0.0 and label.startswith("API list"):
                continue
            done, elapsed = throughput(memo_app, path, args.seconds)
            rows.append((label, memo, done / elapsed, elapsed / done * 1000))
            log(f"{label} memo={memo}: {done / elapsed:.1f} req/s")

    print("## Open data at scale (`bench/opendata.py`)\n")
    print(
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"- One petition with {args.signatures:,} signatures over {args.days} days "
        f"({stats.signature_count:,} confirmed, {stats.removed_total:,} removed), "
        f"{args.petitions:,} other open petitions; PostgreSQL on the same machine."
    )
    print(f"- Numbers agree (total = countries = regions = series): **{agree}**\n")
    print("| What | Result |")
    print("|---|---|")
    print(
        "| Snapshot of every public number (`petition_stats`), cold | "
        + ", ".join(f"{t * 1000:.0f} ms" for t in times)
        + f" ({len(stats.per_hour):,} hours, {len(stats.countries)} countries, "
        f"{len(stats.regions)} regions) |"
    )
    for label, memo, rate, latency in rows:
        mode = "memo on (30 s)" if memo else "memo off"
        print(f"| {label}, {mode}, one client thread | {rate:,.1f} req/s ({latency:.1f} ms) |")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
