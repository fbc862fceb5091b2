"""How many SQL statements the hot requests run: a deterministic guard, so the petition page,
signing, confirming and count.json cannot quietly grow dearer again (issue 8: signing cost 2.4
times as much CPU as on 2026-11-25, partly from queries the page did not need).

No timing: an SQLAlchemy `before_cursor_execute` listener on the app's engine counts every
statement SQLAlchemy sends while the one request under test runs, on SQLite and PostgreSQL
alike. It sees none of what the driver and the pool do on their own, which is the same for every
route: BEGIN and COMMIT (issued by the driver), the pool's pre-ping, and SQLite's per-connection
PRAGMAs (petitions/database.py runs them on the raw connection when it is opened).

A failing test prints the statements, so the new one is easy to spot. If a request really needs
another statement, raise its budget here and say why in the comment next to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from petitions.extensions import db
from petitions.models import Petition, PetitionUpdate, utcnow
from petitions.services import opendata, rollups
from tests.fixtures.actors import sign_form_hidden
from tests.fixtures.mail import confirm_link

#: The sign POST, the same for every branch (new address, repeat, limit reached; see
#: tests/web/test_equal_work.py): the petition; INSERT signature ON CONFLICT DO NOTHING; the
#: UPDATE that counts the mail; INSERT outbox row (a message or a withheld record).
SIGN_POST = 4

#: What a crowd pays per request in production: COUNT_MEMO_SECONDS and STATS_MEMO_SECONDS on,
#: and this process has already read the petition's total and statistics once (and the runtime
#: settings, kept for SITE_SETTINGS_SECONDS, which the confirm POST's rate limit reads).
WARM = {
    # None: an anonymous reader's page is the one this process rendered for the last reader of
    # its URL (PAGE_MEMO_SECONDS; http.shared_page).
    "GET petition page": 0,
    "POST sign": SIGN_POST,
    # The signature with its petition (one JOIN, Signature.petition is lazy="joined").
    "GET confirmation page": 1,
    # The signature with its petition; the conditional UPDATE to confirmed; the count shard's
    # upsert; and, after the commit, the petition again for the page's title.
    "POST confirm": 3,
    # The memoised total.
    "GET count.json": 0,
}

#: Statements of one public statistics snapshot (services/opendata.petition_stats), the same
#: at any number of signatures (tests/unit/test_rollups.py): the state with the total and the
#: stored totals row; the hours, days and places roll-ups; the live tail; the first, last and
#: latest removed signature (index ends); milestones.
SNAPSHOT = 7

#: The same requests when the memos are off (the tests' config), as each process pays them
#: once per COUNT_MEMO_SECONDS or STATS_MEMO_SECONDS. Signing and confirming use no memo.
COLD = {
    # The petition with its organiser's name (one JOIN); its updates; the total (petition state
    # and shards, one query), a snapshot, and the runtime settings (is signing paused?), which
    # the tests' SITE_SETTINGS_SECONDS of 0 reads on every request and production once per 5 s
    # per process. The sign form's fields come from a per-language cache.
    "GET petition page": 2 + 1 + SNAPSHOT + 1,
    # As warm, plus the runtime settings and the access rules (services/screening.py), both
    # kept for SITE_SETTINGS_SECONDS in production.
    "POST sign": SIGN_POST + 2,
    "GET confirmation page": WARM["GET confirmation page"],
    # The runtime settings, for the rate of confirmations (petitions/limits.py): the tests'
    # SITE_SETTINGS_SECONDS is 0, production reads them once per 5 s per process.
    "POST confirm": WARM["POST confirm"] + 1,
    # The petition's state and total in one query.
    "GET count.json": 1,
}

SIGN_FIELDS = {"name": "Budget Signer", "country": "KG", "region": "", "consent": "y"}


@contextmanager
def counted(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def memos_on(app_config):
    """Production's memos, with lifetimes far beyond the test so that none expires midway."""
    app_config.update(
        COUNT_MEMO_SECONDS=3600.0,
        STATS_MEMO_SECONDS=3600.0,
        SITE_SETTINGS_SECONDS=3600.0,
        PAGE_MEMO_SECONDS=3600.0,
    )


@pytest.fixture
def busy_petition(app, make_petition, make_user, signer) -> int:
    """An open petition as most are: an organiser's, with an update and a confirmed signature
    (so its page shows the creator, the updates, the chart and the tables)."""
    petition_id = make_petition(goal=1000)
    owner_id = make_user()
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(owner_id=owner_id)
        )
        db.session.add(
            PetitionUpdate(
                petition_id=petition_id,
                author_id=owner_id,
                title="We met the council",
                body="They will answer next week.",
                created_at=utcnow(),
            )
        )
        db.session.commit()
        db.session.remove()
    response = signer.sign_and_confirm(petition_id, "first@example.org")
    assert response.status_code == 200
    return petition_id


def _sign_form(client, petition_id: int, email: str) -> dict:
    page = client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200
    return {**sign_form_hidden(page.get_data(as_text=True)), "email": email, **SIGN_FIELDS}


def _confirmation_path(client, mailbox, deliver, petition_id: int, email: str) -> str:
    signed = client.post(
        f"/petitions/{petition_id}/sign", data=_sign_form(client, petition_id, email)
    )
    assert signed.status_code == 303
    deliver()
    return confirm_link(mailbox.last_to(email)).removeprefix("http://localhost")


def statements_of(route: str, app, client, mailbox, deliver, petition_id: int) -> list[str]:
    """Run `route` once as a new signer would (a first request of the same kind before it, so
    that a process's memos are filled as in production) and return the statements of the
    last request only."""
    page = f"/petitions/{petition_id}"
    if route == "GET petition page":
        assert client.get(page).status_code == 200
        with counted(app) as statements:
            response = client.get(page)
        assert response.status_code == 200
    elif route == "POST sign":
        form = _sign_form(client, petition_id, "new@example.org")
        with counted(app) as statements:
            response = client.post(f"{page}/sign", data=form)
        assert response.status_code == 303
    elif route == "GET confirmation page":
        path = _confirmation_path(client, mailbox, deliver, petition_id, "new@example.org")
        with counted(app) as statements:
            response = client.get(path)
        assert response.status_code == 200
    elif route == "POST confirm":
        path = _confirmation_path(client, mailbox, deliver, petition_id, "new@example.org")
        assert client.get(path).status_code == 200
        with counted(app) as statements:
            response = client.post(path)
        assert response.status_code == 200
        assert "Your signature is confirmed" in response.get_data(as_text=True)
    elif route == "GET count.json":
        assert client.get(f"{page}/count.json").status_code == 200
        with counted(app) as statements:
            response = client.get(f"{page}/count.json")
        assert response.status_code == 200
    else:
        raise ValueError(route)
    return statements


def _report(route: str, budget: int, statements: list[str]) -> str:
    listed = "\n".join(f"  {n}. {s[:200]}" for n, s in enumerate(statements, 1))
    return f"{route}: {len(statements)} statements, budget {budget}:\n{listed}"


@pytest.mark.parametrize("route", list(WARM))
def test_warm_request_stays_within_its_budget(
    route, memos_on, app, client, mailbox, deliver, busy_petition
):
    statements = statements_of(route, app, client, mailbox, deliver, busy_petition)
    assert len(statements) <= WARM[route], _report(route, WARM[route], statements)


@pytest.mark.parametrize("route", list(COLD))
def test_cold_request_stays_within_its_budget(route, app, client, mailbox, deliver, busy_petition):
    statements = statements_of(route, app, client, mailbox, deliver, busy_petition)
    assert len(statements) <= COLD[route], _report(route, COLD[route], statements)


# --- public numbers at any size ------------------------------------------------------------------


def _reads_every_signature(statement: str) -> bool:
    """A statement that reads a petition's signatures other than through the unrolled index
    (the live tail names `rolled_status`) or the end of an index (min/max): a GROUP BY over
    them, whose cost grows with their number."""
    if "FROM signatures" not in statement:
        return False
    return "rolled_status" not in statement and not re.search(
        r"\b(min|max)\(signatures\.", statement
    )


@pytest.fixture
def petitions_of_two_sizes(app, make_petition, make_signature):
    """A petition with 3 confirmed signatures and one with 600 (in many hours, countries and
    regions), rolled up, each with a live tail of 20 confirmed since."""

    def make(signatures: int, tail: int = 20) -> int:
        petition_id = make_petition()
        now = utcnow()
        make_signature(
            petition_id,
            count=signatures,
            counted=True,
            country=lambda n: ("KG", "KZ", "RU", "US")[n % 4],
            region=lambda n: ("Chüy", "Osh", None, "Naryn", "a village")[n % 5],
            confirmed_at=lambda n: now - timedelta(hours=n % 97),
        )
        with app.app_context():
            rollups.roll_up(db.session, locales=app.config["LANGUAGES"])
            db.session.remove()
        make_signature(petition_id, count=tail, counted=True, country="KZ")
        return petition_id

    return make(3), make(600)


def test_a_statistics_snapshot_is_the_same_statements_at_any_size(app, petitions_of_two_sizes):
    found = []
    for petition_id in petitions_of_two_sizes:
        with counted(app) as statements, app.app_context():
            stats = opendata.petition_stats(db.session, petition_id, locales=("en",))
            db.session.remove()
        assert stats is not None
        found.append(statements)
    small, large = found
    assert (len(small), len(large)) == (SNAPSHOT, SNAPSHOT), _report("snapshot", SNAPSHOT, large)
    assert [s for s in large if _reads_every_signature(s)] == []


@pytest.mark.parametrize(
    "path", ["/?sort=popular", "/search?sort=signatures", "/api/v1/petitions?sort=signatures"]
)
def test_a_listing_reads_stored_totals(app, client, petitions_of_two_sizes, path):
    """Not every signature, nor every petition's count shards: one row per petition."""
    with counted(app) as statements:
        assert client.get(path).status_code == 200
    assert [
        s for s in statements if _reads_every_signature(s) or "petition_count_shards" in s
    ] == []
