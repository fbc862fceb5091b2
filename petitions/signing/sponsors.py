"""The sponsor link: the organiser's first supporters sign before the petition is public.

`/petitions/<id>/sponsor/<token>` shows the submitted petition and the usual sign form; the
token is signed with SECRET_KEY and its own salt, so the link cannot be guessed from the id.
Signatures made here are sponsors' (Signature.is_sponsor), confirmed by email like any other;
enough of them send the petition to moderation (services/lifecycle.py).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for

from ..errors import too_many_requests
from ..extensions import db
from ..limits import signing_retry_after
from ..models import Petition, PetitionState, utcnow
from ..models.petition import SPONSOR_STATES
from ..security import same_origin_posts
from ..services import counts, pauses, site_settings
from ..services.petitions import MAX_PETITION_ID
from ..services.screening import Refusal
from ..services.signing import PetitionNotOpen, SigningPolicy, sign_petition
from ..tokens import read_sponsor_token
from . import screen
from .forms import SignForm
from .views import paused_page

bp = Blueprint("sponsors", __name__)


@bp.after_request
def private(response):
    """The link is a secret of the organiser's circle: not cached by proxies, not indexed."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _petition(petition_id: int, token: str) -> Petition:
    """The petition the link was made for; 404 for an altered link or a hidden petition."""
    if not 0 < petition_id <= MAX_PETITION_ID:
        abort(404)
    if read_sponsor_token(token, current_app.config["SECRET_KEY"]) != petition_id:
        abort(404)
    petition = db.session.get(Petition, petition_id)
    if petition is None or petition.state == PetitionState.HIDDEN:
        abort(404)
    return petition


def _page(petition: Petition, token: str, form: SignForm, status: int = 200):
    settings = site_settings.current()
    paused = pauses.signing_paused_on(petition, settings)
    return render_template(
        "signing/sponsor.html",
        petition=petition,
        token=token,
        form=None if paused else _prepared(form, petition.id, settings),
        paused=paused,
        total=counts.count_for(db.session, petition.id),
        sponsors_required=current_app.config["SPONSORS_REQUIRED"],
    ), status


def _prepared(form: SignForm, petition_id: int, settings) -> SignForm:
    screen.prepare(form, petition_id, settings=settings, config=current_app.config)
    return form


@bp.route("/petitions/<int:petition_id>/sponsor/<token>", methods=["GET", "POST"])
@same_origin_posts
def sponsor(petition_id: int, token: str):
    petition = _petition(petition_id, token)
    if petition.is_public():  # opened (or decided): the public page is the place now
        return redirect(url_for("public.petition", petition_id=petition.id), code=303)
    if petition.state not in SPONSOR_STATES:
        return render_template("signing/sponsor_closed.html", petition=petition), 409
    form = SignForm()
    if not form.is_submitted():
        return _page(petition, token, form)
    settings = site_settings.current()
    if pauses.signing_paused_on(petition, settings):
        return paused_page(petition, settings)
    if not form.validate():
        return _page(petition, token, form, 422)
    config = current_app.config
    verdict, facts = screen.screen_post(form, petition.id, settings=settings, config=config)
    if verdict.refusal is Refusal.OVER_LIMIT:
        return too_many_requests(
            signing_retry_after(
                petition_id=petition.id,
                email_domain=facts.email_domain or "",
                exceeded=list(verdict.exceeded),
                settings=settings,
            )
        )
    if verdict.refused:
        screen.refuse(form, verdict)
        return _page(petition, token, form, 422)
    try:
        sign_petition(
            db.session,
            petition,
            form.signer(),
            now=utcnow(),
            policy=SigningPolicy.from_config(current_app.config),
            as_sponsor=True,
            facts=facts,
            flag=verdict.flag,
        )
    except PetitionNotOpen:
        return render_template("signing/sponsor_closed.html", petition=petition), 409
    return redirect(url_for("sponsors.check_email", petition_id=petition.id, token=token), code=303)


@bp.get("/petitions/<int:petition_id>/sponsor/<token>/signed")
def check_email(petition_id: int, token: str):
    petition = _petition(petition_id, token)
    return render_template("signing/sponsor_signed.html", petition=petition, token=token)
