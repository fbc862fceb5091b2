"""Kill switches for signing: one petition (moderators) or the whole site (admins). A pause
never costs a petition signing time: resuming moves the deadline on by the pause, and a
deadline that passes during a pause does not close the petition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import AdminEvent, Petition, PetitionEvent, utcnow
from petitions.worker import housekeeping
from tests.fixtures.actors import csrf_token


class Clock:
    """The app's clock (petitions/clock.py), moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    installed = Clock()
    app.extensions["clock"] = installed
    return installed


@pytest.fixture
def moderator(make_user, login_as) -> int:
    user_id = make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")
    login_as(user_id)
    return user_id


@pytest.fixture
def admin(make_user, login_as) -> int:
    user_id = make_user(email="admin@example.kg", role="admin", name="Asel Admin")
    login_as(user_id)
    return user_id


def deadline(app, petition_id: int):
    with app.app_context():
        found = db.session.get(Petition, petition_id)
        db.session.remove()
        return found.closes_at, found.state, found.signing_paused_at


def press(client, petition_id: int, what: str):
    page = client.get(f"/moderation/petitions/{petition_id}")
    assert page.status_code == 200
    return client.post(
        f"/moderation/petitions/{petition_id}/{what}",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def switch(client, name: str, paused: bool):
    page = client.get("/admin/switches")
    assert page.status_code == 200
    return client.post(
        f"/admin/switches/{name}",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "paused": "yes" if paused else "no",
        },
    )


def test_resuming_one_petition_moves_its_deadline_on_by_the_pause(
    app, client, clock, moderator, petition
):
    before, _, _ = deadline(app, petition)
    assert press(client, petition, "pause").status_code == 303
    assert deadline(app, petition)[2] == clock.now
    assert "Resume signing" in client.get(f"/moderation/petitions/{petition}").get_data(
        as_text=True
    )

    clock.advance(hours=3, minutes=20)
    assert press(client, petition, "resume").status_code == 303
    after, state, paused_at = deadline(app, petition)
    assert (after - before, state, paused_at) == (timedelta(hours=3, minutes=20), "open", None)


def test_pause_and_resume_are_in_the_petitions_history(app, client, clock, moderator, petition):
    press(client, petition, "pause")
    clock.advance(hours=1)
    press(client, petition, "resume")
    with app.app_context():
        events = db.session.execute(
            select(PetitionEvent.action, PetitionEvent.actor_id, PetitionEvent.details)
            .where(PetitionEvent.petition_id == petition)
            .order_by(PetitionEvent.id)
        ).all()
    assert [(e.action, e.actor_id) for e in events][-2:] == [
        ("signing_paused", moderator),
        ("signing_resumed", moderator),
    ]
    assert events[-1].details["paused_seconds"] == 3600
    log = client.get(f"/moderation/log?petition={petition}").get_data(as_text=True)
    assert "signing paused" in log and "signing resumed" in log


def test_pausing_a_paused_petition_is_refused_clearly(app, client, clock, moderator, petition):
    press(client, petition, "pause")
    response = press(client, petition, "pause")
    assert response.status_code == 409
    assert "already paused" in response.get_data(as_text=True)


def test_resuming_a_petition_that_is_not_paused_is_refused(client, clock, moderator, petition):
    response = press(client, petition, "resume")
    assert response.status_code == 409
    assert "not paused" in response.get_data(as_text=True)


def test_a_closed_petition_cannot_be_paused(app, client, clock, moderator, make_petition):
    closed = make_petition(state="closed")
    response = client.post(
        f"/moderation/petitions/{closed}/pause",
        data={"csrf_token": csrf_token(client.get("/moderation/").get_data(as_text=True))},
    )
    assert response.status_code == 409
    assert "Only open petitions can be paused." in response.get_data(as_text=True)


def test_a_deadline_passing_during_a_pause_does_not_close_the_petition(
    app, client, clock, moderator, make_petition
):
    petition = make_petition(closes_in=timedelta(hours=2))
    before, _, _ = deadline(app, petition)
    press(client, petition, "pause")

    clock.advance(hours=5)
    with app.app_context():
        housekeeping(db.session, app.config, now=clock.now)
        db.session.remove()
    assert deadline(app, petition)[1] == "open"

    press(client, petition, "resume")
    after, state, _ = deadline(app, petition)
    assert (after - before, state) == (timedelta(hours=5), "open")
    assert after > clock.now


def test_resuming_the_site_moves_every_open_deadline_on_and_is_audited(
    app, client, clock, admin, make_petition
):
    dated = make_petition(title="With a deadline")
    undated = make_petition(title="Without a deadline", closes_in=None)
    closed = make_petition(title="Already closed", state="closed")
    before = {p: deadline(app, p)[0] for p in (dated, undated, closed)}

    assert switch(client, "signing", paused=True).status_code == 303
    assert "Paused since" in client.get("/admin/switches").get_data(as_text=True)
    clock.advance(hours=2)
    assert switch(client, "signing", paused=False).status_code == 303

    assert deadline(app, dated)[0] - before[dated] == timedelta(hours=2)
    assert deadline(app, undated)[0] is None
    assert deadline(app, closed)[0] == before[closed]
    with app.app_context():
        last = db.session.scalars(select(AdminEvent).order_by(AdminEvent.id.desc())).first()
        assert (last.action, last.target, last.actor_id) == (
            "setting_reset",
            "signing_paused",
            admin,
        )
        assert last.details == {
            "old": True,
            "new": False,
            "paused_seconds": 7200,
            "deadlines_moved": 1,
        }


def test_pausing_the_site_again_keeps_the_pause_start(app, client, clock, admin, petition):
    before, _, _ = deadline(app, petition)
    switch(client, "signing", paused=True)
    clock.advance(hours=1)
    switch(client, "signing", paused=True)
    clock.advance(hours=1)
    switch(client, "signing", paused=False)
    assert deadline(app, petition)[0] - before == timedelta(hours=2)


def test_resuming_a_site_that_is_not_paused_moves_nothing(app, client, clock, admin, petition):
    before, _, _ = deadline(app, petition)
    assert switch(client, "signing", paused=False).status_code == 303
    assert deadline(app, petition)[0] == before
    with app.app_context():
        assert db.session.scalar(select(AdminEvent.id)) is None


def test_no_deadline_closes_while_the_site_is_paused(app, client, clock, admin, make_petition):
    petition = make_petition(closes_in=timedelta(minutes=30))
    switch(client, "signing", paused=True)
    clock.advance(hours=1)
    with app.app_context():
        housekeeping(db.session, app.config, now=clock.now)
        db.session.remove()
    assert deadline(app, petition)[1] == "open"


def test_the_settings_page_reset_of_the_site_pause_is_a_resume(app, client, clock, admin, petition):
    before, _, _ = deadline(app, petition)
    switch(client, "signing", paused=True)
    clock.advance(minutes=45)
    page = client.get("/admin/").get_data(as_text=True)
    response = client.post(
        "/admin/settings/signing_paused/reset", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    assert deadline(app, petition)[0] - before == timedelta(minutes=45)


def test_pausing_creation_from_the_switches_page(app, client, clock, admin):
    assert switch(client, "creation", paused=True).status_code == 303
    assert client.get("/organiser/petitions/new").status_code == 503
    assert switch(client, "creation", paused=False).status_code == 303
    assert client.get("/organiser/petitions/new").status_code == 200


@pytest.mark.parametrize(
    "steps",
    [
        # (hour, what): the petition could not be signed from hour 0 to the last step.
        [(0, "site on"), (1, "petition pause"), (3, "site off"), (5, "petition resume")],
        [(0, "site on"), (1, "petition pause"), (2, "petition resume"), (4, "site off")],
        [(0, "petition pause"), (1, "site on"), (2, "petition resume"), (3, "site off")],
        [(0, "petition pause"), (1, "site on"), (4, "site off"), (6, "petition resume")],
    ],
)
def test_overlapping_pauses_move_the_deadline_by_the_time_signing_was_stopped(
    app, client, clock, admin, petition, steps
):
    before, _, _ = deadline(app, petition)
    start = clock.now
    for hour, what in steps:
        clock.now = start + timedelta(hours=hour)
        if what.startswith("site"):
            response = switch(client, "signing", paused=what == "site on")
        else:
            response = press(client, petition, what.split()[1])
        assert response.status_code == 303, what
    assert deadline(app, petition)[0] - before == timedelta(hours=steps[-1][0])
