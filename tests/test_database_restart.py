"""PostgreSQL restarts while people sign: 503s while it is down, never a 500, nothing lost.

In production a restart gave 39 requests a 500 within two seconds. Here the database is a
throwaway PostgreSQL cluster of this module's own (tests/fixtures/postgres.py: initdb in a
temporary folder, a free port, 127.0.0.1 only, removed afterwards), so restarting it disturbs
no one: the shared server is never touched. One app, built as every test app is
(pool_pre_ping as in production), and its mail worker in a thread keep running throughout;
they are not restarted. Signers sign and confirm through the test client, one request after
another, while the cluster restarts with `pg_ctl restart -m fast` (which cuts every open
connection); whoever gets a 503 sends the same thing again, as the page asks. Then one more
person signs and confirms. tests/faults/ does the same through gunicorn, under load.

The scenario runs once (a module fixture); each test checks one outcome of it. It is quick
(a few seconds, most of them initdb) and runs in the PostgreSQL pass only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from petitions import create_app
from petitions.errors import DATABASE_RETRY_AFTER_SECONDS
from petitions.extensions import db
from petitions.worker import run_forever
from tests.fixtures.actors import session_csrf_token
from tests.fixtures.app import BrowserClient
from tests.fixtures.database import ON_POSTGRES, scalar_sql
from tests.fixtures.mail import links_in
from tests.fixtures.postgres import ThrowawayCluster
from tests.fixtures.servers import open_a_petition
from tests.fixtures.settings import settings_for
from tests.fixtures.threads import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="the PostgreSQL pass runs it (on a throwaway cluster of its own)"
    ),
]

#: Signers confirmed before the restart begins, and signers who sign after it has ended.
BEFORE_RESTART = AFTER_RESTART = 3
#: The signing stops after this long even if the scenario has not finished (the tests then
#: fail on what is missing), so a broken app cannot hang the run.
SCENARIO_LIMIT_SECONDS = 90
#: What each request answers when the database is up.
SUCCESS = {"sign": 303, "page": 200, "count": 200, "confirm page": 200, "confirm": 200}


# --- the scenario ----------------------------------------------------------------------------


@dataclass
class Answer:
    what: str
    status: int
    retry_after: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS[self.what]


@dataclass
class Outage:
    """What the signers saw, and the numbers afterwards."""

    answers: list[Answer] = field(default_factory=list)
    #: Signers whose confirmation answered 200 (the confirmed page, or "already confirmed"
    #: when a confirmation cut off at its commit had in fact been stored).
    confirmed: set[str] = field(default_factory=set)
    #: Signers who signed but were not confirmed when the scenario stopped (none, normally).
    unfinished: set[str] = field(default_factory=set)
    #: The sign and the confirmation of one more signer after the restart, without retries.
    fresh: tuple[int | None, int | None] = (None, None)
    public_count: int | None = None
    confirmed_rows: int | None = None
    #: Mail received when the restart had ended, and at the end; whether the worker still ran.
    mail_at_restart: int | None = None
    mail_at_end: int = 0
    worker_running: bool = False


class Signers:
    """People signing one petition through the test client; every answer is kept."""

    def __init__(self, client, mailbox, petition_id: int, outage: Outage) -> None:
        self.client = client
        self.mailbox = mailbox
        self.petition_id = petition_id
        self.outage = outage
        self.csrf = session_csrf_token(client)

    def _keep(self, what: str, response):
        retry_after = response.headers.get("Retry-After")
        self.outage.answers.append(Answer(what, response.status_code, retry_after))
        return response

    def sign(self, email: str) -> int:
        data = {"csrf_token": self.csrf, "name": "Aibek Asanov", "email": email}
        data.update(country="KG", region="", consent="y")
        path = f"/petitions/{self.petition_id}/sign"
        return self._keep("sign", self.client.post(path, data=data)).status_code

    def confirmation_path(self, email: str) -> str | None:
        links = [
            link for m in self.mailbox.to(email) for link in links_in(m) if "/confirm/" in link
        ]
        return links[-1].removeprefix("http://localhost") if links else None

    def confirm(self, path: str) -> int:
        """The link's page, then its button; 200 when the signature is confirmed."""
        page = self._keep("confirm page", self.client.get(path))
        if page.status_code != 200 or b'<form method="post"' not in page.data:
            return page.status_code  # an error, or "already confirmed"
        return self._keep("confirm", self.client.post(path)).status_code

    def look(self) -> None:
        """A reader's requests: the petition's page and its live count."""
        self._keep("page", self.client.get(f"/petitions/{self.petition_id}"))
        self._keep("count", self.client.get(f"/petitions/{self.petition_id}/count.json"))


def received(mailbox) -> int:
    """How many messages the test SMTP server has received so far."""
    with mailbox.lock:
        return len(mailbox.messages)


def sign_through_the_restart(signers: Signers, cluster: ThrowawayCluster) -> None:
    """Sign and confirm one person after another; restart the cluster once BEFORE_RESTART are
    confirmed; go on until AFTER_RESTART more have signed and everyone who signed is confirmed.
    A 503 leaves the person where they were, to send the same thing again."""
    outage = signers.outage
    to_sign: list[str] = []
    awaiting_mail: set[str] = set()
    to_confirm: dict[str, str] = {}
    signed_after_restart = 0
    people = (f"signer{n}@example.kg" for n in range(10_000))
    deadline = time.monotonic() + SCENARIO_LIMIT_SECONDS
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="restart") as pool:
        restart = None
        while time.monotonic() < deadline:
            if restart is None and len(outage.confirmed) >= BEFORE_RESTART:
                restart = pool.submit(cluster.restart, "fast")
            restarted = restart is not None and restart.done()
            if restarted and outage.mail_at_restart is None:
                outage.mail_at_restart = received(signers.mailbox)
            still_signing = not restarted or signed_after_restart < AFTER_RESTART
            if not to_sign and still_signing:
                to_sign.append(next(people))
            if to_sign:
                email = to_sign.pop()
                if signers.sign(email) == 303:
                    awaiting_mail.add(email)
                    if restarted:
                        signed_after_restart += 1
                else:
                    to_sign.append(email)
            for email in sorted(awaiting_mail):
                path = signers.confirmation_path(email)
                if path:
                    awaiting_mail.discard(email)
                    to_confirm[email] = path
            for email, path in list(to_confirm.items()):
                if signers.confirm(path) == 200:
                    outage.confirmed.add(email)
                    del to_confirm[email]
            signers.look()
            if restarted and not (still_signing or to_sign or awaiting_mail or to_confirm):
                break
            if awaiting_mail and not to_confirm:
                time.sleep(0.02)  # the worker has the mail; let it have the processor too
        if restart is not None:
            restart.result()  # a failed restart fails the scenario, with the server's log
    outage.unfinished = set(to_sign) | awaiting_mail | set(to_confirm)


@pytest.fixture(scope="module")
def outage(throwaway_postgres, smtp_server) -> Iterator[Outage]:
    """The scenario, run once for this module's tests: the schema by the migrations, an open
    petition, the mail worker in a thread, signing through the restart, then one fresh signer
    and the numbers. The app and the worker stay up from start to end."""
    from flask_migrate import upgrade

    controller, mailbox = smtp_server
    mailbox.clear()
    # As in production, a failing request answers instead of raising into the test.
    settings = {
        **settings_for(throwaway_postgres.url(), controller.port),
        "PROPAGATE_EXCEPTIONS": False,
    }
    app = create_app(settings)
    # A module's app: the function-scoped browser_clients fixture comes too late for it.
    app.test_client_class = BrowserClient
    with app.app_context():
        upgrade()
    petition_id = open_a_petition(app)
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(app, stop), name="outbox-worker")
    worker.start()
    result = Outage()
    try:
        signers = Signers(app.test_client(), mailbox, petition_id, result)
        sign_through_the_restart(signers, throwaway_postgres)

        fresh = "after.the.restart@example.kg"
        sign_status = signers.sign(fresh)
        wait_until(lambda: signers.confirmation_path(fresh) is not None, timeout=30)
        path = signers.confirmation_path(fresh)
        result.fresh = (sign_status, signers.confirm(path) if path else None)
        if result.fresh[1] == 200:
            result.confirmed.add(fresh)

        count_url = f"/petitions/{petition_id}/count.json"
        result.public_count = signers.client.get(count_url).get_json()["signature_count"]
        result.confirmed_rows = scalar_sql(
            app, "SELECT COUNT(*) FROM signatures WHERE status = 'confirmed'"
        )
        result.mail_at_end = received(mailbox)
        result.worker_running = worker.is_alive()
        yield result
    finally:
        stop.set()
        worker.join(timeout=30)
        with app.app_context():
            db.engine.dispose()
        mailbox.clear()


# --- what the signers saw ----------------------------------------------------------------------


def test_while_the_database_restarts_requests_get_503_with_retry_after_never_500(outage):
    """Every answer that was not the usual one was a 503 with Retry-After (and there were some:
    the restart fell between requests, not only between signers)."""
    refused = {(a.status, a.retry_after) for a in outage.answers if not a.succeeded}
    assert refused == {(503, str(DATABASE_RETRY_AFTER_SECONDS))}, [
        a for a in outage.answers if not a.succeeded
    ]


def test_after_the_restart_a_new_signer_signs_and_confirms_at_the_first_try(outage):
    """The app recovered by itself, without a restart: pool_pre_ping replaced the connections
    the restart cut, and no failed session was left behind."""
    assert outage.fresh == (303, 200)


def test_every_confirmation_that_answered_200_is_counted_once(outage):
    """Nothing confirmed before, during or after the restart was lost or counted twice: the
    public total, the confirmed rows and the confirmations that succeeded agree."""
    assert (outage.public_count, outage.confirmed_rows, outage.unfinished) == (
        len(outage.confirmed),
        len(outage.confirmed),
        set(),
    )


def test_the_mail_worker_kept_delivering_through_the_restart(outage):
    """The worker caught the outage, waited and went on in the same thread: the confirmation
    mail after the restart came from it."""
    at_restart = outage.mail_at_end if outage.mail_at_restart is None else outage.mail_at_restart
    delivered_after = outage.mail_at_end - at_restart
    assert (outage.worker_running, delivered_after > 0) == (True, True)
