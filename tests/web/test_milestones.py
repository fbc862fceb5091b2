"""Milestones: the organiser is emailed when the petition reaches its goal and when it passes
each MILESTONES total, exactly once each, even when confirmations and workers race. The worker's
housekeeping notices them from the count shards (see services/milestones.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import PetitionMilestone
from tests.fixtures.actors import confirm_directly, sign_directly
from tests.fixtures.app import run_housekeeping
from tests.fixtures.mail import body_text, links_in
from tests.fixtures.threads import run_in_threads


@pytest.fixture
def app_config(app_config):
    app_config["MILESTONES"] = (3, 5)
    return app_config


def confirm_many(app, petition_id: int, start: int, stop: int) -> None:
    for n in range(start, stop):
        _, signature_id = sign_directly(app, petition_id, f"s{n}@example.kg")
        confirm_directly(app, signature_id)


def milestones(app, petition_id: int) -> list[tuple[str, int]]:
    with app.app_context():
        try:
            return sorted(
                db.session.execute(
                    select(PetitionMilestone.kind, PetitionMilestone.threshold).where(
                        PetitionMilestone.petition_id == petition_id
                    )
                ).all()
            )
        finally:
            db.session.remove()


def organiser_subjects(mailbox) -> list[str]:
    return [m["Subject"] for m in mailbox.to("organiser@example.kg")]


def test_each_milestone_is_emailed_once(app, organiser, mailbox, deliver, make_petition):
    petition_id = make_petition(goal=4, owner_id=organiser.user_id)
    confirm_many(app, petition_id, 0, 2)
    run_housekeeping(app)
    deliver()
    assert organiser_subjects(mailbox) == []

    confirm_many(app, petition_id, 2, 3)
    run_housekeeping(app)
    run_housekeeping(app)
    deliver()
    assert organiser_subjects(mailbox) == ["Your petition passed 3 signatures"]
    mail = mailbox.last_to("organiser@example.kg")
    assert "has passed 3 signatures" in body_text(mail)
    [link] = links_in(mail)
    page = app.test_client().get(link.removeprefix("http://localhost"))
    assert page.status_code == 200 and "Do not send troops abroad" in page.get_data(as_text=True)

    confirm_many(app, petition_id, 3, 4)
    run_housekeeping(app)
    confirm_many(app, petition_id, 4, 6)
    run_housekeeping(app)
    run_housekeeping(app)
    deliver()
    assert organiser_subjects(mailbox) == [
        "Your petition passed 3 signatures",
        "Your petition reached its goal",
        "Your petition passed 5 signatures",
    ]
    assert "reached its goal of 4 signatures" in body_text(mailbox.to("organiser@example.kg")[1])
    assert milestones(app, petition_id) == [("count", 3), ("count", 5), ("goal", 4)]


def test_a_jump_past_several_lines_sends_the_highest_and_the_goal(
    app, organiser, mailbox, deliver, make_petition
):
    petition_id = make_petition(goal=4, owner_id=organiser.user_id)
    confirm_many(app, petition_id, 0, 6)
    run_housekeeping(app)
    deliver()
    assert sorted(organiser_subjects(mailbox)) == [
        "Your petition passed 5 signatures",
        "Your petition reached its goal",
    ]
    assert milestones(app, petition_id) == [("count", 3), ("count", 5), ("goal", 4)]


def test_petitions_without_an_organiser_are_skipped(app, mailbox, deliver, make_petition):
    petition_id = make_petition(goal=2)
    confirm_many(app, petition_id, 0, 3)
    run_housekeeping(app)
    deliver()
    assert mailbox.messages == [] or all("passed" not in m["Subject"] for m in mailbox.messages)
    assert milestones(app, petition_id) == []


def test_milestones_once_when_confirmations_and_workers_race(
    app, organiser, mailbox, deliver, make_petition
):
    """Both databases: the primary key of petition_milestones lets one insert win."""
    petition_id = make_petition(goal=4, owner_id=organiser.user_id)
    signature_ids = [sign_directly(app, petition_id, f"r{n}@example.kg")[1] for n in range(6)]

    def confirm(signature_id):
        return lambda: confirm_directly(app, signature_id)

    def worker():
        run_housekeeping(app)

    run_in_threads([confirm(s) for s in signature_ids] + [worker, worker])
    run_in_threads([worker, worker, worker])
    deliver()
    subjects = organiser_subjects(mailbox)
    assert len(subjects) == len(set(subjects))
    assert "Your petition reached its goal" in subjects
    assert "Your petition passed 5 signatures" in subjects
    assert milestones(app, petition_id) == [("count", 3), ("count", 5), ("goal", 4)]


def test_milestones_come_from_the_environment(monkeypatch):
    from config import TestingConfig

    monkeypatch.setenv("MILESTONES", "50, 500")
    assert TestingConfig.from_environment()["MILESTONES"] == (50, 500)
    monkeypatch.setenv("MILESTONES", "50,lots")
    with pytest.raises(ValueError, match="MILESTONES"):
        TestingConfig.from_environment()
    monkeypatch.delenv("MILESTONES")
    assert TestingConfig.from_environment()["MILESTONES"] == (100, 1000, 10000, 100000)
