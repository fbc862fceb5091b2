"""Operator commands for accounts: `flask --app petitions users create|grant|revoke|list`.

A mistake ends in a one-line error (exit status 1, no traceback) and changes nothing.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ..emailaddr import InvalidEmail, validate_address
from ..extensions import db
from ..models import Role, utcnow
from ..models.user import DISPLAY_NAME_MAX
from ..passwords import PASSWORD_MAX, PASSWORD_MIN
from ..services import accounts
from ..text import bad_character, normalise

users_cli = AppGroup("users", help="Create accounts and give them roles.")

ROLE_CHOICE = click.Choice([role.value for role in Role], case_sensitive=False)


def _email(value: str) -> str:
    try:
        return validate_address(normalise(value))
    except InvalidEmail as exc:
        raise click.ClickException(f"{value!r} is not a valid email address: {exc}") from None


def _name(value: str) -> str:
    name = normalise(value)
    if not name or bad_character(name):
        raise click.ClickException("--name must be a non-empty name without control characters.")
    if len(name) > DISPLAY_NAME_MAX:
        raise click.ClickException(f"--name must be at most {DISPLAY_NAME_MAX} characters.")
    return name


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise click.ClickException(
            f"The password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters."
        )
    if bad_character(password):
        raise click.ClickException("The password must not contain control characters.")
    return password


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--role", type=ROLE_CHOICE, default=Role.ORGANISER.value, show_default=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def create_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create a confirmed account (asks for the password unless --password-stdin)."""
    address = _email(email)
    display_name = _name(name)
    rules = current_app.config["EMAIL_ALIAS_RULES"]
    if accounts.find_by_email(db.session, address, rules=rules) is not None:
        raise click.ClickException(f"An account for {address} already exists.")
    password = _password(password_stdin)
    try:
        user = accounts.create_account(
            db.session,
            email=address,
            display_name=display_name,
            password=password,
            role=Role(role.lower()),
            now=utcnow(),
            rules=rules,
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"account {user.id} created: {user.email} ({user.role})")


@users_cli.command("grant")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def grant_command(email: str, role: str) -> None:
    """Give an account a role (organiser, moderator or admin)."""
    try:
        user = accounts.set_role(
            db.session, email, Role(role.lower()), rules=current_app.config["EMAIL_ALIAS_RULES"]
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.email} is now {user.role}")


@users_cli.command("revoke")
@click.argument("email")
def revoke_command(email: str) -> None:
    """Take moderator or admin rights away: the account is an organiser again."""
    try:
        user = accounts.set_role(
            db.session, email, Role.ORGANISER, rules=current_app.config["EMAIL_ALIAS_RULES"]
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.email} is now {user.role}")


@users_cli.command("list")
def list_command() -> None:
    """Every account: id, role, whether its address is confirmed, email, name."""
    users = accounts.list_accounts(db.session)
    if not users:
        click.echo("no accounts")
        return
    for user in users:
        confirmed = "confirmed" if user.email_confirmed_at else "unconfirmed"
        click.echo(f"{user.id}\t{user.role}\t{confirmed}\t{user.email}\t{user.display_name}")
