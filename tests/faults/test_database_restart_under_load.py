"""PostgreSQL restarts under load, behind the real production server: 503s, nothing lost.

tests/test_database_restart.py restarts the database under one signer at a time through the
test client. Here the app runs as in production, gunicorn with two processes of four threads
and a `flask worker` process, on a throwaway cluster of this module's own
(tests/fixtures/postgres.py); the shared server is never touched. Signers (each a browser of
its own, from its own address) sign and confirm end to end, and readers poll the petition's
page and count, several at once, while the cluster restarts with `pg_ctl restart -m fast`
(every open connection cut mid-request). Whoever gets a 503 sends the same thing again.

The scenario runs once (a module fixture, bounded by SCENARIO_LIMIT_SECONDS); each test
checks one outcome of it. It runs in the PostgreSQL pass of .ci/run.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from petitions.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.faults.harness import (
    Answer,
    Browser,
    FaultySMTP,
    Signing,
    Site,
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

SIGNERS = 4
READERS = 2
#: Signatures confirmed before the restart, and confirmed after it has ended.
BEFORE_RESTART = AFTER_RESTART = 8
#: Everything stops after this long, finished or not (the tests then fail on what is missing).
SCENARIO_LIMIT_SECONDS = 90
#: What each step answers when the database is up.
USUAL = {"page": 200, "count": 200, "sign": 303, "confirm page": 200, "confirm": 200}


@dataclass
class Restart:
    """What the signers and readers saw, and the numbers afterwards."""

    answers: list[Answer] = field(default_factory=list)
    signings: list[Signing] = field(default_factory=list)
    #: gunicorn's worker processes before the restart and at the end.
    processes_before: set[int] = field(default_factory=set)
    processes_after: set[int] = field(default_factory=set)
    worker_alive: bool = False
    #: One more signer after everything, and every answer it got.
    fresh: Signing | None = None
    fresh_answers: list[Answer] = field(default_factory=list)
    public_count: int | None = None
    confirmed_rows: int | None = None
    reconcile: str = ""

    def confirmed(self) -> int:
        return sum(s.confirmed for s in self.signings)


def _sign_until(stop, site, sink, petition_id, people, run: Restart, deadline) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        n = next(people)
        browser = Browser(site.port, person_address(n), run.answers)
        email = f"signer{n}.restart@gmail.com"
        run.signings.append(sign_and_confirm(browser, sink, petition_id, email, deadline))


def _read_until(stop, site, petition_id, n: int, run: Restart, deadline) -> None:
    browser = Browser(site.port, person_address(10_000 + n), run.answers)
    while not stop.is_set() and time.monotonic() < deadline:
        browser.request("page", "GET", f"/petitions/{petition_id}")
        browser.request("count", "GET", f"/petitions/{petition_id}/count.json")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def restart(throwaway_postgres, tmp_path_factory) -> Iterator[Restart]:
    run = Restart()
    sink = FaultySMTP()
    with sink.running():
        petition_id = prepare_database(throwaway_postgres.url(), sink.port)
        site = Site(
            tmp_path_factory.mktemp("restart-under-load"),
            throwaway_postgres.url(),
            sink.port,
            # A signer sends again after each 503; the signing limits are not what is tested.
            settings={"WEB_WORKERS": "2", "WEB_THREADS": "4", "RATE_SIGN_ADDRESS": "100/minute"},
        )
        try:
            site.start_web()
            worker = site.start_worker()
            deadline = time.monotonic() + SCENARIO_LIMIT_SECONDS
            stop = threading.Event()
            people = itertools.count()
            threads = [
                threading.Thread(
                    target=_sign_until,
                    args=(stop, site, sink, petition_id, people, run, deadline),
                    daemon=True,
                )
                for _ in range(SIGNERS)
            ] + [
                threading.Thread(
                    target=_read_until,
                    args=(stop, site, petition_id, n, run, deadline),
                    daemon=True,
                )
                for n in range(READERS)
            ]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: run.confirmed() >= BEFORE_RESTART, timeout=30)
                run.processes_before = site.web_processes()
                throwaway_postgres.restart("fast")
                after = run.confirmed()
                wait_until(
                    lambda: run.confirmed() >= after + AFTER_RESTART,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            finally:
                stop.set()
                for thread in threads:
                    thread.join(max(0.0, deadline - time.monotonic()) + 1)

            browser = Browser(site.port, person_address(20_000), run.fresh_answers)
            run.fresh = sign_and_confirm(
                browser, sink, petition_id, "after.the.restart@gmail.com", time.monotonic() + 30
            )
            run.processes_after = site.web_processes()
            run.worker_alive = worker.poll() is None
            count = browser.request("count", "GET", f"/petitions/{petition_id}/count.json")
            run.public_count = json.loads(count.text)["signature_count"]
            run.confirmed_rows = sql_value(
                throwaway_postgres.url(),
                "SELECT COUNT(*) FROM signatures WHERE status = 'confirmed'",
            )
            done = site.flask("counts", "reconcile")
            run.reconcile = f"exit {done.returncode}: {done.stdout}{done.stderr}"
            yield run
        finally:
            site.close()


# --- what people saw -------------------------------------------------------------------------


def test_every_answer_was_the_usual_one_or_a_503_with_retry_after(restart):
    """No 500, no request left without an answer: while the database was away the site said
    so and when to try again (and it did say so: the restart fell among the requests)."""
    unusual = [a for a in restart.answers if a.status != USUAL[a.step]]
    assert {(a.status, a.retry_after) for a in unusual} == {
        (503, str(DATABASE_RETRY_AFTER_SECONDS))
    }, [(a.step, a.status, a.error, a.text[:300]) for a in unusual if a.status != 503]


def test_every_signer_told_confirmed_is_counted_once(restart):
    """The public count, the confirmed rows and the people told "confirmed" agree, and no one
    was left half-way (everyone who started got to the end)."""
    stuck = [(s.email, s.stuck_at) for s in restart.signings if not s.confirmed]
    confirmed = restart.confirmed() + bool(restart.fresh and restart.fresh.confirmed)
    assert (restart.public_count, restart.confirmed_rows, stuck) == (confirmed, confirmed, [])


def test_reconcile_finds_nothing_to_repair(restart):
    assert restart.reconcile.startswith("exit 0:") and "0 with drift" in restart.reconcile, (
        restart.reconcile
    )


def test_the_site_recovered_by_itself_without_a_restart(restart):
    """After the restart a new signer signs and confirms at the first try, served by the
    same gunicorn processes and mail worker that were running before it."""
    fresh = restart.fresh
    outcome = (
        fresh is not None and fresh.confirmed,
        [a.status for a in restart.fresh_answers if a.status != USUAL[a.step]],
        restart.processes_after == restart.processes_before != set(),
        restart.worker_alive,
    )
    assert outcome == (True, [], True, True)
