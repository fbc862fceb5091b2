"""Sign a petition, then confirm the signature from the emailed link."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    url_for,
)

from ..errors import too_many_requests
from ..extensions import db
from ..http import shared_page
from ..limits import limit_posts, signing_retry_after
from ..models import PetitionState, utcnow
from ..public.page import render_petition
from ..security import same_origin_posts
from ..services import pauses, petitions, site_settings
from ..services.screening import Refusal
from ..services.signing import (
    ConfirmOutcome,
    PetitionNotOpen,
    SigningPolicy,
    confirm_signature,
    may_confirm,
    resend_confirmation,
    sign_petition,
    signature_for_claim,
)
from ..tokens import TokenState, read_confirmation_token
from . import screen
from .forms import ConfirmForm, ResendForm, SignForm

bp = Blueprint("signing", __name__)


def _policy() -> SigningPolicy:
    return SigningPolicy.from_config(current_app.config)


def _private_page(template: str, status: int = 200, **context):
    """A page reached through an emailed token: never cached, by browsers or proxies."""
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/petitions/<int:petition_id>/sign")
@same_origin_posts
def sign(petition_id: int):
    petition = petitions.public_petition(db.session, petition_id)
    if petition is None:
        abort(404)
    settings = site_settings.current()
    if pauses.signing_paused_on(petition, settings):
        return paused_page(petition, settings)
    if not petition.accepts_signatures(utcnow()):
        return render_template("signing/not_open.html", petition=petition), 409
    form = SignForm()
    if not form.validate_on_submit():
        return render_petition(petition, form=form, status=422)
    config = current_app.config
    verdict, facts = screen.screen_post(form, petition_id, settings=settings, config=config)
    if verdict.refusal is Refusal.OVER_LIMIT:
        return too_many_requests(
            signing_retry_after(
                petition_id=petition_id,
                email_domain=facts.email_domain or "",
                exceeded=list(verdict.exceeded),
                settings=settings,
            )
        )
    if verdict.refused:
        screen.refuse(form, verdict)
        return render_petition(petition, form=form, status=422)
    try:
        sign_petition(
            db.session,
            petition,
            form.signer(),
            now=utcnow(),
            policy=_policy(),
            facts=facts,
            flag=verdict.flag,
        )
    except PetitionNotOpen:
        return render_template("signing/not_open.html", petition=petition), 409
    # petition_id, not petition.id: sign_petition committed, and reading the expired petition
    # would cost a query for a number the URL already has.
    return redirect(url_for("signing.check_email", petition_id=petition_id), code=303)


@bp.get("/petitions/<int:petition_id>/sign/challenge")
def challenge(petition_id: int):
    """A proof-of-work challenge for the reader of a shared petition page (pow.js asks for it
    when the page loads; signing/screen.prepare). Each reader's own: never cached."""
    settings = site_settings.current()
    if not settings["proof_of_work"] or petitions.public_petition(db.session, petition_id) is None:
        abort(404)
    bits, token = screen.challenge(petition_id, settings, current_app.config)
    response = jsonify(proof_challenge=token, proof_bits=bits)
    response.headers["Cache-Control"] = "no-store"
    return response


def paused_page(petition, settings: site_settings.SiteSettings | None, *, private: bool = False):
    """Signing is stopped for a while (a moderator's pause of this petition, or the site's):
    say so, and that the deadline waits, rather than "not open". `settings` None: only the
    petition's own pause is known (pages that do not read the runtime settings)."""
    site = settings is not None and pauses.site_signing_paused(settings)
    if private:
        return _private_page("signing/paused.html", 409, petition=petition, site=site)
    return render_template("signing/paused.html", petition=petition, site=site), 409


def own_pause(petition) -> bool:
    return petition.state == PetitionState.OPEN and petition.signing_paused_at is not None


@bp.get("/petitions/<int:petition_id>/signed")
@shared_page
def check_email(petition_id: int):
    petition = petitions.public_petition(db.session, petition_id)
    if petition is None:
        abort(404)
    if petition.state == PetitionState.REJECTED:  # it never took a signature: no mail was sent
        return render_template("signing/not_open.html", petition=petition), 409
    return render_template("signing/check_email.html", petition=petition)


def _read(token: str):
    config = current_app.config
    claim = read_confirmation_token(
        token, config["SECRET_KEY"], config["CONFIRMATION_MAX_AGE_SECONDS"]
    )
    return claim, signature_for_claim(db.session, claim)


CONFIRM_PAGES = {
    ConfirmOutcome.CONFIRMED: ("signing/confirmed.html", 200),
    ConfirmOutcome.ALREADY_CONFIRMED: ("signing/already_confirmed.html", 200),
    ConfirmOutcome.PETITION_CLOSED: ("signing/not_open.html", 409),
    ConfirmOutcome.NOT_FOUND: ("signing/token_invalid.html", 404),
}


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@limit_posts("rate_confirm")
@same_origin_posts
def confirm(token: str):
    """GET shows a button and changes nothing (mail scanners open links); the POST confirms."""
    claim, signature = _read(token)
    if signature is None:
        return _private_page("signing/token_invalid.html", 404)
    petition = signature.petition
    if claim.state is TokenState.EXPIRED and not signature.is_confirmed:
        if not may_confirm(signature, utcnow()):
            # A new link could not be used either; say so instead of offering one.
            return _cannot_confirm(petition)
        return _private_page(
            "signing/token_expired.html", 410, petition=petition, token=token, form=ResendForm()
        )
    form = ConfirmForm()
    if form.validate_on_submit():
        # Confirmations wait too while signing is paused (the count stops moving during an
        # attack); the link still works afterwards, within its age.
        settings = site_settings.current()
        if not signature.is_confirmed and pauses.signing_paused_on(petition, settings):
            return paused_page(petition, settings, private=True)
        # The page shows the petition as read with the signature: kept out of the session,
        # the commit does not expire it, and the title costs no second query.
        db.session.expunge(petition)
        outcome = confirm_signature(db.session, signature.id, now=utcnow(), policy=_policy())
        template, status = CONFIRM_PAGES[outcome]
        return _private_page(template, status, petition=petition)
    if signature.is_confirmed:
        return _private_page("signing/already_confirmed.html", petition=petition)
    if not may_confirm(signature, utcnow()):
        return _cannot_confirm(petition)
    return _private_page("signing/confirm.html", petition=petition, form=form)


def _cannot_confirm(petition):
    if own_pause(petition):
        return paused_page(petition, None, private=True)
    return _private_page("signing/not_open.html", 409, petition=petition)


@bp.post("/confirm/<token>/resend")
@limit_posts("rate_confirm")
@same_origin_posts
def resend(token: str):
    """A fresh link for an expired one (the old token still names the signature)."""
    _, signature = _read(token)
    if signature is None or not ResendForm().validate_on_submit():
        return _private_page("signing/token_invalid.html", 404)
    petition = signature.petition
    if signature.is_confirmed:
        return _private_page("signing/already_confirmed.html", petition=petition)
    if not may_confirm(signature, utcnow()):
        return _cannot_confirm(petition)
    if not resend_confirmation(db.session, signature, now=utcnow(), policy=_policy()):
        # The per-signature mail limit is reached; don't claim that a mail is on its way.
        return _private_page("signing/resend_limit.html", 429, petition=petition)
    if not petition.is_public():  # a sponsor's: the petition has no public page yet
        return _private_page("signing/check_email.html", petition=petition)
    return redirect(url_for("signing.check_email", petition_id=petition.id), code=303)
