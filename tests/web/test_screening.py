"""Issue 9, "Limits" and "Who may sign": what the sign POST refuses, what it accepts quietly and
holds for review at confirmation, and what it keeps about the request (services/screening.py,
petitions/signing/screen.py).

Through the real HTTP client and the real SMTP server. Rates and the minimum time are set per
test (the tests' config is generous); time moves by the app's clock, never by waiting.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petitions import proofofwork
from petitions.extensions import db
from petitions.models import Petition, Signature, SignatureStatus, utcnow
from petitions.services import access_rules, pauses
from tests.fixtures.actors import pow_challenge, sign_form_hidden


class Clock:
    """The app's clock (petitions/clock.py), moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    installed = Clock()
    app.extensions["clock"] = installed
    return installed


def from_address(address: str, **headers: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}


def signatures(app, petition_id: int) -> dict[str, tuple[str, str | None]]:
    """Each signature's status and flag, by the signer's name."""
    with app.app_context():
        rows = db.session.execute(
            select(Signature.name, Signature.status, Signature.flag).where(
                Signature.petition_id == petition_id
            )
        ).all()
        db.session.remove()
    return {name: (status, flag) for name, status, flag in rows}


def statuses(app, petition_id: int) -> list[str]:
    with app.app_context():
        found = db.session.scalars(
            select(Signature.status).where(Signature.petition_id == petition_id)
        ).all()
        db.session.remove()
    return sorted(found)


def add_rule(app, kind: str, pattern: str, action: str) -> None:
    with app.app_context():
        access_rules.add_rule(
            db.session,
            kind=kind,
            action=action,
            pattern=pattern,
            note=None,
            actor_id=None,
            now=utcnow(),
            config=app.config,
        )
        db.session.commit()
        db.session.remove()


def confirmed_page(signer, email: str) -> str:
    response = signer.confirm(signer.confirmation_path(email))
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- rates -----------------------------------------------------------------------------------


def test_a_burst_from_one_address_counts_at_most_its_rate_while_others_sign(app, signer, petition):
    app.config["RATE_SIGN_ADDRESS"] = "3/minute"
    for n in range(8):
        spoofed = from_address("127.0.0.9", **{"X-Forwarded-For": f"198.51.100.{n}"})
        assert signer.sign(petition, f"bot{n}@example.kg", request=spoofed).status_code == 303
        if n == 4:
            real = signer.sign(petition, "real@example.kg", request=from_address("127.0.0.2"))
            assert real.status_code == 303
            assert "Your signature is confirmed" in confirmed_page(signer, "real@example.kg")
    for n in range(8):
        assert "Your signature is confirmed" in confirmed_page(signer, f"bot{n}@example.kg")
    assert signer.count(petition) == 3 + 1
    assert statuses(app, petition).count(SignatureStatus.HELD) == 5


def test_over_the_rate_in_refuse_mode_is_a_429_page(app, signer, petition, mailbox):
    app.config.update(RATE_SIGN_ADDRESS="1/minute", OVER_LIMIT_SIGNATURES="refuse")
    assert signer.sign(petition, "first@example.kg").status_code == 303
    refused = signer.sign(petition, "second@example.kg")
    assert refused.status_code == 429
    assert "try again" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) >= 1
    signer.deliver()
    assert mailbox.to("second@example.kg") == []


def test_an_allow_rule_exempts_from_the_rates(app, signer, petition):
    app.config["RATE_SIGN_ADDRESS"] = "1/minute"
    add_rule(app, "network", "127.0.0.0/24", "allow")
    for n in range(3):
        assert signer.sign(petition, f"office{n}@example.kg").status_code == 303
        confirmed_page(signer, f"office{n}@example.kg")
    assert signer.count(petition) == 3


# --- who may sign ----------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["someone@mailinator.com", "someone@yopmail.com"])
def test_a_disposable_address_is_refused_and_gets_no_mail(app, signer, petition, mailbox, email):
    refused = signer.sign(petition, email)
    assert refused.status_code == 422
    assert "disposable email services cannot sign" in refused.get_data(as_text=True)
    signer.deliver()
    assert mailbox.to(email) == []
    assert signatures(app, petition) == {}


def test_a_subdomain_of_a_disposable_domain_is_refused(signer, petition):
    assert signer.sign(petition, "someone@eu.mailinator.com").status_code == 422


def test_an_allow_rule_lets_a_disposable_domain_sign(app, signer, petition, mailbox):
    add_rule(app, "domain", "mailinator.com", "allow")
    assert signer.sign(petition, "tester@mailinator.com").status_code == 303
    assert "Your signature is confirmed" in confirmed_page(signer, "tester@mailinator.com")
    assert signer.count(petition) == 1


@pytest.mark.parametrize(
    ("kind", "pattern", "email", "message"),
    [
        ("domain", "*.spam.kg", "someone@mail.spam.kg", "its domain are not accepted"),
        ("domain", "spam.kg", "someone@spam.kg", "its domain are not accepted"),
        ("address", "Bad.Actor+x@gmail.com", "badactor@gmail.com", "its domain are not accepted"),
        ("network", "127.0.0.0/8", "someone@example.kg", "your internet connection"),
    ],
)
def test_a_block_rule_refuses(app, signer, petition, mailbox, kind, pattern, email, message):
    add_rule(app, kind, pattern, "block")
    refused = signer.sign(petition, email)
    assert refused.status_code == 422
    assert message in refused.get_data(as_text=True)
    signer.deliver()
    assert mailbox.to(email) == []


def test_an_address_allow_rule_beats_its_domains_block(app, signer, petition):
    add_rule(app, "domain", "spam.kg", "block")
    add_rule(app, "address", "friend@spam.kg", "allow")
    assert signer.sign(petition, "friend@spam.kg").status_code == 303
    assert signer.sign(petition, "other@spam.kg").status_code == 422


def test_a_review_rule_holds_the_signature_quietly(app, signer, petition):
    add_rule(app, "domain", "watched.kg", "review")
    assert signer.sign(petition, "someone@watched.kg", name="Watched").status_code == 303
    assert "Your signature is confirmed" in confirmed_page(signer, "someone@watched.kg")
    assert signer.count(petition) == 0
    assert signatures(app, petition)["Watched"] == (SignatureStatus.HELD, "listed")


def test_a_rule_removed_is_out_of_force_at_once(app, signer, petition):
    add_rule(app, "domain", "spam.kg", "block")
    assert signer.sign(petition, "a@spam.kg").status_code == 422
    with app.app_context():
        (rule,) = access_rules.list_rules(db.session)
        access_rules.remove_rule(db.session, rule.id, actor_id=None, now=utcnow())
        db.session.commit()
        db.session.remove()
    assert signer.sign(petition, "a@spam.kg").status_code == 303


# --- bot friction: same pages and mail, held at confirmation ----------------------------------


def test_a_person_who_takes_their_time_is_counted(app, signer, petition, clock):
    app.config["SIGN_MIN_SECONDS"] = 3.0
    page = signer.client.get(f"/petitions/{petition}").get_data(as_text=True)
    clock.advance(seconds=20)
    data = {
        **sign_form_hidden(page),
        "name": "Patient",
        "email": "patient@example.kg",
        "country": "KG",
        "consent": "y",
    }
    assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    confirmed_page(signer, "patient@example.kg")
    assert signer.count(petition) == 1


@pytest.mark.parametrize("trap", ["honeypot", "too_fast", "no_served_token", "forged_token"])
def test_a_bot_like_form_gets_the_same_answers_and_is_held(
    app, signer, petition, clock, mailbox, trap
):
    app.config["SIGN_MIN_SECONDS"] = 3.0
    page = signer.client.get(f"/petitions/{petition}").get_data(as_text=True)
    hidden = sign_form_hidden(page)
    if trap != "too_fast":
        clock.advance(seconds=20)
    if trap == "no_served_token":
        hidden.pop("served")
    if trap == "forged_token":
        hidden["served"] = hidden["served"][:-3] + "abc"
    data = {
        **hidden,
        "name": "Suspect",
        "email": "suspect@example.kg",
        "country": "KG",
        "consent": "y",
        "website": "http://spam.example" if trap == "honeypot" else "",
    }
    signed = signer.client.post(f"/petitions/{petition}/sign", data=data, follow_redirects=True)
    assert signed.status_code == 200
    assert "Check your email" in signed.get_data(as_text=True)
    assert "Your signature is confirmed" in confirmed_page(signer, "suspect@example.kg")
    assert signer.count(petition) == 0
    flag = "honeypot" if trap == "honeypot" else "too_fast"
    assert signatures(app, petition)["Suspect"] == (SignatureStatus.HELD, flag)


def test_the_trap_field_is_hidden_from_people_and_screen_readers(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    trap = re.search(r'<div class="field hp" aria-hidden="true">(.*?)</div>', html, re.S)
    assert trap, "no hidden trap field"
    assert "Leave this field empty" in trap.group(1)
    assert 'tabindex="-1"' in trap.group(1)
    assert 'autocomplete="off"' in trap.group(1)


# --- proof of work ---------------------------------------------------------------------------


@pytest.fixture
def proof_on(app):
    app.config.update(PROOF_OF_WORK=True, PROOF_OF_WORK_BITS=6)


def _proof_form(client, petition_id: int, email: str, *, solve: bool = True, request=None):
    page = client.get(f"/petitions/{petition_id}", **(request or {})).get_data(as_text=True)
    challenge, bits = pow_challenge(client, page, request)
    data = {
        **sign_form_hidden(page),
        "proof_challenge": challenge,
        "name": email.split("@")[0],
        "email": email,
        "country": "KG",
        "consent": "y",
    }
    if solve:
        data["proof_nonce"] = proofofwork.solve(challenge, bits)
    return data, bits


def test_a_solved_proof_of_work_counts(app, signer, petition, proof_on):
    data, _ = _proof_form(signer.client, petition, "solver@example.kg")
    assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    confirmed_page(signer, "solver@example.kg")
    assert signer.count(petition) == 1


def test_without_a_proof_a_person_signs_and_is_held(app, signer, petition, proof_on):
    data, _ = _proof_form(signer.client, petition, "nojs@example.kg", solve=False)
    assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    assert "Your signature is confirmed" in confirmed_page(signer, "nojs@example.kg")
    assert signatures(app, petition)["nojs"] == (SignatureStatus.HELD, "no_proof")


def test_a_wrong_nonce_is_held(app, signer, petition, proof_on):
    data, bits = _proof_form(signer.client, petition, "wrong@example.kg")
    challenge = data["proof_challenge"]
    data["proof_nonce"] = next(
        str(n) for n in range(10**6) if not proofofwork.solves(challenge, str(n), bits)
    )
    assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    confirmed_page(signer, "wrong@example.kg")
    assert signatures(app, petition)["wrong"] == (SignatureStatus.HELD, "no_proof")


def test_a_replayed_proof_is_held(app, signer, petition, proof_on):
    data, _ = _proof_form(signer.client, petition, "first@example.kg")
    assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    replay = {**data, "name": "replay", "email": "replay@example.kg"}
    assert signer.client.post(f"/petitions/{petition}/sign", data=replay).status_code == 303
    confirmed_page(signer, "first@example.kg")
    confirmed_page(signer, "replay@example.kg")
    found = signatures(app, petition)
    assert found["first"] == (SignatureStatus.CONFIRMED, None)
    assert found["replay"] == (SignatureStatus.HELD, "no_proof")


def test_the_difficulty_rises_for_a_source_at_its_rate(app, signer, petition, proof_on):
    app.config["RATE_SIGN_ADDRESS"] = "2/minute"
    _, calm = _proof_form(signer.client, petition, "x@example.kg")
    for n in range(2):
        data, _ = _proof_form(signer.client, petition, f"s{n}@example.kg")
        assert signer.client.post(f"/petitions/{petition}/sign", data=data).status_code == 303
    _, busy = _proof_form(signer.client, petition, "y@example.kg", solve=False)
    _, elsewhere = _proof_form(
        signer.client, petition, "z@example.kg", solve=False, request=from_address("127.0.1.7")
    )
    assert (calm, busy, elsewhere) == (6, 6 + proofofwork.RAISE_BITS, 6)


# --- what is kept ----------------------------------------------------------------------------


def test_the_request_facts_are_stored_with_the_signature(app, signer, petition, clock):
    page = signer.client.get(f"/petitions/{petition}").get_data(as_text=True)
    clock.advance(seconds=7)
    data = {
        **sign_form_hidden(page),
        "name": "Facts",
        "email": "Facts@Example.KG",
        "country": "KG",
        "consent": "y",
    }
    request = from_address("127.0.0.5", **{"User-Agent": "Mozilla/5.0 Test"})
    signed = signer.client.post(f"/petitions/{petition}/sign", data=data, **request)
    assert signed.status_code == 303
    with app.app_context():
        row = db.session.scalar(select(Signature).where(Signature.petition_id == petition))
        facts = (row.client_ip, row.client_network, row.submit_ms, row.email_domain, row.flag)
        ua_hash = row.user_agent_hash
        db.session.remove()
    assert facts == ("127.0.0.5", "127.0.0.0/24", 7000, "example.kg", None)
    assert re.fullmatch(r"[0-9a-f]{16}", ua_hash)
    assert "Mozilla" not in ua_hash


# --- pauses ----------------------------------------------------------------------------------


def _pause_petition(app, petition_id: int) -> None:
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(signing_paused_at=utcnow())
        )
        db.session.commit()
        db.session.remove()


def _pause_site(app) -> None:
    with app.app_context():
        pauses.change_setting(
            db.session, "signing_paused", True, config=app.config, actor_id=None, now=utcnow()
        )
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("pause", [_pause_petition, _pause_site], ids=["petition", "site"])
def test_a_paused_petition_says_signing_is_paused(app, client, signer, petition, pause):
    client.get(f"/petitions/{petition}")
    args = (app, petition) if pause is _pause_petition else (app,)
    pause(*args)
    shown = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Signing is paused" in shown
    assert 'name="email"' not in shown
    data = {"name": "A", "email": "a@example.kg", "country": "KG"}
    refused = client.post(f"/petitions/{petition}/sign", data={**data, "consent": "y"})
    assert refused.status_code == 409
    assert "deadline moves on" in refused.get_data(as_text=True)


def test_a_confirmation_waits_while_the_site_is_paused(app, signer, petition):
    assert signer.sign(petition, "waiting@example.kg").status_code == 303
    path = signer.confirmation_path("waiting@example.kg")
    _pause_site(app)
    answer = signer.confirm(path)
    assert answer.status_code == 409
    assert "Signing is paused" in answer.get_data(as_text=True)
    assert signer.count(petition) == 0
