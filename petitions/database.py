"""Per-connection database settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import event, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .extensions import db

logger = logging.getLogger(__name__)


def dialect_insert(session: Session):
    """The `insert()` of the session's database, which has `on_conflict_do_...()`."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def utc_trunc(session: Session, unit: str, column):
    """SQL for the start of the UTC `unit` ("hour" or "day") of a timestamp column, for
    grouping; read the values back with `bucket_start`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(
            literal_column(f"'{unit}'"), func.timezone(literal_column("'UTC'"), column)
        )
    pattern = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}[unit]
    return func.strftime(literal_column(f"'{pattern}'"), column)


def bucket_start(value: datetime | str) -> datetime:
    """A `utc_trunc` value as aware UTC: SQLite's strftime() gives text, PostgreSQL's
    date_trunc() a naive UTC timestamp."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def snapshot_session(session: Session) -> Iterator[Session]:
    """A read-only session that sees one snapshot of the database for all its queries.

    PostgreSQL: a `REPEATABLE READ READ ONLY` transaction on a connection of its own. SQLite
    (development, one process) reads with the engine's default.
    """
    engine = session.get_bind()
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with Session(bind=connection) as snapshot, snapshot.begin():
            yield snapshot


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers work while one writer commits; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Case-insensitive search beyond ASCII (SQLite's lower() and LIKE fold only A-Z).
    dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(value: str | None) -> str | None:
    return value.casefold() if isinstance(value, str) else value


def _remove_session(_exc: BaseException | None) -> None:
    """End the request's session; if its ROLLBACK fails, drop the session and let the answer
    go out.

    A PostgreSQL restart (or failover, or an operator's pg_terminate_backend) ends a
    connection that a finished request still holds, idle in its transaction: the ROLLBACK at
    teardown then gets "terminating connection due to administrator command". The page was
    already made and nothing is left to undo (the server rolls back a terminated
    connection), yet the error would escape the app and gunicorn would answer a bare 500 in
    its place. The connection is discarded (pool_pre_ping tests the next one), and
    Flask-SQLAlchemy's own teardown, after this one, finds no session left to remove.
    """
    try:
        db.session.remove()
    except DBAPIError as error:
        logger.warning("the database went away before the session was closed: %s", error.orig)
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
    # Registered after db.init_app(), so it runs before Flask-SQLAlchemy's teardown.
    app.teardown_appcontext(_remove_session)


def exists_on(dialect: str):
    """Alembic's `include_object` for a database of `dialect`: leaves out of the comparison of
    models and schema the indexes declared for another database only (`Index.ddl_if(dialect=
    ...)`, e.g. the PostgreSQL trigram indexes of search), which the migrations create on
    theirs only."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if type_ == "index" and not reflected and ddl_if is not None and ddl_if.dialect:
            return ddl_if.dialect == dialect
        return True

    return include_object
