"""A signing storm on the stack beyond one machine, one instance killed mid-run.

Issue 11's picture on loopback (deploy/loopback.py): nginx before two app instances, two mail
workers sharing the outbox, rate limits in Redis (a database number and key prefix of this
module's own, whose keys are deleted after), one PostgreSQL (a throwaway cluster). STORM
signers, each from an address of their own, sign and confirm end to end through nginx, eight
at a time; when a third of them are confirmed, instance 0 is SIGKILLed. Meanwhile one address
tries to log in on both instances in turn, more often than its limit allows.

Afterwards: no message went twice (the relay received exactly what the outbox records as
sent), the counts are exact (public count = confirmed rows = people told "confirmed"),
`flask counts reconcile` finds nothing, and the one address met one limit across both
instances. Bounded by SCENARIO_LIMIT_SECONDS; each test checks one outcome.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis

from deploy.loopback import Stack
from tests.faults.harness import (
    SITE_SETTINGS,
    Answer,
    Browser,
    FaultySMTP,
    Signing,
    person_address,
    prepare_database,
    sign_and_confirm,
    sql_value,
)
from tests.fixtures.actors import csrf_token
from tests.fixtures.database import ON_POSTGRES
from tests.fixtures.threads import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

STORM, AT_ONCE = 200, 8
KILL_AFTER = STORM // 3
SCENARIO_LIMIT_SECONDS = 240
#: nginx's answer when the instance it asked went away mid-request (its 502 or 504, as its 503
#: page); the person tries again.
CUT_OFF = frozenset({503})
#: The login limit of one address (RATE_LOGIN_ADDRESS), and the attempts it makes.
LOGIN_LIMIT, LOGIN_ATTEMPTS = 4, 6
LOGIN_ADDRESS = "127.0.0.9"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11


@dataclass
class Storm:
    signings: list[Signing] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    #: The answers to one address's failed logins, sent to the two instances in turn.
    logins: list[int | None] = field(default_factory=list)
    killed: bool = False
    unsent: int | None = None
    sent_rows: int | None = None
    received: int = 0
    public_count: int | None = None
    confirmed_rows: int | None = None
    reconcile: str = ""

    def confirmed(self) -> int:
        return sum(s.confirmed for s in self.signings)


@pytest.fixture(scope="module")
def storm_redis() -> Iterator[tuple[str, str]]:
    """Redis's URL (a database number of this module's) and a key prefix no one else uses;
    the keys under it are deleted after."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"the storm needs Redis at {REDIS_HOST}:{REDIS_PORT}: {error}")
    prefix = f"test-storm-{secrets.token_hex(8)}"
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def _sign_until(stop, port, sink, petition_id, people, run, deadline) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        n = next(people)
        if n >= STORM:
            return
        browser = Browser(port, person_address(n), run.answers)
        email = f"storm{n}@gmail.com"
        run.signings.append(
            sign_and_confirm(browser, sink, petition_id, email, deadline, try_again=CUT_OFF)
        )


def _log_in_wrongly(port: int, n: int) -> int | None:
    """A failed login at the instance on `port`, from LOGIN_ADDRESS as nginx passes it on
    (X-Forwarded-For, which the instances believe: PROXY_FIX_HOPS=1)."""
    browser = Browser(port, "127.0.0.1", [])
    via_nginx = {"X-Forwarded-For": LOGIN_ADDRESS}
    page = browser.request("login page", "GET", "/account/login", headers=via_nginx)
    form = {"csrf_token": csrf_token(page.text), "email": f"guess{n}@example.kg"}
    form["password"] = "wrong"
    return browser.request("login", "POST", "/account/login", form, headers=via_nginx).status


@pytest.fixture(scope="module")
def storm(throwaway_postgres, storm_redis, tmp_path_factory) -> Iterator[Storm]:
    url = throwaway_postgres.create_database("storm")
    redis_url, prefix = storm_redis
    run = Storm()
    sink = FaultySMTP()
    with sink.running():
        petition_id = prepare_database(url, sink.port)
        stack = Stack(
            tmp_path_factory.mktemp("storm"),
            url,
            app_instances=2,
            mail_workers=2,
            smtp_port=sink.port,
            redis_url=redis_url,
            migrate=False,
            env={
                **SITE_SETTINGS,
                "RATELIMIT_KEY_PREFIX": prefix,
                "RATE_LOGIN_ADDRESS": f"{LOGIN_LIMIT}/minute",
            },
        )
        with stack:
            port = stack.nginx_port
            deadline = time.monotonic() + SCENARIO_LIMIT_SECONDS
            stop = threading.Event()
            people = itertools.count()
            threads = [
                threading.Thread(
                    target=_sign_until,
                    args=(stop, port, sink, petition_id, people, run, deadline),
                    daemon=True,
                )
                for _ in range(AT_ONCE)
            ]
            for thread in threads:
                thread.start()
            try:
                # Straight to each instance in turn: nginx's round robin, shared with the
                # storm's requests, would not say which instance took which attempt.
                instances = [int(url.rsplit(":", 1)[1]) for url in stack.app_urls]
                run.logins = [
                    _log_in_wrongly(instances[n % len(instances)], n) for n in range(LOGIN_ATTEMPTS)
                ]
                wait_until(lambda: run.confirmed() >= KILL_AFTER, timeout=SCENARIO_LIMIT_SECONDS)
                stack.kill_instance(0)
                run.killed = True
            finally:
                for thread in threads:
                    thread.join(max(0.0, deadline - time.monotonic()) + 1)
                stop.set()
            unsent = (
                "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL AND failed_at IS NULL"
            )
            wait_until(lambda: sql_value(url, unsent) == 0, timeout=30)
            run.unsent = sql_value(url, unsent)
            run.sent_rows = sql_value(
                url, "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NOT NULL"
            )
            run.received = sum(sink.per_recipient().values())
            count = Browser(port, person_address(20_000), []).request(
                "count", "GET", f"/petitions/{petition_id}/count.json?final"
            )
            run.public_count = json.loads(count.text)["signature_count"]
            run.confirmed_rows = sql_value(
                url, "SELECT COUNT(*) FROM signatures WHERE status = 'confirmed'"
            )
            run.reconcile = stack.run_flask("counts", "reconcile")
            yield run


def test_every_signer_of_the_storm_got_to_the_end(storm):
    stuck = [(s.email, s.stuck_at) for s in storm.signings if not s.confirmed]
    assert (storm.killed, len(storm.signings), stuck) == (True, STORM, [])


def test_no_message_went_twice(storm):
    """Two workers on one outbox, people sending again after a 503: the relay received as
    many messages as the outbox records as sent, no more, and none is left waiting."""
    assert (storm.received, storm.unsent) == (storm.sent_rows, 0)


def test_the_counts_are_exact(storm):
    confirmed = storm.confirmed()
    assert (storm.public_count, storm.confirmed_rows) == (confirmed, confirmed)


def test_reconcile_finds_nothing_to_repair(storm):
    assert "0 with drift" in storm.reconcile, storm.reconcile


def test_one_address_meets_one_login_limit_across_both_instances(storm):
    """Its attempts went to the two instances in turn, and together they allowed
    LOGIN_LIMIT, not twice as many: the counters are Redis's, not each process's."""
    assert storm.logins == [401] * LOGIN_LIMIT + [429] * (LOGIN_ATTEMPTS - LOGIN_LIMIT)
