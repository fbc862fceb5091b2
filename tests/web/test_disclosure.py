"""Public disclosure: the petition page and the API say how many signatures were removed, on
which day and for which reason category, and how many wait for review; none of them is in the
count, and nothing says whose they were."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from petitions.api.openapi import document

MARCH_3 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
MARCH_5 = datetime(2026, 3, 5, 23, 59, tzinfo=UTC)


@pytest.fixture
def cleaned(petition, make_signature) -> int:
    """5 counted; 4 invalidated on 3 March as automated, 2 on 5 March as duplicates, one
    withdrawn on 5 March; 3 held for review."""
    make_signature(petition, count=5, counted=True)
    removed = {"status": "invalidated", "confirmed_at": MARCH_3}
    make_signature(petition, count=4, removed_at=MARCH_3, removal_category="automated", **removed)
    make_signature(petition, count=2, removed_at=MARCH_5, removal_category="duplicates", **removed)
    make_signature(petition, status="withdrawn", confirmed_at=MARCH_3, removed_at=MARCH_5)
    make_signature(petition, count=3, status="held", flag="rate")
    return petition


def test_the_page_says_how_many_were_removed_when_and_why(client, cleaned):
    html = client.get(f"/petitions/{cleaned}").get_data(as_text=True)

    assert "4 removed on March 3, 2026: automated signing" in html
    assert "2 removed on March 5, 2026: duplicate signatures of one person" in html
    assert "1 removed on March 5, 2026: withdrawn at the signer&#39;s request" in html


def test_the_page_says_how_many_await_review(client, cleaned):
    html = client.get(f"/petitions/{cleaned}").get_data(as_text=True)

    assert "3 signatures await review" in html


def test_the_api_lists_removals_by_day_and_category_newest_first(client, cleaned):
    detail = client.get(f"/api/v1/petitions/{cleaned}").get_json()

    assert detail["removals"] == [
        {"date": "2026-03-05", "category": "duplicates", "count": 2},
        {"date": "2026-03-05", "category": "signer_request", "count": 1},
        {"date": "2026-03-03", "category": "automated", "count": 4},
    ]


def test_held_and_removed_signatures_are_not_in_the_count(client, cleaned):
    detail = client.get(f"/api/v1/petitions/{cleaned}").get_json()

    assert (detail["signature_count"], detail["signatures_held"]) == (5, 3)
    assert detail["signatures_removed"] == {"invalidated": 6, "withdrawn": 1, "total": 7}


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))


def test_the_removals_csv_lists_what_the_api_lists(client, cleaned):
    rows = csv_rows(client.get(f"/api/v1/petitions/{cleaned}/removals.csv"))

    assert rows == [
        {"date": "2026-03-05", "category": "duplicates", "signatures": "2"},
        {"date": "2026-03-05", "category": "signer_request", "signatures": "1"},
        {"date": "2026-03-03", "category": "automated", "signatures": "4"},
    ]


def test_the_page_links_to_the_removals_csv(client, cleaned):
    html = client.get(f"/petitions/{cleaned}").get_data(as_text=True)

    assert f'href="/api/v1/petitions/{cleaned}/removals.csv"' in html


def test_the_petitions_csv_says_how_many_were_removed_and_are_held(client, cleaned):
    (row,) = csv_rows(client.get("/api/v1/petitions.csv"))

    assert (row["signature_count"], row["signatures_removed"], row["signatures_held"]) == (
        "5",
        "7",
        "3",
    )


def test_the_daily_snapshot_records_the_held_signatures(client, runner, cleaned):
    assert runner.invoke(args=["opendata", "snapshot"]).exit_code == 0
    (day,) = client.get("/api/v1/snapshots").get_json()["data"]

    (row,) = csv_rows(client.get(day["csv"]))

    assert (row["signature_count"], row["signatures_removed"], row["signatures_held"]) == (
        "5",
        "7",
        "3",
    )


def test_the_openapi_document_describes_the_new_fields():
    schema = document("http://localhost")["components"]["schemas"]

    assert {"signatures_held", "removals"} <= set(schema["PetitionDetail"]["required"])
    assert schema["Removal"]["additionalProperties"] is False


def test_a_petition_with_nothing_removed_says_nothing_about_it(client, petition, make_signature):
    make_signature(petition, counted=True)

    html = client.get(f"/petitions/{petition}").get_data(as_text=True)

    assert "Removed and held signatures" not in html
