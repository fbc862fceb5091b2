"""services.accounts without HTTP: the rules the views, the CLI and the tests share."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import Petition, Role, User, utcnow
from petitions.services import accounts
from petitions.services.accounts import AccountPolicy, TokenProblem, TokenPurpose

PASSWORD = "correct horse battery"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield AccountPolicy.from_config(app.config)
        db.session.remove()


def test_sign_up_creates_a_pending_organiser(ctx):
    accounts.sign_up(
        db.session,
        email="Aigul@Example.kg",
        display_name="Aigul",
        password=PASSWORD,
        now=utcnow(),
        policy=ctx,
    )
    user = db.session.scalar(select(User))
    assert user.role == Role.ORGANISER and user.email_confirmed_at is None
    assert user.email_canonical == "aigul@example.kg"
    assert (
        accounts.authenticate(db.session, "aigul@example.kg", PASSWORD, now=utcnow(), policy=ctx)
        is None
    )
    assert accounts.confirm_email(db.session, user, now=utcnow()) is True
    assert accounts.confirm_email(db.session, user, now=utcnow()) is False
    assert (
        accounts.authenticate(db.session, "aigul@example.kg", PASSWORD, now=utcnow(), policy=ctx)
        == user
    )


def test_tokens_carry_purpose_account_and_credentials_version(ctx, make_user):
    user = db.session.get(User, make_user())
    token = accounts.make_token(TokenPurpose.RESET, user, ctx)
    assert accounts.check_token(db.session, TokenPurpose.RESET, token, ctx).user == user
    assert accounts.check_token(db.session, TokenPurpose.CONFIRM, token, ctx).problem is (
        TokenProblem.INVALID
    )
    accounts.set_password(db.session, user, "a brand new password", now=utcnow())
    assert accounts.check_token(db.session, TokenPurpose.RESET, token, ctx).problem is (
        TokenProblem.INVALID
    )
    email_token = accounts.make_token(TokenPurpose.EMAIL, user, ctx, extra="new@example.kg")
    assert accounts.check_token(db.session, TokenPurpose.EMAIL, email_token, ctx).new_email == (
        "new@example.kg"
    )


def test_lock_after_max_failures(ctx, make_user):
    make_user(email="aigul@example.kg")
    now = utcnow()
    for _ in range(ctx.max_failures):
        assert (
            accounts.authenticate(db.session, "aigul@example.kg", "wrong", now=now, policy=ctx)
            is None
        )
    user = accounts.find_by_email(db.session, "aigul@example.kg")
    db.session.refresh(user)
    assert user.locked_until == now + ctx.lock_time and user.failed_logins == 0
    later = now + ctx.lock_time + timedelta(seconds=1)
    assert (
        accounts.authenticate(db.session, "aigul@example.kg", PASSWORD, now=now, policy=ctx) is None
    )
    assert (
        accounts.authenticate(db.session, "aigul@example.kg", PASSWORD, now=later, policy=ctx)
        == user
    )


def test_delete_account_keeps_petitions(ctx, make_user, make_petition):
    user_id = make_user()
    petition_id = make_petition()
    petition = db.session.get(Petition, petition_id)
    petition.owner_id = user_id
    db.session.commit()
    now = utcnow()
    assert accounts.delete_account(db.session, db.session.get(User, user_id), now=now) == 1
    db.session.expire_all()
    petition = db.session.get(Petition, petition_id)
    assert petition.owner_id is None and petition.owner_removed_at == now
    assert db.session.get(User, user_id) is None


def test_roles_and_operator_accounts(ctx):
    user = accounts.create_account(
        db.session,
        email="mod@example.kg",
        display_name="Mod",
        password=PASSWORD,
        role=Role.MODERATOR,
        now=utcnow(),
    )
    assert user.email_confirmed_at is not None
    with pytest.raises(accounts.AccountExists):
        accounts.create_account(
            db.session,
            email="MOD+x@example.kg",
            display_name="Again",
            password=PASSWORD,
            role=Role.ADMIN,
            now=utcnow(),
        )
    assert accounts.set_role(db.session, "mod@example.kg", Role.ADMIN).role == Role.ADMIN
    with pytest.raises(accounts.NoSuchAccount):
        accounts.set_role(db.session, "nobody@example.kg", Role.ADMIN)
    assert [u.email for u in accounts.list_accounts(db.session)] == ["mod@example.kg"]


def test_parallel_wrong_guesses_all_count(app, make_user):
    """Failures are counted by the database (`failed_logins + 1`), not read and written back:
    guesses sent at the same moment cannot all see the same count and escape the lock."""
    from tests.fixtures.threads import run_in_threads

    make_user(email="aigul@example.kg")
    policy = AccountPolicy.from_config(app.config)
    guesses = policy.max_failures + 3

    def guess(number: int):
        def run():
            with app.app_context():
                try:
                    return accounts.authenticate(
                        db.session,
                        "aigul@example.kg",
                        f"guess {number}",
                        now=utcnow(),
                        policy=policy,
                    )
                finally:
                    db.session.remove()

        return run

    assert run_in_threads([guess(n) for n in range(guesses)]) == [None] * guesses
    with app.app_context():
        user = accounts.find_by_email(db.session, "aigul@example.kg")
        assert user.locked_until is not None
        assert user.failed_logins < policy.max_failures
        db.session.remove()
