"""The roll-ups behind the public statistics and listings (services/rollups.py) say what a
GROUP BY over the signatures says, after every kind of change a signature goes through, whether
the worker has rolled the change up yet or not; reconcile and the worker repair drift.

The reference below is the GROUP BY the statistics ran before the roll-ups (each number
counted from the signatures themselves), on the test's database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from petitions.database import bucket_start, utc_trunc
from petitions.extensions import db
from petitions.models import RemovalCategory, Signature, SignatureStatus, utcnow
from petitions.regions import match_subdivision
from petitions.services import opendata, removal, rollups, stats
from petitions.services.petitions import list_open
from tests.fixtures.actors import confirm_directly
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads

S = SignatureStatus
LOCALES = ("en", "ru", "ky")


def grouped(session, petition_id: int) -> dict:
    """The public numbers as GROUP BYs over the petition's signatures."""
    confirmed = (Signature.petition_id == petition_id, Signature.status == S.CONFIRMED)
    countries = Counter(
        dict(
            session.execute(
                select(Signature.country, func.count())
                .where(*confirmed)
                .group_by(Signature.country)
            ).all()
        )
    )
    regions: Counter = Counter()
    for country, region, n in session.execute(
        select(Signature.country, Signature.region, func.count())
        .where(*confirmed)
        .group_by(Signature.country, Signature.region)
    ):
        found = match_subdivision(country, region, LOCALES)
        regions[(country, found.code if found else None)] += n
    hour = utc_trunc(session, "hour", Signature.confirmed_at)
    per_hour = {
        bucket_start(start): n
        for start, n in session.execute(select(hour, func.count()).where(*confirmed).group_by(hour))
    }
    day = utc_trunc(session, "day", Signature.removed_at)
    removals: Counter = Counter()
    statuses: Counter = Counter()
    for status, category, start, n in session.execute(
        select(Signature.status, Signature.removal_category, day, func.count())
        .where(Signature.petition_id == petition_id)
        .group_by(Signature.status, Signature.removal_category, day)
    ):
        statuses[status] += n
        if start is not None:
            removals[(bucket_start(start).date(), rollups.public_category(status, category))] += n
    return {
        "total": statuses[S.CONFIRMED],
        "held": statuses[S.HELD],
        "removed": {s.value: statuses[s] for s in (S.INVALIDATED, S.WITHDRAWN)},
        "countries": countries,
        "regions": regions,
        "per_hour": per_hour,
        "removals": removals,
    }


def published(stats_: opendata.PetitionStats) -> dict:
    """The same numbers as the public snapshot gives them."""
    return {
        "total": stats_.signature_count,
        "held": stats_.held,
        "removed": stats_.removed,
        "countries": Counter({c.code: c.count for c in stats_.countries}),
        "regions": Counter({(r.country, r.code): r.count for r in stats_.regions}),
        "per_hour": dict(stats_.per_hour),
        "removals": Counter({(r.day, r.category): r.count for r in stats_.removals}),
    }


def numbers(app, petition_id: int) -> tuple[dict, dict, int]:
    """(what the signatures say, what the public snapshot says, the listing's total)."""
    with app.app_context():
        try:
            want = grouped(db.session, petition_id)
            have = published(opendata.petition_stats(db.session, petition_id, locales=LOCALES))
            listed = {
                p.id: n for p, n in list_open(db.session, sort="popular", page=1, per_page=50).items
            }
            return want, have, listed[petition_id]
        finally:
            db.session.remove()


def roll_up(app) -> int:
    with app.app_context():
        try:
            return rollups.roll_up(db.session, locales=LOCALES)
        finally:
            db.session.remove()


def change(app, petition_id: int, ids, to: S, *, now=None, **options) -> None:
    """Move signatures through services/removal.py, the one place that does after confirming."""
    with app.app_context():
        removal.change_status(
            db.session,
            petition_id,
            ids,
            to=to,
            now=now or utcnow(),
            shards=app.config["COUNT_SHARDS"],
            **options,
        )
        db.session.commit()
        db.session.remove()


def withdraw(app, petition_id: int, ids) -> None:
    with app.app_context():
        removal.remove_signatures(
            db.session,
            petition_id,
            ids,
            status=S.WITHDRAWN,
            now=utcnow(),
            shards=app.config["COUNT_SHARDS"],
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def no_drift(caplog):
    """The worker never met a roll-up it had to repair (a repair would hide a wrong change)."""
    caplog.set_level(logging.WARNING, logger="petitions.services.rollups")
    yield
    assert [r.getMessage() for r in caplog.records if r.name == "petitions.services.rollups"] == []


@pytest.fixture
def history(app, make_petition, make_signature):
    """A petition and the steps of its signatures' lives, each a function to run in turn."""
    petition_id = make_petition()
    now = utcnow()
    places = [("KG", "Chüy"), ("KG", "Ош"), ("KZ", None), ("RU", "Moscow"), ("KG", "my village")]
    pending = make_signature(
        petition_id,
        confirmed_at=None,
        count=5,
        country=lambda n: places[n][0],
        region=lambda n: places[n][1],
    )
    flagged = make_signature(petition_id, confirmed_at=None, count=2, flag="rate", region="Osh")
    yesterday = now - timedelta(days=1)
    steps = {
        "earlier signatures, confirmed in other hours": lambda: make_signature(
            petition_id,
            count=3,
            counted=True,
            confirmed_at=lambda n: now - timedelta(hours=3 + 24 * n),
            country=lambda n: ("KG", "KZ", "US")[n],
            region=lambda n: ("Bishkek", "Almaty", None)[n],
        ),
        "confirm": lambda: [confirm_directly(app, i) for i in pending],
        "hold (a flagged signature is confirmed)": lambda: [
            confirm_directly(app, i) for i in flagged
        ],
        "release a held signature": lambda: change(app, petition_id, flagged[:1], S.CONFIRMED),
        "invalidate yesterday, for fraud": lambda: change(
            app,
            petition_id,
            pending[:2],
            S.INVALIDATED,
            now=yesterday,
            category=RemovalCategory.FRAUD,
        ),
        "withdraw": lambda: withdraw(app, petition_id, pending[2:3]),
        "undo an invalidation": lambda: change(app, petition_id, pending[:1], S.CONFIRMED),
        "invalidate it again today, as a duplicate": lambda: change(
            app, petition_id, pending[:1], S.INVALIDATED, category=RemovalCategory.DUPLICATES
        ),
        "invalidate a held signature": lambda: change(
            app, petition_id, flagged[1:], S.INVALIDATED, category=RemovalCategory.AUTOMATED
        ),
    }
    return petition_id, steps


def run_step(app, step) -> None:
    """Each step opens its own app context and commits, as a request or a command would."""
    step()


@pytest.mark.parametrize(
    "rolled_after",
    [
        pytest.param(lambda n: True, id="worker after every step"),
        pytest.param(lambda n: False, id="worker never runs"),
        pytest.param(lambda n: n % 3 == 1, id="worker now and then"),
    ],
)
def test_public_numbers_are_the_group_by_after_every_step(app, history, rolled_after, no_drift):
    petition_id, steps = history
    for n, (name, step) in enumerate(steps.items()):
        run_step(app, step)
        if rolled_after(n):
            roll_up(app)
        want, have, listed = numbers(app, petition_id)
        assert (have, listed) == (want, want["total"]), name


def test_once_rolled_up_the_stored_rollups_alone_are_the_group_by(app, history, no_drift):
    petition_id, steps = history
    for step in steps.values():
        run_step(app, step)
    assert roll_up(app) > 0
    with app.app_context():
        assert rollups.tail(db.session, petition_id, LOCALES).nonzero() == rollups.Figures()
        assert rollups.stored(db.session, petition_id).nonzero() == rollups.expected(
            db.session, petition_id, LOCALES
        )
        assert rollups.check(db.session, petition_id, locales=LOCALES).drifted == ()
        db.session.remove()
    want, have, _ = numbers(app, petition_id)
    assert have == want


def test_the_dashboard_days_are_the_group_by(app, history, no_drift):
    petition_id, steps = history
    for n, step in enumerate(steps.values()):
        run_step(app, step)
        if n % 2:
            roll_up(app)
    with app.app_context():
        day = utc_trunc(db.session, "day", Signature.confirmed_at)
        confirmed = (Signature.petition_id == petition_id, Signature.status == S.CONFIRMED)
        per_day = sorted(
            (bucket_start(d).date(), n)
            for d, n in db.session.execute(
                select(day, func.count()).where(*confirmed).group_by(day)
            )
        )
        assert stats.signatures_per_day(db.session, petition_id) == per_day
        db.session.remove()


# --- drift ---------------------------------------------------------------------------------------


def corrupt(app, petition_id: int) -> None:
    """What a bad restore or a hand edit could leave: every kind of roll-up wrong."""
    with app.app_context():
        for sql in (
            "UPDATE signature_totals SET confirmed = confirmed + 7 WHERE petition_id = :p",
            "UPDATE signature_hours SET confirmed = confirmed + 3 WHERE petition_id = :p",
            "DELETE FROM signature_places WHERE petition_id = :p AND country = 'KZ'",
            "UPDATE signature_days SET count = count + 2 WHERE petition_id = :p",
        ):
            db.session.execute(text(sql), {"p": petition_id})
        db.session.commit()
        db.session.remove()


@pytest.fixture
def corrupted(app, history):
    petition_id, steps = history
    for step in steps.values():
        run_step(app, step)
    roll_up(app)
    corrupt(app, petition_id)
    return petition_id


def test_corrupted_rollups_show_in_the_public_numbers(app, corrupted):
    want, have, listed = numbers(app, corrupted)
    assert have["countries"] != want["countries"] and listed == want["total"] + 7


def test_reconcile_reports_corrupted_rollups(app, runner, corrupted):
    result = runner.invoke(args=["counts", "reconcile", str(corrupted)])
    assert result.exit_code == 1
    assert f"petition {corrupted}: DRIFT: roll-ups of totals, hours, days, places" in result.output


def test_reconcile_repairs_corrupted_rollups(app, runner, corrupted):
    result = runner.invoke(args=["counts", "reconcile", "--repair"])
    assert result.exit_code == 0, result.output
    assert "1 with drift (repaired)" in result.output
    want, have, listed = numbers(app, corrupted)
    assert (have, listed) == (want, want["total"])
    assert runner.invoke(args=["counts", "reconcile"]).exit_code == 0


def test_repair_keeps_the_changes_made_since_the_last_rollup(app, runner, history, make_signature):
    petition_id, steps = history
    for step in steps.values():
        run_step(app, step)
    roll_up(app)
    corrupt(app, petition_id)
    make_signature(petition_id, count=4, country="KZ")  # unrolled when the repair runs
    assert runner.invoke(args=["counts", "reconcile", "--repair"]).exit_code == 0
    roll_up(app)
    want, have, listed = numbers(app, petition_id)
    assert (have, listed) == (want, want["total"])


def test_the_worker_repairs_a_rollup_that_would_go_below_zero(app, history):
    petition_id, steps = history
    for step in steps.values():
        run_step(app, step)
    roll_up(app)
    with app.app_context():
        db.session.execute(
            text("DELETE FROM signature_places WHERE petition_id = :p"), {"p": petition_id}
        )
        db.session.commit()
        signature_id = db.session.scalar(
            select(Signature.id).where(
                Signature.petition_id == petition_id, Signature.status == S.CONFIRMED
            )
        )
        db.session.remove()
    change(app, petition_id, [signature_id], S.WITHDRAWN)
    roll_up(app)
    want, have, _ = numbers(app, petition_id)
    assert have == want


def test_an_upgraded_database_is_counted_from_its_signatures_until_rolled_up(
    app, runner, make_petition, make_signature
):
    """Signatures from before the roll-ups (copies "pending", the migration's default) count
    at once, and `flask counts rollup` rolls them up."""
    petition_id = make_petition()
    make_signature(petition_id, count=5, counted=True)
    want, have, listed = numbers(app, petition_id)
    assert (have, listed) == (want, 5)
    result = runner.invoke(args=["counts", "rollup"])
    assert "rolled up 5 changed signature(s)" in result.output
    assert (
        scalar_sql(
            app, "SELECT confirmed FROM signature_totals WHERE petition_id = :p", p=petition_id
        )
        == 5
    )


def test_the_worker_rolls_up_what_changed(app, runner, make_petition, make_signature):
    petition_id = make_petition()
    make_signature(petition_id, count=3, counted=True)
    result = runner.invoke(args=["worker", "--once"])
    assert "rolled up 3 changed signature(s)" in result.output
    assert scalar_sql(app, "SELECT count(*) FROM signatures WHERE status <> rolled_status") == 0


def test_a_bounded_pass_rolls_up_every_petition_that_changed(app, make_petition, make_signature):
    """The worker's pass is bounded in signatures, not petitions: a few changes on each of
    many petitions are all rolled up at once."""
    for _ in range(6):
        make_signature(make_petition(), count=2, counted=True)
    with app.app_context():
        assert rollups.roll_up(db.session, locales=LOCALES, batch_size=5, max_rows=20) == 12
        db.session.remove()


# --- listings ------------------------------------------------------------------------------------


@pytest.fixture
def three_petitions(app, make_petition, make_signature):
    """Petitions with 1, 3 and 2 confirmed signatures, rolled up; in that order of creation."""
    ids = []
    for title, signatures in (("One signer", 1), ("Three signers", 3), ("Two signers", 2)):
        petition_id = make_petition(title=title)
        make_signature(petition_id, count=signatures, counted=True)
        ids.append(petition_id)
    roll_up(app)
    return ids


def listed_titles(client, path: str) -> list[str]:
    html = client.get(path).get_data(as_text=True)
    titles = ("One signer", "Three signers", "Two signers")
    return sorted(titles, key=lambda t: html.index(t))


@pytest.mark.parametrize("path", ["/?sort=popular", "/search?sort=signatures"])
def test_listings_put_the_most_signed_first(client, three_petitions, path):
    assert listed_titles(client, path) == ["Three signers", "Two signers", "One signer"]


def test_the_api_listing_sorts_by_the_total(client, three_petitions):
    body = client.get("/api/v1/petitions?sort=signatures").get_json()
    assert [(p["title"], p["signature_count"]) for p in body["data"]] == [
        ("Three signers", 3),
        ("Two signers", 2),
        ("One signer", 1),
    ]


def test_listings_sort_by_the_stored_total(app, client, three_petitions):
    """They read signature_totals (not the signatures): a stored total out of step moves the
    petition, until reconcile repairs it."""
    with app.app_context():
        db.session.execute(
            text("UPDATE signature_totals SET confirmed = 100 WHERE petition_id = :p"),
            {"p": three_petitions[0]},
        )
        db.session.commit()
        db.session.remove()
    assert listed_titles(client, "/?sort=popular")[0] == "One signer"


def test_reconcile_puts_a_listing_back_in_order(app, client, runner, three_petitions):
    with app.app_context():
        db.session.execute(
            text("UPDATE signature_totals SET confirmed = 100 WHERE petition_id = :p"),
            {"p": three_petitions[0]},
        )
        db.session.commit()
        db.session.remove()
    assert runner.invoke(args=["counts", "reconcile", "--repair"]).exit_code == 0
    assert listed_titles(client, "/?sort=popular") == ["Three signers", "Two signers", "One signer"]


def test_a_signature_confirmed_since_the_rollup_counts_in_the_listing_at_once(
    app, client, three_petitions, make_signature
):
    make_signature(three_petitions[0], count=3, counted=True)
    assert listed_titles(client, "/?sort=popular")[0] == "One signer"


# --- at once -------------------------------------------------------------------------------------


def test_two_workers_rolling_up_during_a_crowd_leave_the_numbers_exact(
    app, make_petition, make_signature, no_drift
):
    """Four threads confirm, invalidate and put back signatures while two workers roll them
    up in small batches (SKIP LOCKED on PostgreSQL; SQLite takes turns): nothing counted twice
    or lost, and the stored roll-ups agree with the signatures once the crowd has gone."""
    petition_id = make_petition()
    pending = make_signature(
        petition_id,
        confirmed_at=None,
        count=240,
        country=lambda n: ("KG", "KZ", "RU")[n % 3],
        region=lambda n: ("Chüy", "Osh", None)[n % 3],
    )
    crowd_done = threading.Event()
    left = [4]
    lock = threading.Lock()

    def crowd(chunk: list[int]) -> None:
        try:
            for n, signature_id in enumerate(chunk):
                confirm_directly(app, signature_id)
                if n % 5 == 4:
                    change(app, petition_id, chunk[n - 2 : n], S.INVALIDATED)
                if n % 10 == 9:
                    change(app, petition_id, chunk[n - 7 : n - 6], S.CONFIRMED)
        finally:
            with lock:
                left[0] -= 1
                if not left[0]:
                    crowd_done.set()

    def worker() -> int:
        rolled = 0
        while not crowd_done.is_set():
            with app.app_context():
                rolled += rollups.roll_up(db.session, locales=LOCALES, batch_size=7)
                db.session.remove()
        return rolled

    chunks = [pending[n::4] for n in range(4)]
    results = run_in_threads([*(lambda c=c: crowd(c) for c in chunks), worker, worker])
    roll_up(app)
    with app.app_context():
        assert rollups.check(db.session, petition_id, locales=LOCALES).drifted == ()
        assert rollups.tail(db.session, petition_id, LOCALES).nonzero() == rollups.Figures()
        db.session.remove()
    want, have, listed = numbers(app, petition_id)
    assert (have, listed) == (want, want["total"]) and sum(results[4:]) > 0
