"""Public pages: the index of open petitions, a petition's page, its running total as JSON."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    get_template_attribute,
    jsonify,
    render_template,
    request,
)
from flask_babel import get_locale
from markupsafe import Markup

from .. import figures
from ..api.representations import timestamp
from ..api.views import derived, petition_stats, series_points
from ..extensions import db
from ..memo import app_memo
from ..models import utcnow
from ..services import counts, opendata, petitions, updates
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
    """The petition page; the signing blueprint re-renders it with a failed form.

    What a page view costs is what a crowd on a viral petition costs, so the page reads the
    database once or twice (the petition with its organiser's name; its updates if it is open
    or closed) and takes the rest from per-process memos: the total from the one count.json
    and the live stream use (COUNT_MEMO_SECONDS), the chart and tables as HTML made once per
    statistics snapshot and language, and a new form's fields made once per language. A
    rejected petition shows neither a total nor updates, so it reads neither.
    """
    now = utcnow()
    accepting = petition.accepts_signatures(now)
    blank_fields = None
    if form is None and accepting:
        form = SignForm()
        blank_fields = _blank_sign_fields()
    counted = petition.state in opendata.COUNTED_STATES
    total = current_total(petition.id) if counted else None
    return (
        render_template(
            "public/petition.html",
            petition=petition,
            total=total.signature_count if total is not None else 0,
            updates=updates.updates_of(db.session, petition.id) if counted else [],
            form=form,
            blank_fields=blank_fields,
            accepting=accepting,
            figures=_figures_html(petition) if counted else None,
        ),
        status,
    )


def _blank_sign_fields() -> Markup:
    """The sign form's fields as a new form shows them, rendered once per language and process.

    They are the same for every reader of every petition (empty inputs, the country list, the
    labels); only the CSRF token differs, and the page renders it apart. Rendering the seven
    fields through WTForms was a third of the page's template time.
    """
    known: dict[str, Markup] = current_app.extensions.setdefault("blank_sign_fields", {})
    locale = str(get_locale())
    html = known.get(locale)
    if html is None:
        sign_fields = get_template_attribute("macros/forms.html", "sign_fields")
        html = known[locale] = Markup(sign_fields(SignForm(meta={"csrf": False})))  # noqa: S704 (rendered by Jinja, escaped)
    return html


def _figures_html(petition) -> Markup | None:
    """The chart and breakdowns from the memoised public snapshot (api.views.petition_stats),
    as HTML made once per snapshot and language (api.views.derived), so a crowd on a viral
    petition's page neither scans its signatures nor formats every day of its table again."""
    found = petition_stats(petition.id)
    if found is None:
        return None

    def build() -> Markup:
        days = [(p.start.date(), p.count) for p in series_points(petition, found, "day")]
        numbers = figures.public_figures(found, days)
        return Markup(  # noqa: S704 (rendered by Jinja, escaped)
            render_template("public/_figures.html", figures=numbers, petition_id=petition.id)
        )

    return derived("figures_html", found, str(get_locale()), build=build)


@bp.get("/petitions/<int:petition_id>")
def petition(petition_id: int):
    found = petitions.public_petition(db.session, petition_id, with_owner=True)
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
    # Written out rather than through response.cache_control, whose parse and re-serialise
    # cost ~30 µs: a tenth of this, the most requested answer.
    response.headers["Cache-Control"] = (
        f"public, max-age={max_age}, stale-while-revalidate={max_age * 5}"
    )
    # The validator covers what a reader cares about, so an unchanged total revalidates (304).
    response.set_etag(f"{total.petition_id}-{total.state}-{total.signature_count}")
    return response.make_conditional(request)
