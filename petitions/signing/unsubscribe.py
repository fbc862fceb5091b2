"""One-click unsubscribe from a petition's emails (updates, response, closing).

Every such email links to `/unsubscribe/<token>` and names that URL in its `List-Unsubscribe`
header with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). A GET only shows a
button (mail scanners open links); a POST unsubscribes. The POST is exempt from CSRF: mail
clients send it without cookies or a form token, and the signed token in the URL is what
authenticates it (it cannot be forged, and forcing someone to unsubscribe needs their link).

Unsubscribing turns `wants_updates` off and erases the stored address, idempotently, unless
the signer chose to share it with the organiser (that choice is theirs to keep); an altered
token gets a clear 404 page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import case, select, update

from ..extensions import csrf, db
from ..limits import limit_posts
from ..models import Petition, Signature, SignatureStatus
from ..tokens import read_unsubscribe_token

logger = logging.getLogger(__name__)

bp = Blueprint("unsubscribe", __name__)


@bp.after_request
def private(response):
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _claim(token: str) -> tuple[int, str] | None:
    return read_unsubscribe_token(token, current_app.config["SECRET_KEY"])


def _invalid():
    return render_template(
        "errors/error.html",
        status=404,
        title=_("This link is not valid"),
        message=_(
            "This unsubscribe link is broken or incomplete. Please copy the whole link from "
            "the email."
        ),
    ), 404


def _signature_filter(signature_id: int, key_prefix: str):
    return (
        Signature.id == signature_id,
        Signature.email_key.startswith(key_prefix, autoescape=True),
        Signature.status == SignatureStatus.CONFIRMED,
    )


@bp.get("/unsubscribe/<token>")
def confirm_page(token: str):
    claim = _claim(token)
    if claim is None:
        return _invalid()
    title = db.session.scalar(
        select(Petition.title)
        .join(Signature, Signature.petition_id == Petition.id)
        .where(*_signature_filter(*claim))
    )
    return render_template("signing/unsubscribe.html", title=title)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
@limit_posts("rate_unsubscribe")
def unsubscribe(token: str):
    """Also the RFC 8058 one-click endpoint (body `List-Unsubscribe=One-Click`)."""
    claim = _claim(token)
    if claim is None:
        return _invalid()
    changed = db.session.execute(
        update(Signature)
        .where(*_signature_filter(*claim))
        .values(
            wants_updates=False,
            email=case((Signature.share_email.is_(True), Signature.email), else_=None),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if changed:
        logger.info("signature %s unsubscribed", claim[0])
    return render_template("signing/unsubscribed.html")
