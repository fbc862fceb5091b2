"""Charts and tables of confirmed signatures, labelled in the reader's language: shared by the
organiser's dashboard and the public petition page. The numbers come from services (stats.py
for the owner's live view, opendata.py for the public snapshot); charts.py draws the SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import format_date, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup

from . import charts
from .countries import country_name
from .services.opendata import PetitionStats


@dataclass(frozen=True)
class CountryRow:
    code: str
    name: str
    count: int
    #: Share of the confirmed signatures, in whole percent (rounded; at least 1 if any).
    percent: int


def country_label(code: str) -> str:
    """A country's name in the reader's language."""
    return country_name(code, str(get_locale()))


def _day_format(first: date, last: date) -> str:
    """Short dates under the bars; with the year when the chart spans more than one."""
    return "d MMM" if first.year == last.year else "d MMM y"


def signatures_chart(per_day: list[tuple[date, int]]) -> Markup:
    """The per-day bar chart, labelled in the reader's language (`per_day` not empty)."""
    first, last = per_day[0][0], per_day[-1][0]
    total = sum(count for _, count in per_day)
    busiest_day, busiest = max(per_day, key=lambda point: (point[1], point[0]))
    day_format = _day_format(first, last)
    description = " ".join(
        [
            _(
                "Signatures confirmed on each day from %(first)s to %(last)s (UTC).",
                first=format_date(first, "long"),
                last=format_date(last, "long"),
            ),
            ngettext(
                "%(count)s signature in all.",
                "%(count)s signatures in all.",
                total,
                count=format_decimal(total),
            ),
            ngettext(
                "The busiest day was %(day)s, with %(count)s signature.",
                "The busiest day was %(day)s, with %(count)s signatures.",
                busiest,
                day=format_date(busiest_day, "long"),
                count=format_decimal(busiest),
            ),
        ]
    )
    return charts.daily_bar_chart(
        per_day,
        title=_("Signatures per day"),
        description=description,
        x_label=_("Day (UTC)"),
        y_label=_("Signatures"),
        format_day=lambda day: format_date(day, day_format),
        format_count=format_decimal,
        describe_bar=lambda day, count: ngettext(
            "%(day)s: %(count)s signature",
            "%(day)s: %(count)s signatures",
            count,
            day=format_date(day, "long"),
            count=format_decimal(count),
        ),
        id_prefix="signatures-per-day",
    )


def country_rows(countries: list[tuple[str, int]]) -> list[CountryRow]:
    confirmed = sum(count for _, count in countries)
    return [
        CountryRow(
            code,
            country_label(code),
            count,
            max(1, round(100 * count / confirmed)) if count else 0,
        )
        for code, count in countries
    ]


@dataclass(frozen=True)
class PublicFigures:
    """What the public petition page shows under "Signatures": one snapshot's numbers."""

    total: int
    #: (UTC day, signatures), every day from the first signature on; empty if nobody signed.
    per_day: list[tuple[date, int]]
    chart: Markup | None
    countries: list[CountryRow]
    #: (ISO 3166-2 code or None, subdivision name or None, country name, signatures).
    regions: list[tuple[str | None, str | None, str, int]]
    computed_at: datetime
    #: Signatures taken out: (UTC day, RemovalCategory, how many), newest first.
    removals: list[tuple[date, str, int]] = ()
    #: Confirmed but held for review, not counted yet.
    held: int = 0


def public_figures(stats: PetitionStats, per_day: list[tuple[date, int]]) -> PublicFigures:
    """The page's chart and tables from a statistics snapshot; `per_day` is its daily series
    (the API's, so the chart and /timeseries show the same days)."""
    return PublicFigures(
        total=stats.signature_count,
        per_day=per_day,
        chart=signatures_chart(per_day) if per_day else None,
        countries=country_rows([(c.code, c.count) for c in stats.countries]),
        regions=[(r.code, r.name, country_label(r.country), r.count) for r in stats.regions],
        computed_at=stats.computed_at,
        removals=[(r.day, r.category, r.count) for r in stats.removals],
        held=stats.held,
    )
