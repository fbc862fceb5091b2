"""Provider aliases (issue 8) end to end: one mailbox, one counted signature, through the sign
form; the operator's EMAIL_ALIAS_RULES read at start-up and honoured by signing, accounts and
the CLI; rows stored under the earlier rules still found.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from petitions import create_app
from petitions.emailaddr import (
    ALIAS_RULES_V1,
    AliasRules,
    InvalidAliasRules,
    identity_key,
    normalise_for_identity,
)
from petitions.extensions import db
from petitions.models import Signature, SignatureStatus, User, utcnow
from petitions.passwords import hash_password
from petitions.services import accounts
from petitions.services.accounts import AccountPolicy
from petitions.services.signing import SigningPolicy, confirm_signature

PASSWORD = "correct horse battery"


def counted(signer, app, petition_id: int) -> tuple[int, int]:
    """(the public total, signature rows): a second signature would raise either."""
    with app.app_context():
        rows = db.session.scalar(
            select(func.count()).select_from(Signature).where(Signature.petition_id == petition_id)
        )
        db.session.remove()
    return signer.count(petition_id), rows


# --- the sign form -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("base@yahoo.com", "base-x@yahoo.com"),
        ("base-shop@yahoo.com", "Base-News@Yahoo.com"),
        ("base@ymail.com", "base-x+y@ymail.com"),
        ("aibek.asanov@yandex.ru", "Aibek-Asanov+kg@ya.ru"),
        ("aibek@yandex.kg", "aibek@yandex.kz"),
    ],
)
def test_an_alias_after_its_mailbox_is_not_a_second_signature(signer, app, petition, first, second):
    signer.sign_and_confirm(petition, first)
    assert signer.sign(petition, second).status_code == 303
    assert counted(signer, app, petition) == (1, 1)


def test_yahoo_alias_after_the_base_address_gets_the_already_signed_notice(
    signer, petition, mailbox
):
    signer.sign_and_confirm(petition, "base@yahoo.com")
    signer.sign(petition, "base-x@yahoo.com")
    signer.deliver()
    (notice,) = mailbox.to("base-x@yahoo.com")
    assert notice["Subject"].startswith("You have already signed")


@pytest.mark.parametrize(
    ("first", "second"),
    [("aibek@mail.ru", "aibek@bk.ru"), ("aibek.asanov@mail.ru", "aibek-asanov@mail.ru")],
)
def test_mailru_mailboxes_sign_separately(signer, app, petition, first, second):
    signer.sign_and_confirm(petition, first)
    signer.sign_and_confirm(petition, second)
    assert counted(signer, app, petition) == (2, 2)


def sign_as_before_the_provider_rules(app, petition_id: int, email: str) -> None:
    """A signature stored and confirmed by the code before issue 8: its key is of the form the
    Gmail-only table gave."""
    with app.app_context():
        policy = SigningPolicy.from_config(app.config)
        now = utcnow()
        signature = Signature(
            petition_id=petition_id,
            email_key=identity_key(email, policy.hash_key, ALIAS_RULES_V1),
            email=email,
            name="Early Signer",
            country="KG",
            region=None,
            wants_updates=False,
            show_name=False,
            is_sponsor=False,
            consented_at=now,
            created_at=now,
            status=SignatureStatus.PENDING,
            confirmation_sends=1,
            last_confirmation_sent_at=now,
            already_signed_notices=0,
        )
        db.session.add(signature)
        db.session.commit()
        confirm_signature(db.session, signature.id, now=now, policy=policy)
        db.session.remove()


@pytest.mark.parametrize("email", ["base-x@yahoo.com", "aibek.asanov@ya.ru", "Aibek@Yandex.KZ"])
def test_an_address_that_signed_under_the_earlier_rules_cannot_sign_again(
    signer, app, petition, email
):
    sign_as_before_the_provider_rules(app, petition, email)
    assert signer.sign(petition, email).status_code == 303
    assert counted(signer, app, petition) == (1, 1)


# --- EMAIL_ALIAS_RULES -------------------------------------------------------------------------


@pytest.fixture
def one_corporate_mailbox(app_config):
    app_config["EMAIL_ALIAS_RULES"] = "example.kg, example.org: one-mailbox tag=+-"


def test_configured_rule_is_honoured_by_the_sign_form(one_corporate_mailbox, signer, app, petition):
    signer.sign_and_confirm(petition, "aibek@example.kg")
    assert signer.sign(petition, "Aibek-News@Example.org").status_code == 303
    assert counted(signer, app, petition) == (1, 1)


def test_configured_rules_are_parsed_at_start_up(monkeypatch):
    monkeypatch.setenv("EMAIL_ALIAS_RULES", "example.kg, example.org: one-mailbox")
    app = create_app({"PETITIONS_ENV": "testing"})
    rules = app.config["EMAIL_ALIAS_RULES"]
    assert isinstance(rules, AliasRules)
    assert normalise_for_identity("aibek@example.org", rules) == "aibek@example.kg"


@pytest.mark.parametrize("where", ["environment", "test_config"])
def test_bad_alias_rules_refuse_to_start(monkeypatch, where):
    bad = "example.kg tag=+"
    test_config = {"PETITIONS_ENV": "testing"}
    if where == "environment":
        monkeypatch.setenv("EMAIL_ALIAS_RULES", bad)
    else:
        test_config["EMAIL_ALIAS_RULES"] = bad
    message = "EMAIL_ALIAS_RULES, in 'example.kg tag=+': no colon after the domains"
    with pytest.raises(InvalidAliasRules, match=re.escape(message)):
        create_app(test_config)


# --- accounts ----------------------------------------------------------------------------------


def store_user(app, email: str, canonical: str, *, role: str = "organiser") -> int:
    with app.app_context():
        user = User(
            email=email,
            email_canonical=canonical,
            password_hash=hash_password(PASSWORD),
            display_name="Aigul Organiser",
            role=role,
            email_confirmed_at=utcnow(),
            failed_logins=0,
            credentials_version=1,
        )
        db.session.add(user)
        db.session.commit()
        user_id = user.id
        db.session.remove()
        return user_id


def login(app, email: str) -> int | None:
    with app.app_context():
        policy = AccountPolicy.from_config(app.config)
        user = accounts.authenticate(db.session, email, PASSWORD, now=utcnow(), policy=policy)
        user_id = user.id if user else None
        db.session.remove()
        return user_id


@pytest.mark.parametrize("typed", ["aibek.asanov@ya.ru", "Aibek.Asanov+x@YA.RU"])
def test_an_account_stored_under_the_earlier_rules_still_logs_in(app, typed):
    email = "aibek.asanov@ya.ru"
    user_id = store_user(app, email, normalise_for_identity(email, ALIAS_RULES_V1))
    assert login(app, typed) == user_id


def test_an_account_with_the_current_form_is_found_first(app):
    """Two accounts the earlier rules kept apart: the one stored as the rules now say wins."""
    store_user(app, "aibek.asanov@ya.ru", "aibek.asanov@ya.ru")
    current = store_user(app, "aibek-asanov@yandex.ru", "aibek-asanov@yandex.ru")
    assert login(app, "aibek.asanov@ya.ru") == current


def test_sign_up_stores_the_configured_canonical_form(one_corporate_mailbox, app):
    with app.app_context():
        accounts.sign_up(
            db.session,
            email="Aibek-X@Example.org",
            display_name="Aibek",
            password=PASSWORD,
            now=utcnow(),
            policy=AccountPolicy.from_config(app.config),
        )
        canonical = db.session.scalar(select(User.email_canonical))
        db.session.remove()
    assert canonical == "aibek@example.kg"


def test_cli_finds_accounts_by_the_configured_rules(one_corporate_mailbox, app, runner):
    created = runner.invoke(
        args=["users", "create", "aibek@example.kg", "--name", "Aibek", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    granted = runner.invoke(args=["users", "grant", "Aibek-Mod@example.org", "moderator"])
    assert (granted.exit_code, granted.output.strip()) == (0, "aibek@example.kg is now moderator")
