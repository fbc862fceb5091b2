"""Sign a petition, then confirm the signature from the emailed link."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for

from ..extensions import db
from ..models import utcnow
from ..public.views import render_petition
from ..services import petitions
from ..services.signing import (
    ConfirmOutcome,
    PetitionNotOpen,
    SigningPolicy,
    confirm_signature,
    resend_confirmation,
    sign_petition,
    signature_for_claim,
)
from ..tokens import TokenState, read_confirmation_token
from .forms import ConfirmForm, ResendForm, SignForm

bp = Blueprint("signing", __name__)


def _policy() -> SigningPolicy:
    return SigningPolicy.from_config(current_app.config)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/petitions/<int:petition_id>/sign")
def sign(petition_id: int):
    petition = petitions.public_petition(db.session, petition_id)
    if petition is None:
        abort(404)
    if not petition.accepts_signatures(utcnow()):
        return render_template("signing/not_open.html", petition=petition), 409
    form = SignForm()
    if not form.validate_on_submit():
        return render_petition(petition, form=form, status=422)
    try:
        sign_petition(db.session, petition, form.signer(), now=utcnow(), policy=_policy())
    except PetitionNotOpen:
        return render_template("signing/not_open.html", petition=petition), 409
    return redirect(url_for("signing.check_email", petition_id=petition.id), code=303)


@bp.get("/petitions/<int:petition_id>/signed")
def check_email(petition_id: int):
    petition = petitions.public_petition(db.session, petition_id)
    if petition is None:
        abort(404)
    return render_template("signing/check_email.html", petition=petition)


def _read(token: str):
    config = current_app.config
    claim = read_confirmation_token(
        token, config["SECRET_KEY"], config["CONFIRMATION_MAX_AGE_SECONDS"]
    )
    return claim, signature_for_claim(db.session, claim)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button and changes nothing; the POST confirms."""
    claim, signature = _read(token)
    if signature is None:
        return _no_store(render_template("signing/token_invalid.html")), 404
    petition = signature.petition
    if claim.state is TokenState.EXPIRED and not signature.is_confirmed:
        page = render_template(
            "signing/token_expired.html", petition=petition, token=token, form=ResendForm()
        )
        return _no_store(current_app.make_response((page, 410)))
    form = ConfirmForm()
    if form.validate_on_submit():
        outcome = confirm_signature(db.session, signature.id, now=utcnow(), policy=_policy())
        db.session.refresh(petition)
        template = {
            ConfirmOutcome.CONFIRMED: "signing/confirmed.html",
            ConfirmOutcome.ALREADY_CONFIRMED: "signing/already_confirmed.html",
            ConfirmOutcome.PETITION_CLOSED: "signing/not_open.html",
            ConfirmOutcome.NOT_FOUND: "signing/token_invalid.html",
        }[outcome]
        status = {ConfirmOutcome.PETITION_CLOSED: 409, ConfirmOutcome.NOT_FOUND: 404}.get(
            outcome, 200
        )
        return _no_store(
            current_app.make_response((render_template(template, petition=petition), status))
        )
    if signature.is_confirmed:
        return _no_store(render_template("signing/already_confirmed.html", petition=petition))
    if not petition.accepts_signatures(utcnow()):
        return _no_store(
            current_app.make_response(
                (render_template("signing/not_open.html", petition=petition), 409)
            )
        )
    return _no_store(
        current_app.make_response(
            render_template("signing/confirm.html", petition=petition, form=form)
        )
    )


@bp.post("/confirm/<token>/resend")
def resend(token: str):
    """A fresh link for an expired one (the old token still names the signature)."""
    claim, signature = _read(token)
    form = ResendForm()
    if signature is None or not form.validate_on_submit():
        return _no_store(render_template("signing/token_invalid.html")), 404
    resend_confirmation(db.session, signature, now=utcnow(), policy=_policy())
    return redirect(url_for("signing.check_email", petition_id=signature.petition_id), code=303)
