"""A database that cannot be reached, or is too busy, gets 503 with Retry-After, not 500.

An outage is not a bug in the request: the reader is told to try again in a minute (the HTML
page, or problem+json for the API and .json URLs), and the app works again by itself once the
database does. A bug in a query is still a 500, logged with its traceback. The PostgreSQL
restart under load is in tests/test_database_restart.py; these are the single causes, each
made real: nothing listening on the PostgreSQL port, a SQLite file whose folder is gone, a full
connection pool, and SQLite's "database is locked".
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from petitions import create_app
from petitions.auth import SESSION_KEY
from petitions.errors import DATABASE_RETRY_AFTER_SECONDS
from petitions.extensions import db
from tests.fixtures.database import ON_POSTGRES, scalar_sql
from tests.fixtures.net import free_port

RETRY_AFTER = str(DATABASE_RETRY_AFTER_SECONDS)

#: One of each kind of answer: an HTML page, the API, a .json URL.
PAGE, API, COUNT_JSON = "/petitions/1", "/api/v1/petitions", "/petitions/1/count.json"

#: Databases that are not there, by how they are missing.
UNREACHABLE = {
    "postgresql-nothing-listening": lambda tmp_path: (
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/petitions"
    ),
    "sqlite-folder-missing": lambda tmp_path: (
        f"sqlite:///{tmp_path / 'unmounted-volume' / 'petitions.sqlite3'}"
    ),
}


@pytest.fixture(params=sorted(UNREACHABLE))
def unreachable_app(request, app_config, tmp_path):
    """The app pointed at a database that is not there (a server down, a volume unmounted),
    answering as in production rather than raising into the test."""
    url = UNREACHABLE[request.param](tmp_path)
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url, "PROPAGATE_EXCEPTIONS": False})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def unreachable(unreachable_app):
    return unreachable_app.test_client()


@pytest.mark.parametrize("path", [PAGE, API, COUNT_JSON])
def test_an_unreachable_database_answers_503_with_retry_after(unreachable, path):
    response = unreachable.get(path)
    assert (response.status_code, response.headers.get("Retry-After")) == (503, RETRY_AFTER)


def test_the_page_asks_the_reader_to_try_again_in_a_minute(unreachable):
    html = unreachable.get(PAGE).get_data(as_text=True)
    assert "Please try again in a minute." in html


@pytest.mark.parametrize("path", [API, COUNT_JSON])
def test_api_and_json_urls_answer_problem_json(unreachable, path):
    response = unreachable.get(path)
    assert (response.mimetype, response.get_json()["status"]) == ("application/problem+json", 503)


def test_the_outage_page_is_never_kept_by_a_cache(unreachable):
    """A proxy cache (nginx proxy_cache for public pages) must not serve it after the outage."""
    assert unreachable.get(PAGE).headers["Cache-Control"] == "no-store"


def test_a_form_sent_during_an_outage_is_said_to_be_maybe_unsaved(unreachable_app):
    """A POST may have been cut at its commit: the page does not promise either way, and says
    that sending a signature again is safe."""
    response = unreachable_app.test_client().post(
        "/petitions/1/sign", data={"name": "Aibek", "email": "aibek@example.kg"}
    )
    assert "may not have been saved" in response.get_data(as_text=True)


@pytest.fixture
def logged_in(unreachable_app):
    """A reader with a login in their session cookie: loading their account needs the
    database, for the page's header as much as for the page."""
    client = unreachable_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:1"
        session["_fresh"] = True
        # A server-side session's key (services/sessions.py): the loader must look it up.
        session[SESSION_KEY] = "a-session-key-the-database-would-check"
    return client


def test_a_logged_in_reader_gets_the_503_page_too(logged_in):
    assert logged_in.get("/organiser/petitions").status_code == 503


def test_a_page_that_needs_no_database_but_a_header_that_does_is_a_503(logged_in):
    """A 404 needs no query, but its page's header loads the account: the failure happens in
    the 404 handler, and still ends as the 503 page, not as a bare 500."""
    assert logged_in.get("/no-such-page").status_code == 503


def test_a_full_connection_pool_answers_503(app_config):
    """Every connection busy for longer than pool_timeout: the site is busy, not broken."""
    options = {"pool_pre_ping": True, "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.05}
    app = create_app({**app_config, "SQLALCHEMY_ENGINE_OPTIONS": options})
    with app.app_context():
        engine = db.engine
    try:
        with engine.connect():  # the pool's only connection, held elsewhere
            response = app.test_client().get(PAGE)
    finally:
        engine.dispose()
    assert (response.status_code, response.headers.get("Retry-After")) == (503, RETRY_AFTER)


# --- SQLite's "database is locked" -----------------------------------------------------------


def _give_up_at_once(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=0")


class SqliteWriteLock:
    """Another process's write transaction on the app's SQLite file."""

    def __init__(self, path: str) -> None:
        self.other: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
        self.other.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.other is not None:
            self.other.execute("ROLLBACK")
            self.other.close()
            self.other = None


@pytest.fixture
def locked_sqlite(app, petition):
    """The petition exists; then another process holds SQLite's write lock and this app gives up
    at once on it (it normally waits up to busy_timeout, 30 s, and then fails the same way)."""
    with app.app_context():
        engine = db.engine
        event.listen(engine, "connect", _give_up_at_once)  # after the app's own pragmas
        engine.dispose()
        lock = SqliteWriteLock(engine.url.database)
    try:
        yield lock
    finally:
        lock.release()


sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock")


@sqlite_only
def test_signing_on_a_locked_database_answers_503_with_retry_after(locked_sqlite, signer, petition):
    response = signer.sign(petition, "aibek@example.kg")
    assert (response.status_code, response.headers.get("Retry-After")) == (503, RETRY_AFTER)


@sqlite_only
def test_a_signature_refused_by_a_locked_database_is_not_stored(
    app, locked_sqlite, signer, petition
):
    signer.sign(petition, "aibek@example.kg")
    locked_sqlite.release()
    assert scalar_sql(app, "SELECT COUNT(*) FROM signatures") == 0


@sqlite_only
def test_signing_works_again_once_the_lock_is_released(locked_sqlite, signer, petition):
    """The failed request's session was rolled back and removed: the next one starts clean."""
    signer.sign(petition, "aibek@example.kg")
    locked_sqlite.release()
    assert signer.sign(petition, "aibek@example.kg").status_code == 303


# --- a bug is still a 500 --------------------------------------------------------------------


@pytest.fixture
def broken_query(app):
    """A page whose SQL names a table that does not exist: a bug, not an outage (on SQLite it
    too raises OperationalError). The app answers as in production instead of raising into
    the test."""
    app.add_url_rule(
        "/broken-query",
        "broken_query",
        lambda: str(db.session.scalar(text("SELECT COUNT(*) FROM no_such_table"))),
    )
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app.test_client()


def test_a_bug_in_a_query_is_still_a_500(broken_query):
    assert broken_query.get("/broken-query").status_code == 500


def test_a_bug_in_a_query_is_logged_with_its_traceback(broken_query, caplog):
    with caplog.at_level(logging.ERROR, logger="petitions.errors"):
        broken_query.get("/broken-query")
    logged = [r for r in caplog.records if r.name == "petitions.errors" and r.exc_info]
    assert len(logged) == 1


# --- production keeps pinging ----------------------------------------------------------------


def test_production_checks_a_pooled_connection_before_using_it(tmp_path):
    """After a database restart every pooled connection is dead; pool_pre_ping finds out on
    checkout and reconnects, instead of failing the first request on each of them."""
    app = create_app(
        {
            "PETITIONS_ENV": "production",
            "SECRET_KEY": "a-long-random-production-secret-for-this-test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        }
    )
    with app.app_context():
        assert db.engine.pool._pre_ping is True


# --- the connection ends after the page was made ---------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="pg_terminate_backend is PostgreSQL's")
def test_a_connection_ended_after_the_page_was_made_still_answers_the_page(app, petition):
    """A restart ends the connection a finished request still holds: the ROLLBACK at teardown
    fails, and the page (already made) must go out rather than gunicorn's bare 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)

    @app.after_request
    def end_the_connection(response):
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return response

    try:
        status = app.test_client().get(f"/petitions/{petition}").status_code
    finally:
        other.dispose()
    assert status == 200
