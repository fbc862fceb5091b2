"""services.sessions without HTTP: a login is a server-side row that logging out ends."""

import hashlib

import pytest
from flask import session as flask_session
from sqlalchemy import event, func, select

from petitions.auth import SESSION_KEY, load_user
from petitions.extensions import db
from petitions.models import User, UserSession, utcnow
from petitions.services import accounts, sessions


@pytest.fixture
def user(app, make_user):
    """A confirmed account, in an app context."""
    with app.app_context():
        yield db.session.get(User, make_user())
        db.session.remove()


def test_a_session_opens_until_it_ends(user):
    key = sessions.start_session(db.session, user, now=utcnow())
    assert sessions.session_user(db.session, user.id, user.credentials_version, key) == user
    assert sessions.end_session(db.session, key, now=utcnow()) is True
    assert sessions.session_user(db.session, user.id, user.credentials_version, key) is None
    assert sessions.end_session(db.session, key, now=utcnow()) is False


def test_ending_one_session_leaves_the_others(user):
    laptop = sessions.start_session(db.session, user, now=utcnow())
    phone = sessions.start_session(db.session, user, now=utcnow())
    sessions.end_session(db.session, laptop, now=utcnow())
    assert sessions.session_user(db.session, user.id, user.credentials_version, phone) == user


def test_the_table_keeps_only_the_hash_of_the_key(user):
    key = sessions.start_session(db.session, user, now=utcnow())
    row = db.session.scalar(select(UserSession))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.user_id == user.id and row.ended_at is None


def test_a_session_belongs_to_its_user_only(user, make_user):
    other = db.session.get(User, make_user(email="other@example.kg"))
    key = sessions.start_session(db.session, user, now=utcnow())
    assert sessions.session_user(db.session, other.id, other.credentials_version, key) is None


def test_new_credentials_end_every_session(user):
    key = sessions.start_session(db.session, user, now=utcnow())
    version = user.credentials_version
    accounts.set_password(db.session, user, "a brand new password", now=utcnow())
    assert sessions.session_user(db.session, user.id, version, key) is None


@pytest.mark.parametrize("key", [None, "", 7, ["a key"], {"a": "key"}, "k" * 101, "not-issued"])
def test_a_missing_or_foreign_key_is_no_session(user, key):
    sessions.start_session(db.session, user, now=utcnow())
    assert sessions.session_user(db.session, user.id, user.credentials_version, key) is None
    assert sessions.end_session(db.session, key, now=utcnow()) is False


def test_deleting_the_account_deletes_its_sessions(user):
    sessions.start_session(db.session, user, now=utcnow())
    sessions.start_session(db.session, user, now=utcnow())
    accounts.delete_account(db.session, user, now=utcnow())
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_loading_the_user_of_a_request_is_one_query(app, user):
    key = sessions.start_session(db.session, user, now=utcnow())
    session_id = user.get_id()
    db.session.remove()
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    with app.test_request_context():
        flask_session[SESSION_KEY] = key
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            loaded = load_user(session_id)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert loaded is not None and loaded.id == user.id
    assert len(statements) == 1
