"""Bulk actions on a petition's signatures (moderators): a preview of how many match, then
invalidation with a public category (or validation of held signatures) run in resumable,
cancellable batches, and undo. Every public number stays equal to the signatures counted,
and every step is in the petition's audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import (
    BulkAction,
    Petition,
    PetitionEvent,
    RemovalCategory,
    Signature,
    SignatureStatus,
    utcnow,
)
from petitions.services import bulk, counts, retention
from petitions.services.removal import change_status
from petitions.services.signing import SigningPolicy
from tests.fixtures.actors import confirm_directly, csrf_token
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads

SCRIPT = "203.0.113.0/24"
PEOPLE = "198.51.100.0/24"


@pytest.fixture
def moderator(make_user, login_as) -> int:
    user_id = make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")
    login_as(user_id)
    return user_id


@pytest.fixture
def attacked(petition, make_signature) -> int:
    """30 counted signatures from a script's network, 10 from people elsewhere."""
    make_signature(petition, count=30, counted=True, client_network=SCRIPT)
    make_signature(petition, count=10, counted=True, client_network=PEOPLE)
    return petition


def search_url(petition_id: int) -> str:
    return f"/moderation/petitions/{petition_id}/signatures?since=&address={SCRIPT}"


def preview(client, petition_id: int, **form):
    token = csrf_token(client.get(search_url(petition_id)).get_data(as_text=True))
    return client.post(
        f"/moderation/petitions/{petition_id}/bulk/preview?since=&address={SCRIPT}",
        data={"csrf_token": token, **form},
    )


def start(client, petition_id: int, *, query: str | None = None, **form):
    query = query if query is not None else f"since=&address={SCRIPT}"
    token = csrf_token(client.get(search_url(petition_id)).get_data(as_text=True))
    return client.post(
        f"/moderation/petitions/{petition_id}/bulk?{query}",
        data={"csrf_token": token, "confirm": "y", **form},
    )


def started_action(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def run_all(app, *, batch_size: int = 500) -> None:
    with app.app_context():
        while bulk.run_batch(
            db.session,
            now=utcnow(),
            policy=SigningPolicy.from_config(app.config),
            batch_size=batch_size,
        ):
            pass
        db.session.remove()


def run_one(app, *, batch_size: int):
    with app.app_context():
        try:
            return bulk.run_batch(
                db.session,
                now=utcnow(),
                policy=SigningPolicy.from_config(app.config),
                batch_size=batch_size,
            )
        finally:
            db.session.remove()


def public_count(client, petition_id: int) -> int:
    return client.get(f"/petitions/{petition_id}/count.json").get_json()["signature_count"]


def numbers(app, client, petition_id: int) -> dict:
    """Every public figure that says how many signed, and what the table says."""
    detail = client.get(f"/api/v1/petitions/{petition_id}").get_json()
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        drift = counts.reconcile(db.session, petition, app.config["COUNT_SHARDS"], repair=False)
        db.session.remove()
    return {
        "count.json": public_count(client, petition_id),
        "api": detail["signature_count"],
        "by country": sum(c["count"] for c in detail["signatures_by_country"]),
        "confirmed rows": scalar_sql(
            app,
            "SELECT count(*) FROM signatures WHERE petition_id = :p AND status = 'confirmed'",
            p=petition_id,
        ),
        "drift": drift.drift,
    }


def action_of(app, action_id: int) -> BulkAction:
    with app.app_context():
        found = db.session.get(BulkAction, action_id)
        db.session.expunge(found)
        db.session.remove()
        return found


def test_the_preview_says_how_many_match_and_changes_nothing(app, client, moderator, attacked):
    response = preview(client, attacked, kind="invalidate", category="automated")

    assert response.status_code == 200
    assert 'data-matched="30"' in response.get_data(as_text=True)
    assert public_count(client, attacked) == 40


def test_invalidation_takes_exactly_the_matches_out_of_every_number(
    app, client, moderator, attacked
):
    started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_all(app, batch_size=7)

    assert numbers(app, client, attacked) == {
        "count.json": 10,
        "api": 10,
        "by country": 10,
        "confirmed rows": 10,
        "drift": 0,
    }


def test_invalidated_signatures_are_disclosed_by_category(app, client, moderator, attacked):
    started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_all(app)

    assert (
        scalar_sql(
            app,
            "SELECT count(*) FROM signatures WHERE removal_category = 'automated'"
            " AND status = 'invalidated'",
        )
        == 30
    )
    assert (
        client.get(f"/api/v1/petitions/{attacked}").get_json()["signatures_removed"]["invalidated"]
        == 30
    )


def test_undo_puts_every_number_back(app, client, moderator, attacked):
    before = numbers(app, client, attacked)
    action_id = started_action(start(client, attacked, kind="invalidate", category="fraud"))
    run_all(app, batch_size=7)

    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    undo = client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    assert undo.status_code == 303
    run_all(app, batch_size=7)

    assert numbers(app, client, attacked) == before


def test_an_undone_action_says_so(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="fraud"))
    run_all(app)
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    run_all(app)

    assert action_of(app, action_id).state == "undone"


def test_undo_gives_back_the_addresses_of_signers_who_wanted_updates(
    app, client, moderator, attacked
):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_all(app)
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    run_all(app)

    assert scalar_sql(app, "SELECT count(*) FROM signatures WHERE email IS NOT NULL") == 40


def test_cancel_stops_after_the_batch_in_progress(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    assert run_one(app, batch_size=7).changed == 7

    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    assert (
        client.post(f"/moderation/bulk/{action_id}/cancel", data={"csrf_token": token}).status_code
        == 303
    )
    run_all(app)

    assert public_count(client, attacked) == 33


def test_a_cancelled_action_can_be_undone(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_one(app, batch_size=7)
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/cancel", data={"csrf_token": token})

    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    run_all(app)

    assert public_count(client, attacked) == 40


def test_an_action_resumes_where_it_stopped(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_one(app, batch_size=12)
    # A new process (the worker restarted) picks it up from its cursor.
    run_all(app, batch_size=12)

    action = action_of(app, action_id)
    assert (action.state, action.processed, action.changed) == ("done", 30, 30)


def test_the_progress_page_shows_how_far_it_got(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_one(app, batch_size=7)

    response = client.get(f"/moderation/bulk/{action_id}")

    assert 'data-processed="7"' in response.get_data(as_text=True)
    assert response.headers["Refresh"] == "3"


def test_signatures_that_match_while_it_runs_are_included(
    app, client, moderator, attacked, make_signature
):
    started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_one(app, batch_size=7)
    make_signature(attacked, count=3, counted=True, client_network=SCRIPT)
    run_all(app, batch_size=7)

    assert public_count(client, attacked) == 10


def test_validation_counts_held_signatures(app, client, moderator, petition, make_signature):
    make_signature(petition, count=5, status="held", flag="no_proof", client_network=SCRIPT)
    make_signature(petition, count=2, counted=True, client_network=SCRIPT)

    started_action(start(client, petition, query="since=&flag=no_proof", kind="validate"))
    run_all(app)

    assert numbers(app, client, petition)["count.json"] == 7


def test_undo_of_a_validation_holds_them_again(app, client, moderator, petition, make_signature):
    make_signature(petition, count=5, status="held", flag="no_proof")
    action_id = started_action(start(client, petition, query="since=&flag=any", kind="validate"))
    run_all(app)
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    run_all(app)

    assert scalar_sql(app, "SELECT count(*) FROM signatures WHERE status = 'held'") == 5
    assert public_count(client, petition) == 0


def test_undo_leaves_a_signature_changed_since_alone(
    app, client, moderator, petition, make_signature
):
    ids = make_signature(petition, count=3, status="held", flag="rate")
    validation = started_action(start(client, petition, query="since=&flag=rate", kind="validate"))
    run_all(app)
    # Another moderator then invalidates one of them, one by one.
    with app.app_context():
        change_status(
            db.session,
            petition,
            [ids[0]],
            to=SignatureStatus.INVALIDATED,
            now=utcnow(),
            shards=app.config["COUNT_SHARDS"],
            category=RemovalCategory.DUPLICATES,
        )
        db.session.commit()
        db.session.remove()

    token = csrf_token(client.get(f"/moderation/bulk/{validation}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{validation}/undo", data={"csrf_token": token})
    run_all(app)

    with app.app_context():
        statuses = dict(db.session.execute(select(Signature.id, Signature.status)).all())
        db.session.remove()
    assert statuses == {ids[0]: "invalidated", ids[1]: "held", ids[2]: "held"}


def test_one_action_runs_per_petition_at_a_time(app, client, moderator, attacked):
    started_action(start(client, attacked, kind="invalidate", category="automated"))

    second = start(client, attacked, kind="invalidate", category="automated")

    assert second.status_code == 409
    assert "Another bulk action is running" in second.get_data(as_text=True)


def test_the_database_refuses_a_second_running_action(app, attacked):
    with app.app_context():
        for _ in range(2):
            db.session.add(
                BulkAction(
                    petition_id=attacked,
                    kind="validate",
                    criteria={"flag": "any"},
                    state="running",
                )
            )
        with pytest.raises(Exception, match="(?i)unique"):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


@pytest.mark.parametrize(
    ("query", "form", "message"),
    [
        ("since=", {"kind": "invalidate", "category": "automated"}, "Narrow the search first"),
        (
            f"since=&address={PEOPLE}&status=withdrawn",
            {"kind": "invalidate", "category": "fraud"},
            "No signature matches",
        ),
    ],
)
def test_a_bulk_action_that_cannot_start_says_why(
    app, client, moderator, attacked, query, form, message
):
    response = start(client, attacked, query=query, **form)

    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert public_count(client, attacked) == 40


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "invalidate", "category": ""}, "Please choose the public reason"),
        ({"kind": "invalidate", "category": "signer_request"}, "Please choose the public reason"),
        ({"kind": "erase"}, "Not a valid choice"),
        ({"kind": "invalidate", "category": "automated", "confirm": ""}, "Please tick the box"),
    ],
)
def test_a_bulk_form_that_is_not_complete_is_refused_clearly(
    app, client, moderator, attacked, form, message
):
    response = start(client, attacked, **form)

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_a_bulk_action_without_its_csrf_token_is_refused(app, client, moderator, attacked):
    response = client.post(
        f"/moderation/petitions/{attacked}/bulk?address={SCRIPT}",
        data={"kind": "invalidate", "category": "automated", "confirm": "y"},
    )

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert scalar_sql(app, "SELECT count(*) FROM bulk_actions") == 0


def test_every_step_is_in_the_audit_log(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_one(app, batch_size=7)
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/cancel", data={"csrf_token": token})
    token = csrf_token(client.get(f"/moderation/bulk/{action_id}").get_data(as_text=True))
    client.post(f"/moderation/bulk/{action_id}/undo", data={"csrf_token": token})
    run_all(app)

    with app.app_context():
        events = [
            (e.action, e.actor_id, e.details["bulk_action"])
            for e in db.session.scalars(select(PetitionEvent).order_by(PetitionEvent.id))
            if e.action.startswith("bulk_")
        ]
        db.session.remove()
    assert events == [
        ("bulk_started", moderator, action_id),
        ("bulk_cancelled", moderator, action_id),
        ("bulk_started", moderator, action_id + 1),
        ("bulk_finished", moderator, action_id + 1),
    ]


def test_the_worker_runs_bulk_actions(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert action_of(app, action_id).state == "done"


def test_organisers_cannot_start_bulk_actions(app, client, make_user, login_as, attacked):
    login_as(make_user(email="org@example.kg"))

    token = csrf_token(client.get(f"/petitions/{attacked}").get_data(as_text=True))
    response = client.post(
        f"/moderation/petitions/{attacked}/bulk?address={SCRIPT}",
        data={"csrf_token": token, "kind": "invalidate", "category": "automated", "confirm": "y"},
    )

    assert response.status_code == 403


def test_removed_addresses_are_erased_after_the_investigation_window(
    app, client, moderator, attacked
):
    started_action(start(client, attacked, kind="invalidate", category="automated"))
    run_all(app)

    with app.app_context():
        erased = retention.forget_removed_addresses(
            db.session, now=utcnow() + timedelta(days=31), investigation_days=30
        )
        db.session.remove()

    assert erased == 30
    assert scalar_sql(app, "SELECT count(*) FROM signatures WHERE email IS NOT NULL") == 10


def test_the_search_page_lists_the_petitions_actions(app, client, moderator, attacked):
    action_id = started_action(start(client, attacked, kind="invalidate", category="automated"))

    html = client.get(search_url(attacked)).get_data(as_text=True)

    assert re.search(rf'href="/moderation/bulk/{action_id}"', html)


def test_confirmations_during_an_invalidation_keep_the_count_exact(
    app, client, moderator, attacked, make_signature
):
    pending = make_signature(attacked, count=20, confirmed_at=None, client_network=PEOPLE)
    started_action(start(client, attacked, kind="invalidate", category="automated"))

    run_in_threads(
        [lambda: run_all(app, batch_size=3)]
        + [lambda ids=pending[n::4]: [confirm_directly(app, i) for i in ids] for n in range(4)]
    )

    assert numbers(app, client, attacked) == {
        "count.json": 30,
        "api": 30,
        "by country": 30,
        "confirmed rows": 30,
        "drift": 0,
    }


def test_the_review_page_links_to_the_investigation(client, moderator, attacked):
    html = client.get(f"/moderation/petitions/{attacked}").get_data(as_text=True)

    assert f'href="/moderation/petitions/{attacked}/signatures"' in html


def test_a_bulk_action_without_a_search_never_falls_back_to_the_last_day(
    app, client, moderator, attacked
):
    response = start(client, attacked, query="", kind="invalidate", category="automated")

    assert response.status_code == 409
    assert "Narrow the search first" in response.get_data(as_text=True)


def test_validating_held_sponsors_sends_the_petition_to_moderation(
    app, client, moderator, make_queued_petition, make_signature
):
    petition = make_queued_petition(sponsors=app.config["SPONSORS_REQUIRED"] - 2)
    with app.app_context():
        db.session.get(Petition, petition).state = "sponsoring"
        db.session.commit()
        db.session.remove()
    make_signature(petition, None, count=2, is_sponsor=True, status="held", flag="no_proof")

    started_action(start(client, petition, query="since=&flag=no_proof", kind="validate"))
    run_all(app)

    with app.app_context():
        assert db.session.get(Petition, petition).state == "moderation"
        db.session.remove()
