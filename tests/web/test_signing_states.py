"""Signing a petition that is not open: rejected ones are public (with their reason) but refuse
signatures with a clear 409; hidden, sponsoring, in-moderation and draft ones are not public and
answer 404. Never a 500, never a stored signature or an email, never a withheld title."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select, update

from petitions import links
from petitions.extensions import db
from petitions.models import OutboxMessage, Petition, Signature, utcnow
from petitions.services import moderation
from tests.fixtures.actors import session_csrf_token, sponsor_sign

TITLE = "Ban the import of old cars"
FORM = {
    "name": "Aibek Asanov",
    "email": "aibek@example.kg",
    "country": "KG",
    "region": "Chüy",
    "consent": "y",
}


@pytest.fixture
def moderator_id(make_user):
    return make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")


@pytest.fixture
def in_state(app, make_queued_petition, moderator_id):
    """A petition in `state`, reached through the moderation service where one leads there."""

    def make(state: str, reason: str = "duplicate") -> int:
        petition_id = make_queued_petition(TITLE)
        with app.test_request_context():
            now = utcnow()
            if state == "rejected":
                moderation.reject(
                    db.session,
                    petition_id,
                    moderator_id=moderator_id,
                    now=now,
                    reason=reason,
                    note="The same petition is open already.",
                    base_url="http://localhost",
                )
            elif state == "hidden":
                moderation.hide(
                    db.session, petition_id, moderator_id=moderator_id, now=now, reason="Abuse."
                )
            elif state != "moderation":
                db.session.execute(
                    update(Petition).where(Petition.id == petition_id).values(state=state)
                )
            db.session.commit()
            db.session.remove()
        return petition_id

    return make


@pytest.fixture
def token(client, make_petition) -> str:
    """A valid CSRF token of this browser (the log-in form's). The sign form needs none; its
    posts carry one anyway, as a page of an older release would."""
    return session_csrf_token(client)


def nothing_stored(app) -> bool:
    with app.app_context():
        signatures = db.session.scalar(select(func.count()).select_from(Signature))
        mails = db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind.in_(("confirmation", "already_signed")))
        )
        db.session.remove()
    return signatures == 0 and mails == 0


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_rejected_petition_refuses_signatures_with_a_clear_page(app, client, in_state, token):
    petition_id = in_state("rejected")
    public = client.get(f"/petitions/{petition_id}")
    assert public.status_code == 200
    assert "This petition was rejected" in text_of(public)
    assert 'name="email"' not in text_of(public)

    response = client.post(f"/petitions/{petition_id}/sign", data={**FORM, "csrf_token": token})
    text = text_of(response)
    assert response.status_code == 409, text
    assert "This petition is not open for signatures" in text
    assert "The moderators rejected it" in text
    assert f'href="/petitions/{petition_id}"' in text
    assert TITLE in text
    assert "It has closed" not in text
    assert nothing_stored(app)


def test_rejected_petition_refuses_even_invalid_input_with_409(app, client, in_state, token):
    petition_id = in_state("rejected")
    response = client.post(
        f"/petitions/{petition_id}/sign",
        data={"csrf_token": token, "email": "not an address", "name": "\x00"},
    )
    assert response.status_code == 409
    assert nothing_stored(app)


def test_rejected_petition_has_no_check_your_email_page(client, in_state):
    """Nobody could sign it, so no email went anywhere: saying otherwise would mislead."""
    petition_id = in_state("rejected")
    response = client.get(f"/petitions/{petition_id}/signed")
    text = text_of(response)
    assert response.status_code == 409
    assert "The moderators rejected it" in text
    assert "Check your email" not in text


@pytest.mark.parametrize("reason", ["offensive", "defamatory"])
def test_withheld_rejection_never_shows_the_title(app, client, in_state, token, reason):
    petition_id = in_state("rejected", reason=reason)
    for response in (
        client.post(f"/petitions/{petition_id}/sign", data={**FORM, "csrf_token": token}),
        client.get(f"/petitions/{petition_id}/signed"),
    ):
        text = text_of(response)
        assert response.status_code == 409
        assert TITLE not in text
        assert "See the moderators' decision" in text
    assert nothing_stored(app)


@pytest.mark.parametrize("state", ["hidden", "sponsoring", "moderation", "draft"])
def test_petitions_that_are_not_public_are_404(app, client, in_state, token, state):
    petition_id = in_state(state)
    for response in (
        client.post(f"/petitions/{petition_id}/sign", data={**FORM, "csrf_token": token}),
        client.get(f"/petitions/{petition_id}/signed"),
        client.get(f"/petitions/{petition_id}"),
    ):
        text = text_of(response)
        assert response.status_code == 404, (state, response.status_code)
        assert "Page not found" in text
        assert TITLE not in text
    assert nothing_stored(app)


@pytest.mark.parametrize("state", ["rejected", "hidden", "sponsoring", "moderation", "draft"])
def test_without_a_csrf_token_it_is_a_clear_400_or_the_state_page(app, client, in_state, state):
    petition_id = in_state(state)
    response = client.post(f"/petitions/{petition_id}/sign", data=FORM)
    assert response.status_code in (400, 404, 409)
    assert "Something went wrong" not in text_of(response)
    assert nothing_stored(app)


@pytest.mark.parametrize(
    ("decision", "status", "message"),
    [
        ("rejected", 409, "The moderators rejected it"),
        ("hidden", 409, "The moderators have removed it"),
        ("draft", 409, "It is not open for signatures yet"),
    ],
)
def test_a_sponsor_confirming_after_the_decision(
    app, client, signer, make_petition, moderator_id, decision, status, message
):
    """A sponsor's link, opened after the moderators decided: a clear page, nothing counted."""
    petition_id = make_petition(state="draft", title=TITLE)
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(state="moderation", submitted_at=utcnow(), moderation_requested_at=utcnow())
        )
        db.session.commit()
        db.session.remove()
    share_path = links.sponsor_path(petition_id, app.config["SECRET_KEY"])
    assert sponsor_sign(client, share_path, "late@example.kg").status_code == 303
    path = signer.confirmation_path("late@example.kg")
    with app.test_request_context():
        kwargs = {"moderator_id": moderator_id, "now": utcnow()}
        if decision == "rejected":
            moderation.reject(
                db.session,
                petition_id,
                reason="other",
                note="No.",
                base_url="http://localhost",
                **kwargs,
            )
        elif decision == "hidden":
            moderation.hide(db.session, petition_id, reason="Abuse.", **kwargs)
        else:
            moderation.send_back(
                db.session, petition_id, note="Shorter.", base_url="http://localhost", **kwargs
            )
        db.session.commit()
        db.session.remove()
    for response in (client.get(path), signer.confirm(path)):
        text = text_of(response)
        assert response.status_code == status
        assert message in text
        if decision == "hidden":
            assert TITLE not in text
    with app.app_context():
        assert db.session.scalar(select(Signature.status)) == "pending"
        db.session.remove()
