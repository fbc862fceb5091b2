"""Public pages: the index of open petitions, search and the archive, a petition's page, its
running total as JSON."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from ..extensions import db
from ..http import shared_page, timestamp
from ..languages import request_language
from ..services import petitions, search, translations
from ..services.public_numbers import current_total
from .page import render_petition

bp = Blueprint("public", __name__)


@bp.get("/")
@shared_page
def index():
    sort = request.args.get("sort", "popular")
    if sort not in petitions.SORTS:
        sort = "popular"
    page = request.args.get("page", 1, type=int)
    listing = petitions.list_open(
        db.session, sort=sort, page=page, per_page=current_app.config["PETITIONS_PER_PAGE"]
    )
    language = request_language()
    # The reader's-language titles of this page's petitions, in one query.
    titles = translations.approved_titles(
        db.session, [p.id for p, _total in listing.items], language
    )
    return render_template(
        "public/index.html",
        listing=listing,
        sort=sort,
        titles=titles,
        language=language,
        query_max=search.QUERY_MAX,
    )


@bp.get("/search")
@shared_page
def search_page():
    """Search and the archive (`state=archive`): every choice in the query string, so a
    result list is a link to share; whatever the query string says, the page answers (an
    unusable value is replaced by its default)."""
    args = request.args
    asked = search.SearchRequest.from_args(
        args.get("q"), args.get("state"), args.get("sort"), args.get("page", 1, type=int)
    )
    results = search.search(db.session, asked, per_page=current_app.config["PETITIONS_PER_PAGE"])
    return render_template(
        "public/search.html", asked=asked, results=results, query_max=search.QUERY_MAX
    )


@bp.get("/petitions/<int:petition_id>")
@shared_page
def petition(petition_id: int):
    found = petitions.public_petition(
        db.session, petition_id, with_owner=True, with_translations=True
    )
    if found is None:
        abort(404)
    return render_petition(found)


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
    # Written out rather than through response.cache_control, whose parse and re-serialise
    # cost ~30 µs: a tenth of this, the most requested answer.
    response.headers["Cache-Control"] = (
        f"public, max-age={max_age}, stale-while-revalidate={max_age * 5}"
    )
    # The validator covers what a reader cares about, so an unchanged total revalidates (304).
    response.set_etag(f"{total.petition_id}-{total.state}-{total.signature_count}")
    return response.make_conditional(request)


@bp.get("/privacy")
@shared_page
def privacy():
    """What the platform keeps about signers, why and for how long (the retention periods are
    the configured ones, so the page cannot drift from what the worker does)."""
    config = current_app.config
    return render_template(
        "public/privacy.html",
        unconfirmed_days=config["UNCONFIRMED_RETENTION_DAYS"],
        investigation_days=config["INVESTIGATION_DAYS"],
    )


@bp.get("/accessibility")
@shared_page
def accessibility():
    """The accessibility statement: the standard we aim for, how it is tested, what is known
    not to meet it, and how to tell us."""
    return render_template(
        "public/accessibility.html", contact=current_app.config["ACCESSIBILITY_CONTACT"]
    )
