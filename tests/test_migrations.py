"""The migrations are the schema: they match the models, they run down and up again on an empty
database, and the invariants they create are enforced by the database itself."""

from contextlib import ExitStack, contextmanager
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DataError, IntegrityError

from petitions import create_app
from petitions.database import exists_on
from petitions.extensions import db
from petitions.models import CountShard, Petition, Signature, utcnow
from tests.fixtures.database import private_postgres_database

APP_TABLES = {
    "outbox_messages",
    "petitions",
    "petition_count_shards",
    "signatures",
    "petition_updates",
    "petition_milestones",
    "daily_counts",
}


def schema_differences(app) -> list:
    """What `flask db check` compares, as a list to show when it is not empty."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": exists_on(conn.dialect.name)}
        )
        return compare_metadata(context, db.metadata)


def head_revision(app) -> str:
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        return ScriptDirectory.from_config(config).get_current_head()


def current_revision(app) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def table_names(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


@contextmanager
def empty_app_on(migrated_database: str, directory):
    """The app bound to a new empty database on the same kind of server as the test run's
    (the usual `app` fixture stays on the shared, migrated one)."""
    with ExitStack() as stack:
        if migrated_database.startswith("postgresql"):
            url = stack.enter_context(
                private_postgres_database(migrated_database, prefix="petitions_migr")
            )
        else:
            url = f"sqlite:///{directory / 'migrations.sqlite3'}"
        app = create_app(
            {
                "PETITIONS_ENV": "testing",
                "SECRET_KEY": "migration-test-secret",
                "SQLALCHEMY_DATABASE_URI": url,
            }
        )
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def empty_app(migrated_database, tmp_path):
    with empty_app_on(migrated_database, tmp_path) as app:
        yield app


def migrate_to(app, revision: str) -> None:
    with app.app_context():
        if revision == "base":
            downgrade(revision="base")
        else:
            upgrade(revision=revision)
        db.engine.dispose()


# --- models and migrations agree ---------------------------------------------------------------


def test_models_match_migrations(app, runner):
    """`flask db check` finds nothing to autogenerate on the migrated test database."""
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, (result.output, schema_differences(app))
    assert schema_differences(app) == []
    assert current_revision(app) == head_revision(app)


def test_db_check_notices_a_difference(empty_app):
    """The check above is not vacuous: a schema that lost an index fails it."""
    migrate_to(empty_app, "head")
    with empty_app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_petitions_state_opened_at"))
        db.engine.dispose()
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code != 0
    assert any("ix_petitions_state_opened_at" in repr(d) for d in schema_differences(empty_app))


# --- down and up again -----------------------------------------------------------------------


def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_app):
    assert table_names(empty_app) == set()
    head = head_revision(empty_app)

    migrate_to(empty_app, "head")
    assert table_names(empty_app) >= APP_TABLES
    assert current_revision(empty_app) == head

    migrate_to(empty_app, "base")
    assert table_names(empty_app) - {"alembic_version"} == set()
    assert current_revision(empty_app) is None

    migrate_to(empty_app, "head")
    assert table_names(empty_app) >= APP_TABLES
    assert current_revision(empty_app) == head
    assert schema_differences(empty_app) == []
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


# --- constraints exist and hold ------------------------------------------------------------


@pytest.fixture(scope="module")
def upgraded_app(migrated_database, tmp_path_factory):
    """A database built up, down and up again, so the constraints come from that path.

    Shared by this module's constraint tests: each refused insert rolls back, and the rows
    the others add do not collide.
    """
    with empty_app_on(migrated_database, tmp_path_factory.mktemp("migrations")) as app:
        migrate_to(app, "head")
        migrate_to(app, "base")
        migrate_to(app, "head")
        with app.app_context():
            with db.engine.begin() as conn:
                petition_id = insert(conn, Petition, petition_row())
                insert(conn, Signature, signature_row(petition_id))
            db.engine.dispose()
        app.config["SEEDED_PETITION_ID"] = petition_id
        yield app


EXPECTED_CHECKS = {
    "petitions": {
        "ck_petitions_state_known",
        "ck_petitions_title_not_empty",
        "ck_petitions_goal_positive",
        "ck_petitions_opened_has_date",
        "ck_petitions_closed_has_date",
        "ck_petitions_closes_after_opening",
        "ck_petitions_rejected_has_reason",
        "ck_petitions_rejection_reason_known",
        "ck_petitions_hidden_has_reason",
    },
    "signatures": {
        "ck_signatures_status_known",
        "ck_signatures_confirmed_has_date",
        "ck_signatures_country_alpha2",
        "ck_signatures_name_not_empty",
        "ck_signatures_sends_not_negative",
        "ck_signatures_removed_has_date",
    },
    "petition_count_shards": {"ck_petition_count_shards_count_not_negative"},
    "petition_updates": {
        "ck_petition_updates_title_not_empty",
        "ck_petition_updates_body_not_empty",
    },
    "petition_milestones": {
        "ck_petition_milestones_kind_known",
        "ck_petition_milestones_threshold_positive",
    },
    "daily_counts": {
        "ck_daily_counts_count_not_negative",
        "ck_daily_counts_removed_not_negative",
        "ck_daily_counts_held_not_negative",
        "ck_daily_counts_state_public",
    },
}


def test_constraints_exist_after_upgrade(upgraded_app):
    with upgraded_app.app_context():
        inspector = inspect(db.engine)
        unique = {
            c["name"]: c["column_names"] for c in inspector.get_unique_constraints("signatures")
        }
        assert unique.get("uq_signatures_petition_person") == ["petition_id", "email_key"]
        for table, expected in EXPECTED_CHECKS.items():
            found = {c["name"] for c in inspector.get_check_constraints(table)}
            assert expected <= found, (table, expected - found)
        # Alembic's autogenerate does not compare CHECK constraints: every one the models
        # declare must exist in the migrated database, and no other.
        for table in db.metadata.tables.values():
            declared = {
                c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"
            }
            found = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert declared == found, table.name
        db.engine.dispose()


def petition_row(**overrides) -> dict:
    now = utcnow()
    row = {
        "title": "Do not send troops abroad",
        "action": "Vote against it.",
        "background": "",
        "addressee": "Jogorku Kenesh",
        "signature_goal": None,
        "state": "open",
        "created_at": now,
        "opened_at": now,
        "closes_at": now + timedelta(days=30),
        "closed_at": None,
    }
    row.update(overrides)
    return row


def signature_row(petition_id: int, **overrides) -> dict:
    now = utcnow()
    row = {
        "petition_id": petition_id,
        "email_key": "a" * 64,
        "email": "aibek@example.kg",
        "name": "Aibek Asanov",
        "country": "KG",
        "region": None,
        "wants_updates": False,
        "consented_at": now,
        "status": "pending",
        "created_at": now,
        "confirmed_at": None,
        "confirmation_sends": 0,
        "already_signed_notices": 0,
    }
    row.update(overrides)
    return row


def insert(conn, model, row: dict) -> int:
    return conn.execute(model.__table__.insert().values(**row)).inserted_primary_key[0]


@pytest.fixture
def seeded(upgraded_app):
    """(app, id of its open petition that has one pending signature), in an app context."""
    with upgraded_app.app_context():
        yield upgraded_app, upgraded_app.config["SEEDED_PETITION_ID"]
        db.engine.dispose()


def assert_refused(model, row: dict, reason: str, errors=IntegrityError) -> None:
    """The insert fails, and the database names the rule it broke."""
    with db.engine.connect() as conn, pytest.raises(errors) as caught, conn.begin():
        insert(conn, model, row)
    message = str(caught.value.orig).lower().replace("-", " ")
    assert reason in message, message


def test_duplicate_signature_is_refused(seeded):
    app, petition_id = seeded
    # The same person (email key) on the same petition, whatever the other columns say.
    assert_refused(
        Signature,
        signature_row(petition_id, email="AIBEK@example.kg", name="Someone else"),
        "unique",
    )
    # Another person on the same petition is fine; so is the same person on another petition.
    with db.engine.begin() as conn:
        insert(conn, Signature, signature_row(petition_id, email_key="b" * 64))
        other = insert(conn, Petition, petition_row(title="Another"))
        insert(conn, Signature, signature_row(other))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"state": "bogus"}, "state_known"),
        ({"state": "OPEN"}, "state_known"),
        ({"title": ""}, "title_not_empty"),
        ({"signature_goal": 0}, "goal_positive"),
        ({"signature_goal": -10}, "goal_positive"),
        ({"opened_at": None, "closes_at": None}, "opened_has_date"),
        ({"state": "closed", "closed_at": None}, "closed_has_date"),
        ({"closes_at": utcnow() - timedelta(days=1)}, "closes_after_opening"),
        ({"title": None}, "not null"),
        ({"state": None}, "not null"),
    ],
)
def test_invalid_petition_is_refused(seeded, overrides, reason):
    assert_refused(Petition, petition_row(**overrides), reason)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # Also breaks confirmed_has_date, so either may be named.
        ({"status": "bogus"}, "check constraint"),
        ({"status": "confirmed", "confirmed_at": None}, "confirmed_has_date"),
        ({"status": "pending", "confirmed_at": utcnow()}, "confirmed_has_date"),
        ({"status": "withdrawn", "confirmed_at": utcnow()}, "removed_has_date"),
        (
            {"status": "confirmed", "confirmed_at": utcnow(), "removed_at": utcnow()},
            "removed_has_date",
        ),
        ({"status": "invalidated", "confirmed_at": None, "removed_at": utcnow()}, "confirmed_has"),
        ({"country": "K"}, "country_alpha2"),
        ({"name": ""}, "name_not_empty"),
        ({"confirmation_sends": -1}, "sends_not_negative"),
        ({"petition_id": 987654}, "foreign key"),
        ({"email_key": None}, "not null"),
    ],
)
def test_invalid_signature_is_refused(seeded, overrides, reason):
    _, petition_id = seeded
    row = signature_row(petition_id, email_key="c" * 64)
    row.update(overrides)
    assert_refused(Signature, row, reason)


def test_three_letter_country_is_refused(seeded):
    """PostgreSQL stops it at the column's length, SQLite (no lengths) at the CHECK."""
    _, petition_id = seeded
    row = signature_row(petition_id, email_key="c" * 64, country="KGZ")
    if db.engine.dialect.name == "postgresql":
        assert_refused(
            Signature, row, "value too long for type character varying(2)", errors=DataError
        )
    else:
        assert_refused(Signature, row, "country_alpha2", errors=IntegrityError)


def test_negative_count_is_refused(seeded):
    _, petition_id = seeded
    assert_refused(
        CountShard, {"petition_id": petition_id, "shard": 0, "count": -1}, "count_not_negative"
    )


def test_valid_rows_are_accepted(seeded):
    """The refusals above are about the one bad value, not about the rows in general."""
    _, petition_id = seeded
    with db.engine.begin() as conn:
        insert(conn, Petition, petition_row(state="draft", opened_at=None, closes_at=None))
        insert(conn, Petition, petition_row(state="closed", closed_at=utcnow()))
        insert(conn, Petition, petition_row(signature_goal=1))
        insert(
            conn,
            Signature,
            signature_row(
                petition_id, email_key="d" * 64, status="confirmed", confirmed_at=utcnow()
            ),
        )
        insert(
            conn,
            Signature,
            signature_row(
                petition_id,
                email_key="e" * 64,
                status="invalidated",
                confirmed_at=utcnow(),
                removed_at=utcnow(),
            ),
        )
        insert(conn, CountShard, {"petition_id": petition_id, "shard": 0, "count": 0})


def test_a_milestone_is_recorded_once(seeded):
    """The primary key that makes each milestone's email go exactly once."""
    from petitions.models import PetitionMilestone

    _app, petition_id = seeded
    row = {"petition_id": petition_id, "kind": "count", "threshold": 100, "reached_at": utcnow()}
    with db.engine.begin() as conn:
        conn.execute(PetitionMilestone.__table__.insert().values(**row))
    reason = "unique" if db.engine.dialect.name == "sqlite" else "duplicate key"
    assert_refused(PetitionMilestone, row, reason)
    assert_refused(PetitionMilestone, {**row, "kind": "bogus"}, "kind_known")
    assert_refused(PetitionMilestone, {**row, "threshold": 0}, "threshold_positive")


def test_signatures_from_before_0005_keep_their_updates_but_are_not_shared(empty_app):
    """Issue 8, defect 4: only an explicit choice shares an address with the organiser, and
    nobody made it before the choice existed."""
    migrate_to(empty_app, "0004")
    with empty_app.app_context(), db.engine.begin() as conn:
        now = utcnow()
        petition_id = conn.execute(
            text(
                "INSERT INTO petitions (title, action, background, addressee, state, created_at,"
                " opened_at) VALUES ('T', 'A', '', 'B', 'open', :now, :now) RETURNING id"
            ),
            {"now": now},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO signatures (petition_id, email_key, email, name, country,"
                " wants_updates, show_name, is_sponsor, consented_at, status, created_at,"
                " confirmed_at, confirmation_sends, already_signed_notices)"
                " VALUES (:p, :k, 'old@example.kg', 'Old Signer', 'KG', :yes, :no, :no, :now,"
                " 'confirmed', :now, :now, 1, 0)"
            ),
            {"p": petition_id, "k": "b" * 64, "yes": True, "no": False, "now": now},
        )
    db_engine_dispose(empty_app)
    migrate_to(empty_app, "head")
    with empty_app.app_context():
        row = db.session.execute(
            text("SELECT wants_updates, share_email, email FROM signatures")
        ).one()
        db.session.remove()
        db.engine.dispose()
    assert (bool(row[0]), bool(row[1]), row[2]) == (True, False, "old@example.kg")


def db_engine_dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


# --- data the migrations carry over --------------------------------------------------------


def test_a_petition_from_before_search_is_found_after_the_upgrade(empty_app):
    """0009 folds the texts of the petitions and translations already there (in batches), so
    an upgraded database finds them like new ones."""
    from petitions.services import search

    migrate_to(empty_app, "0008")
    with empty_app.app_context():
        with db.engine.begin() as conn:
            petition_id = conn.execute(
                text(
                    "INSERT INTO petitions (title, action, background, addressee, state,"
                    " created_at, opened_at, language, time_zone)"
                    " VALUES (:title, 'Ban coal stoves.', '', 'Bishkek', 'open', :now, :now,"
                    " 'ky', 'Asia/Bishkek') RETURNING id"
                ),
                {"title": "БИШКЕКТЕГИ таза аба", "now": utcnow()},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO petition_translations (petition_id, language, title, action,"
                    " background, state, submitted_at, reviewed_at)"
                    " VALUES (:id, 'ru', 'Чистый воздух', 'Запретить угольные печи.', '',"
                    " 'approved', :now, :now)"
                ),
                {"id": petition_id, "now": utcnow()},
            )
        db.engine.dispose()
    migrate_to(empty_app, "head")
    with empty_app.app_context():
        for words in ("бишкектеги", "угольные"):
            found = search.search(db.session, search.SearchRequest(query=words), per_page=10)
            assert [p.id for p, _ in found.items] == [petition_id], words
        db.session.remove()
        db.engine.dispose()
