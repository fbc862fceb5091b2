"""One-click unsubscribe: every email to signers about a petition (update, official response,
closing) carries a signed link, in its text and in RFC 8058 List-Unsubscribe headers. A POST to
it (no cookies, no CSRF token, as a mail client sends it) or the button on its page turns the
updates off and erases the stored address; it is idempotent; an altered link is a clear 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import Signature, utcnow
from petitions.services import moderation
from tests.fixtures.actors import post_update
from tests.fixtures.app import run_housekeeping
from tests.fixtures.mail import body_text, links_in


def signature_of(app, name: str) -> Signature:
    with app.app_context():
        found = db.session.scalars(select(Signature).where(Signature.name == name)).one()
        db.session.expunge_all()
        db.session.remove()
        return found


def unsubscribe_link(message) -> str:
    [link] = [link for link in links_in(message) if "/unsubscribe/" in link]
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return link.removeprefix("http://localhost")


@pytest.fixture
def updated(app, client, organiser, mailbox, deliver, make_petition, make_signature):
    """An open petition of the logged-in organiser with one opted-in signer, who has received
    one update; returns (petition id, that email)."""
    petition_id = make_petition(owner_id=organiser.user_id)
    make_signature(petition_id, "wants@example.kg", wants_updates=True)
    make_signature(petition_id, "other@example.kg", wants_updates=True)
    assert post_update(client, petition_id, "First news", "Something happened.").status_code == 303
    deliver()
    return petition_id, mailbox.last_to("wants@example.kg")


def test_one_click_post_without_cookies_or_csrf(app, client, mailbox, deliver, updated):
    petition_id, mail = updated
    path = unsubscribe_link(mail)
    mail_client = app.test_client()  # a mail provider: no session, no CSRF token
    response = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    gone = signature_of(app, "Wants")
    assert (gone.wants_updates, gone.email, gone.status) == (False, None, "confirmed")
    assert signature_of(app, "Other").email == "other@example.kg"

    again = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    mailbox.clear()
    post_update(client, petition_id, "Second news", "More.")
    deliver()
    assert mailbox.to("wants@example.kg") == []
    assert len(mailbox.to("other@example.kg")) == 1


def test_the_page_asks_first_then_its_button_unsubscribes(app, updated):
    _, mail = updated
    path = unsubscribe_link(mail)
    browser = app.test_client()
    page = browser.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stop emails about this petition" in html and "Do not send troops abroad" in html
    assert '<form method="post">' in html
    assert signature_of(app, "Wants").wants_updates is True  # GET changes nothing
    assert page.headers["Cache-Control"] == "private, no-store"

    done = browser.post(path)
    assert done.status_code == 200
    assert signature_of(app, "Wants").email is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_altered_link_is_a_clear_404(app, updated, method):
    _, mail = updated
    path = unsubscribe_link(mail)
    token = path.rsplit("/", 1)[1]
    # A character inside the signature: the last one's low bits may be base64 padding.
    altered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for bad in (token[:-2], altered, "nonsense"):
        response = app.test_client().open(f"/unsubscribe/{bad}", method=method)
        assert response.status_code == 404
        assert "This unsubscribe link is broken or incomplete" in response.get_data(as_text=True)
    assert signature_of(app, "Wants").wants_updates is True


def test_response_and_closing_mail_carry_the_link(
    app, mailbox, deliver, make_petition, make_signature
):
    petition_id = make_petition()
    make_signature(petition_id, "wants@example.kg", wants_updates=True)
    with app.app_context():
        moderation.attach_response(
            db.session, petition_id, moderator_id=None, now=utcnow(), text="We agree."
        )
        db.session.commit()
        db.session.remove()
    run_housekeeping(app)
    deliver()
    response_mail = mailbox.last_to("wants@example.kg")
    assert "A response to the petition" in response_mail["Subject"]
    assert "We agree." in body_text(response_mail)
    path = unsubscribe_link(response_mail)

    runner = app.test_cli_runner()
    assert runner.invoke(args=["petition", "close", str(petition_id)]).exit_code == 0
    run_housekeeping(app)
    deliver()
    closing = mailbox.last_to("wants@example.kg")
    assert "is closed" in closing["Subject"]
    assert unsubscribe_link(closing) == path  # one link per signature

    assert app.test_client().post(path).status_code == 200
    assert signature_of(app, "Wants").email is None


def test_csrf_stays_required_elsewhere(app, make_petition):
    """The unsubscribe endpoint's exemption is its own: a session form still needs its token."""
    response = app.test_client().post(
        "/account/login", data={"email": "a@example.kg", "password": "correct horse battery"}
    )
    assert response.status_code == 400
