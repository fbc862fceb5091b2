"""Running totals: sums of count shards, checked and repaired against the signature table."""

import threading

import pytest
from sqlalchemy import text

from petitions.extensions import db
from petitions.models import CountShard, Petition
from petitions.services import counts
from petitions.services.signing import ConfirmOutcome
from tests.fixtures.actors import confirm_directly, sign_directly
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads

CONFIRMED_ROWS = "SELECT COUNT(*) FROM signatures WHERE petition_id = :p AND status = 'confirmed'"


def confirmed_signatures(app, petition_id: int, how_many: int, start: int = 0) -> list[int]:
    """Sign and confirm `how_many` distinct addresses through the services; their ids."""
    ids = []
    for n in range(start, start + how_many):
        _, signature_id = sign_directly(app, petition_id, f"signer{n}@example.org")
        assert confirm_directly(app, signature_id) is ConfirmOutcome.CONFIRMED
        ids.append(signature_id)
    return ids


def count_for(app, petition_id: int) -> int:
    with app.app_context():
        try:
            return counts.count_for(db.session, petition_id)
        finally:
            db.session.remove()


def reconcile(app, petition_id: int, *, repair: bool) -> counts.Reconciliation:
    with app.app_context():
        try:
            return counts.reconcile(
                db.session,
                db.session.get(Petition, petition_id),
                app.config["COUNT_SHARDS"],
                repair=repair,
            )
        finally:
            db.session.remove()


def execute(app, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()
        db.session.remove()


def reconcile_cli(app, runner, *args: str):
    """`flask --app petitions counts reconcile ...`"""
    return runner.invoke(args=["counts", "reconcile", *args])


def shard_counts(app, petition_id: int) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            db.select(CountShard.shard, CountShard.count).where(
                CountShard.petition_id == petition_id
            )
        ).all()
        db.session.remove()
    return {shard: count for shard, count in rows}


# --- reading totals --------------------------------------------------------------------------


def test_petitions_never_signed_count_zero(app, make_petition):
    first, second = make_petition(), make_petition(title="Second")
    with app.app_context():
        assert counts.count_for(db.session, first) == 0
        assert counts.count_for(db.session, 999_999) == 0
        assert counts.counts_for(db.session, [first, second]) == {first: 0, second: 0}
        assert counts.counts_for(db.session, []) == {}
        db.session.remove()


def test_counts_for_mixes_signed_and_unsigned(app, make_petition):
    signed, unsigned = make_petition(), make_petition(title="Nobody signed this")
    confirmed_signatures(app, signed, 5)
    _, pending = sign_directly(app, signed, "pending@example.org")
    with app.app_context():
        assert counts.counts_for(db.session, [signed, unsigned]) == {signed: 5, unsigned: 0}
        assert counts.count_for(db.session, signed) == 5
        db.session.remove()
    assert pending is not None, "a pending signature exists but must not count"


def test_a_second_confirmation_adds_nothing(app, petition):
    [signature_id] = confirmed_signatures(app, petition, 1)
    assert confirm_directly(app, signature_id) is ConfirmOutcome.ALREADY_CONFIRMED
    assert count_for(app, petition) == 1


# --- reconciliation --------------------------------------------------------------------------


def test_reconcile_finds_no_drift_on_a_consistent_petition(app, petition):
    confirmed_signatures(app, petition, 6)
    result = reconcile(app, petition, repair=False)
    assert (result.stored, result.actual, result.drift, result.repaired) == (6, 6, 0, False)


def test_reconcile_detects_and_repairs_a_manual_edit(app, petition):
    confirmed_signatures(app, petition, 6)
    some_shard = min(shard_counts(app, petition))
    execute(
        app,
        "UPDATE petition_count_shards SET count = count + 5 WHERE petition_id = :p AND shard = :s",
        p=petition,
        s=some_shard,
    )
    assert count_for(app, petition) == 11

    found = reconcile(app, petition, repair=False)
    assert (found.stored, found.actual, found.drift, found.repaired) == (11, 6, 5, False)
    assert count_for(app, petition) == 11, "a check without --repair changed the total"

    repaired = reconcile(app, petition, repair=True)
    assert repaired.repaired and repaired.drift == 5
    assert count_for(app, petition) == 6
    assert reconcile(app, petition, repair=False).drift == 0


def test_reconcile_restores_a_deleted_shard(app, petition):
    confirmed_signatures(app, petition, 8)
    execute(app, "DELETE FROM petition_count_shards WHERE petition_id = :p", p=petition)
    assert count_for(app, petition) == 0
    assert reconcile(app, petition, repair=False).drift == -8
    reconcile(app, petition, repair=True)
    assert count_for(app, petition) == 8
    assert len(shard_counts(app, petition)) == app.config["COUNT_SHARDS"]


def test_reconcile_cli_exit_codes(app, runner, make_petition):
    drifting, fine = make_petition(), make_petition(title="Fine")
    confirmed_signatures(app, drifting, 3)
    confirmed_signatures(app, fine, 2, start=100)

    clean = reconcile_cli(app, runner)
    assert clean.exit_code == 0, clean.output
    assert "2 petition(s) checked, 0 with drift" in clean.output

    execute(
        app,
        "UPDATE petition_count_shards SET count = count + 2 WHERE petition_id = :p",
        p=drifting,
    )
    stored = count_for(app, drifting)
    assert stored > 3

    check = reconcile_cli(app, runner)
    assert check.exit_code == 1, check.output
    assert f"petition {drifting}: DRIFT: stored {stored}, signatures 3" in check.output
    assert f"petition {fine}:" not in check.output
    assert "1 with drift" in check.output
    assert count_for(app, drifting) == stored

    only_the_fine_one = reconcile_cli(app, runner, str(fine))
    assert only_the_fine_one.exit_code == 0, only_the_fine_one.output

    repair = reconcile_cli(app, runner, "--repair")
    assert repair.exit_code == 0, repair.output
    assert f"petition {drifting}: repaired" in repair.output
    assert count_for(app, drifting) == 3
    assert count_for(app, fine) == 2

    after = reconcile_cli(app, runner)
    assert after.exit_code == 0, after.output
    assert "0 with drift" in after.output


def test_reconcile_cli_unknown_petition(app, runner):
    result = reconcile_cli(app, runner, "4242")
    assert result.exit_code == 1
    assert "No petition with id 4242" in result.output


@pytest.mark.parametrize("new_shards", [7, 2, 1])
def test_changing_count_shards_keeps_the_total(app, petition, new_shards):
    """Shards written under the old COUNT_SHARDS still add up; repair redistributes them."""
    confirmed_signatures(app, petition, 9)
    app.config["COUNT_SHARDS"] = new_shards
    assert count_for(app, petition) == 9
    confirmed_signatures(app, petition, 4, start=50)
    assert count_for(app, petition) == 13
    assert reconcile(app, petition, repair=False).drift == 0

    reconcile(app, petition, repair=True)
    assert count_for(app, petition) == 13
    assert scalar_sql(app, CONFIRMED_ROWS, p=petition) == 13
    # After the repair every shard holds exactly the signatures `id % new_shards` sends there.
    with app.app_context():
        expected = dict(
            db.session.execute(
                text(
                    "SELECT id % :n, COUNT(*) FROM signatures "
                    "WHERE petition_id = :p AND status = 'confirmed' GROUP BY id % :n"
                ),
                {"n": new_shards, "p": petition},
            ).all()
        )
        db.session.remove()
    stored = shard_counts(app, petition)
    assert {s: c for s, c in stored.items() if s < new_shards} == {
        s: expected.get(s, 0) for s in range(new_shards)
    }
    assert all(c == 0 for s, c in stored.items() if s >= new_shards)

    confirmed_signatures(app, petition, 3, start=80)
    assert count_for(app, petition) == 16
    assert reconcile(app, petition, repair=False).drift == 0


def while_confirming(app, signature_ids, threads: int, reconcile_again) -> list:
    """Confirm `signature_ids` in `threads` threads while `reconcile_again()` runs in a loop
    (at least 5 times, until every confirmation is done); returns its results."""
    started = threading.Barrier(threads + 1, timeout=30)
    confirmations_done = threading.Event()

    def confirmer(ids):
        def run():
            started.wait()
            return [confirm_directly(app, signature_id) for signature_id in ids]

        return run

    def all_confirmers():
        try:
            batches = [signature_ids[n::threads] for n in range(threads)]
            return run_in_threads([confirmer(ids) for ids in batches], timeout=90)
        finally:
            confirmations_done.set()

    def reconciler():
        started.wait()
        results = []
        while not confirmations_done.is_set() or len(results) < 5:
            results.append(reconcile_again())
        return results

    outcomes, results = run_in_threads([all_confirmers, reconciler], timeout=120)
    assert all(o is ConfirmOutcome.CONFIRMED for batch in outcomes for o in batch)
    return results


def test_repair_while_confirmations_continue_stays_exact(app, petition):
    """Confirmations keep committing (in 4 threads) while reconcile --repair runs again and
    again. Each repair counts and rewrites the shards in one transaction that holds them
    (row locks on PostgreSQL, the write lock on SQLite), so after the first repair (which
    removes a deliberate drift of +7) no repair finds drift, and the final total is exact."""
    app.config["COUNT_SHARDS"] = 8
    pending = [sign_directly(app, petition, f"p{n}@example.org")[1] for n in range(160)]
    confirmed_signatures(app, petition, 10, start=1000)
    execute(
        app,
        "UPDATE petition_count_shards SET count = count + 7 WHERE petition_id = :p "
        "AND shard = (SELECT MIN(shard) FROM petition_count_shards WHERE petition_id = :p)",
        p=petition,
    )

    first, *later = while_confirming(app, pending, 4, lambda: reconcile(app, petition, repair=True))
    assert first.drift == 7 and first.repaired
    assert [r.drift for r in later] == [0] * len(later), "a repair raced a confirmation"
    assert count_for(app, petition) == 170
    assert scalar_sql(app, CONFIRMED_ROWS, p=petition) == 170
    assert reconcile(app, petition, repair=False).drift == 0


def test_a_check_during_confirmations_reports_no_false_drift(app, petition):
    """`counts reconcile` (no --repair) exits 1 on drift, for cron to alert: it must not
    mistake a confirmation committed while it reads for drift."""
    pending = [sign_directly(app, petition, f"p{n}@example.org")[1] for n in range(160)]
    checks = while_confirming(app, pending, 4, lambda: reconcile(app, petition, repair=False))
    assert [c.drift for c in checks if c.drift] == []
    final = reconcile(app, petition, repair=False)
    assert (final.stored, final.actual) == (160, 160)
