"""The emailed confirmation link: changed, garbage, stale, expired and replayed tokens each get
a clear page with the right status, and only a POST with a valid form from a working link
ever counts a signature.
"""

from __future__ import annotations

import html
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete, select

from petitions.extensions import db
from petitions.models import OutboxMessage, Signature
from petitions.tokens import CONFIRM_SALT
from tests.fixtures.actors import csrf_token, session_csrf_token
from tests.fixtures.factories import move_deadline_to_past

EMAIL = "aibek@example.kg"
DOES_NOT_WORK = "This link does not work"


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def any_csrf_token(client, petition_id: int) -> str:
    """A valid CSRF token for this browser session (every form in a session shares it; the
    log-in page has one)."""
    return session_csrf_token(client)


def pending(signer, petition_id: int, email: str = EMAIL) -> str:
    """Sign and return the path of the emailed confirmation link, not yet used."""
    assert signer.sign(petition_id, email).status_code == 303
    return signer.confirmation_path(email)


def signature_state(app) -> list[tuple[str, int]]:
    """(status, confirmation_sends) of every signature."""
    with app.app_context():
        rows = db.session.execute(
            select(Signature.status, Signature.confirmation_sends).order_by(Signature.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def queued_mails(app) -> int:
    with app.app_context():
        found = len(db.session.scalars(select(OutboxMessage.id)).all())
        db.session.remove()
    return found


def backdated(app, path: str, seconds: int) -> str:
    """The same link as if it had been emailed `seconds` ago (itsdangerous stamps the time)."""
    secret = app.config["SECRET_KEY"]
    payload = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT).loads(path.rsplit("/", 1)[1])

    class IssuedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    old = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT, signer=IssuedEarlier)
    return "/confirm/" + old.dumps(payload)


def expired(app, path: str) -> str:
    return backdated(app, path, app.config["CONFIRMATION_MAX_AGE_SECONDS"] + 60)


def assert_private(response) -> None:
    """Pages reached through a token are never cached and never leak the URL as a referrer."""
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"


def assert_does_not_work(response) -> None:
    text = page_text(response)
    assert response.status_code == 404, text
    assert DOES_NOT_WORK in text
    assert "sign the petition again with the same email address" in text
    assert_private(response)


def close(runner, petition_id: int) -> None:
    result = runner.invoke(args=["petition", "close", str(petition_id)])
    assert result.exit_code == 0, result.output


def signer_count_is_zero(client, petition_id: int) -> bool:
    return client.get(f"/petitions/{petition_id}/count.json").get_json()["signature_count"] == 0


# --- links that were changed or never were links ---------------------------------------------


def change_char(token: str, index: int) -> str:
    replacement = "B" if token[index] != "B" else "C"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: change_char(t, 3),  # the payload (signature id and key)
        lambda t: change_char(t, t.index(".") + 2),  # the timestamp
        lambda t: change_char(t, len(t) - 10),  # the signature
        lambda t: t[:-5],  # cut short, as a wrapped line in a mail client
        lambda t: t + "xyz",
        lambda t: t + ">",  # copied with the bracket around it
        lambda t: t.rsplit(".", 1)[0],  # signature missing
    ],
    ids=["payload", "timestamp", "signature", "truncated", "appended", "bracket", "unsigned"],
)
def test_changed_link_does_not_work(signer, client, app, petition, tamper):
    path = pending(signer, petition)
    token = path.removeprefix("/confirm/")
    bad = "/confirm/" + tamper(token)
    assert bad != path

    assert_does_not_work(client.get(bad))
    assert_does_not_work(client.post(bad, data={"csrf_token": any_csrf_token(client, petition)}))
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]

    # The real link is unharmed.
    assert "Your signature is confirmed" in page_text(signer.confirm(path))
    assert signer.count(petition) == 1


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "abc.def.ghi",
        "....",
        "A" * 10_000,
        "%FF%FE",
        "%00",
        "токен",
        "null",
        '[1,"a"]',
        "WzEsImEiXQ.Zm9v.YmFy",
    ],
    ids=[
        "short",
        "three-parts",
        "dots",
        "very-long",
        "bad-bytes",
        "nul",
        "cyrillic",
        "null",
        "json",
        "base64-parts",
    ],
)
def test_garbage_token_does_not_work(client, app, petition, token):
    assert_does_not_work(client.get(f"/confirm/{token}"))
    response = client.post(
        f"/confirm/{token}", data={"csrf_token": any_csrf_token(client, petition)}
    )
    assert_does_not_work(response)
    assert signer_count_is_zero(client, petition)


def test_token_signed_for_another_purpose_does_not_work(signer, client, petition):
    """The CSRF token is signed with the same secret, but is no confirmation link."""
    pending(signer, petition)
    assert_does_not_work(client.get(f"/confirm/{any_csrf_token(client, petition)}"))
    assert signer.count(petition) == 0


def test_link_for_a_deleted_signature_does_not_work(signer, client, app, petition):
    path = pending(signer, petition)
    with app.app_context():
        db.session.execute(delete(Signature))
        db.session.commit()

    assert_does_not_work(client.get(path))
    assert_does_not_work(client.post(path, data={"csrf_token": any_csrf_token(client, petition)}))
    assert signer.count(petition) == 0


def test_old_link_never_confirms_a_later_signature_with_the_same_id(signer, client, app, petition):
    """SQLite may give a new row the id of a deleted one; the link names the person too."""
    old_path = pending(signer, petition, "first@example.kg")
    with app.app_context():
        db.session.execute(delete(Signature))
        db.session.commit()
    pending(signer, petition, "second@example.kg")

    assert_does_not_work(client.get(old_path))
    assert_does_not_work(
        client.post(old_path, data={"csrf_token": any_csrf_token(client, petition)})
    )
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]


# --- expired links ---------------------------------------------------------------------------


def test_expired_link_offers_a_new_one(signer, client, app, petition, mailbox):
    old = expired(app, pending(signer, petition))

    page = client.get(old)
    text = page_text(page)
    assert page.status_code == 410, text
    assert "This link has expired" in text
    assert "is not counted yet" in text
    assert "Send me a new link" in text
    assert f'action="{old}/resend"' in text
    assert_private(page)

    # Pressing the confirm button of an old page on an expired link does not count either.
    refused = client.post(old, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refused.status_code == 410
    assert signer.count(petition) == 0

    sent = client.post(
        f"{old}/resend", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/petitions/{petition}/signed"
    assert "Check your email" in page_text(client.get(sent.headers["Location"]))

    fresh = signer.confirmation_path(EMAIL)
    assert len(mailbox.to(EMAIL)) == 2
    assert fresh != old
    confirmed = signer.confirm(fresh)
    assert "Your signature is confirmed" in page_text(confirmed)
    assert signer.count(petition) == 1

    # The expired link now just says so; nothing more is counted or sent.
    again = client.get(old)
    assert again.status_code == 200
    assert "Already confirmed" in page_text(again)
    assert signer.count(petition) == 1


def test_link_just_within_its_lifetime_still_works(signer, app, petition):
    path = pending(signer, petition)
    nearly = backdated(app, path, app.config["CONFIRMATION_MAX_AGE_SECONDS"] - 60)
    assert "Your signature is confirmed" in page_text(signer.confirm(nearly))
    assert signer.count(petition) == 1


@pytest.fixture
def one_hour_links(app_config):
    app_config["CONFIRMATION_MAX_AGE_SECONDS"] = 3600


def test_link_lifetime_comes_from_config(one_hour_links, signer, client, app, petition):
    path = pending(signer, petition)
    assert client.get(backdated(app, path, 3000)).status_code == 200
    assert client.get(backdated(app, path, 3700)).status_code == 410


def test_resend_from_another_site_is_refused(signer, client, app, petition, mailbox):
    old = expired(app, pending(signer, petition))
    response = client.post(f"{old}/resend", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "This form was sent from another site" in page_text(response)
    assert queued_mails(app) == 1
    assert signature_state(app) == [("pending", 1)]


def test_resend_with_a_changed_link_does_not_work(signer, client, app, petition):
    old = expired(app, pending(signer, petition))
    bad = "/confirm/" + change_char(old.removeprefix("/confirm/"), 3)
    response = client.post(f"{bad}/resend", data={"csrf_token": any_csrf_token(client, petition)})
    assert_does_not_work(response)
    assert queued_mails(app) == 1


def test_resend_stops_at_the_mail_limit_and_says_so(signer, client, app, petition, mailbox):
    for _ in range(3):
        signer.sign(petition, EMAIL)
    old = expired(app, signer.confirmation_path(EMAIL))
    assert len(mailbox.to(EMAIL)) == 3

    response = client.post(f"{old}/resend", data={"csrf_token": any_csrf_token(client, petition)})
    text = page_text(response)
    assert response.status_code == 429, text
    assert "cannot send another" in text
    assert "Check your email" not in text
    assert_private(response)
    signer.deliver()
    assert len(mailbox.to(EMAIL)) == 3
    assert signature_state(app) == [("pending", 3)]


def test_expired_link_after_the_petition_closed(signer, client, app, runner, petition):
    old = expired(app, pending(signer, petition))
    token = any_csrf_token(client, petition)
    close(runner, petition)
    page = client.get(old)
    text = page_text(page)
    assert page.status_code == 409, text
    assert "This petition is not open for signatures" in text
    assert "Send me a new link" not in text
    response = client.post(f"{old}/resend", data={"csrf_token": token})
    assert response.status_code == 409
    assert "This petition is not open for signatures" in page_text(response)
    assert queued_mails(app) == 1


# --- used links, GET, CSRF, closed petitions -------------------------------------------------


def test_replayed_link_says_already_confirmed(signer, client, app, petition):
    path = pending(signer, petition)
    assert "Your signature is confirmed" in page_text(signer.confirm(path))

    for response in (client.get(path), signer.confirm(path)):
        assert response.status_code == 200
        assert "Already confirmed" in page_text(response)
        assert_private(response)
    # A POST with the form of the first visit (a double click) changes nothing either.
    token = any_csrf_token(client, petition)
    replay = client.post(path, data={"csrf_token": token})
    assert "Already confirmed" in page_text(replay)
    assert signer.count(petition) == 1
    assert signature_state(app) == [("confirmed", 1)]


def test_opening_the_link_never_counts(signer, client, app, petition):
    path = pending(signer, petition)
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200
        assert "Confirm my signature" in page_text(page)
        assert_private(page)
    assert client.head(path).status_code == 200
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": None, "Sec-Fetch-Site": "cross-site"},
        {"Origin": None},
    ],
    ids=["other-origin", "cross-site-fetch", "no-header"],
)
def test_confirm_from_another_site_is_refused(signer, client, app, petition, headers):
    """A page elsewhere that learnt the link (from a forwarded mail) cannot press the button
    in the signer's browser; the signer still can."""
    path = pending(signer, petition)
    client.get(path)
    response = client.post(path, headers=headers)
    text = page_text(response)
    assert response.status_code == 403, text
    assert "This form was sent from another site" in text
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]
    # Reloading the link and pressing the button works.
    assert "Your signature is confirmed" in page_text(signer.confirm(path))


def test_the_link_confirms_in_any_browser(signer, app, petition):
    """The button needs no session: the signed link is what proves the signer got the mail
    (a phone's mail app may open it in another browser than the one that signed)."""
    path = pending(signer, petition)
    confirmed = app.test_client().post(path)
    assert "Your signature is confirmed" in page_text(confirmed)


def test_confirm_after_the_petition_closed(signer, client, app, runner, petition):
    path = pending(signer, petition)
    page = client.get(path)
    close(runner, petition)

    response = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    text = page_text(response)
    assert response.status_code == 409, text
    assert "This petition is not open for signatures" in text
    assert_private(response)
    reopened = client.get(path)
    assert reopened.status_code == 409
    assert "not open for signatures" in page_text(reopened)
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]


def test_confirmed_signature_still_counts_after_closing(signer, client, runner, petition):
    path = pending(signer, petition)
    signer.confirm(path)
    close(runner, petition)
    page = client.get(path)
    assert page.status_code == 200
    assert "Already confirmed" in page_text(page)
    assert signer.count(petition) == 1


def test_confirm_after_the_deadline_passed(signer, client, app, petition):
    """The deadline passed but no worker has closed the petition yet: still no counting."""
    path = pending(signer, petition)
    page = client.get(path)
    move_deadline_to_past(app, petition)
    response = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 409
    assert "This petition is not open for signatures" in page_text(response)
    assert signer.count(petition) == 0
    assert signature_state(app) == [("pending", 1)]
