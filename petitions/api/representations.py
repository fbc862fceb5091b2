"""How petitions and their numbers look in the API's JSON and CSV: pure functions, services'
dataclasses in, plain dicts and rows out. The OpenAPI document (openapi.py) describes exactly
these shapes, and a test checks real answers against it.

Nothing here reads a signature: only aggregates from services/opendata.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from ..http import timestamp
from ..models import Petition, PetitionTranslation
from ..services.opendata import Disclosed, PetitionStats, SeriesPoint

#: `url_for`-like: (endpoint, **values) -> absolute URL.
UrlFor = Callable[..., str]


def _text(petition: Petition, value: str | None) -> str | None:
    return None if petition.text_withheld() else value


def petition_summary(petition: Petition, signature_count: int | None, url_for: UrlFor) -> dict:
    """A petition as listed: enough to sort, chart and link; no long texts."""
    return {
        "id": petition.id,
        "url": url_for("public.petition", petition_id=petition.id),
        "api_url": url_for("api.petition", petition_id=petition.id),
        "title": _text(petition, petition.title),
        "target": _text(petition, petition.addressee),
        "language": petition.language,
        "state": petition.state,
        "text_withheld": petition.text_withheld(),
        "signature_count": signature_count,
        "goal": petition.signature_goal,
        "created_at": timestamp(petition.created_at),
        "opened_at": timestamp(petition.opened_at),
        "closes_at": timestamp(petition.closes_at),
        "closed_at": timestamp(petition.closed_at),
        "response_at": timestamp(petition.response_at),
    }


def petition_detail(
    petition: Petition, stats: PetitionStats | None, url_for: UrlFor, computed_at: datetime
) -> dict:
    """Everything public about one petition. `stats` is None for rejected petitions, which
    never opened: their numbers are null and their lists empty."""
    counted = stats is not None
    detail = petition_summary(petition, stats.signature_count if counted else None, url_for)
    detail.update(
        {
            "action": _text(petition, petition.action),
            "background": _text(petition, petition.background),
            "translations": [
                {
                    "language": t.language,
                    "title": _text(petition, t.title),
                    "action": _text(petition, t.action),
                    "background": _text(petition, t.background),
                }
                for t in petition.approved_translations
            ],
            "edited_at": timestamp(petition.edited_at),
            "signatures_removed": (
                {**stats.removed, "total": stats.removed_total} if counted else None
            ),
            "signatures_held": stats.held if counted else None,
            "removals": [
                {"date": r.day.isoformat(), "category": r.category, "count": r.count}
                for r in (stats.removals if counted else [])
            ],
            "signatures_by_country": [
                {"code": c.code, "name": c.name, "count": c.count}
                for c in (stats.countries if counted else [])
            ],
            "signatures_by_region": [
                {"country": r.country, "code": r.code, "name": r.name, "count": r.count}
                for r in (stats.regions if counted else [])
            ],
            "thresholds_reached": [
                {"kind": m.kind, "threshold": m.threshold, "reached_at": timestamp(m.reached_at)}
                for m in (stats.milestones if counted else [])
            ],
            "response": (
                {"text": petition.response_text, "published_at": timestamp(petition.response_at)}
                if petition.response_text
                else None
            ),
            "rejection": (
                {"reason": petition.rejection_reason, "note": petition.rejection_note}
                if petition.state == "rejected"
                else None
            ),
            "computed_at": timestamp(computed_at),
            "links": {
                "timeseries": url_for("api.timeseries", petition_id=petition.id),
                "timeseries_csv": url_for("api.timeseries_csv", petition_id=petition.id),
                "countries_csv": url_for("api.countries_csv", petition_id=petition.id),
                "regions_csv": url_for("api.regions_csv", petition_id=petition.id),
                "removals_csv": url_for("api.removals_csv", petition_id=petition.id),
                "count": url_for("public.count_json", petition_id=petition.id),
            },
        }
    )
    return detail


def series_json(
    petition: Petition, stats: PetitionStats, interval: str, points: list[SeriesPoint]
) -> dict:
    return {
        "petition_id": petition.id,
        "interval": interval,
        "signature_count": stats.signature_count,
        "computed_at": timestamp(stats.computed_at),
        "points": [
            {"start": timestamp(p.start), "count": p.count, "cumulative": p.cumulative}
            for p in points
        ],
    }


PETITION_CSV_HEADER = [
    "id",
    "url",
    "title",
    "target",
    "language",
    "state",
    "signature_count",
    "signatures_removed",
    "signatures_held",
    "goal",
    "created_at",
    "opened_at",
    "closes_at",
    "closed_at",
    "response_at",
]


def _cell(value) -> str:
    return "" if value is None else str(value)


def petition_csv_row(
    petition: Petition, signature_count: int | None, disclosed: Disclosed, url_for: UrlFor
) -> list[str]:
    """Rejected petitions (no count) have empty numbers, as their JSON has nulls."""
    counted = signature_count is not None
    values = {
        **petition_summary(petition, signature_count, url_for),
        "signatures_removed": disclosed.removed if counted else None,
        "signatures_held": disclosed.held if counted else None,
    }
    return [_cell(values[column]) for column in PETITION_CSV_HEADER]


TRANSLATION_CSV_HEADER = ["petition_id", "language", "title", "action", "background"]


def translation_csv_row(translation: PetitionTranslation, withheld: bool) -> list[str]:
    """An approved translation; its texts empty when the petition's are withheld."""
    texts = (
        ["", "", ""]
        if withheld
        else [translation.title, translation.action, translation.background or ""]
    )
    return [str(translation.petition_id), translation.language, *texts]


COUNTRY_CSV_HEADER = ["country_code", "country_name", "signatures"]
REGION_CSV_HEADER = ["country_code", "region_code", "region_name", "signatures"]
SERIES_CSV_HEADER = ["start", "signatures", "cumulative"]
REMOVALS_CSV_HEADER = ["date", "category", "signatures"]
SNAPSHOT_CSV_HEADER = [
    "day",
    "petition_id",
    "title",
    "state",
    "signature_count",
    "signatures_removed",
    "signatures_held",
    "recorded_at",
]


def country_rows(stats: PetitionStats) -> list[list[str]]:
    return [[c.code, c.name, str(c.count)] for c in stats.countries]


def region_rows(stats: PetitionStats) -> list[list[str]]:
    return [[r.country, _cell(r.code), _cell(r.name), str(r.count)] for r in stats.regions]


def removal_rows(stats: PetitionStats) -> list[list[str]]:
    """Removals by UTC day and reason category, newest first (as the JSON's `removals`)."""
    return [[r.day.isoformat(), r.category, str(r.count)] for r in stats.removals]


def series_rows(points: list[SeriesPoint]) -> list[list[str]]:
    return [[timestamp(p.start) or "", str(p.count), str(p.cumulative)] for p in points]


def snapshot_row(day: date, row, title: str) -> list[str]:
    return [
        day.isoformat(),
        str(row.petition_id),
        title,
        row.state,
        str(row.signature_count),
        str(row.signatures_removed),
        _cell(row.signatures_held),
        timestamp(row.recorded_at) or "",
    ]
