"""Time series of confirmed signatures (services/opendata.series and series_end): every hour or
day from the first signature on, 0 where nobody signed, the running total, and where a series
ends (now while a petition is open, its closing once it is closed)."""

from datetime import UTC, datetime, timedelta

import pytest

from petitions.models import Petition
from petitions.services.opendata import PetitionStats, SeriesPoint, series, series_end


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stats(*per_hour: tuple[str, int]) -> PetitionStats:
    hours = [(at(hour), count) for hour, count in per_hour]
    return PetitionStats(
        petition_id=1,
        state="open",
        signature_count=sum(count for _, count in hours),
        countries=[],
        regions=[],
        per_hour=hours,
        removed={"invalidated": 0, "withdrawn": 0},
        milestones=[],
        first_signature_at=hours[0][0] if hours else None,
        last_signature_at=hours[-1][0] if hours else None,
        last_removed_at=None,
        computed_at=at("2026-03-05 10:30"),
    )


SIGNED = stats(("2026-03-01 09:00", 2), ("2026-03-01 11:00", 1), ("2026-03-03 00:00", 4))


def as_tuples(points: list[SeriesPoint]) -> list[tuple[str, int, int]]:
    return [(p.start.isoformat(timespec="minutes"), p.count, p.cumulative) for p in points]


def test_hours_with_gaps_filled_and_the_running_total():
    points = series(SIGNED, "hour", end=None)
    assert points[:4] == [
        SeriesPoint(at("2026-03-01 09:00"), 2, 2),
        SeriesPoint(at("2026-03-01 10:00"), 0, 2),
        SeriesPoint(at("2026-03-01 11:00"), 1, 3),
        SeriesPoint(at("2026-03-01 12:00"), 0, 3),
    ]
    assert points[-1] == SeriesPoint(at("2026-03-03 00:00"), 4, 7)
    assert len(points) == 2 * 24 - 9 + 1
    assert all(
        b.start - a.start == timedelta(hours=1) for a, b in zip(points, points[1:], strict=False)
    )


def test_days_add_up_the_hours():
    assert as_tuples(series(SIGNED, "day", end=None)) == [
        ("2026-03-01T00:00+00:00", 3, 3),
        ("2026-03-02T00:00+00:00", 0, 3),
        ("2026-03-03T00:00+00:00", 4, 7),
    ]
    # The days that have signatures, as the page's chart and table list them.
    signed_days = [(p.start.date(), p.count) for p in series(SIGNED, "day", end=None) if p.count]
    assert signed_days == [(at("2026-03-01").date(), 3), (at("2026-03-03").date(), 4)]


def test_the_series_runs_on_to_its_end():
    end = at("2026-03-05 10:30")
    days = series(SIGNED, "day", end=end)
    assert as_tuples(days)[-2:] == [
        ("2026-03-04T00:00+00:00", 0, 7),
        ("2026-03-05T00:00+00:00", 0, 7),
    ]
    hours = series(SIGNED, "hour", end=end)
    assert hours[-1] == SeriesPoint(at("2026-03-05 10:00"), 0, 7)


def test_an_end_before_the_last_signature_cuts_nothing():
    assert series(SIGNED, "day", end=at("2026-03-01 12:00")) == series(SIGNED, "day", end=None)


def test_an_end_in_another_time_zone_is_taken_in_utc():
    tz = datetime.fromisoformat("2026-03-04T02:30:00+06:00")  # 2026-03-03 20:30 UTC
    assert series(SIGNED, "day", end=tz)[-1].start == at("2026-03-03 00:00")


def test_nobody_signed_no_points():
    assert series(stats(), "day", end=at("2026-03-05 10:30")) == []
    assert series(stats(), "hour", end=None) == []


def test_unknown_interval():
    with pytest.raises(ValueError):
        series(SIGNED, "week", end=None)


NOW = at("2026-03-05 10:30")


@pytest.mark.parametrize(
    "state, closes_at, closed_at, expected",
    [
        ("open", None, None, NOW),
        ("open", NOW + timedelta(days=3), None, NOW),
        # Past its deadline, not yet closed by the worker: the series stops at the deadline.
        ("open", NOW - timedelta(hours=5), None, NOW - timedelta(hours=5)),
        ("closed", NOW - timedelta(days=1), NOW - timedelta(days=2), NOW - timedelta(days=2)),
    ],
)
def test_where_a_series_ends(state, closes_at, closed_at, expected):
    petition = Petition(state=state, closes_at=closes_at, closed_at=closed_at)
    assert series_end(petition, NOW) == expected
