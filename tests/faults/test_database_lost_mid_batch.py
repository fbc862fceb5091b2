"""The database goes away while a mail batch is on the wire, and comes back within the lease.

Found under load (test_database_restart_under_load.py): a worker that had sent a message and
then found the database gone left the whole batch claimed, and its mail waited out the lease
(two minutes in production) and the sent message risked going twice. Now the batch waits for
the database and records what it did (outbox._durably). Made exact here: the relay holds the
first message after its DATA end, the throwaway cluster stops, the relay answers "250 OK",
the cluster starts again; the batch, one call of the real deliver_batch in a thread, goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from petitions import create_app
from petitions.extensions import db
from petitions.models import OutboxMessage
from petitions.outbox import DeliveryReport, deliver_all, deliver_batch, enqueue
from tests.faults.harness import FaultySMTP, prepare_database, sql_value
from tests.fixtures.database import ON_POSTGRES
from tests.fixtures.settings import settings_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

MESSAGES = 5


@dataclass
class Outcome:
    batch: DeliveryReport | None
    later: DeliveryReport | None
    received: dict
    unsent: int


@pytest.fixture(scope="module")
def lost_mid_batch(throwaway_postgres) -> Iterator[Outcome]:
    sink = FaultySMTP()
    with sink.running():
        prepare_database(throwaway_postgres.url(), sink.port)
        app = create_app(settings_for(throwaway_postgres.url(), sink.port))
        with app.app_context():
            for n in range(MESSAGES):
                context = {"title": "Night buses", "petition_url": "http://localhost/petitions/1"}
                enqueue(
                    db.session,
                    kind="already_signed",
                    to=f"reader{n}@example.kg",
                    locale="en",
                    context=context,
                )
            db.session.commit()
            db.session.remove()
        sink.hold(1, at="DATA")
        reports: list[DeliveryReport] = []

        def one_batch() -> None:
            with app.app_context():
                reports.append(deliver_batch(db.session, app.config))
                db.session.remove()

        worker = threading.Thread(target=one_batch, daemon=True)
        try:
            worker.start()
            assert sink.holding.wait(30), "the batch never reached the relay"
            throwaway_postgres.stop("fast")
            sink.release()
            throwaway_postgres.start()
            worker.join(60)
            with app.app_context():
                # Every lease as if run out: whatever is unsent is due for anyone.
                db.session.execute(update(OutboxMessage).values(claimed_until=None))
                db.session.commit()
                later = deliver_all(db.session, app.config)
                db.session.remove()
            unsent = sql_value(
                throwaway_postgres.url(),
                "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL",
            )
            yield Outcome(reports[0] if reports else None, later, sink.per_recipient(), unsent)
        finally:
            if not throwaway_postgres.is_running():
                throwaway_postgres.start()
            with app.app_context():
                db.engine.dispose()


def test_the_batch_waits_for_the_database_and_sends_all_of_its_mail(lost_mid_batch):
    assert (lost_mid_batch.batch, lost_mid_batch.unsent) == (DeliveryReport(sent=MESSAGES), 0)


def test_the_message_on_the_wire_is_recorded_as_sent_and_not_sent_again(lost_mid_batch):
    """Another pass, with every lease taken as run out, finds nothing left to send, and each
    reader got exactly one message."""
    assert (lost_mid_batch.later.handled, set(lost_mid_batch.received.values())) == (0, {1})
