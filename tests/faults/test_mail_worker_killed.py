"""A mail worker is killed mid-batch (SIGKILL) while the relay stalls: nothing is lost, and
nothing is doubled but what SMTP itself cannot tell.

Signers sign through gunicorn while no worker runs, so their confirmation mail is queued. A
`flask worker` process claims it in one batch and sends it; the relay (tests/faults/harness.py)
answers the first messages, then holds one, and the worker is killed while it waits. A new
worker takes over once the dead one's lease has run out (OUTBOX_LEASE_SECONDS, shortened).

What the outbox guarantees (petitions/outbox.py): no message is lost, and a message goes twice
only when the relay had its end before the worker died, for the relay may keep a message whose
"250 OK" never reached the sender. So each run holds the message at one point of the dialogue:
- at RCPT, before its content was sent: the relay drops it with the connection, nothing is
  doubled;
- after its DATA end, before the relay's answer: the relay keeps it, and the new worker, which
  cannot know, sends it again: that one message, and no other, arrives twice.
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
    Site,
    confirm,
    kill,
    person_address,
    prepare_database,
    sign,
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

SIGNERS = 12
#: The message the relay holds: the killed worker has sent the ones before it.
HELD = 5
#: The dead worker's claim is taken over after this (production: 120 s). A batch stops
#: sending 2 * MAIL_TIMEOUT + 1 s before its lease ends, so 10 s leave it 3 s to send in.
LEASE_SECONDS, MAIL_TIMEOUT = 10, 3
WAIT_LIMIT_SECONDS = 60


@dataclass
class Kill:
    stage: str
    signers: list[str] = field(default_factory=list)
    signed: int = 0
    held_for: str | None = None
    killed: bool = False
    received: Counter = field(default_factory=Counter)
    unsent: int | None = None
    given_up: int | None = None
    confirmed: int = 0
    public_count: int | None = None


@pytest.fixture(scope="module", params=["RCPT", "DATA"])
def killed(request, throwaway_postgres, tmp_path_factory) -> Iterator[Kill]:
    stage = request.param
    url = throwaway_postgres.create_database(f"worker_killed_{stage.lower()}")
    run = Kill(stage)
    sink = FaultySMTP()
    with sink.running():
        petition_id = prepare_database(url, sink.port)
        site = Site(
            tmp_path_factory.mktemp(f"killed-at-{stage}"),
            url,
            sink.port,
            settings={
                "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
                "MAIL_TIMEOUT": str(MAIL_TIMEOUT),
            },
        )
        try:
            site.start_web()
            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            browsers = {}
            for n in range(SIGNERS):
                email = f"signer{n}.{stage.lower()}@gmail.com"
                browsers[email] = Browser(site.port, person_address(n), [])
                run.signed += sign(browsers[email], petition_id, email, deadline).signed
                run.signers.append(email)

            sink.hold(HELD, at=stage)
            first = site.start_worker()
            if sink.holding.wait(WAIT_LIMIT_SECONDS):
                kill(first)
                run.killed = True
                run.held_for = sink.held_for
            sink.release()
            site.start_worker()
            unsent = "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL"
            wait_until(lambda: sql_value(url, unsent) == 0, timeout=WAIT_LIMIT_SECONDS)
            run.unsent = sql_value(url, unsent)
            run.given_up = sql_value(
                url, "SELECT COUNT(*) FROM outbox_messages WHERE failed_at IS NOT NULL"
            )
            run.received = sink.per_recipient()
            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            for email, browser in browsers.items():
                link = sink.confirmation_link(email)
                run.confirmed += bool(link and confirm(browser, link, deadline))
            count = Browser(site.port, person_address(200), []).request(
                "count", "GET", f"/petitions/{petition_id}/count.json"
            )
            run.public_count = json.loads(count.text)["signature_count"]
            yield run
        finally:
            site.close()


def test_the_worker_was_killed_while_the_relay_held_a_message(killed):
    assert (killed.signed, killed.killed, killed.held_for in killed.signers) == (
        SIGNERS,
        True,
        True,
    )


def test_nothing_is_lost_every_signer_gets_their_mail(killed):
    assert (set(killed.received), killed.unsent, killed.given_up) == (set(killed.signers), 0, 0)


def test_nothing_is_doubled_but_the_message_the_relay_kept(killed):
    """At RCPT the relay had nothing to keep: no one gets two. After the DATA end it kept the
    message in flight: its recipient, and no one else, gets it twice."""
    doubled = {address: n for address, n in killed.received.items() if n > 1}
    expected = {killed.held_for: 2} if killed.stage == "DATA" else {}
    assert doubled == expected


def test_every_signer_confirms_and_is_counted_once(killed):
    assert (killed.confirmed, killed.public_count) == (SIGNERS, SIGNERS)
