"""Issue 8, defects 11 and 12: every state change goes through one transition and is logged,
whoever makes it; the audit log and the pages name states and actions in one wording."""

import pytest
from sqlalchemy import select

from petitions import labels
from petitions.extensions import db
from petitions.models import EventAction, Petition, PetitionEvent, PetitionState, Signature, utcnow
from petitions.services import petitions as petition_service
from petitions.services import removal
from petitions.services.transitions import STEPS
from tests.fixtures.factories import move_deadline_to_past


def events(app, petition_id: int) -> list[tuple[str, dict | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(PetitionEvent.action, PetitionEvent.details)
            .where(PetitionEvent.petition_id == petition_id)
            .order_by(PetitionEvent.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_closing_from_the_command_line_is_logged(app, runner, petition):
    runner.invoke(args=["petition", "close", str(petition)])
    assert events(app, petition)[-1] == ("closed", {"by": "operator"})


def test_a_deadline_close_is_logged(app, runner, petition):
    move_deadline_to_past(app, petition)
    runner.invoke(args=["petition", "close-expired"])
    assert events(app, petition)[-1] == ("closed", {"by": "deadline"})


def test_the_worker_deadline_close_is_logged(app, petition):
    from petitions.worker import housekeeping

    move_deadline_to_past(app, petition)
    with app.app_context():
        housekeeping(db.session, app.config, now=utcnow())
        db.session.remove()
    assert events(app, petition)[-1] == ("closed", {"by": "deadline"})


def test_creating_and_opening_from_the_command_line_is_logged(app, runner):
    result = runner.invoke(
        args=["petition", "create", "--title", "T", "--action", "A", "--addressee", "B", "--open"]
    )
    petition_id = int(result.output.split()[1])
    assert [action for action, _ in events(app, petition_id)] == ["created", "opened"]


def test_a_closed_petition_does_not_close_twice(app, runner, petition):
    runner.invoke(args=["petition", "close", str(petition)])
    second = runner.invoke(args=["petition", "close", str(petition)])
    assert second.exit_code != 0 and [a for a, _ in events(app, petition)].count("closed") == 1


@pytest.mark.parametrize("action", list(EventAction))
def test_every_action_has_a_label(action):
    assert action in labels.ACTION_LABELS


@pytest.mark.parametrize("state", list(PetitionState))
def test_every_state_has_a_label(state):
    assert state in labels.STATE_LABELS


def test_every_step_ends_in_a_known_state():
    assert {step.target for step in STEPS.values()} <= set(PetitionState)


def test_the_audit_log_names_removed_signatures_in_words(
    app, client, make_user, login_as, petition, signer
):
    signer.sign_and_confirm(petition, "aibek@example.kg")
    with app.app_context():
        signature_id = db.session.scalar(select(Signature.id))
        removal.remove_signatures(
            db.session,
            petition,
            [signature_id],
            status="invalidated",
            now=utcnow(),
            shards=app.config["COUNT_SHARDS"],
        )
        db.session.commit()
        db.session.remove()
    login_as(make_user(email="mod@example.kg", role="moderator"))
    html = client.get("/moderation/log").get_data(as_text=True)
    assert "signatures taken out of the total" in html and "signatures_removed" not in html


def test_a_state_has_one_name_for_organisers_and_moderators(
    app, client, make_user, login_as, make_queued_petition
):
    owner = make_user(email="owner@example.kg")
    petition_id = make_queued_petition(owner_id=owner)
    login_as(owner)
    organiser_page = client.get(f"/organiser/petitions/{petition_id}").get_data(as_text=True)
    login_as(make_user(email="mod@example.kg", role="moderator"))
    review = client.get(f"/moderation/petitions/{petition_id}").get_data(as_text=True)
    label = str(labels.STATE_LABELS[PetitionState.MODERATION])
    assert label.capitalize() in organiser_page and label in review


def test_operator_open_refuses_a_petition_that_is_not_a_draft(app, petition):
    with app.app_context():
        found = db.session.get(Petition, petition)
        with pytest.raises(petition_service.PetitionError, match="only drafts can open"):
            petition_service.open_petition(
                db.session, found, now=utcnow(), base_url="http://localhost"
            )
        db.session.remove()
