"""Privacy of the signing flow: the site never tells anyone whether an address has signed, pages
that carry a token are not cached or leaked, and an address is kept only as long as needed.
"""

from __future__ import annotations

import html
import re

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, text

from petitions.extensions import db
from petitions.models import OutboxMessage, Signature
from petitions.tokens import CONFIRM_SALT
from tests.fixtures.actors import SignerActions
from tests.fixtures.mail import body_text

#: Headers that legitimately differ between two identical answers.
VARYING_HEADERS = {"Date", "Set-Cookie"}


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def observable(response) -> tuple:
    """What a third party sees of an answer: status, headers (but the clock and cookie), body."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VARYING_HEADERS)
    return response.status_code, headers, response.get_data()


def probe(app, mailbox, deliver, petition_id: int, email: str):
    """Sign as a stranger would, in a fresh browser: the answer and the page it leads to."""
    stranger = SignerActions(app.test_client(), mailbox, deliver)
    answer = stranger.sign(petition_id, email, name="Someone Else", region="")
    landing = stranger.client.get(answer.headers["Location"])
    return observable(answer), observable(landing)


def test_signing_answers_the_same_whatever_the_address_did_before(
    app, signer, mailbox, deliver, petition
):
    # Set the stage: one address of each history.
    signer.sign(petition, "pending@example.kg")
    for _ in range(3):
        signer.sign(petition, "capped@example.kg")
    signer.sign_and_confirm(petition, "confirmed@example.kg")
    signer.sign_and_confirm(petition, "noticed@example.kg")
    for _ in range(2):
        signer.sign(petition, "noticed@example.kg")
    deliver()
    before = {m["To"]: len(mailbox.to(m["To"])) for m in mailbox.messages}
    assert before == {
        "pending@example.kg": 1,
        "capped@example.kg": 3,
        "confirmed@example.kg": 1,
        "noticed@example.kg": 3,
    }

    addresses = [
        "new@example.kg",
        "pending@example.kg",
        "capped@example.kg",
        "confirmed@example.kg",
        "noticed@example.kg",
        "Confirmed+x@Example.KG",
    ]
    seen = {a: probe(app, mailbox, deliver, petition, a) for a in addresses}
    reference = seen["new@example.kg"]
    assert reference[0][0] == 303
    assert reference[1][0] == 200
    assert b"Check your email" in reference[1][2]
    for address, answer in seen.items():
        assert answer[0] == reference[0], f"the redirect differs for {address}"
        assert answer[1] == reference[1], f"the page after it differs for {address}"

    # Only the mailboxes can tell the difference.
    deliver()
    delivered_to = {a: a.rpartition("@")[0] + "@" + a.rpartition("@")[2].lower() for a in addresses}
    received = {a: mailbox.to(delivered_to[a])[before.get(a, 0) :] for a in addresses}
    subjects = {a: [m["Subject"].split(":")[0] for m in mails] for a, mails in received.items()}
    assert subjects == {
        "new@example.kg": ["Confirm your signature"],
        "pending@example.kg": ["Confirm your signature"],
        "capped@example.kg": [],
        "confirmed@example.kg": ["You have already signed"],
        "noticed@example.kg": [],
        "Confirmed+x@Example.KG": ["You have already signed"],
    }
    assert signer.count(petition) == 2


def test_redirect_and_landing_page_carry_no_address_or_token(signer, client, petition):
    response = signer.sign(petition, "aibek@example.kg")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == f"/petitions/{petition}/signed"
    landing = client.get(location)
    assert landing.status_code == 200
    body = page_text(landing)
    assert "aibek" not in body
    assert "/confirm/" not in body
    assert landing.headers["Referrer-Policy"] == "same-origin"


# --- pages that carry a token ----------------------------------------------------------------


def assert_token_page(response, status: int) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, page_text(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # No link to another site that the token could leak to (Referer) and no signer details.
    assert not re.search(r"""(href|src|action)=["']?(https?:)?//""", body)
    assert "Aibek" not in body and "aibek@" not in body


@pytest.fixture
def link(signer, petition) -> str:
    assert signer.sign(petition, "aibek@example.kg", name="Aibek Asanov").status_code == 303
    return signer.confirmation_path("aibek@example.kg")


def test_confirm_pages_are_never_cached(signer, client, petition, link):
    assert_token_page(client.get(link), 200)
    assert_token_page(signer.confirm(link), 200)  # "Your signature is confirmed"
    assert_token_page(client.get(link), 200)  # "Already confirmed"
    assert_token_page(signer.confirm(link), 200)
    assert_token_page(client.get(link[:-4]), 404)


def test_expired_and_closed_link_pages_are_never_cached(app, client, runner, petition, link):
    class LastMonth(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 30 * 24 * 3600

    secret = app.config["SECRET_KEY"]
    payload = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT).loads(link.split("/")[-1])
    old = "/confirm/" + URLSafeTimedSerializer(secret, salt=CONFIRM_SALT, signer=LastMonth).dumps(
        payload
    )
    assert_token_page(client.get(old), 410)
    assert runner.invoke(args=["petition", "close", str(petition)]).exit_code == 0
    assert_token_page(client.get(link), 409)


def test_every_page_sets_a_referrer_policy(client, petition, link):
    for path in ("/", f"/petitions/{petition}", f"/petitions/{petition}/signed", link):
        assert client.get(path).headers["Referrer-Policy"] == "same-origin", path
    assert client.get("/no-such-page").headers["Referrer-Policy"] == "same-origin"


# --- what is stored --------------------------------------------------------------------------


def stored_signature(app) -> Signature:
    with app.app_context():
        row = db.session.scalars(select(Signature)).one()
        db.session.expunge_all()
        db.session.remove()
    return row


def database_dump(app) -> str:
    """Every row of the tables that could hold an address, as one string."""
    with app.app_context():
        rows = [
            row
            for table in ("signatures", "outbox_messages")
            for row in db.session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
        ]
        db.session.remove()
    return repr(rows).casefold()


def test_address_is_forgotten_once_confirmed(app, signer, petition, mailbox):
    signer.sign(petition, "Aibek.Asanov@Example.KG")
    assert stored_signature(app).email == "Aibek.Asanov@example.kg"  # needed to resend the link
    assert "aibek.asanov@example.kg" in database_dump(app)

    signer.confirm(signer.confirmation_path("Aibek.Asanov@example.kg"))
    row = stored_signature(app)
    assert row.status == "confirmed"
    assert row.email is None
    assert re.fullmatch(r"[0-9a-f]{64}", row.email_key)
    assert (row.name, row.country, row.region) == ("Aibek Asanov", "KG", "Chüy")
    # Neither the signature nor the sent mail keeps the address (or the link) in any form.
    dump = database_dump(app)
    assert "@example.kg" not in dump
    assert "/confirm/" not in dump

    # Signing again sends a notice, and still stores no address.
    signer.sign(petition, "aibek.asanov@example.kg")
    signer.deliver()
    assert mailbox.last_to("aibek.asanov@example.kg")["Subject"].startswith("You have already")
    assert stored_signature(app).email is None
    assert "@example.kg" not in database_dump(app)


def test_address_is_kept_after_confirmation_only_when_updates_were_asked_for(app, signer, petition):
    signer.sign(petition, "aibek@example.kg", wants_updates=True)
    signer.confirm(signer.confirmation_path("aibek@example.kg"))
    row = stored_signature(app)
    assert row.status == "confirmed"
    assert row.wants_updates is True
    assert row.email == "aibek@example.kg"


def test_sent_mail_is_erased_from_the_outbox(app, signer, petition, mailbox):
    signer.sign(petition, "aibek@example.kg")
    signer.deliver()
    assert "/confirm/" in body_text(mailbox.last_to("aibek@example.kg"))
    with app.app_context():
        (message,) = db.session.scalars(select(OutboxMessage)).all()
        assert message.sent_at is not None
        assert message.to_address is None
        assert message.body_text == ""
        assert message.body_html is None
