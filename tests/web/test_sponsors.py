"""Sponsors: the organiser's first supporters sign through an unguessable link before the
petition is public; enough confirmed sponsors send it to moderation, exactly once."""

import contextlib
import threading

import pytest
from sqlalchemy import select, update

from petitions import links
from petitions.emailaddr import identity_key
from petitions.extensions import db
from petitions.models import Petition, Signature, utcnow
from petitions.services import lifecycle
from petitions.services.signing import (
    ConfirmOutcome,
    PetitionNotOpen,
    Signer,
    SigningPolicy,
    sign_petition,
)
from petitions.tokens import make_confirmation_token, make_sponsor_token
from tests.fixtures.actors import confirm_directly, csrf_token, sponsor_sign
from tests.fixtures.database import scalar_sql
from tests.fixtures.mail import confirm_link
from tests.fixtures.threads import run_in_threads

#: Used by SigningPolicy only; the real key comes from the app's config.
OTHER_SECRET = "not-the-app-secret"


def set_fields(app, petition_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Petition).where(Petition.id == petition_id).values(**values))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def sponsoring(app, make_petition, make_user):
    """A submitted petition collecting sponsors, with an organiser; returns (id, share path)."""
    owner = make_user(email="owner@example.kg", name="Nurlan Owner")
    petition_id = make_petition(state="draft", title="Clean the Chui river")
    set_fields(app, petition_id, owner_id=owner, state="sponsoring", submitted_at=utcnow())
    return petition_id, links.sponsor_path(petition_id, app.config["SECRET_KEY"])


def sponsor_directly(app, petition_id: int, email: str):
    """Sign as a sponsor through the service (no HTTP); returns the signature id."""
    with app.app_context():
        try:
            policy = SigningPolicy.from_config(app.config)
            petition = db.session.get(Petition, petition_id)
            signer = Signer(
                name="Sponsor", email=email, country="KG", region=None, wants_updates=False
            )
            sign_petition(
                db.session, petition, signer, now=utcnow(), policy=policy, as_sponsor=True
            )
            return db.session.scalar(
                select(Signature.id).where(
                    Signature.petition_id == petition_id,
                    Signature.email_key == identity_key(email, policy.hash_key),
                )
            )
        finally:
            db.session.remove()


# --- the link ------------------------------------------------------------------------------------


def test_the_link_shows_the_petition_and_the_sign_form(client, sponsoring):
    petition_id, share_path = sponsoring
    response = client.get(share_path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Clean the Chui river" in html
    assert "You have been asked to sponsor this petition." in html
    assert f'action="{share_path}#sign"' in html
    assert 'name="consent"' in html
    assert '<meta name="robots" content="noindex' in html
    assert response.headers["Cache-Control"] == "private, no-store"


def tampered(app, petition_id: int, share_path: str) -> list[str]:
    token = share_path.rsplit("/", 1)[1]
    # A character inside the signature: the last one's low bits may be base64 padding.
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    secret = app.config["SECRET_KEY"]
    return [
        f"/petitions/{petition_id}/sponsor/{flipped}",
        f"/petitions/{petition_id}/sponsor/{token[:-4]}",
        f"/petitions/{petition_id}/sponsor/garbage",
        f"/petitions/{petition_id}/sponsor/{make_sponsor_token(petition_id, OTHER_SECRET)}",
        # A valid token of another petition does not open this one.
        f"/petitions/{petition_id}/sponsor/{make_sponsor_token(petition_id + 1, secret)}",
        # The same key signs confirmation links, with another salt.
        f"/petitions/{petition_id}/sponsor/{make_confirmation_token(petition_id, 'k' * 8, secret)}",
        f"/petitions/{petition_id + 1}/sponsor/{token}",
        f"/petitions/{2**40}/sponsor/{token}",
    ]


def test_a_tampered_link_is_a_clear_404(app, client, sponsoring):
    petition_id, share_path = sponsoring
    token = csrf_token(client.get(share_path).get_data(as_text=True))
    for path in tampered(app, petition_id, share_path):
        for method in ("GET", "POST"):
            response = client.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 404, (path, method)
            if method == "GET":
                assert "Page not found" in response.get_data(as_text=True)
            assert "Clean the Chui river" not in response.get_data(as_text=True)
        assert client.get(path + "/signed").status_code == 404


def test_without_the_link_a_sponsoring_petition_cannot_be_signed(
    app, client, sponsoring, make_petition
):
    petition_id, _ = sponsoring
    assert client.get(f"/petitions/{petition_id}").status_code == 404
    assert client.get(f"/petitions/{petition_id}/count.json").status_code == 404
    public = client.get(f"/petitions/{make_petition()}").get_data(as_text=True)
    response = client.post(
        f"/petitions/{petition_id}/sign",
        data={
            "csrf_token": csrf_token(public),
            "name": "Not A Sponsor",
            "email": "nosponsor@example.kg",
            "country": "KG",
            "consent": "y",
        },
    )
    assert response.status_code == 404
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        signer = Signer(
            name="X", email="x@example.kg", country="KG", region=None, wants_updates=False
        )
        with pytest.raises(PetitionNotOpen):
            sign_petition(
                db.session,
                petition,
                signer,
                now=utcnow(),
                policy=SigningPolicy.from_config(app.config),
            )
        db.session.remove()
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 0


def test_the_link_does_not_sign_an_open_petition_as_a_sponsor(app, client, make_petition):
    petition_id = make_petition()
    path = links.sponsor_path(petition_id, app.config["SECRET_KEY"])
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/petitions/{petition_id}")
    public = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    late = client.post(path, data={"csrf_token": csrf_token(public), "name": "Late"})
    assert late.status_code == 303
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 0


def test_draft_and_hidden_petitions_do_not_collect(app, client, sponsoring):
    petition_id, share_path = sponsoring
    set_fields(app, petition_id, state="draft", changes_requested="Fix the title")
    response = client.get(share_path)
    assert response.status_code == 409
    assert "not collecting sponsors" in response.get_data(as_text=True)
    set_fields(app, petition_id, state="hidden", hidden_reason="spam")
    assert client.get(share_path).status_code == 404


def test_bad_input_through_the_link(app, client, sponsoring):
    petition_id, share_path = sponsoring
    response = sponsor_sign(client, share_path, "not an address", name="\x00")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please correct the highlighted fields." in html
    assert "does not look like an email address" in html
    forged = client.post(
        share_path,
        data={"name": "A", "email": "a@example.kg"},
        headers={"Origin": "https://x.example"},
    )
    assert forged.status_code == 403
    assert "This form was sent from another site" in forged.get_data(as_text=True)
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 0


# --- sponsors' signatures ------------------------------------------------------------------------


def test_a_sponsor_confirms_by_email(app, client, signer, mailbox, deliver, sponsoring):
    petition_id, share_path = sponsoring
    response = sponsor_sign(client, share_path, "aida@example.kg", name="Aida")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(share_path + "/signed")
    signed = client.get(response.headers["Location"])
    assert "Check your email" in signed.get_data(as_text=True)

    deliver()
    mail = mailbox.last_to("aida@example.kg")
    link = confirm_link(mail)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"http://localhost{share_path}" in body  # the petition's page is the sponsor page
    page = signer.confirm(link.removeprefix("http://localhost"))
    assert page.status_code == 200
    assert "Your signature is confirmed" in page.get_data(as_text=True)
    assert (
        scalar_sql(app, "SELECT count(*) FROM signatures WHERE is_sponsor AND status = 'confirmed'")
        == 1
    )
    # Signing again through the link is a repeat, as anywhere else.
    assert sponsor_sign(client, share_path, "Aida@example.kg").status_code == 303
    deliver()
    assert "already signed" in mailbox.last_to("Aida@example.kg")["Subject"]


def test_late_sponsors_count_and_rejection_stops_them(app, signer, sponsoring, get_petition):
    petition_id, _ = sponsoring
    ids = [sponsor_directly(app, petition_id, f"p{n}@example.kg") for n in range(7)]
    for signature_id in ids[:5]:
        assert confirm_directly(app, signature_id) is ConfirmOutcome.CONFIRMED
    assert get_petition(petition_id).state == "moderation"
    # Signed while sponsoring, confirmed while waiting for a moderator: still counts.
    assert confirm_directly(app, ids[5]) is ConfirmOutcome.CONFIRMED
    set_fields(app, petition_id, state="rejected", rejection_reason="duplicate")
    assert confirm_directly(app, ids[6]) is ConfirmOutcome.PETITION_CLOSED
    assert (
        scalar_sql(app, "SELECT count(*) FROM petition_events WHERE action = 'entered_moderation'")
        == 1
    )


def test_submit_goes_straight_to_moderation_without_required_sponsors(app_config, request, mailbox):
    app_config["SPONSORS_REQUIRED"] = 0
    app = request.getfixturevalue("app")
    make_user = request.getfixturevalue("make_user")
    make_petition = request.getfixturevalue("make_petition")
    owner = make_user()
    petition_id = make_petition(state="draft")
    set_fields(app, petition_id, owner_id=owner)
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        state = lifecycle.submit_petition(
            db.session,
            petition,
            actor_id=owner,
            now=utcnow(),
            policy=lifecycle.LifecyclePolicy.from_config(app.config),
        )
        db.session.remove()
    assert state == "moderation"
    assert (
        scalar_sql(app, "SELECT count(*) FROM outbox_messages WHERE kind = 'awaiting_moderation'")
        == 1
    )


# --- racing confirmations ------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_confirmations_cross_the_threshold_once(app, sponsoring, get_petition, round_):
    """Eight sponsors confirm at the same moment; five are needed. Whichever commits fifth
    moves the petition, and only that one: one state change, one event, one mail."""
    petition_id, _ = sponsoring
    ids = [sponsor_directly(app, petition_id, f"racer{n}@example.kg") for n in range(8)]
    outcomes = run_in_threads([lambda i=i: confirm_directly(app, i) for i in ids])
    assert outcomes == [ConfirmOutcome.CONFIRMED] * 8
    petition = get_petition(petition_id)
    assert petition.state == "moderation"
    assert petition.moderation_requested_at is not None
    assert (
        scalar_sql(
            app,
            "SELECT count(*) FROM petition_events WHERE petition_id = :id "
            "AND action = 'entered_moderation'",
            id=petition_id,
        )
        == 1
    )
    assert (
        scalar_sql(app, "SELECT count(*) FROM outbox_messages WHERE kind = 'awaiting_moderation'")
        == 1
    )
    assert (
        scalar_sql(
            app,
            "SELECT sum(count) FROM petition_count_shards WHERE petition_id = :id",
            id=petition_id,
        )
        == 8
    )


@pytest.fixture
def sixteen_shards(app_config):
    """Consecutive signatures on different count shards, so confirmations do not queue on a
    shard's row lock before reaching the threshold check."""
    app_config["COUNT_SHARDS"] = 16


def test_exactly_the_threshold_confirming_at_once(
    sixteen_shards, app, sponsoring, get_petition, monkeypatch
):
    """Five pending sponsors confirm together, each held at a barrier after counting itself and
    before the threshold check, so that on PostgreSQL all five transactions are open at once.
    Each alone sees fewer than five sponsors: without the lock on the petition row none would
    move it and it would stay stuck in sponsoring. (SQLite has one writer at a time, so there
    the barrier only times out and the confirmations run one after another.)"""
    petition_id, _ = sponsoring
    barrier = threading.Barrier(5, timeout=2)
    original = lifecycle.enter_moderation_if_sponsored

    def held(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "enter_moderation_if_sponsored", held)
    ids = [sponsor_directly(app, petition_id, f"five{n}@example.kg") for n in range(5)]
    outcomes = run_in_threads([lambda i=i: confirm_directly(app, i) for i in ids])
    assert outcomes == [ConfirmOutcome.CONFIRMED] * 5
    assert get_petition(petition_id).state == "moderation"
    assert (
        scalar_sql(app, "SELECT count(*) FROM petition_events WHERE action = 'entered_moderation'")
        == 1
    )
