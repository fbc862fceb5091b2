"""The sign form's bot friction and screening, between the request and services/screening.py,
shared by the public sign view and the sponsor one.

`prepare` gives a form shown to a person its per-view values (when it was served, a proof of
work challenge); `screen_post` reads what the posted form and the request say and asks
services/screening.py for its verdict. Times are the app clock's (petitions/clock.py), so
tests move time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import request, url_for

from .. import clock, limits, proofofwork
from ..services import screening
from ..services.signing import RequestFacts
from ..services.site_settings import SiteSettings
from ..tokens import make_served_token, read_served_token
from .forms import SignForm

#: submit_ms is an INTEGER column; a form kept open for weeks is simply "slow".
SUBMIT_MS_MAX = 2**31 - 1


def now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def proof_max_age_ms(config: Mapping) -> int:
    """A challenge is good as long as the form's CSRF token (a page left open for hours)."""
    return int(config["WTF_CSRF_TIME_LIMIT"] or 6 * 3600) * 1000


def prepare(
    form: SignForm,
    petition_id: int,
    *,
    settings: SiteSettings,
    config: Mapping,
    shared: bool = False,
) -> None:
    """The form's hidden per-view values. A form shown again after an error keeps its "served
    at" (the person has been on the page since) and gets a fresh challenge.

    `shared`: the page may be served from a shared cache to many readers, so it cannot carry
    a challenge (each is used once, and its difficulty depends on the reader's address):
    pow.js fetches one for each reader from `signing.challenge` instead. "Served at" is then
    when the page was made, which only makes a person look slower than they were.
    """
    secret = config["SECRET_KEY"]
    if read_served_token(form.served.data, secret, petition_id) is None:
        form.served.data = make_served_token(petition_id, now_ms(), secret)
    form.proof_bits = 0
    form.proof_challenge.data = ""
    form.proof_url = None
    if not settings["proof_of_work"]:
        return
    if shared:
        form.proof_url = url_for("signing.challenge", petition_id=petition_id)
        return
    form.proof_bits, form.proof_challenge.data = challenge(petition_id, settings, config)


def challenge(petition_id: int, settings: SiteSettings, config: Mapping) -> tuple[int, str]:
    """A new proof-of-work challenge for this reader: its difficulty and the signed token."""
    bits = proof_bits(petition_id, settings)
    return bits, proofofwork.issue(
        config["SECRET_KEY"], petition_id=petition_id, bits=bits, now_ms=now_ms()
    )


def proof_bits(petition_id: int, settings: SiteSettings) -> int:
    """The difficulty for this client and petition now (proofofwork.difficulty: higher where
    the signing rates are reached)."""
    reached = limits.signing_rates_reached(petition_id=petition_id, settings=settings)
    return proofofwork.difficulty(
        int(settings["proof_of_work_bits"]),
        source_at_rate=bool({"address", "network"} & set(reached)),
        petition_at_rate="petition" in reached,
    )


def request_facts(form: SignForm, petition_id: int, config: Mapping) -> RequestFacts:
    served = read_served_token(form.served.data, config["SECRET_KEY"], petition_id)
    submit_ms = None if served is None else min(max(0, now_ms() - served), SUBMIT_MS_MAX)
    return RequestFacts.observe(
        remote_addr=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        email=form.signer().email,
        submit_ms=submit_ms,
        hash_key=config["SIGNER_HASH_KEY"],
    )


def proof_check(
    form: SignForm, petition_id: int, *, settings: SiteSettings, config: Mapping
) -> proofofwork.ProofCheck | None:
    """The posted proof of work (None when it is off); a valid one is used up here."""
    if not settings["proof_of_work"]:
        return None
    max_age = proof_max_age_ms(config)
    result, challenge = proofofwork.check(
        config["SECRET_KEY"],
        form.proof_challenge.data,
        form.proof_nonce.data,
        petition_id=petition_id,
        now_ms=now_ms(),
        max_age_ms=max_age,
    )
    if result is proofofwork.ProofCheck.VALID and not limits.first_use(
        f"pow/{challenge.id}", max_age // 1000
    ):
        return proofofwork.ProofCheck.REPLAYED
    return result


def screen_post(
    form: SignForm, petition_id: int, *, settings: SiteSettings, config: Mapping
) -> tuple[screening.Screening, RequestFacts]:
    """The verdict on a valid sign form, and the request facts to store with it."""
    facts = request_facts(form, petition_id, config)
    verdict = screening.screen(
        email=form.signer().email,
        facts=facts,
        evidence=screening.Evidence(
            honeypot_filled=form.honeypot_filled,
            proof=proof_check(form, petition_id, settings=settings, config=config),
        ),
        settings=settings,
        rules=screening.current_rules(),
        config=config,
        count_rates=lambda: limits.signing_limits_exceeded(
            petition_id=petition_id,
            email_domain=facts.email_domain or "",
            settings=settings,
            config=config,
        ),
    )
    return verdict, facts


def refuse(form: SignForm, verdict: screening.Screening) -> None:
    """Put a refusal's message where the person will read it: by the email field when it is
    about the address, above the form otherwise."""
    if verdict.refusal in (screening.Refusal.DISPOSABLE, screening.Refusal.BLOCKED):
        form.email.errors = [*form.email.errors, verdict.message]
    else:
        form.form_errors.append(verdict.message)
