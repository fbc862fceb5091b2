"""The read-only JSON API and open-data downloads, at /api/v1/ (documented by openapi.py).

Views parse the query string strictly (a bad parameter is a 400 problem naming it, never a
guess), call services/opendata.py, and shape the answer with representations.py. Per-petition
statistics come from the per-process memo (`petition_stats()`), so a crowd of readers costs
one scan of the signatures per STATS_MEMO_SECONDS and process.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from .. import clock
from ..extensions import db
from ..http import ApiProblem, cacheable, data_etag, handle_problem
from ..models import Petition
from ..services import opendata
from ..services import petitions as petitions_service
from ..services.export import csv_chunks, spreadsheet_safe
from ..services.public_numbers import derived, petition_stats, series_points
from ..text import bad_character
from . import representations as rep

#: A snapshot's name: YYYY-MM-DD, nothing else ISO 8601 allows.
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The listing's filters, carried over into its pagination links.
FILTER_PARAMS = ("state", "q", "target", "country", "sort")

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(ApiProblem, handle_problem)


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


# --- query parameters ---------------------------------------------------------------------


def _bad(param: str, detail: str) -> ApiProblem:
    return ApiProblem(400, _("Invalid parameter"), detail, param)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise _bad(name, _("%(name)s must be a whole number", name=name))
    return int(raw)


def _text_arg(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if len(raw) > opendata.QUERY_MAX:  # as documented: the length as sent, spaces included
        raise _bad(
            name,
            _("%(name)s must be at most %(max)s characters", name=name, max=opendata.QUERY_MAX),
        )
    if bad_character(raw):
        raise _bad(name, _("%(name)s contains a control or invalid character", name=name))
    return raw.strip() or None


def _choice_arg(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = request.args.get(name, default)
    if raw not in choices:
        raise _bad(
            name, _("%(name)s must be one of %(choices)s", name=name, choices=", ".join(choices))
        )
    return raw


def _query() -> opendata.PetitionQuery:
    state = request.args.get("state", "all")
    # Strict like state and sort (an empty country is refused, not taken for "any").
    country = request.args.get("country")
    try:
        return opendata.PetitionQuery(
            state=None if state == "all" else state,
            text=_text_arg("q"),
            target=_text_arg("target"),
            # Upper-cased only if ASCII: "ß".upper() is "SS", which would pass for a code.
            country=country.upper() if country and country.isascii() else country,
            sort=request.args.get("sort", "signatures"),
        )
    except opendata.QueryError as exc:
        raise _bad(exc.param, str(exc)) from None


def _public_petition(petition_id: int) -> Petition:
    petition = petitions_service.public_petition(db.session, petition_id)
    if petition is None:
        raise ApiProblem(404, _("Not found"), _("There is no public petition with this id."))
    return petition


def _counted(petition: Petition) -> tuple[Petition, opendata.PetitionStats]:
    stats = petition_stats(petition.id)
    if stats is None:
        raise ApiProblem(
            404,
            _("Not found"),
            _("This petition never opened for signatures, so it has no numbers."),
        )
    return petition, stats


# --- answers ------------------------------------------------------------------------------


def _numbers_etag(body: dict) -> str:
    """The ETag of an answer that says when its numbers were read: of everything but that."""
    return data_etag({key: value for key, value in body.items() if key != "computed_at"})


def _csv(
    header: list[str], rows: list[list[str]], filename: str, *, last_modified=None
) -> Response:
    """A small CSV built in memory (aggregates), UTF-8 with a BOM, formula-safe cells."""
    safe = [[spreadsheet_safe(cell) for cell in row] for row in rows]
    response = Response("".join(csv_chunks(header, [safe])), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return cacheable(response, request, last_modified=last_modified)


@bp.get("/")
def index():
    """Where everything is, for someone exploring with curl."""
    return cacheable(
        jsonify(
            openapi=_url("api.openapi"),
            petitions=_url("api.petitions"),
            petitions_csv=_url("api.petitions_csv"),
            translations_csv=_url("api.translations_csv"),
            snapshots=_url("api.snapshots"),
        ),
        request,
    )


@bp.get("/openapi.json")
def openapi():
    from .openapi import document

    return cacheable(jsonify(document(_url("api.index").rstrip("/"))), request, max_age=3600)


@bp.get("/petitions")
def petitions():
    query = _query()
    page = _int_arg("page", 1)
    per_page = _int_arg("per_page", current_app.config["PETITIONS_PER_PAGE"])
    try:
        listing = opendata.list_public(db.session, query, page=page, per_page=per_page)
    except opendata.QueryError as exc:
        raise _bad(exc.param, str(exc)) from None

    def page_url(number: int) -> str:
        # Only the filters: any other argument would reach url_for() as a keyword of its own
        # (`_external`, `_scheme`, `endpoint`, ...), a 500 or a link elsewhere.
        args = {k: v for k, v in request.args.items() if k in FILTER_PARAMS}
        return _url("api.petitions", **args, page=number, per_page=per_page)

    links = {
        "self": page_url(page),
        "first": page_url(1),
        "last": page_url(listing.pages),
        "prev": page_url(min(page - 1, listing.pages)) if page > 1 else None,
        "next": page_url(page + 1) if page < listing.pages else None,
    }
    response = jsonify(
        data=[rep.petition_summary(i.petition, i.signature_count, _url) for i in listing.items],
        meta={
            "page": page,
            "per_page": per_page,
            "pages": listing.pages,
            "total": listing.total,
        },
        links=links,
    )
    response.headers["Link"] = ", ".join(
        f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self"
    )
    return cacheable(response, request)


@bp.get("/petitions.csv")
def petitions_csv():
    """Every public petition matching the filters, streamed: constant memory however many."""
    query = _query()
    session = db.session

    def batches():
        for batch in opendata.all_public(session, query):
            yield [
                [spreadsheet_safe(cell) for cell in rep.petition_csv_row(p, total, shown, _url)]
                for p, total, shown in batch
            ]

    response = Response(
        stream_with_context(csv_chunks(rep.PETITION_CSV_HEADER, batches())), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="petitions.csv"'
    return cacheable(response, request, etag=False)


@bp.get("/translations.csv")
def translations_csv():
    """The approved translations of every public petition matching the filters, streamed."""
    query = _query()
    session = db.session

    def batches():
        for batch in opendata.all_public_translations(session, query):
            yield [
                [spreadsheet_safe(cell) for cell in rep.translation_csv_row(t, withheld)]
                for t, withheld in batch
            ]

    response = Response(
        stream_with_context(csv_chunks(rep.TRANSLATION_CSV_HEADER, batches())),
        mimetype="text/csv",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="translations.csv"'
    return cacheable(response, request, etag=False)


@bp.get("/petitions/<int:petition_id>")
def petition(petition_id: int):
    found = _public_petition(petition_id)
    stats = petition_stats(found.id) if found.state in opendata.COUNTED_STATES else None
    computed_at = stats.computed_at if stats else clock.now()
    body = rep.petition_detail(found, stats, _url, computed_at)
    # An approved (or corrected) translation is new public text too.
    reviewed = [t.reviewed_at for t in found.approved_translations if t.reviewed_at]
    return cacheable(
        jsonify(body),
        request,
        last_modified=max([opendata.last_modified(found, stats), *reviewed]),
        weak_etag=_numbers_etag(body),
    )


def _series(petition_id: int):
    petition, stats = _counted(_public_petition(petition_id))
    interval = _choice_arg("interval", opendata.INTERVALS, "day")
    return petition, stats, interval, series_points(petition, stats, interval)


def _series_modified(petition: Petition, stats: opendata.PetitionStats, points) -> datetime:
    """The series also changes when a new (empty) hour or day begins while it is open."""
    changed = opendata.last_modified(petition, stats)
    return max(changed, points[-1].start) if points else changed


@bp.get("/petitions/<int:petition_id>/timeseries")
def timeseries(petition_id: int):
    petition, stats, interval, points = _series(petition_id)

    def build() -> tuple[str, str]:
        body = rep.series_json(petition, stats, interval, points)
        return json.dumps(body), _numbers_etag(body)

    body, etag = derived("series_json", stats, interval, build=build)
    response = Response(body, mimetype="application/json")
    return cacheable(
        response,
        request,
        last_modified=_series_modified(petition, stats, points),
        weak_etag=etag,
    )


@bp.get("/petitions/<int:petition_id>/timeseries.csv")
def timeseries_csv(petition_id: int):
    petition, stats, interval, points = _series(petition_id)
    return _csv(
        rep.SERIES_CSV_HEADER,
        rep.series_rows(points),
        f"petition-{petition.id}-signatures-per-{interval}.csv",
        last_modified=_series_modified(petition, stats, points),
    )


def _breakdown_csv(petition_id: int, name: str, header: list[str], rows) -> Response:
    petition, stats = _counted(_public_petition(petition_id))
    return _csv(
        header,
        rows(stats),
        f"petition-{petition.id}-{name}.csv",
        last_modified=opendata.last_modified(petition, stats),
    )


@bp.get("/petitions/<int:petition_id>/countries.csv")
def countries_csv(petition_id: int):
    return _breakdown_csv(petition_id, "countries", rep.COUNTRY_CSV_HEADER, rep.country_rows)


@bp.get("/petitions/<int:petition_id>/regions.csv")
def regions_csv(petition_id: int):
    return _breakdown_csv(petition_id, "regions", rep.REGION_CSV_HEADER, rep.region_rows)


@bp.get("/petitions/<int:petition_id>/removals.csv")
def removals_csv(petition_id: int):
    return _breakdown_csv(petition_id, "removals", rep.REMOVALS_CSV_HEADER, rep.removal_rows)


@bp.get("/snapshots")
def snapshots():
    days = opendata.snapshot_days(db.session)
    return cacheable(
        jsonify(
            data=[
                {
                    "day": day.isoformat(),
                    "petitions": petitions,
                    "csv": _url("api.snapshot_csv", day=day.isoformat()),
                }
                for day, petitions in days
            ]
        ),
        request,
    )


@bp.get("/snapshots/<day>.csv")
def snapshot_csv(day: str):
    try:
        wanted = date.fromisoformat(day) if DAY.fullmatch(day) else None
    except ValueError:
        wanted = None
    if wanted is None:
        raise ApiProblem(
            404, _("Not found"), _("Snapshots are named by their day, e.g. 2026-12-01.")
        )
    rows = opendata.snapshot_rows(db.session, wanted)
    if not rows:
        raise ApiProblem(404, _("Not found"), _("No snapshot was recorded on that day."))
    return _csv(
        rep.SNAPSHOT_CSV_HEADER,
        [rep.snapshot_row(wanted, row, title) for row, title in rows],
        f"petition-counts-{wanted.isoformat()}.csv",
        last_modified=max(row.recorded_at for row, _ in rows),
    )
