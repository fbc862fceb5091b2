"""Public pages: the index of open petitions, a petition's page, its running total as JSON."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import get_locale

from .. import figures
from ..api.representations import timestamp
from ..api.views import derived, petition_stats, series_points
from ..extensions import db
from ..memo import app_memo
from ..models import utcnow
from ..services import counts, opendata, petitions
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
            figures=_figures(petition),
        ),
        status,
    )


def _figures(petition) -> figures.PublicFigures | None:
    """The chart and breakdowns, from the memoised public snapshot (api.views.petition_stats),
    so a crowd on a viral petition's page does not scan its signatures on every view."""
    if petition.state not in opendata.COUNTED_STATES:
        return None
    found = petition_stats(petition.id)
    if found is None:
        return None

    def build() -> figures.PublicFigures:
        days = [(p.start.date(), p.count) for p in series_points(petition, found, "day")]
        return figures.public_figures(found, days)

    return derived("figures", found, str(get_locale()), build=build)


@bp.get("/petitions/<int:petition_id>")
def petition(petition_id: int):
    found = petitions.public_petition(db.session, petition_id)
    if found is None:
        abort(404)
    return render_petition(found)


def current_total(petition_id: int) -> counts.PublicTotal | None:
    """An open or closed petition's total through the per-process memo (COUNT_MEMO_SECONDS),
    for count.json and the live stream; None for any other id."""
    if not 0 < petition_id <= petitions.MAX_PETITION_ID:
        return None
    memo = app_memo(current_app, "petition_totals", current_app.config["COUNT_MEMO_SECONDS"])
    return memo.get(petition_id, lambda: counts.public_total(db.session, petition_id))


@bp.get("/petitions/<int:petition_id>/count.json")
def count_json(petition_id: int):
    """The running total, for the live counter and for scripts.

    Cacheable for a few seconds by browsers and reverse proxies, and memoised in the process
    (see services/counts.py), so a crowd watching a viral petition cannot overload the database.
    """
    total = current_total(petition_id)
    if total is None:
        abort(404)
    response = jsonify(
        petition_id=total.petition_id,
        state=total.state,
        signature_count=total.signature_count,
        computed_at=timestamp(total.computed_at),
    )
    max_age = current_app.config["COUNT_CACHE_MAX_AGE"]
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Cache-Control"] += f", stale-while-revalidate={max_age * 5}"
    # The validator covers what a reader cares about, so an unchanged total revalidates (304).
    response.set_etag(f"{total.petition_id}-{total.state}-{total.signature_count}")
    return response.make_conditional(request)
