"""Moderation end to end: the queue, every decision with its email (real SMTP server), the public
page each decision leads to, corrections, official responses, the audit log, and two moderators
acting at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from petitions.extensions import db
from petitions.models import EventAction, OutboxMessage, PetitionEvent, utcnow
from petitions.services import moderation
from petitions.services.moderation import ModerationRefused, Refusal
from petitions.worker import housekeeping
from tests.fixtures.actors import csrf_token, log_in_client
from tests.fixtures.mail import body_text
from tests.fixtures.threads import run_in_threads

ORGANISER = "organiser@example.kg"


@pytest.fixture
def app_config(app_config):
    app_config["DEFAULT_PETITION_DAYS"] = 90
    return app_config


@pytest.fixture
def organiser_id(make_user):
    return make_user(email=ORGANISER, role="organiser", name="Aigul Organiser")


@pytest.fixture
def moderator_id(make_user, login_as):
    user_id = make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")
    login_as(user_id)
    return user_id


def post(client, url: str, data: dict, *, page: str | None = None):
    """POST a moderation form with the CSRF token of the page it is on."""
    html = client.get(page or url.rsplit("/", 1)[0]).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data})


def review_url(petition_id: int) -> str:
    return f"/moderation/petitions/{petition_id}"


#: What the fixtures' petitions went through before the test (make_petition creates, opens, closes).
SET_UP = ("created", "opened", "closed")


def events(app, petition_id: int) -> list[PetitionEvent]:
    """The petition's audit log since it was set up, oldest first."""
    with app.app_context():
        found = list(
            db.session.scalars(
                select(PetitionEvent)
                .where(PetitionEvent.petition_id == petition_id)
                .where(PetitionEvent.action.not_in(SET_UP))
                .order_by(PetitionEvent.id)
            )
        )
        db.session.expunge_all()
        return found


# --- the queue and the review page ------------------------------------------------------------


def test_queue_lists_the_longest_waiting_first(client, moderator_id, make_queued_petition):
    newest = make_queued_petition("Newest", waited=timedelta(minutes=5))
    oldest = make_queued_petition("Oldest", waited=timedelta(days=3), sponsors=7)
    middle = make_queued_petition("Middle", waited=timedelta(hours=5), sponsors=2)
    page = client.get("/moderation/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index("Oldest") < html.index("Middle") < html.index("Newest")
    rows = html.split('data-petition="')[1:]
    assert [int(r.split('"')[0]) for r in rows] == [oldest, middle, newest]
    assert "3 days" in rows[0] and ">7<" in rows[0]
    assert "5 hours" in rows[1] and ">2<" in rows[1]


def test_queue_shows_only_petitions_in_moderation(client, moderator_id, make_petition):
    make_petition(state="open", title="Already open")
    html = client.get("/moderation/").get_data(as_text=True)
    assert "Already open" not in html
    assert "No petition is waiting" in html


def test_review_page_shows_text_organiser_sponsors_history(
    app, client, moderator_id, organiser_id, make_queued_petition
):
    petition_id = make_queued_petition(owner_id=organiser_id, sponsors=2)
    html = client.get(review_url(petition_id)).get_data(as_text=True)
    for expected in (
        "Build a bridge in Osh",
        "Build a footbridge over the Ak-Buura river.",
        "Children cross the road",
        "Osh city council",
        "Aigul Organiser",
        ORGANISER,
        "Sponsors (2)",
        "Sponsor 0",
        "Approve and open for 90 days",
    ):
        assert expected in html, expected


# --- decisions ----------------------------------------------------------------------------------


def test_approve_opens_with_the_default_deadline(
    app, client, moderator_id, make_queued_petition, get_petition
):
    petition_id = make_queued_petition()
    before = utcnow()
    response = post(client, f"{review_url(petition_id)}/approve", {"note": "Fine."})
    assert response.status_code == 303 and response.location.endswith("/moderation/")
    queue = client.get(response.location).get_data(as_text=True)
    assert "The petition is open for signatures." in queue
    petition = get_petition(petition_id)
    assert petition.state == "open"
    assert petition.opened_at >= before
    assert petition.closes_at - petition.opened_at == timedelta(days=90)
    public = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert f'action="/petitions/{petition_id}/sign' in public
    [event] = events(app, petition_id)
    assert (event.action, event.actor_id, event.note) == (
        EventAction.APPROVED,
        moderator_id,
        "Fine.",
    )
    assert event.details["closes_at"].startswith(petition.closes_at.date().isoformat())


def test_reject_emails_the_organiser_and_shows_the_reason_publicly(
    app, client, mailbox, deliver, moderator_id, organiser_id, make_queued_petition, get_petition
):
    petition_id = make_queued_petition(owner_id=organiser_id)
    note = "A petition asking the same is open: see petition 12."
    response = post(
        client,
        f"{review_url(petition_id)}/reject",
        {"reason": "duplicate", "note": note, "confirm": "y"},
    )
    assert response.status_code == 303
    petition = get_petition(petition_id)
    assert (petition.state, petition.rejection_reason, petition.rejection_note) == (
        "rejected",
        "duplicate",
        note,
    )
    [event] = events(app, petition_id)
    assert (event.action, event.actor_id, event.reason, event.note) == (
        EventAction.REJECTED,
        moderator_id,
        "duplicate",
        note,
    )

    assert deliver().sent == 1
    mail = mailbox.last_to(ORGANISER)
    text = body_text(mail)
    assert "rejected" in mail["Subject"]
    assert "Duplicate of an existing petition" in text and note in text
    assert f"http://localhost/petitions/{petition_id}" in text

    public = client.get(f"/petitions/{petition_id}")
    html = public.get_data(as_text=True)
    assert public.status_code == 200
    assert "This petition was rejected" in html
    assert "There is already a petition about this issue" in html and note in html
    assert 'id="sign"' not in html and "data-count" not in html  # no form, no total
    assert client.get(f"/petitions/{petition_id}/count.json").status_code == 404
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    sign = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": csrf_token(page)})
    assert sign.status_code == 409


def test_hide_takes_the_petition_out_of_public_view(
    app, client, moderator_id, make_petition, get_petition
):
    petition_id = make_petition(state="open")
    assert client.get(f"/petitions/{petition_id}").status_code == 200
    response = post(
        client,
        f"{review_url(petition_id)}/hide",
        {"reason": "Incites hatred against a group.", "confirm": "y"},
    )
    assert response.status_code == 303
    petition = get_petition(petition_id)
    assert (petition.state, petition.hidden_reason) == ("hidden", "Incites hatred against a group.")
    assert client.get(f"/petitions/{petition_id}").status_code == 404
    assert client.get(f"/petitions/{petition_id}/count.json").status_code == 404
    [event] = events(app, petition_id)
    assert (event.action, event.actor_id, event.note) == (
        EventAction.HIDDEN,
        moderator_id,
        "Incites hatred against a group.",
    )
    html = client.get(review_url(petition_id)).get_data(as_text=True)
    assert "Incites hatred against a group." in html and "Hide this petition" not in html


def test_send_back_makes_a_draft_and_emails_the_organiser(
    app, client, mailbox, deliver, moderator_id, organiser_id, make_queued_petition, get_petition
):
    petition_id = make_queued_petition(owner_id=organiser_id)
    note = "Please name the street where the bridge should go."
    response = post(client, f"{review_url(petition_id)}/send-back", {"note": note, "confirm": "y"})
    assert response.status_code == 303
    petition = get_petition(petition_id)
    assert (petition.state, petition.changes_requested) == ("draft", note)
    assert client.get(f"/petitions/{petition_id}").status_code == 404
    [event] = events(app, petition_id)
    assert (event.action, event.actor_id, event.note) == (EventAction.SENT_BACK, moderator_id, note)
    deliver()
    mail = mailbox.last_to(ORGANISER)
    assert "needs changes" in mail["Subject"] and note in body_text(mail)


def test_no_email_when_the_petition_has_no_organiser(
    app, client, mailbox, deliver, moderator_id, make_queued_petition
):
    petition_id = make_queued_petition(owner_id=None)
    response = post(
        client,
        f"{review_url(petition_id)}/reject",
        {"reason": "advertising", "note": "Sells cars.", "confirm": "y"},
    )
    assert response.status_code == 303
    assert deliver().sent == 0


# --- corrections ----------------------------------------------------------------------------------


def test_edit_records_old_and_new_and_marks_the_page(
    app, client, moderator_id, make_petition, get_petition
):
    petition_id = make_petition(state="open", title="Do not sned troops abroad")
    response = post(
        client,
        f"{review_url(petition_id)}/edit",
        {
            "seen": moderation.text_fingerprint(get_petition(petition_id)),
            "title": "Do not send troops abroad",
            "action": "Vote against sending troops abroad.",
            "background": "Our soldiers defend our homeland.",
            "note": "Typo in the title.",
        },
    )
    assert response.status_code == 303
    petition = get_petition(petition_id)
    assert petition.title == "Do not send troops abroad" and petition.edited_at is not None
    [event] = events(app, petition_id)
    assert event.action == EventAction.EDITED and event.actor_id == moderator_id
    assert event.details == {"title": ["Do not sned troops abroad", "Do not send troops abroad"]}
    assert event.note == "Typo in the title."
    public = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Edited by the moderators on" in public
    review = client.get(review_url(petition_id)).get_data(as_text=True)
    assert "Do not sned troops abroad" in review  # the history keeps the old value


def test_edit_on_stale_text_is_refused(app, client, moderator_id, make_petition, get_petition):
    petition_id = make_petition(state="open")
    stale = moderation.text_fingerprint(get_petition(petition_id))
    form = {
        "seen": stale,
        "title": "A",
        "action": "Vote against sending troops abroad.",
        "background": "",
    }
    assert post(client, f"{review_url(petition_id)}/edit", form).status_code == 303
    again = post(client, f"{review_url(petition_id)}/edit", {**form, "title": "B"})
    assert again.status_code == 409
    assert "Someone changed this petition" in again.get_data(as_text=True)
    assert get_petition(petition_id).title == "A"


def test_edit_without_a_change_saves_nothing(
    app, client, moderator_id, make_petition, get_petition
):
    petition_id = make_petition(state="open")
    petition = get_petition(petition_id)
    response = post(
        client,
        f"{review_url(petition_id)}/edit",
        {
            "seen": moderation.text_fingerprint(petition),
            "title": petition.title,
            "action": petition.action,
            "background": petition.background,
        },
    )
    assert response.status_code == 422
    assert "nothing was saved" in response.get_data(as_text=True)
    assert events(app, petition_id) == []


def test_only_published_petitions_can_be_edited(app, client, moderator_id, make_queued_petition):
    petition_id = make_queued_petition()
    response = post(
        client,
        f"{review_url(petition_id)}/edit",
        {"seen": "x", "title": "T", "action": "A", "background": ""},
    )
    assert response.status_code == 409
    assert "already handled" in response.get_data(as_text=True)


# --- official responses -------------------------------------------------------------------------


def test_response_is_published_and_emailed_to_opted_in_signers(
    app, client, mailbox, deliver, moderator_id, make_petition, make_signature, get_petition
):
    petition_id = make_petition(state="closed")
    make_signature(petition_id, "wants@example.kg", wants_updates=True)
    make_signature(petition_id, "quiet@example.kg")
    make_signature(petition_id, "pending@example.kg", wants_updates=True, confirmed_at=None)
    make_signature(petition_id, None, name="Erased", wants_updates=True)
    text = "The Jogorku Kenesh debated the petition on 3 March and voted against the deployment."
    response = post(client, f"{review_url(petition_id)}/response", {"text": text, "confirm": "y"})
    assert response.status_code == 303
    petition = get_petition(petition_id)
    assert petition.response_text == text and petition.response_at is not None
    assert petition.response_mail_after is None

    assert deliver().sent == 1
    mail = mailbox.last_to("wants@example.kg")
    assert "A response to the petition" in mail["Subject"]
    assert text in body_text(mail) and "Hello Wants" in body_text(mail)
    for address in ("quiet@example.kg", "pending@example.kg", "erased@example.kg"):
        assert mailbox.to(address) == []

    public = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Official response" in public and text in public
    [event] = events(app, petition_id)
    assert (event.action, event.actor_id, event.note) == (EventAction.RESPONSE, moderator_id, text)

    again = post(client, f"{review_url(petition_id)}/response", {"text": "Other", "confirm": "y"})
    assert again.status_code == 409
    assert "already has an official response" in again.get_data(as_text=True)


def test_response_mail_is_queued_in_bounded_batches(
    app, client, mailbox, deliver, moderator_id, make_petition, make_signature
):
    app.config.update(RESPONSE_MAIL_BATCH_SIZE=2, RESPONSE_MAIL_MAX_BATCHES=1)
    petition_id = make_petition(state="open")
    addresses = [f"signer{n}@example.kg" for n in range(5)]
    for address in addresses:
        make_signature(petition_id, address, wants_updates=True)
    response = post(
        client, f"{review_url(petition_id)}/response", {"text": "Accepted.", "confirm": "y"}
    )
    assert response.status_code == 303

    def queued() -> int:
        with app.app_context():
            try:
                return db.session.scalar(
                    select(func.count()).where(OutboxMessage.kind == "response")
                )
            finally:
                db.session.remove()

    assert queued() == 2  # one batch in the request
    for expected in (4, 5, 5):  # the worker's housekeeping does the rest, a batch a round
        with app.app_context():
            housekeeping(db.session, app.config, now=utcnow())
            db.session.remove()
        assert queued() == expected
    deliver()
    assert sorted(m["To"] for m in mailbox.messages) == sorted(addresses)


def test_response_refused_on_a_petition_in_moderation(client, moderator_id, make_queued_petition):
    petition_id = make_queued_petition()
    response = post(
        client, f"{review_url(petition_id)}/response", {"text": "Too early.", "confirm": "y"}
    )
    assert response.status_code == 409
    assert "already handled" in response.get_data(as_text=True)


# --- the audit log ------------------------------------------------------------------------------


def test_audit_log_says_who_when_what_why_newest_first(
    app, client, moderator_id, make_queued_petition
):
    first = make_queued_petition("First petition")
    second = make_queued_petition("Second petition")
    assert post(client, f"{review_url(first)}/approve", {}).status_code == 303
    assert (
        post(
            client,
            f"{review_url(second)}/reject",
            {"reason": "not_an_action", "note": "No clear request.", "confirm": "y"},
        ).status_code
        == 303
    )
    html = client.get("/moderation/log").get_data(as_text=True)
    rows = html.split('class="event"')[1:]
    assert len(rows) == 2
    assert "Second petition" in rows[0] and "rejected" in rows[0]
    assert "Marat Moderator" in rows[0] and "Does not ask for a clear action" in rows[0]
    assert "No clear request." in rows[0]
    assert "First petition" in rows[1] and "approved" in rows[1]
    filtered = client.get(f"/moderation/log?petition={first}").get_data(as_text=True)
    assert "First petition" in filtered and "Second petition" not in filtered


def test_audit_log_is_paginated(app, client, moderator_id, make_queued_petition):
    petition_id = make_queued_petition()
    now = utcnow()
    with app.app_context():
        for n in range(55):
            db.session.add(
                PetitionEvent(
                    petition_id=petition_id,
                    action=EventAction.EDITED,
                    note=f"note-{n:02d};",
                    created_at=now + timedelta(seconds=n),
                )
            )
        db.session.commit()
        db.session.remove()
    first = client.get("/moderation/log").get_data(as_text=True)
    assert "note-54;" in first and "note-05;" in first and "note-04;" not in first
    assert "Page 1 of 2" in first
    second = client.get("/moderation/log?page=2").get_data(as_text=True)
    assert "note-04;" in second and "note-00;" in second and "note-05;" not in second
    assert client.get("/moderation/log?page=99&petition=abc").status_code == 200


# --- two moderators at once ----------------------------------------------------------------------


def test_two_moderators_at_once_one_wins(app, make_user, make_queued_petition, get_petition):
    """Both databases: the conditional UPDATE lets one decision through; the other is told."""
    ids = [make_user(email=f"mod{n}@example.kg", role="moderator") for n in range(2)]
    for _ in range(5):
        petition_id = make_queued_petition()

        def act(decision: str, moderator_id: int, petition_id: int = petition_id):
            def run():
                with app.app_context():
                    try:
                        if decision == "approve":
                            moderation.approve(
                                db.session,
                                petition_id,
                                moderator_id=moderator_id,
                                now=utcnow(),
                                duration_days=30,
                                base_url="http://localhost",
                            )
                        else:
                            moderation.reject(
                                db.session,
                                petition_id,
                                moderator_id=moderator_id,
                                now=utcnow(),
                                reason="other",
                                note="No.",
                                base_url="http://localhost",
                            )
                        db.session.commit()
                        return decision
                    except ModerationRefused as refused:
                        db.session.rollback()
                        return refused.refusal
                    finally:
                        db.session.remove()

            return run

        results = run_in_threads([act("approve", ids[0]), act("reject", ids[1])])
        assert sorted(map(str, results)) in (
            ["already_handled", "approve"],
            ["already_handled", "reject"],
        )
        winner = next(r for r in results if r != Refusal.ALREADY_HANDLED)
        assert get_petition(petition_id).state == ("open" if winner == "approve" else "rejected")
        assert len(events(app, petition_id)) == 1


def test_two_moderators_through_the_web_the_second_is_told(
    app, make_user, make_queued_petition, get_petition
):
    petition_id = make_queued_petition()
    clients = []
    for n in range(2):
        user_id = make_user(email=f"web{n}@example.kg", role="moderator", name=f"Mod {n}")
        web = app.test_client()
        log_in_client(app, web, user_id)
        html = web.get(review_url(petition_id)).get_data(as_text=True)
        clients.append((web, csrf_token(html)))

    def approve(web, token):
        return lambda: web.post(f"{review_url(petition_id)}/approve", data={"csrf_token": token})

    def reject(web, token):
        data = {"csrf_token": token, "reason": "other", "note": "No.", "confirm": "y"}
        return lambda: web.post(f"{review_url(petition_id)}/reject", data=data)

    first, second = run_in_threads([approve(*clients[0]), reject(*clients[1])])
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [303, 409]
    loser = first if first.status_code == 409 else second
    assert "already handled" in loser.get_data(as_text=True)
    assert get_petition(petition_id).state in ("open", "rejected")
    assert len(events(app, petition_id)) == 1


# --- bad input: a clear message, never a 500 ------------------------------------------------------

LONG = "x" * 2001


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("reject", {"note": "Why", "confirm": "y"}, "Please choose a reason"),
        ("reject", {"reason": "nonsense", "note": "Why", "confirm": "y"}, "from the list"),
        ("reject", {"reason": "other", "confirm": "y"}, "Please explain the rejection"),
        ("reject", {"reason": "other", "note": LONG, "confirm": "y"}, "at most 2000 characters"),
        ("reject", {"reason": "other", "note": "bad\x00byte", "confirm": "y"}, "characters we"),
        ("reject", {"reason": "other", "note": "Why"}, "Please tick the box"),
        ("hide", {"confirm": "y"}, "Please give the reason for hiding it"),
        ("hide", {"reason": "Why", "confirm": ""}, "Please tick the box"),
        ("hide", {"reason": "a\x1bb", "confirm": "y"}, "characters we"),
        ("send-back", {"note": "", "confirm": "y"}, "Please say what should change"),
        ("send-back", {"note": LONG, "confirm": "y"}, "at most 2000 characters"),
        ("approve", {"note": LONG}, "at most 2000 characters"),
    ],
)
def test_bad_input_gets_a_clear_message(
    app, client, moderator_id, make_queued_petition, get_petition, action, data, message
):
    petition_id = make_queued_petition()
    response = post(client, f"{review_url(petition_id)}/{action}", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert get_petition(petition_id).state == "moderation"
    assert events(app, petition_id) == []


@pytest.mark.parametrize("action", ["approve", "reject", "hide", "send-back", "edit", "response"])
def test_missing_csrf_token_is_refused(client, moderator_id, make_queued_petition, action):
    petition_id = make_queued_petition()
    response = client.post(
        f"{review_url(petition_id)}/{action}", data={"reason": "other", "note": "x", "confirm": "y"}
    )
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("action", ["approve", "reject", "hide", "send-back", "edit", "response"])
def test_unknown_petition_is_404(client, moderator_id, make_petition, action):
    token = csrf_token(client.get(review_url(make_petition(state="open"))).get_data(as_text=True))
    for petition_id in (999999, 2**31, 2**70):
        url = f"/moderation/petitions/{petition_id}/{action}"
        data = {"csrf_token": token, "reason": "other", "note": "x", "confirm": "y"}
        assert client.post(url, data=data).status_code == 404
    assert client.get(review_url(999999)).status_code == 404
    assert client.get(review_url(2**70)).status_code == 404


def test_wrong_state_is_refused_with_a_clear_message(
    app, client, moderator_id, make_petition, get_petition
):
    petition_id = make_petition(state="open")
    for action, data in (
        ("approve", {}),
        ("reject", {"reason": "other", "note": "No.", "confirm": "y"}),
        ("send-back", {"note": "Change it.", "confirm": "y"}),
    ):
        response = post(client, f"{review_url(petition_id)}/{action}", data)
        assert response.status_code == 409
        assert "already handled: it is now open" in response.get_data(as_text=True)
    assert get_petition(petition_id).state == "open"
    assert events(app, petition_id) == []


def test_response_mail_queued_by_two_workers_at_once_goes_once(app, make_petition, make_signature):
    """Both databases: batches are claimed by a conditional UPDATE of the progress marker."""
    petition_id = make_petition(state="open")
    addresses = [f"s{n}@example.kg" for n in range(30)]
    for address in addresses:
        make_signature(petition_id, address, wants_updates=True)
    with app.app_context():
        moderation.attach_response(
            db.session, petition_id, moderator_id=None, now=utcnow(), text="Done."
        )
        db.session.commit()
        db.session.remove()

    def worker():
        with app.app_context():
            try:
                return moderation.queue_response_mail(
                    db.session, base_url="http://localhost", batch_size=3, max_batches=20
                )
            finally:
                db.session.remove()

    results = run_in_threads([worker, worker])
    assert sum(results) == 30
    with app.app_context():
        queued = db.session.scalars(
            select(OutboxMessage.to_address).where(OutboxMessage.kind == "response")
        ).all()
        assert sorted(queued) == sorted(addresses)
        db.session.remove()


def test_default_petition_days_comes_from_the_environment(monkeypatch):
    from config import TestingConfig

    monkeypatch.setenv("DEFAULT_PETITION_DAYS", "30")
    monkeypatch.setenv("RESPONSE_MAIL_BATCH_SIZE", "7")
    settings = TestingConfig.from_environment()
    assert settings["DEFAULT_PETITION_DAYS"] == 30
    assert settings["RESPONSE_MAIL_BATCH_SIZE"] == 7


@pytest.mark.parametrize("reason", ["offensive", "defamatory"])
def test_offensive_or_defamatory_text_is_not_republished(
    client, moderator_id, make_queued_petition, reason
):
    petition_id = make_queued_petition("Insulting title")
    response = post(
        client,
        f"{review_url(petition_id)}/reject",
        {"reason": reason, "note": "Names a private person.", "confirm": "y"},
    )
    assert response.status_code == 303
    html = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Rejected petition" in html and "Names a private person." in html
    assert "Insulting title" not in html and "Ak-Buura" not in html
