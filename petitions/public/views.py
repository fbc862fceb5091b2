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


@bp.get("/petitions/<int:petition_id>/count.json")
def count_json(petition_id: int):
    """The running total, cacheable for a few seconds by browsers and reverse proxies."""
    found = petitions.public_petition(db.session, petition_id)
    if found is None:
        abort(404)
    computed_at = utcnow()
    total = counts.count_for(db.session, found.id)
    response = jsonify(
        petition_id=found.id,
        state=found.state,
        signature_count=total,
        computed_at=computed_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    max_age = current_app.config["COUNT_CACHE_MAX_AGE"]
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Cache-Control"] += f", stale-while-revalidate={max_age * 5}"
    # The validator covers what a reader cares about, so an unchanged total revalidates (304).
    response.set_etag(f"{found.id}-{found.state}-{total}")
    response.last_modified = computed_at
    return response.make_conditional(request)
