"""Taking confirmed signatures out of a total (services/removal.py, `flask signatures remove`):
the total drops by exactly the number removed, once, even when operators race each other or
signers keep confirming; the public numbers say how many were removed, never who.
"""

from __future__ import annotations

from petitions.extensions import db
from petitions.models import Petition, SignatureStatus, utcnow
from petitions.services import counts
from petitions.services.removal import remove_signatures
from tests.fixtures.actors import confirm_directly, sign_directly
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads


def _confirmed_signatures(app, petition_id: int, emails: list[str]) -> list[int]:
    ids = []
    for email in emails:
        _, signature_id = sign_directly(app, petition_id, email)
        confirm_directly(app, signature_id)
        ids.append(signature_id)
    return ids


def _remove(app, petition_id, ids, status=SignatureStatus.INVALIDATED, shards=None) -> int:
    with app.app_context():
        try:
            removed = remove_signatures(
                db.session,
                petition_id,
                ids,
                status=status,
                now=utcnow(),
                shards=shards or app.config["COUNT_SHARDS"],
                note="duplicate addresses from one IP range",
            )
            db.session.commit()
            return removed
        finally:
            db.session.remove()


def _reconciled(app, petition_id: int) -> counts.Reconciliation:
    with app.app_context():
        try:
            petition = db.session.get(Petition, petition_id)
            return counts.reconcile(db.session, petition, app.config["COUNT_SHARDS"], repair=False)
        finally:
            db.session.remove()


def test_removed_signatures_leave_the_total_and_are_counted(app, client, petition):
    ids = _confirmed_signatures(app, petition, [f"s{n}@example.kg" for n in range(5)])
    assert _remove(app, petition, ids[:2]) == 2
    assert _remove(app, petition, ids[2:3], SignatureStatus.WITHDRAWN) == 1

    assert client.get(f"/petitions/{petition}/count.json").get_json()["signature_count"] == 2
    detail = client.get(f"/api/v1/petitions/{petition}").get_json()
    assert detail["signature_count"] == 2
    assert detail["signatures_removed"] == {"invalidated": 2, "withdrawn": 1, "total": 3}
    assert sum(c["count"] for c in detail["signatures_by_country"]) == 2
    assert _reconciled(app, petition).drift == 0
    # The address is gone with the removal; the row stays, so the count stays verifiable.
    assert scalar_sql(app, "SELECT count(*) FROM signatures WHERE email IS NOT NULL") == 0
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 5
    note = scalar_sql(
        app, "SELECT note FROM petition_events WHERE action = 'signatures_removed' LIMIT 1"
    )
    assert note == "duplicate addresses from one IP range"


def test_removing_twice_removes_once(app, petition):
    ids = _confirmed_signatures(app, petition, ["a@example.kg", "b@example.kg"])
    assert _remove(app, petition, ids[:1]) == 1
    assert _remove(app, petition, ids[:1]) == 0
    assert _remove(app, petition, ids[:1], SignatureStatus.WITHDRAWN) == 0
    with app.app_context():
        assert counts.count_for(db.session, petition) == 1


def test_only_confirmed_signatures_of_that_petition_are_removed(app, make_petition):
    first, second = make_petition(), make_petition(title="Another petition")
    mine = _confirmed_signatures(app, first, ["a@example.kg"])
    theirs = _confirmed_signatures(app, second, ["b@example.kg"])
    _, pending = sign_directly(app, first, "pending@example.kg")
    assert _remove(app, first, [*mine, *theirs, pending, 999999]) == 1
    with app.app_context():
        assert counts.count_for(db.session, first) == 0
        assert counts.count_for(db.session, second) == 1
    assert scalar_sql(app, "SELECT status FROM signatures WHERE id = :id", id=pending) == "pending"


def test_removal_after_the_shard_count_changed(app, petition):
    """A signature counted under COUNT_SHARDS=4 and removed under 7 still takes one off."""
    ids = _confirmed_signatures(app, petition, [f"s{n}@example.kg" for n in range(3)])
    assert _remove(app, petition, ids, shards=7) == 3
    with app.app_context():
        assert counts.count_for(db.session, petition) == 0
    assert _reconciled(app, petition).drift == 0


def test_racing_operators_remove_each_signature_once(app, petition):
    ids = _confirmed_signatures(app, petition, [f"s{n}@example.kg" for n in range(12)])
    results = run_in_threads([lambda: _remove(app, petition, ids) for _ in range(6)])
    assert sum(results) == 12
    with app.app_context():
        assert counts.count_for(db.session, petition) == 0
    assert _reconciled(app, petition).drift == 0


def test_removals_while_signers_confirm_keep_the_total_exact(app, petition):
    early = _confirmed_signatures(app, petition, [f"early{n}@example.kg" for n in range(10)])
    late = [sign_directly(app, petition, f"late{n}@example.kg")[1] for n in range(10)]
    jobs = [lambda sid=sid: confirm_directly(app, sid) for sid in late]
    jobs += [lambda sid=sid: _remove(app, petition, [sid]) for sid in early]
    run_in_threads(jobs)
    with app.app_context():
        assert counts.count_for(db.session, petition) == 10
    assert _reconciled(app, petition).drift == 0


def test_the_cli_removes_and_reports(app, runner, petition):
    ids = _confirmed_signatures(app, petition, ["a@example.kg", "b@example.kg"])
    result = runner.invoke(
        args=["signatures", "remove", str(petition), str(ids[0]), "999", "--as", "withdrawn"]
    )
    assert result.exit_code == 0, result.output
    assert "1 signature(s) withdrawn" in result.output
    assert "1 not confirmed signatures of it, left alone" in result.output
    refused = runner.invoke(args=["signatures", "remove", str(petition), str(ids[1])])
    assert refused.exit_code != 0
    assert "--as" in refused.output
    unknown = runner.invoke(args=["signatures", "remove", "4242", "1", "--as", "invalidated"])
    assert unknown.exit_code != 0
    assert "No petition with id 4242" in unknown.output


def test_parallel_removals_across_shards_do_not_deadlock(app, petition):
    """Each operator removes signatures spread over every shard, listed in opposite orders."""
    ids = _confirmed_signatures(app, petition, [f"s{n}@example.kg" for n in range(16)])
    halves = [ids[0::2], list(reversed(ids[1::2]))]
    results = run_in_threads([lambda half=half: _remove(app, petition, half) for half in halves])
    assert results == [8, 8]
    with app.app_context():
        assert counts.count_for(db.session, petition) == 0
    assert _reconciled(app, petition).drift == 0
