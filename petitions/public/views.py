"""Public pages: the index of open petitions, a petition's page, its running total as JSON."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from ..extensions import db
from ..models import utcnow
from ..services import counts, petitions
from ..signing.forms import SignForm

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    sort = request.args.get("sort", "popular")
    if sort not in petitions.SORTS:
        sort = "popular"
    page = request.args.get("page", 1, type=int)
    listing = petitions.list_open(
        db.session, sort=sort, page=page, per_page=current_app.config["PETITIONS_PER_PAGE"]
    )
    return render_template("public/index.html", listing=listing, sort=sort)


def render_petition(petition, form: SignForm | None = None, status: int = 200):
    """The petition page; the signing blueprint re-renders it with a failed form."""
    total = counts.count_for(db.session, petition.id)
    now = utcnow()
    if form is None and petition.accepts_signatures(now):
        form = SignForm()
    return (
        render_template(
            "public/petition.html",
            petition=petition,
            total=total,
            form=form,
            accepting=petition.accepts_signatures(now),
        ),
        status,
    )


@bp.get("/petitions/<int:petition_id>")
def petition(petition_id: int):
    found = petitions.public_petition(db.session, petition_id)
    if found is None:
        abort(404)
    return render_petition(found)


def _totals_memo() -> counts.TotalsMemo:
    memo = current_app.extensions.get("petition_totals")
    if memo is None:
        memo = counts.TotalsMemo(current_app.config["COUNT_MEMO_SECONDS"])
        current_app.extensions["petition_totals"] = memo
    return memo


@bp.get("/petitions/<int:petition_id>/count.json")
def count_json(petition_id: int):
    """The running total, for the live counter and for scripts.

    Cacheable for a few seconds by browsers and reverse proxies, and memoised in the process
    (see services/counts.py), so a crowd watching a viral petition cannot overload the database.
    """
    if not 0 < petition_id <= petitions.MAX_PETITION_ID:
        abort(404)
    total = _totals_memo().get(petition_id, lambda: counts.public_total(db.session, petition_id))
    if total is None:
        abort(404)
    response = jsonify(
        petition_id=total.petition_id,
        state=total.state,
        signature_count=total.signature_count,
        computed_at=total.computed_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    max_age = current_app.config["COUNT_CACHE_MAX_AGE"]
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Cache-Control"] += f", stale-while-revalidate={max_age * 5}"
    # The validator covers what a reader cares about, so an unchanged total revalidates (304).
    response.set_etag(f"{total.petition_id}-{total.state}-{total.signature_count}")
    return response.make_conditional(request)
