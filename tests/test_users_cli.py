"""Operator commands for accounts: `flask users create|grant|revoke|list`.

Mistakes end in a one-line error (no traceback) and change nothing.
"""

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import User
from petitions.passwords import PASSWORD_MAX, verify_password

PASSWORD = "a long operator password"


def users(app) -> list[User]:
    with app.app_context():
        found = list(db.session.scalars(select(User).order_by(User.id)))
        db.session.expunge_all()
        db.session.remove()
        return found


def assert_ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    return result.output


def assert_clean_error(result, message: str) -> None:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert message in result.output, result.output


def create(runner, *args, password=PASSWORD):
    return runner.invoke(args=["users", "create", *args, "--password-stdin"], input=f"{password}\n")


def test_create_from_stdin(app, runner, client):
    output = assert_ok(create(runner, "Mod@Example.kg", "--name", "Мээрим", "--role", "moderator"))
    assert "created: Mod@example.kg (moderator)" in output
    [user] = users(app)
    assert (user.email, user.display_name, user.role) == ("Mod@example.kg", "Мээрим", "moderator")
    assert user.email_canonical == "mod@example.kg"
    assert user.email_confirmed_at is not None
    assert verify_password(user.password_hash, PASSWORD)
    # The account logs in through the form at once.
    from tests.fixtures.actors import csrf_token

    page = client.get("/account/login")
    response = client.post(
        "/account/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": "mod@example.kg",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303


def test_create_asks_for_the_password_twice(app, runner):
    result = runner.invoke(
        args=["users", "create", "a@example.kg", "--name", "Admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert_ok(result)
    [user] = users(app)
    assert user.role == "organiser"
    assert verify_password(user.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["not-an-address", "--name", "X"], PASSWORD, "is not a valid email address"),
        (["a@example.kg", "--name", "   "], PASSWORD, "--name must be a non-empty name"),
        (["a@example.kg", "--name", "N" * 101], PASSWORD, "at most 100 characters"),
        (["a@example.kg", "--name", "bad\x07"], PASSWORD, "without control characters"),
        (["a@example.kg", "--name", "X"], "short", "The password must have"),
        (["a@example.kg", "--name", "X"], "p" * (PASSWORD_MAX + 1), "The password must have"),
        (["a@example.kg", "--name", "X"], "long enough \x1b pass", "control characters"),
        (["a@example.kg", "--name", "X", "--role", "king"], PASSWORD, "Invalid value"),
        (["a@example.kg"], PASSWORD, "Missing option '--name'"),
    ],
)
def test_create_refuses_bad_input(app, runner, args, password, message):
    result = create(runner, *args, password=password)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    assert users(app) == []


def test_create_refuses_an_existing_mailbox(app, runner, make_user):
    make_user(email="aigul@gmail.com")
    assert_clean_error(create(runner, "A.igul+x@googlemail.com", "--name", "X"), "already exists")
    assert len(users(app)) == 1


def test_grant_revoke_list(app, runner, make_user):
    make_user(email="aigul@example.kg", name="Aigul")
    make_user(email="bakyt@example.kg", name="Bakyt", confirmed=False)

    assert "aigul@example.kg is now moderator" in assert_ok(
        runner.invoke(args=["users", "grant", "AIGUL@example.kg", "moderator"])
    )
    assert users(app)[0].role == "moderator"
    assert_ok(runner.invoke(args=["users", "grant", "aigul@example.kg", "ADMIN"]))
    assert users(app)[0].role == "admin"

    listing = assert_ok(runner.invoke(args=["users", "list"]))
    lines = listing.strip().splitlines()
    assert lines[0].split("\t")[1:] == ["admin", "confirmed", "aigul@example.kg", "Aigul"]
    assert lines[1].split("\t")[1:] == ["organiser", "unconfirmed", "bakyt@example.kg", "Bakyt"]

    assert "is now organiser" in assert_ok(
        runner.invoke(args=["users", "revoke", "aigul@example.kg"])
    )
    assert users(app)[0].role == "organiser"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grant", "nobody@example.kg", "admin"], "No account for nobody@example.kg."),
        (["grant", "nobody", "admin"], "No account for nobody."),
        (["revoke", "nobody@example.kg"], "No account for nobody@example.kg."),
        (["grant", "aigul@example.kg", "emperor"], "Invalid value"),
    ],
)
def test_role_commands_refuse_unknown_accounts_and_roles(app, runner, make_user, args, message):
    make_user(email="aigul@example.kg")
    result = runner.invoke(args=["users", *args])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert message in result.output, result.output
    assert users(app)[0].role == "organiser"


def test_list_without_accounts(runner):
    assert "no accounts" in assert_ok(runner.invoke(args=["users", "list"]))
