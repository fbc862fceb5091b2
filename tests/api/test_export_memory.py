"""petitions.csv, every public petition at once, is streamed in batches: the memory it takes does
not grow with the number of petitions, every petition is in it once, and no transaction stays
open while a slow client reads it.

Petitions are inserted in bulk (one INSERT of many rows): the services would take minutes for
thousands, and only the export is under test here.
"""

import csv
import gc
import io
import tracemalloc
from datetime import timedelta

import pytest
from api_helpers import API
from sqlalchemy import insert, text

from petitions.extensions import db
from petitions.models import Petition, utcnow
from tests.fixtures.database import ON_POSTGRES


def add_open_petitions(app, how_many: int) -> None:
    now = utcnow()
    rows = [
        {
            "title": f"Petition number {n} — Петиция",
            "action": "Do something useful for everybody.",
            "background": "",
            "addressee": "Jogorku Kenesh",
            "state": "open",
            "created_at": now,
            "opened_at": now,
            "closes_at": now + timedelta(days=30),
        }
        for n in range(how_many)
    ]
    with app.app_context():
        db.session.execute(insert(Petition), rows)
        db.session.commit()
        db.session.remove()


def export_peak(client) -> tuple[int, int, int]:
    """(rows in petitions.csv, its size in bytes, peak bytes allocated while it was made and
    read chunk by chunk)."""
    gc.collect()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    response = client.get(f"{API}/petitions.csv", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    assert "Content-Length" not in response.headers, "the whole file was made before sending"
    lines = size = 0
    for chunk in response.response:
        lines += chunk.count(b"\r\n")
        size += len(chunk)
    response.close()
    peak = tracemalloc.get_traced_memory()[1] - before
    return lines - 1, size, peak


def test_the_export_is_streamed_in_constant_memory(app, client):
    add_open_petitions(app, 2_000)
    tracemalloc.start()
    try:
        export_peak(client)  # the first run fills statement caches; not measured
        small_rows, small_size, small_peak = export_peak(client)
        add_open_petitions(app, 10_000)
        large_rows, large_size, large_peak = export_peak(client)
    finally:
        tracemalloc.stop()
    assert (small_rows, large_rows) == (2_000, 12_000)
    # Holding the extra 10,000 rows, even as text, would take far more than this.
    assert large_peak - small_peak < (large_size - small_size) / 4, (small_peak, large_peak)
    assert large_peak < 2 * small_peak


def test_every_public_petition_is_exported_once_in_id_order(app, client, make_petition):
    add_open_petitions(app, 1_234)  # more than two batches
    make_petition(state="draft", title="Not public")
    body = client.get(f"{API}/petitions.csv").get_data(as_text=True).removeprefix("\ufeff")
    ids = [int(row["id"]) for row in csv.DictReader(io.StringIO(body))]
    assert len(ids) == 1_234 and ids == sorted(set(ids))
    assert "Not public" not in body


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: pg_stat_activity")
def test_no_transaction_stays_open_while_the_client_reads(app, client):
    """Between two batches, the export's connection is back in the pool, not idle in a
    transaction (holding a snapshot that keeps VACUUM from cleaning up)."""
    add_open_petitions(app, 1_200)
    response = client.get(f"{API}/petitions.csv", buffered=False)
    chunks = iter(response.response)
    next(chunks)  # the header
    next(chunks)  # the first batch; the client now reads slowly
    with app.app_context():
        idle = db.session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
        db.session.remove()
    rest = sum(1 for _ in chunks)
    response.close()
    assert rest >= 2
    assert idle == 0
