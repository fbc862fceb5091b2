"""Issue 9: at most MAIL_CAP_PER_RECIPIENT account and signing emails reach one address per
UTC day, whatever asks for them (petitions/mailcap.py, applied by the mail worker). Counted at
the test SMTP server: what the site could use to mail-bomb someone is what arrives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from petitions import mailcap
from petitions.extensions import db
from petitions.models import MailRecipientCount, OutboxMessage, utcnow
from petitions.worker import housekeeping
from tests.fixtures.actors import csrf_token, post_update
from tests.fixtures.app import run_housekeeping
from tests.fixtures.threads import run_in_threads

CAP = 5
ATTEMPTS = 15


@pytest.fixture
def cap(app):
    """The production cap (the tests' config allows many mails to one address)."""
    app.config["MAIL_CAP_PER_RECIPIENT"] = CAP
    return CAP


def sign_up(client, email: str):
    token = csrf_token(client.get("/account/signup").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "display_name": "Aigul",
        "email": email,
        "password": "correct horse battery",
        "password2": "correct horse battery",
        "consent": "y",
    }
    response = client.post("/account/signup", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)


def request_reset(client, email: str):
    token = csrf_token(client.get("/account/reset").get_data(as_text=True))
    response = client.post("/account/reset", data={"csrf_token": token, "email": email})
    assert response.status_code == 303


def test_fifteen_sign_ups_of_one_address_send_it_at_most_the_cap(cap, client, mailbox, deliver):
    for _ in range(ATTEMPTS):
        sign_up(client, "victim@example.kg")
    deliver()
    assert len(mailbox.to("victim@example.kg")) == cap


def test_fifteen_password_resets_of_one_address_send_it_at_most_the_cap(
    cap, client, make_user, mailbox, deliver
):
    make_user(email="victim@example.kg")
    for _ in range(ATTEMPTS):
        request_reset(client, "victim@example.kg")
    deliver()
    assert len(mailbox.to("victim@example.kg")) == cap


def test_the_cap_counts_every_kind_of_account_and_signing_mail_together(
    cap, client, signer, petition, make_user, mailbox, deliver
):
    make_user(email="victim@example.kg")
    for _ in range(3):
        request_reset(client, "victim@example.kg")
    for _ in range(3):
        sign_up(client, "victim@example.kg")
    signer.sign(petition, "victim@example.kg")
    deliver()
    assert len(mailbox.to("victim@example.kg")) == cap


def test_one_mailbox_however_its_address_is_written_has_one_cap(cap, client, mailbox, deliver):
    spellings = [f"victim+{n}@example.kg" for n in range(ATTEMPTS)]
    for email in spellings:
        sign_up(client, email)
    deliver()
    assert sum(len(mailbox.to(email)) for email in spellings) == cap


def test_fifteen_addresses_each_get_their_own_mail(cap, client, mailbox, deliver):
    addresses = [f"person{n}@example.kg" for n in range(ATTEMPTS)]
    for email in addresses:
        sign_up(client, email)
    deliver()
    assert [len(mailbox.to(email)) for email in addresses] == [1] * ATTEMPTS


def test_a_withheld_message_keeps_no_address_and_says_why(app, cap, client, deliver):
    for _ in range(cap + 1):
        request_reset(client, "nobody-has-this@example.kg")
        sign_up(client, "victim@example.kg")
    assert deliver().withheld == 1
    with app.app_context():
        withheld = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.last_error == mailcap.WITHHELD_REASON)
        ).one()
        assert (withheld.kind, withheld.to_address, withheld.sent_at) == (
            "account_confirm",
            None,
            None,
        )
        assert withheld.failed_at is not None
        db.session.remove()


def test_a_petition_update_reaches_a_signer_whose_cap_is_reached(
    app, client, organiser, make_petition, mailbox, deliver, make_signature
):
    """Updates, responses and closings go to signers who asked for them: not capped."""
    app.config["MAIL_CAP_PER_RECIPIENT"] = 1
    petition_id = make_petition(owner_id=organiser.user_id)
    make_signature(petition_id, "follower@example.kg", wants_updates=True)
    stranger = app.test_client()
    for _ in range(2):
        request_reset(stranger, "follower@example.kg")
        sign_up(stranger, "follower@example.kg")
    deliver()
    assert len(mailbox.to("follower@example.kg")) == 1  # the cap is reached
    assert post_update(client, petition_id, "We met the council", "Good news.").status_code == 303
    run_housekeeping(app)
    deliver()
    assert [m["Subject"] for m in mailbox.to("follower@example.kg")][1:] == [
        "Update: We met the council"
    ]


def test_a_message_that_could_not_be_delivered_gives_its_place_back(app, client, mailbox, deliver):
    app.config["MAIL_CAP_PER_RECIPIENT"] = 1
    mailbox.refuse.add("victim@example.kg")
    sign_up(client, "victim@example.kg")
    assert deliver().failed == 1
    mailbox.refuse.clear()
    sign_up(client, "victim@example.kg")
    deliver()
    assert len(mailbox.to("victim@example.kg")) == 1


def test_parallel_workers_cannot_both_take_the_last_place(app):
    """The conditional upsert: twenty reservations at once for one recipient, five succeed."""

    def reserve() -> bool:
        with app.app_context():
            try:
                taken = mailcap.reserve(db.session, "recipient-key", date(2026, 12, 2), CAP)
                db.session.commit()
                return taken
            finally:
                db.session.remove()

    assert sum(run_in_threads([reserve] * 20)) == CAP


def test_housekeeping_forgets_the_counts_of_past_days(app):
    now = utcnow()
    today = now.date()
    with app.app_context():
        for age in range(4):
            mailcap.reserve(db.session, "recipient-key", today - timedelta(days=age), CAP)
        db.session.commit()
        housekeeping(db.session, app.config, now=now)
        kept = sorted(db.session.scalars(select(MailRecipientCount.day)))
        db.session.remove()
    assert kept == [today - timedelta(days=1), today]
