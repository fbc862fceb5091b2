"""The mail relay is down for a minute while people sign: every mail goes once it is back.

The site runs as in production (gunicorn, a `flask worker` process) on a throwaway cluster;
the relay is a real SMTP server (tests/faults/harness.py). Two ways of being down, one run
each: nothing listening (connections refused), and up but answering "421 try again later".
While it is down signers sign, and the worker keeps trying with its backoff.

"A minute" is counted in retry rounds, not seconds: with the production backoff (5 s doubling)
a minute's outage is four tries of each message (at 0, 5, 15 and 35 s). The backoff is a
setting, so here it starts at 0.2 s (OUTBOX_RETRY_SECONDS) and the outage lasts until every
message queued in it has been tried ROUNDS times: the same minute in a few seconds of wall
time, no sleeping for the clock.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.faults.harness import (
    Browser,
    FaultySMTP,
    Signing,
    Site,
    confirm,
    person_address,
    prepare_database,
    sign,
    sign_and_confirm,
    sql_value,
)
from tests.fixtures.database import ON_POSTGRES
from tests.fixtures.threads import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

#: Tries of each message queued during the outage before the relay comes back.
ROUNDS = 4
BEFORE, DURING = 2, 10
#: Each wait is bounded; the whole scenario takes some seconds when all is well.
WAIT_LIMIT_SECONDS = 60

UNSENT = "FROM outbox_messages WHERE sent_at IS NULL AND failed_at IS NULL"


@dataclass
class Outage:
    how: str
    signed_before: list[Signing] = field(default_factory=list)
    signed_during: list[Signing] = field(default_factory=list)
    #: The fewest tries of a waiting message when the relay came back.
    fewest_tries: int | None = None
    given_up: int | None = None
    #: Messages still waiting some time after the relay came back (0: all went).
    waiting_after: int | None = None
    received: Counter = field(default_factory=Counter)
    confirmed_during: int = 0
    public_count: int | None = None


def _down(sink: FaultySMTP, how: str) -> None:
    if how == "refused":
        sink.stop()
    else:
        sink.busy = True


def _back(sink: FaultySMTP) -> None:
    sink.busy = False
    sink.start()


@pytest.fixture(scope="module", params=["refused", "421"])
def outage(request, throwaway_postgres, tmp_path_factory) -> Iterator[Outage]:
    how = request.param
    database = f"smtp_outage_{how}"
    url = throwaway_postgres.create_database(database)
    run = Outage(how)
    sink = FaultySMTP()
    with sink.running():
        petition_id = prepare_database(url, sink.port)
        site = Site(
            tmp_path_factory.mktemp(f"smtp-{how}"),
            url,
            sink.port,
            settings={"OUTBOX_RETRY_SECONDS": "0.2", "OUTBOX_MAX_RETRY_SECONDS": "1.6"},
        )
        try:
            site.start_web()
            site.start_worker()
            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            for n in range(BEFORE):
                browser = Browser(site.port, person_address(n), [])
                email = f"before{n}.{how}@gmail.com"
                run.signed_before.append(
                    sign_and_confirm(browser, sink, petition_id, email, deadline)
                )

            _down(sink, how)
            browsers = {}
            for n in range(DURING):
                email = f"during{n}.{how}@gmail.com"
                browsers[email] = Browser(site.port, person_address(100 + n), [])
                run.signed_during.append(sign(browsers[email], petition_id, email, deadline))
            wait_until(
                lambda: sql_value(url, f"SELECT COALESCE(MIN(attempts), 0) {UNSENT}") >= ROUNDS,
                timeout=WAIT_LIMIT_SECONDS,
            )
            run.fewest_tries = sql_value(url, f"SELECT MIN(attempts) {UNSENT}")
            run.given_up = sql_value(
                url, "SELECT COUNT(*) FROM outbox_messages WHERE failed_at IS NOT NULL"
            )
            _back(sink)

            wait_until(lambda: sql_value(url, f"SELECT COUNT(*) {UNSENT}") == 0, timeout=30)
            run.waiting_after = sql_value(url, f"SELECT COUNT(*) {UNSENT}")
            run.received = sink.per_recipient()
            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            for email, browser in browsers.items():
                link = sink.confirmation_link(email)
                run.confirmed_during += bool(link and confirm(browser, link, deadline))
            count = Browser(site.port, person_address(200), []).request(
                "count", "GET", f"/petitions/{petition_id}/count.json"
            )
            run.public_count = json.loads(count.text)["signature_count"]
            yield run
        finally:
            site.close()


def test_the_signers_could_sign_while_the_relay_was_down(outage):
    assert [s.signed for s in outage.signed_during] == [True] * DURING


def test_the_worker_kept_trying_for_the_whole_outage_and_gave_nothing_up(outage):
    """Each waiting message was tried ROUNDS times (a minute of production backoff) and none
    was given up: an outage is not a reason to drop anyone's mail."""
    assert (outage.fewest_tries is not None and outage.fewest_tries >= ROUNDS, outage.given_up) == (
        True,
        0,
    )


def test_when_the_relay_is_back_every_message_goes_exactly_once(outage):
    everyone = [s.email for s in outage.signed_before + outage.signed_during]
    assert (outage.waiting_after, outage.received) == (0, Counter(dict.fromkeys(everyone, 1)))


def test_the_signers_confirm_with_the_mail_they_got_late(outage):
    assert (outage.confirmed_during, outage.public_count) == (DURING, BEFORE + DURING)
