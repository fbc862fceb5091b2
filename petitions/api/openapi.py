"""The OpenAPI 3.1 document of the public API, served at /api/v1/openapi.json.

Written by hand next to representations.py, whose shapes it describes; tests validate real
answers against these schemas and fuzz every operation from this document (schemathesis), so
the two cannot drift apart unnoticed. Schemas are closed (`additionalProperties: false`), so a
new field must be documented here before a test passes.
"""

from __future__ import annotations

from typing import Any

from ..models import RemovalCategory
from ..services.opendata import INTERVALS, PER_PAGE_MAX, PUBLIC_STATES, QUERY_MAX, SORTS

VERSION = "1.0.0"
#: The highest page number the API reads (views._int_arg takes at most nine digits).
PAGE_MAX = 999_999_999

TIMESTAMP = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SUMMARY_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1},
    "url": {"type": "string", "format": "uri", "description": "The petition's page."},
    "api_url": {"type": "string", "format": "uri"},
    "title": {
        "type": ["string", "null"],
        "description": "Null when the text is withheld (rejected as offensive or defamatory).",
    },
    "target": {"type": ["string", "null"], "description": "Who the petition is addressed to."},
    "language": {
        "type": "string",
        "description": (
            "The language the organiser wrote the title, action and background in (a code such "
            "as en, ru, ky, id); translations into others are in the petition's `translations`."
        ),
    },
    "state": {"type": "string", "enum": list(PUBLIC_STATES)},
    "text_withheld": {"type": "boolean"},
    "signature_count": {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "Confirmed signatures; null for rejected petitions (never opened).",
    },
    "goal": {"type": ["integer", "null"], "minimum": 1},
    "created_at": TIMESTAMP,
    "opened_at": NULLABLE_TIMESTAMP,
    "closes_at": NULLABLE_TIMESTAMP,
    "closed_at": NULLABLE_TIMESTAMP,
    "response_at": NULLABLE_TIMESTAMP,
}

SCHEMAS: dict[str, Any] = {
    "PetitionSummary": _object(SUMMARY_PROPERTIES),
    "Removal": _object(
        {
            "date": {"type": "string", "format": "date"},
            "category": {"type": "string", "enum": [str(c) for c in RemovalCategory]},
            "count": COUNT,
        },
        "Signatures removed on one UTC day for one public reason.",
    ),
    "Translation": _object(
        {
            "language": {"type": "string", "description": "Its language code, e.g. ru."},
            "title": {"type": ["string", "null"]},
            "action": {"type": ["string", "null"]},
            "background": {"type": ["string", "null"]},
        },
        "The petition's text in another language, approved by a moderator like the original. "
        "The texts are null when the petition's text is withheld.",
    ),
    "PetitionDetail": _object(
        {
            **SUMMARY_PROPERTIES,
            "action": {"type": ["string", "null"]},
            "background": {"type": ["string", "null"]},
            "translations": {
                "type": "array",
                "items": _ref("Translation"),
                "description": (
                    "Approved translations, by language code (pending and rejected ones are "
                    "never published)."
                ),
            },
            "edited_at": {
                **NULLABLE_TIMESTAMP,
                "description": "When moderators last corrected the text.",
            },
            "signatures_removed": {
                "oneOf": [
                    _object(
                        {"invalidated": COUNT, "withdrawn": COUNT, "total": COUNT},
                        "Confirmed signatures taken out of the total since.",
                    ),
                    {"type": "null"},
                ]
            },
            "signatures_held": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": (
                    "Signatures confirmed by email but held for a moderator's review (flagged "
                    "when signing): not in signature_count until validated."
                ),
            },
            "removals": {
                "type": "array",
                "items": _ref("Removal"),
                "description": "Signatures taken out, by UTC day and category, newest first.",
            },
            "signatures_by_country": {"type": "array", "items": _ref("CountryCount")},
            "signatures_by_region": {"type": "array", "items": _ref("RegionCount")},
            "thresholds_reached": {"type": "array", "items": _ref("Threshold")},
            "response": {
                "oneOf": [
                    _object({"text": {"type": "string"}, "published_at": NULLABLE_TIMESTAMP}),
                    {"type": "null"},
                ]
            },
            "rejection": {
                "oneOf": [
                    _object(
                        {
                            "reason": {
                                "type": "string",
                                "enum": [
                                    "duplicate",
                                    "not_an_action",
                                    "offensive",
                                    "defamatory",
                                    "advertising",
                                    "other",
                                ],
                            },
                            "note": {"type": ["string", "null"]},
                        }
                    ),
                    {"type": "null"},
                ]
            },
            "computed_at": {
                **TIMESTAMP,
                "description": "When these numbers were read (they may be up to "
                "STATS_MEMO_SECONDS old; count.json is live).",
            },
            "links": _object(
                {
                    name: {"type": "string", "format": "uri"}
                    for name in (
                        "timeseries",
                        "timeseries_csv",
                        "countries_csv",
                        "regions_csv",
                        "removals_csv",
                        "count",
                    )
                }
            ),
        }
    ),
    "CountryCount": _object(
        {
            "code": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1."},
            "name": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
        }
    ),
    "RegionCount": _object(
        {
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "code": {
                "type": ["string", "null"],
                "description": "ISO 3166-2; null for regions not given or not recognised "
                "(signers type them freely; only recognised subdivisions are published).",
            },
            "name": {"type": ["string", "null"]},
            "count": {"type": "integer", "minimum": 1},
        }
    ),
    "Threshold": _object(
        {
            "kind": {"type": "string", "enum": ["goal", "count"]},
            "threshold": {"type": "integer", "minimum": 1},
            "reached_at": {
                **TIMESTAMP,
                "description": "When the site noticed it (within a "
                "minute of the signature that crossed it).",
            },
        }
    ),
    "PetitionList": _object(
        {
            "data": {"type": "array", "items": _ref("PetitionSummary")},
            "meta": _object(
                {
                    "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX},
                    "pages": {"type": "integer", "minimum": 1},
                    "total": COUNT,
                }
            ),
            "links": _object(
                {
                    "self": {"type": "string", "format": "uri"},
                    "first": {"type": "string", "format": "uri"},
                    "last": {"type": "string", "format": "uri"},
                    "prev": {"type": ["string", "null"], "format": "uri"},
                    "next": {"type": ["string", "null"], "format": "uri"},
                }
            ),
        }
    ),
    "TimeSeries": _object(
        {
            "petition_id": {"type": "integer", "minimum": 1},
            "interval": {"type": "string", "enum": list(INTERVALS)},
            "signature_count": COUNT,
            "computed_at": TIMESTAMP,
            "points": {
                "type": "array",
                "description": "Every UTC hour or day from the first signature to now (or "
                "the closing), with 0 where nobody signed.",
                "items": _object(
                    {
                        "start": TIMESTAMP,
                        "count": COUNT,
                        "cumulative": COUNT,
                    }
                ),
            },
        }
    ),
    "Count": _object(
        {
            "petition_id": {"type": "integer", "minimum": 1},
            "state": {"type": "string", "enum": ["open", "closed"]},
            "signature_count": COUNT,
            "computed_at": TIMESTAMP,
        }
    ),
    "SnapshotList": _object(
        {
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "day": {"type": "string", "format": "date"},
                        "petitions": {"type": "integer", "minimum": 1},
                        "csv": {"type": "string", "format": "uri"},
                    }
                ),
            }
        }
    ),
    "Index": _object(
        {
            name: {"type": "string", "format": "uri"}
            for name in ("openapi", "petitions", "petitions_csv", "translations_csv", "snapshots")
        }
    ),
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "invalid_params": {
                "type": "array",
                "items": _object({"name": {"type": "string"}, "reason": {"type": "string"}}),
            },
        },
        "required": ["type", "title", "status", "detail"],
        "additionalProperties": False,
    },
}

CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Send back in If-None-Match."},
    "Cache-Control": {"schema": {"type": "string"}},
}
WITH_LAST_MODIFIED = {**CACHE_HEADERS, "Last-Modified": {"schema": {"type": "string"}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _json(schema: str, description: str, headers=CACHE_HEADERS) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _csv(description: str, headers=CACHE_HEADERS) -> dict[str, Any]:
    return {
        "description": description + " UTF-8 with a byte-order mark; cells a spreadsheet "
        "would run as formulas start with an apostrophe.",
        "headers": headers,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }


NOT_MODIFIED = {"description": "Not modified (conditional request)."}
#: Text the API refuses in a filter (400), as text.bad_character() does: control characters,
#: private-use characters and U+FFFD (what undecodable bytes become). The supplementary
#: private-use planes are written as the characters themselves: Python's `re` and ECMA-262
#: spell escapes beyond U+FFFF differently.
FILTER_TEXT = (
    r"^[^\u0000-\u001F\u007F-\u009F\uE000-\uF8FF\uFFFD"
    "\U000f0000-\U000ffffd\U00100000-\U0010fffd]*$"
)
PETITION_ID = {
    "name": "petition_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
INTERVAL = {
    "name": "interval",
    "in": "query",
    "schema": {"type": "string", "enum": list(INTERVALS), "default": "day"},
}
FILTERS = [
    {
        "name": "state",
        "in": "query",
        "schema": {"type": "string", "enum": [*PUBLIC_STATES, "all"], "default": "all"},
    },
    {
        "name": "q",
        "in": "query",
        "description": "Text to find in the title, action or background (case-insensitive). "
        "Control characters are refused.",
        "schema": {"type": "string", "maxLength": QUERY_MAX, "pattern": FILTER_TEXT},
    },
    {
        "name": "target",
        "in": "query",
        "description": "Part of the addressee's name.",
        "schema": {"type": "string", "maxLength": QUERY_MAX, "pattern": FILTER_TEXT},
    },
    {
        "name": "country",
        "in": "query",
        "description": "Only petitions with confirmed signatures from this ISO 3166-1 country.",
        "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    },
    {
        "name": "sort",
        "in": "query",
        "schema": {"type": "string", "enum": list(SORTS), "default": "signatures"},
    },
]
PAGING = [
    {
        "name": "page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1},
    },
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 20},
    },
]


def _get(summary: str, responses: dict, parameters: list | None = None, op_id: str = ""):
    operation: dict[str, Any] = {"summary": summary, "operationId": op_id, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


def document(base_url: str) -> dict[str, Any]:
    """The document, with `base_url` (e.g. https://petitions.example.kg/api/v1) as server."""
    not_found = _problem("No such public petition.")
    paths = {
        "/": _get("Links to everything here", {"200": _json("Index", "Links.")}, op_id="index"),
        "/openapi.json": _get(
            "This document",
            {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            op_id="openapi",
        ),
        "/petitions": _get(
            "Public petitions, filtered, sorted and paginated",
            {
                "200": _json("PetitionList", "One page; links to the others (also in Link)."),
                "304": NOT_MODIFIED,
                "400": _problem("A parameter is invalid; invalid_params names it."),
            },
            FILTERS + PAGING,
            "listPetitions",
        ),
        "/petitions.csv": _get(
            "Every public petition with its counts, as CSV (streamed)",
            {
                "200": _csv(
                    "Columns: id, url, title, target, language, state, signature_count, "
                    "signatures_removed, signatures_held, goal, created_at, opened_at, "
                    "closes_at, closed_at, response_at (numbers empty for rejected petitions).",
                    headers={"Cache-Control": {"schema": {"type": "string"}}},
                ),
                "400": _problem("A parameter is invalid."),
            },
            FILTERS,
            "petitionsCsv",
        ),
        "/translations.csv": _get(
            "The approved translations of every public petition, as CSV (streamed)",
            {
                "200": _csv(
                    "Columns: petition_id, language, title, action, background; one row per "
                    "approved translation, by petition id and language (texts empty when the "
                    "petition's text is withheld). The filters select petitions as for "
                    "petitions.csv.",
                    headers={"Cache-Control": {"schema": {"type": "string"}}},
                ),
                "400": _problem("A parameter is invalid."),
            },
            FILTERS,
            "translationsCsv",
        ),
        "/petitions/{petition_id}": _get(
            "One public petition with its counts and breakdowns",
            {
                "200": _json("PetitionDetail", "The petition.", WITH_LAST_MODIFIED),
                "304": NOT_MODIFIED,
                "404": not_found,
            },
            [PETITION_ID],
            "getPetition",
        ),
        "/petitions/{petition_id}/timeseries": _get(
            "Confirmed signatures per hour or day, and cumulative",
            {
                "200": _json("TimeSeries", "The series.", WITH_LAST_MODIFIED),
                "304": NOT_MODIFIED,
                "400": _problem("interval is invalid."),
                "404": _problem("No such public petition, or it never opened."),
            },
            [PETITION_ID, INTERVAL],
            "getTimeSeries",
        ),
        "/petitions/{petition_id}/timeseries.csv": _get(
            "The time series as CSV",
            {
                "200": _csv("Columns: start, signatures, cumulative.", WITH_LAST_MODIFIED),
                "304": NOT_MODIFIED,
                "400": _problem("interval is invalid."),
                "404": _problem("No such public petition, or it never opened."),
            },
            [PETITION_ID, INTERVAL],
            "getTimeSeriesCsv",
        ),
        "/petitions/{petition_id}/countries.csv": _get(
            "Confirmed signatures by country, as CSV",
            {
                "200": _csv("Columns: country_code, country_name, signatures.", WITH_LAST_MODIFIED),
                "304": NOT_MODIFIED,
                "404": _problem("No such public petition, or it never opened."),
            },
            [PETITION_ID],
            "getCountriesCsv",
        ),
        "/petitions/{petition_id}/regions.csv": _get(
            "Confirmed signatures by ISO 3166-2 region, as CSV",
            {
                "200": _csv(
                    "Columns: country_code, region_code, region_name, signatures (empty codes: "
                    "not given or not recognised).",
                    WITH_LAST_MODIFIED,
                ),
                "304": NOT_MODIFIED,
                "404": _problem("No such public petition, or it never opened."),
            },
            [PETITION_ID],
            "getRegionsCsv",
        ),
        "/petitions/{petition_id}/removals.csv": _get(
            "Signatures removed from the count, by UTC day and reason category, as CSV",
            {
                "200": _csv(
                    "Columns: date, category, signatures. Newest day first, as the "
                    "petition's `removals`; category is a RemovalCategory.",
                    WITH_LAST_MODIFIED,
                ),
                "304": NOT_MODIFIED,
                "404": _problem("No such public petition, or it never opened."),
            },
            [PETITION_ID],
            "getRemovalsCsv",
        ),
        "/snapshots": _get(
            "Days with a snapshot of every public total",
            {"200": _json("SnapshotList", "Newest first."), "304": NOT_MODIFIED},
            op_id="listSnapshots",
        ),
        "/snapshots/{day}.csv": _get(
            "Every public petition's total as recorded on one UTC day",
            {
                "200": _csv(
                    "Columns: day, petition_id, title, state, signature_count, "
                    "signatures_removed, signatures_held, recorded_at. signatures_held is "
                    "empty in the snapshots recorded before it was kept.",
                    WITH_LAST_MODIFIED,
                ),
                "304": NOT_MODIFIED,
                "404": _problem("No snapshot for that day."),
            },
            [
                {
                    "name": "day",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "date"},
                }
            ],
            "getSnapshotCsv",
        ),
        # count.json predates /api/v1 and lives beside the petition's page.
        "/petitions/{petition_id}/count.json": {
            "servers": [{"url": base_url.removesuffix("/api/v1") or "/"}],
            **_get(
                "The live total of an open or closed petition",
                {
                    "200": _json("Count", "The total, at most a few seconds old."),
                    "304": NOT_MODIFIED,
                    "404": _problem("No open or closed petition with this id."),
                },
                [PETITION_ID],
                "getCount",
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Petitions open data",
            "version": VERSION,
            "description": "Read-only public data: petitions, confirmed-signature totals, "
            "breakdowns by country and region, time series and daily snapshots. No personal "
            "data. CORS is open; answers carry ETag (and Last-Modified where meaningful) and "
            "may be cached briefly. Errors are application/problem+json.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
