"""One of two app instances is killed behind nginx while people sign and read: the other
serves, and nothing confirmed is lost.

The production stack on loopback (deploy/loopback.py): Debian's nginx with the production
template's configuration in front of two gunicorn instances and a mail worker, on a database
of a throwaway cluster. Signers sign and confirm end to end through nginx, and readers read
pages and counts that nginx's cache cannot answer for the app (each URL asked once), while
instance 0 is SIGKILLed, master and workers at once, as when its machine goes.

A person whose request was cut off with the instance gets nginx's 503 page (what it makes of
its own 502 or 504): a clear error, after which they send it again. Nothing may hang: a
request without an answer within ANSWER_TIMEOUT fails the test. One scenario for the module,
bounded by SCENARIO_LIMIT_SECONDS; each test checks one outcome.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

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
from tests.fixtures.database import ON_POSTGRES
from tests.fixtures.threads import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

SIGNERS, READERS = 3, 2
#: Signatures confirmed before the kill, and confirmed after it.
BEFORE_KILL = AFTER_KILL = 6
SCENARIO_LIMIT_SECONDS = 90
#: What nginx answers for an instance that went away mid-request (its 502 or 504, as its 503
#: page); the person tries again.
CUT_OFF = frozenset({503})
USUAL = {"page": 200, "count": 200, "sign": 303, "confirm page": 200, "confirm": 200}
#: The readers' requests (the signers' own page views may come from nginx's cache).
READS, POSTS = ("read page", "read count"), ("sign", "confirm")


@dataclass
class InstanceKilled:
    answers: list[Answer] = field(default_factory=list)
    #: Where the answers after the kill begin (those in flight at the kill among them).
    killed_at: int = 0
    signings: list[Signing] = field(default_factory=list)
    pids_before: list[int | None] = field(default_factory=list)
    pids_after: list[int | None] = field(default_factory=list)
    public_count: int | None = None
    confirmed_rows: int | None = None
    reconcile: str = ""

    def after_kill(self, steps) -> list[Answer]:
        return [a for a in self.answers[self.killed_at :] if a.step in steps]

    def confirmed(self) -> int:
        return sum(s.confirmed for s in self.signings)


def _sign_until(stop, port, sink, petition_id, people, run, deadline) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        n = next(people)
        browser = Browser(port, person_address(n), run.answers)
        email = f"signer{n}.instance@gmail.com"
        run.signings.append(
            sign_and_confirm(browser, sink, petition_id, email, deadline, try_again=CUT_OFF)
        )


def _read_until(stop, port, petition_id, n, run, deadline) -> None:
    browser = Browser(port, person_address(10_000 + n), run.answers)
    for visit in itertools.count():
        if stop.is_set() or time.monotonic() >= deadline:
            return
        # A query the app ignores, new each time: nginx's cache has no copy to answer with.
        path = f"/petitions/{petition_id}"
        browser.request("read page", "GET", f"{path}?visit={n}-{visit}")
        browser.request("read count", "GET", f"{path}/count.json?visit={n}-{visit}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def instance_killed(throwaway_postgres, tmp_path_factory) -> Iterator[InstanceKilled]:
    url = throwaway_postgres.create_database("instance_killed")
    run = InstanceKilled()
    sink = FaultySMTP()
    with sink.running():
        petition_id = prepare_database(url, sink.port)
        stack = Stack(
            tmp_path_factory.mktemp("instance-killed"),
            url,
            app_instances=2,
            mail_workers=1,
            smtp_port=sink.port,
            migrate=False,
            # A person sends again after a 503; the signing limits are not what is tested.
            env={**SITE_SETTINGS, "RATE_SIGN_ADDRESS": "100/minute"},
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
                for _ in range(SIGNERS)
            ] + [
                threading.Thread(
                    target=_read_until,
                    args=(stop, port, petition_id, n, run, deadline),
                    daemon=True,
                )
                for n in range(READERS)
            ]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: run.confirmed() >= BEFORE_KILL, timeout=30)
                run.pids_before = stack.app_pids
                run.killed_at = len(run.answers)
                stack.kill_instance(0)
                after = run.confirmed()
                wait_until(
                    lambda: run.confirmed() >= after + AFTER_KILL,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            finally:
                stop.set()
                for thread in threads:
                    thread.join(max(0.0, deadline - time.monotonic()) + 1)
            run.pids_after = stack.app_pids
            count = Browser(port, person_address(20_000), []).request(
                "count", "GET", f"/petitions/{petition_id}/count.json?final"
            )
            run.public_count = json.loads(count.text)["signature_count"]
            run.confirmed_rows = sql_value(
                url, "SELECT COUNT(*) FROM signatures WHERE status = 'confirmed'"
            )
            run.reconcile = stack.run_flask("counts", "reconcile")
            yield run


def test_after_the_kill_every_read_is_answered_by_the_other_instance(instance_killed):
    """200 for every page and count after the kill, and from the app, not nginx's cache:
    nginx passed what reached the dead instance on to the live one."""
    reads = instance_killed.after_kill(READS)
    unusual = [(a.step, a.status, a.cache, a.error) for a in reads if a.status != 200]
    from_cache = [a.cache for a in reads if a.cache in ("HIT", "STALE", "UPDATING")]
    assert (bool(reads), unusual, from_cache) == (True, [], [])


def test_after_the_kill_every_form_post_succeeds_or_gets_a_clear_error(instance_killed):
    """A sign or confirm cut off with the instance gets nginx's 503 page at once, never no
    answer at all (a hang)."""
    posts = instance_killed.after_kill(POSTS)
    unusual = {(a.step, a.status) for a in posts if a.status != USUAL[a.step]}
    assert bool(posts) and unusual <= {(step, s) for step in POSTS for s in CUT_OFF}, unusual


def test_every_signer_told_confirmed_is_counted_once(instance_killed):
    stuck = [(s.email, s.stuck_at) for s in instance_killed.signings if not s.confirmed]
    confirmed = instance_killed.confirmed()
    assert (instance_killed.public_count, instance_killed.confirmed_rows, stuck) == (
        confirmed,
        confirmed,
        [],
    )


def test_reconcile_finds_nothing_to_repair(instance_killed):
    assert "0 with drift" in instance_killed.reconcile, instance_killed.reconcile


def test_the_other_instance_kept_serving_in_the_same_process(instance_killed):
    """Instance 0 stays dead (nothing restarted it) and instance 1 is the process it was."""
    before, after = instance_killed.pids_before, instance_killed.pids_after
    assert (after[0], after[1] == before[1] is not None) == (None, True)
