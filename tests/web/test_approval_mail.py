"""The organiser hears when a moderator approves their petition: one email, through the outbox in
the approval's transaction, with the public link (which works) and the closing date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import format_datetime
from sqlalchemy import func, select

from petitions.extensions import db
from petitions.models import OutboxMessage, utcnow
from petitions.services import moderation
from petitions.services.moderation import ModerationRefused
from tests.fixtures.actors import csrf_token
from tests.fixtures.mail import body_html, body_text, links_in

ORGANISER = "organiser@example.kg"


@pytest.fixture
def app_config(app_config):
    app_config["DEFAULT_PETITION_DAYS"] = 60
    return app_config


@pytest.fixture
def organiser_id(make_user):
    return make_user(email=ORGANISER, name="Aigul Organiser")


@pytest.fixture
def moderator_id(make_user, login_as):
    user_id = make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")
    login_as(user_id)
    return user_id


def approve_on_the_web(client, petition_id: int):
    review = f"/moderation/petitions/{petition_id}"
    token = csrf_token(client.get(review).get_data(as_text=True))
    return client.post(f"{review}/approve", data={"csrf_token": token})


def queued(app, kind: str = "approved") -> int:
    with app.app_context():
        found = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
        )
        db.session.remove()
        return found


def test_approval_emails_the_organiser_a_working_link_and_the_closing_date(
    app, client, mailbox, deliver, moderator_id, organiser_id, make_queued_petition, get_petition
):
    petition_id = make_queued_petition("Build a bridge in Osh", owner_id=organiser_id)
    assert approve_on_the_web(client, petition_id).status_code == 303
    assert deliver().sent == 1

    [mail] = mailbox.to(ORGANISER)
    assert "Build a bridge in Osh" in mail["Subject"]
    assert "open for signatures" in mail["Subject"]
    text = body_text(mail)
    assert "Hello Aigul Organiser," in text
    link = f"http://localhost/petitions/{petition_id}"
    assert links_in(mail) == [link]
    petition = get_petition(petition_id)
    assert petition.closes_at - petition.opened_at == timedelta(days=60)
    with app.test_request_context():
        closing = format_datetime(petition.closes_at, "long")
    assert closing in text
    assert closing in body_html(mail)
    assert f'href="{link}"' in body_html(mail)

    # The link works: the public page, open, with its sign form.
    anonymous = app.test_client()
    page = anonymous.get(link.removeprefix("http://localhost"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Build a bridge in Osh" in html
    assert f'action="/petitions/{petition_id}/sign' in html


def test_the_mail_is_part_of_the_approval_transaction(
    app, moderator_id, organiser_id, make_queued_petition, get_petition
):
    """Rolled back with the decision: no email about an approval that never happened."""
    petition_id = make_queued_petition(owner_id=organiser_id)
    with app.test_request_context():
        moderation.approve(
            db.session,
            petition_id,
            moderator_id=moderator_id,
            now=utcnow(),
            duration_days=30,
            base_url="http://localhost",
        )
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        db.session.rollback()
        db.session.remove()
    assert queued(app) == 0
    assert get_petition(petition_id).state == "moderation"


def test_a_refused_second_approval_sends_nothing_more(
    app, client, deliver, mailbox, moderator_id, organiser_id, make_queued_petition
):
    petition_id = make_queued_petition(owner_id=organiser_id)
    review = f"/moderation/petitions/{petition_id}"
    token = csrf_token(client.get(review).get_data(as_text=True))
    assert client.post(f"{review}/approve", data={"csrf_token": token}).status_code == 303
    again = client.post(f"{review}/approve", data={"csrf_token": token})
    assert again.status_code == 409
    with app.test_request_context(), pytest.raises(ModerationRefused):
        moderation.approve(
            db.session,
            petition_id,
            moderator_id=moderator_id,
            now=utcnow(),
            duration_days=30,
            base_url="http://localhost",
        )
    assert queued(app) == 1
    deliver()
    assert len(mailbox.to(ORGANISER)) == 1


def test_petition_without_an_organiser_opens_without_mail(
    app, client, deliver, mailbox, moderator_id, make_queued_petition, get_petition
):
    """Created by an operator, or the organiser deleted their account: nobody to tell."""
    petition_id = make_queued_petition(owner_id=None)
    assert approve_on_the_web(client, petition_id).status_code == 303
    assert get_petition(petition_id).state == "open"
    assert queued(app) == 0
    deliver()
    assert mailbox.messages == []
