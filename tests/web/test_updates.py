"""Organisers' updates: posted on an open or closed petition, shown on its public page newest
first, and emailed in bounded, resumable batches to confirmed signers who asked for news.
Mail goes through the real SMTP server and its links are followed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from petitions import outbox
from petitions.extensions import db
from petitions.models import (
    EventAction,
    OutboxMessage,
    PetitionEvent,
    PetitionUpdate,
)
from petitions.models.updates import UPDATE_BODY_MAX, UPDATE_TITLE_MAX
from tests.fixtures.actors import (
    csrf_token,
    new_update_path,
    post_update,
    session_csrf_token,
    update_form,
)
from tests.fixtures.app import run_housekeeping
from tests.fixtures.factories import move_deadline_to_past
from tests.fixtures.mail import body_text, links_in


def queued(app, kind: str) -> list[str]:
    with app.app_context():
        try:
            return list(
                db.session.scalars(
                    select(OutboxMessage.to_address)
                    .where(OutboxMessage.kind == kind)
                    .order_by(OutboxMessage.id)
                )
            )
        finally:
            db.session.remove()


@pytest.fixture
def own_petition(app, organiser, make_petition):
    def make(**kwargs) -> int:
        return make_petition(owner_id=organiser.user_id, **kwargs)

    return make


def test_update_is_shown_and_emailed_to_opted_in_signers(
    app, client, organiser, signer, mailbox, deliver, own_petition, make_signature
):
    petition_id = own_petition()
    signer.sign_and_confirm(petition_id, "wants@example.kg", name="Wants News", wants_updates=True)
    signer.sign_and_confirm(petition_id, "quiet@example.kg", name="Quiet", wants_updates=False)
    signer.sign(petition_id, "pending@example.kg", wants_updates=True)  # never confirmed
    make_signature(petition_id, None, name="Erased", wants_updates=True)
    deliver()
    mailbox.clear()

    first = post_update(client, petition_id, "We met the minister", "She listened.\n\nMore soon.")
    assert first.status_code == 303
    assert first.headers["Location"].endswith(f"/organiser/petitions/{petition_id}")
    assert "Your update is posted" in client.get(first.headers["Location"]).get_data(as_text=True)
    assert queued(app, "update") == ["wants@example.kg"]  # queued by the request itself

    assert deliver().sent == 1
    mail = mailbox.last_to("wants@example.kg")
    assert "We met the minister" in mail["Subject"]
    text = body_text(mail)
    assert "Hello Wants News" in text and "She listened." in text
    for address in ("quiet@example.kg", "pending@example.kg", "erased@example.kg"):
        assert mailbox.to(address) == []
    [unsubscribe] = [link for link in links_in(mail) if "/unsubscribe/" in link]
    assert mail["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    post_update(client, petition_id, "The committee votes Friday", "Come and watch.")
    deliver()
    [petition_link] = [
        link
        for link in links_in(mailbox.last_to("wants@example.kg"))
        if link.endswith(f"/petitions/{petition_id}")
    ]
    public = client.get(petition_link.removeprefix("http://localhost")).get_data(as_text=True)
    assert "Updates from the organiser" in public
    assert public.index("The committee votes Friday") < public.index("We met the minister")
    assert "<p>She listened.</p>" in public

    with app.app_context():
        events = db.session.scalars(
            select(PetitionEvent.note).where(PetitionEvent.action == EventAction.UPDATE_POSTED)
        ).all()
        assert sorted(events) == ["The committee votes Friday", "We met the minister"]
        db.session.remove()


def test_closed_petition_takes_updates_a_draft_does_not(app, client, organiser, own_petition):
    closed = own_petition(state="closed")
    assert post_update(client, closed, "The outcome", "Parliament agreed.").status_code == 303
    draft = own_petition(state="draft")
    page = client.get(new_update_path(draft))
    assert page.status_code == 409
    assert "Updates are for open and closed petitions" in page.get_data(as_text=True)


def test_double_submit_posts_one_update(
    app, client, organiser, mailbox, deliver, own_petition, make_signature
):
    petition_id = own_petition()
    make_signature(petition_id, "wants@example.kg", wants_updates=True)
    data = {**update_form(client, petition_id), "title": "News", "body": "Some news."}
    assert client.post(new_update_path(petition_id), data=data).status_code == 303
    assert client.post(new_update_path(petition_id), data=data).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PetitionUpdate)) == 1
        db.session.remove()
    deliver()
    assert len(mailbox.to("wants@example.kg")) == 1


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "Text", "Please give your update a title."),
        ("Title", "   ", "Please write your update."),
        ("T" * (UPDATE_TITLE_MAX + 1), "Text", f"at most {UPDATE_TITLE_MAX} characters"),
        ("Title", "B" * (UPDATE_BODY_MAX + 1), f"at most {UPDATE_BODY_MAX} characters"),
        ("Title\x07", "Text", "characters we cannot accept"),
        ("Title", "Text\x00more", "characters we cannot accept"),
    ],
)
def test_bad_update_is_refused_with_a_message(
    app, client, organiser, own_petition, title, body, message
):
    petition_id = own_petition()
    response = post_update(client, petition_id, title, body)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PetitionUpdate)) == 0
        db.session.remove()


def test_update_needs_the_csrf_token(app, client, organiser, own_petition):
    petition_id = own_petition()
    form = update_form(client, petition_id)
    response = client.post(
        new_update_path(petition_id),
        data={"creation_key": form["creation_key"], "title": "T", "body": "B"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PetitionUpdate)) == 0
        db.session.remove()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_the_owner_may_post_updates(app, client, make_user, login_as, make_petition, method):
    owner = make_user(email="owner@example.kg")
    petition_id = make_petition(owner_id=owner)
    data = {"csrf_token": session_csrf_token(client), "title": "Hijack", "body": "Not mine."}
    anonymous = client.open(new_update_path(petition_id), method=method, data=data)
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]

    for role in ("organiser", "moderator", "admin"):
        login_as(make_user(email=f"{role}@example.kg", role=role))
        page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
        data["csrf_token"] = csrf_token(page)
        assert (
            client.open(new_update_path(petition_id), method=method, data=data).status_code == 404
        )
    operator_made = make_petition()  # no owner at all
    assert client.get(new_update_path(operator_made)).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PetitionUpdate)) == 0
        db.session.remove()


def test_update_mail_is_batched_and_resumes_after_a_crash_without_duplicates(
    app, client, organiser, mailbox, deliver, own_petition, monkeypatch, make_signature
):
    app.config.update(RESPONSE_MAIL_BATCH_SIZE=2, RESPONSE_MAIL_MAX_BATCHES=1)
    petition_id = own_petition()
    addresses = [f"signer{n}@example.kg" for n in range(7)]
    for address in addresses:
        make_signature(petition_id, address, wants_updates=True)
    assert post_update(client, petition_id, "News", "Some news.").status_code == 303
    assert len(queued(app, "update")) == 2  # one batch in the request

    # The worker crashes half-way through queuing the next batch: its transaction is lost.
    real_enqueue = outbox.enqueue
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_housekeeping(app)
    monkeypatch.setattr(outbox, "enqueue", real_enqueue)
    assert len(queued(app, "update")) == 2

    for expected in (4, 6, 7, 7):  # later rounds resume where the last commit left off
        run_housekeeping(app)
        assert len(queued(app, "update")) == expected
    with app.app_context():
        assert db.session.scalar(select(PetitionUpdate.mail_after)) is None
        db.session.remove()
    deliver()
    assert sorted(m["To"] for m in mailbox.messages) == sorted(addresses)


def closed_mail(mailbox, address: str) -> list:
    return [m for m in mailbox.to(address) if "is closed" in m["Subject"]]


def test_signers_are_told_once_when_the_organiser_closes(
    app, client, organiser, signer, mailbox, deliver, own_petition
):
    petition_id = own_petition()
    signer.sign_and_confirm(petition_id, "wants@example.kg", wants_updates=True)
    signer.sign_and_confirm(petition_id, "quiet@example.kg", wants_updates=False)
    deliver()
    close_path = f"/organiser/petitions/{petition_id}/close"
    page = client.get(close_path).get_data(as_text=True)
    assert client.post(close_path, data={"csrf_token": csrf_token(page)}).status_code == 303
    run_housekeeping(app)
    run_housekeeping(app)
    deliver()
    [mail] = closed_mail(mailbox, "wants@example.kg")
    assert "no longer accepts signatures" in body_text(mail)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert closed_mail(mailbox, "quiet@example.kg") == []


def test_signers_are_told_when_the_deadline_or_an_operator_closes(
    app, runner, mailbox, deliver, make_petition, make_signature
):
    by_deadline = make_petition(title="Deadline petition")
    by_operator = make_petition(title="Operator petition")
    make_signature(by_deadline, "a@example.kg", wants_updates=True)
    make_signature(by_operator, "b@example.kg", wants_updates=True)
    move_deadline_to_past(app, by_deadline)
    run_housekeeping(app)  # closes it, then queues the email
    result = runner.invoke(args=["petition", "close", str(by_operator)])
    assert result.exit_code == 0, result.output
    run_housekeeping(app)
    run_housekeeping(app)
    deliver()
    [a] = closed_mail(mailbox, "a@example.kg")
    assert "Deadline petition" in a["Subject"]
    [b] = closed_mail(mailbox, "b@example.kg")
    assert re.search(r"Operator petition", b["Subject"])


def test_update_mail_queued_by_two_workers_at_once_goes_once(
    app, client, organiser, own_petition, make_signature
):
    """Both databases: a batch is claimed by a conditional UPDATE of the update's marker."""
    from petitions.services import signer_mail
    from tests.fixtures.threads import run_in_threads

    app.config.update(RESPONSE_MAIL_BATCH_SIZE=3, RESPONSE_MAIL_MAX_BATCHES=1)
    petition_id = own_petition()
    addresses = [f"s{n}@example.kg" for n in range(30)]
    for address in addresses:
        make_signature(petition_id, address, wants_updates=True)
    assert post_update(client, petition_id, "News", "Some news.").status_code == 303

    def worker():
        with app.app_context():
            try:
                return signer_mail.queue_signer_mail(
                    db.session, base_url="http://localhost", batch_size=3, max_batches=20
                )
            finally:
                db.session.remove()

    results = run_in_threads([worker, worker])
    assert sum(results) == 27
    assert sorted(queued(app, "update")) == sorted(addresses)
