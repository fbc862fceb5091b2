"""Every public number of one petition agrees with every other: the API's detail, count.json, the
country and region breakdowns, the time series by day and by hour (JSON and CSV), the row of
petitions.csv, the listing and the petition's page; and the daily series is what the hourly one
adds up to, day by day.

The petition has signatures over several days and hours, from several countries and regions,
and one removed. They are signed and confirmed through the services, which count them in the
shards, and then given earlier confirmation times in the database (shards hold no times).
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from api_helpers import API, csv_rows, set_petition, sign

from petitions.models import utcnow

#: (hours after the start, country, region)
SIGNATURES = [
    (0.0, "KG", "Chüy"),
    (0.2, "KG", "chuy region"),
    (14.25, "KG", "Osh"),  # 23:30 UTC
    (15.25, "KZ", "Almaty"),  # 00:30 UTC the next day
    (15.5, "KG", "ул. Ленина 5, кв. 3"),
    (52.0, "RU", None),
    (52.1, "KG", "Chüy"),
    (52.9, "KG", None),
    (75.0, "KZ", None),
]


@pytest.fixture
def petition(app, make_petition, runner) -> int:
    start = (utcnow() - timedelta(days=4)).replace(hour=9, minute=15, second=0, microsecond=0)
    petition_id = make_petition(goal=20)
    set_petition(app, petition_id, created_at=start - timedelta(hours=1), opened_at=start)
    ids = [
        sign(
            app,
            petition_id,
            f"signer{n}@example.org",
            country=country,
            region=region,
            confirmed_at=start + timedelta(hours=hours),
        )
        for n, (hours, country, region) in enumerate(SIGNATURES)
    ]
    sign(app, petition_id, "now@example.kg", region="Talas")  # confirmed just now
    removed = runner.invoke(
        args=["signatures", "remove", str(petition_id), str(ids[3]), "--as", "invalidated"]
    )
    assert removed.exit_code == 0 and removed.output.startswith("1 ")
    return petition_id


def shown_on_the_page(html: str) -> int:
    match = re.search(r"<[^>]*\bdata-count\b[^>]*>\s*([\d,.\s\u00a0\u202f]+?)\s*<", html)
    assert match, "no data-count element on the page"
    return int(re.sub(r"\D", "", match.group(1)))


def test_every_public_number_agrees(client, petition):
    expected = len(SIGNATURES) + 1 - 1
    detail = client.get(f"{API}/petitions/{petition}").get_json()
    total = detail["signature_count"]
    assert total == expected
    assert detail["signatures_removed"]["total"] == 1

    assert client.get(f"/petitions/{petition}/count.json").get_json()["signature_count"] == total
    assert sum(c["count"] for c in detail["signatures_by_country"]) == total
    assert sum(r["count"] for r in detail["signatures_by_region"]) == total

    for interval in ("day", "hour"):
        series = client.get(f"{API}/petitions/{petition}/timeseries?interval={interval}")
        body = series.get_json()
        assert body["signature_count"] == total
        assert body["points"][-1]["cumulative"] == total
        assert sum(p["count"] for p in body["points"]) == total
        rows = csv_rows(
            client.get(f"{API}/petitions/{petition}/timeseries.csv?interval={interval}")
        )
        assert sum(int(r["signatures"]) for r in rows) == total
        assert int(rows[-1]["cumulative"]) == total
        assert [r["start"] for r in rows] == [p["start"] for p in body["points"]]

    countries = csv_rows(client.get(f"{API}/petitions/{petition}/countries.csv"))
    assert sum(int(r["signatures"]) for r in countries) == total
    regions = csv_rows(client.get(f"{API}/petitions/{petition}/regions.csv"))
    assert sum(int(r["signatures"]) for r in regions) == total

    [row] = [r for r in csv_rows(client.get(f"{API}/petitions.csv")) if r["id"] == str(petition)]
    assert int(row["signature_count"]) == total and row["signatures_removed"] == "1"
    [listed] = client.get(f"{API}/petitions").get_json()["data"]
    assert listed["signature_count"] == total

    assert shown_on_the_page(client.get(f"/petitions/{petition}").get_data(as_text=True)) == total


def test_the_breakdowns_match_the_signatures(client, petition):
    detail = client.get(f"{API}/petitions/{petition}").get_json()
    assert [(c["code"], c["count"]) for c in detail["signatures_by_country"]] == [
        ("KG", 7),
        ("KZ", 1),
        ("RU", 1),
    ]
    assert [(r["country"], r["code"], r["count"]) for r in detail["signatures_by_region"]] == [
        ("KG", "KG-C", 3),
        ("KG", None, 2),
        ("KG", "KG-O", 1),
        ("KG", "KG-T", 1),
        ("KZ", None, 1),
        ("RU", None, 1),
    ]


def test_the_daily_series_is_the_hourly_one_added_up(client, petition):
    def points(interval):
        url = f"{API}/petitions/{petition}/timeseries?interval={interval}"
        return client.get(url).get_json()["points"]

    days, hours = points("day"), points("hour")
    by_day = defaultdict(int)
    for point in hours:
        by_day[point["start"][:10]] += point["count"]
    assert {p["start"][:10]: p["count"] for p in days} == dict(by_day)
    assert all(p["start"].endswith("T00:00:00Z") for p in days)
    assert all(p["start"].endswith(":00:00Z") for p in hours)
    # Every day and every hour from the first signature to now, gaps included as 0.
    assert len(days) == 5 and [p["count"] for p in days] == [3, 1, 3, 1, 1]
    starts = [datetime.fromisoformat(p["start"]) for p in hours]
    assert starts[0].hour == 9 and starts[-1] >= utcnow() - timedelta(hours=1)
    assert all(b - a == timedelta(hours=1) for a, b in zip(starts, starts[1:], strict=False))
    for series in (days, hours):
        running = 0
        for point in series:
            running += point["count"]
            assert point["cumulative"] == running
