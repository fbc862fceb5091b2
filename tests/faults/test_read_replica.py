"""The public numbers from a read replica (DATABASE_REPLICA_URL), and what its lag means.

A throwaway primary and a hot standby of it made with `pg_basebackup -R` (streaming
replication, tests/fixtures/postgres.py). The app signs on the primary and reads a petition's
public total from the replica. To see which one answered, the standby's replay is paused
while one more signature is confirmed on the primary: count.json still says what the replica
has replayed. Then replay resumes and the count catches up; and with the replica stopped the
count comes from the primary instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from petitions import create_app
from petitions.extensions import db
from petitions.replica import replica_engine
from tests.faults.harness import prepare_database, sql_value
from tests.fixtures.actors import confirm_directly, sign_directly
from tests.fixtures.app import BrowserClient
from tests.fixtures.database import ON_POSTGRES
from tests.fixtures.postgres import throwaway_replica
from tests.fixtures.settings import settings_for
from tests.fixtures.threads import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

REPLAYED = "SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"


@dataclass
class Replica:
    #: count.json's total: replayed up to the first signature, then paused after the second
    #: was confirmed on the primary, then replaying again, then with the replica down.
    replayed: int | None = None
    paused: int | None = None
    resumed: int | None = None
    replica_down: int | None = None
    #: The primary's own total while the replica was paused.
    primary_while_paused: int | None = None


def _caught_up(primary_url: str, replica_url: str) -> bool:
    lsn = sql_value(primary_url, "SELECT pg_current_wal_lsn()")
    return bool(sql_value(replica_url, REPLAYED.format(lsn=lsn)))


@pytest.fixture(scope="module")
def replica(throwaway_postgres) -> Iterator[Replica]:
    primary_url = throwaway_postgres.url()
    petition_id = prepare_database(primary_url, smtp_port=25)
    run = Replica()
    with throwaway_replica(throwaway_postgres) as standby:
        replica_url = standby.url()
        app = create_app(
            {
                **settings_for(primary_url, smtp_port=25),
                "DATABASE_REPLICA_URL": replica_url,
                "COUNT_MEMO_SECONDS": 0.0,
            }
        )
        app.test_client_class = BrowserClient
        client = app.test_client()
        count_url = f"/petitions/{petition_id}/count.json"

        def public_count() -> int:
            return client.get(count_url).get_json()["signature_count"]

        def sign_and_confirm(email: str) -> None:
            _, signature_id = sign_directly(app, petition_id, email)
            confirm_directly(app, signature_id)

        try:
            sign_and_confirm("aibek@example.kg")
            wait_until(lambda: _caught_up(primary_url, replica_url), timeout=30)
            run.replayed = public_count()

            sql_value(replica_url, "SELECT pg_wal_replay_pause()")
            sign_and_confirm("nurlan@example.kg")
            run.paused = public_count()
            run.primary_while_paused = sql_value(
                primary_url, "SELECT COUNT(*) FROM signatures WHERE status = 'confirmed'"
            )

            sql_value(replica_url, "SELECT pg_wal_replay_resume()")
            wait_until(lambda: _caught_up(primary_url, replica_url), timeout=30)
            run.resumed = public_count()

            standby.stop("fast")
            run.replica_down = public_count()
            yield run
        finally:
            with app.app_context():
                replica_engine(app).dispose()
                db.engine.dispose()


def test_the_public_count_is_the_replicas(replica):
    """While the replica's replay is paused, count.json says what it has replayed (one),
    though the primary has confirmed two."""
    assert (replica.replayed, replica.paused, replica.primary_while_paused) == (1, 1, 2)


def test_once_the_replica_replays_again_the_count_catches_up(replica):
    assert replica.resumed == 2


def test_with_the_replica_down_the_count_comes_from_the_primary(replica):
    assert replica.replica_down == 2
